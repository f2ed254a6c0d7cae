#!/usr/bin/env node
/** `scripts/dev chaos`: one seeded run; exit 0 = no violations, 1 = violations, 2 = bad usage or a harness error. */
import { runChaos } from './runner.js'
import { CHAOS_HELP, parseChaosArgs, UsageError } from './args.js'

async function main (): Promise<number> {
  let opts
  try {
    opts = parseChaosArgs(process.argv.slice(2))
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${CHAOS_HELP}\n`)
    return 2
  }
  if (opts.help) { process.stdout.write(CHAOS_HELP + '\n'); return 0 }
  const summary = await runChaos(opts)
  return summary.violations.length === 0 ? 0 : 1
}

main().then(code => process.exit(code), err => {
  process.stderr.write(`chaos: ${err instanceof UsageError ? err.message : (err as Error).stack ?? String(err)}\n`)
  process.exit(2)
})
