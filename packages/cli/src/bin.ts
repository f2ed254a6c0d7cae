#!/usr/bin/env node
import { currentRuntime, runtimeProblem } from './runtime.js'

// Checked before main (and libp2p behind it) is loaded: on an old Node, say what to do instead of failing deep inside.
const problem = runtimeProblem(currentRuntime())
if (problem !== undefined) {
  process.stderr.write(problem + '\n')
  process.exit(2)
}
const { main } = await import('./main.js')
const code = await main(process.argv.slice(2))
process.exitCode = code
// A daemon's libp2p timers may linger after a graceful stop; the exit code is decided, so leave.
if (process.argv[2] === 'daemon' || process.argv[2] === 'demo') process.exit(code)
