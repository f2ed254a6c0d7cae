#!/usr/bin/env node
// By-hand JSON-RPC fuzz run against a real daemon (test/rpc-fuzz.test.ts with a bigger budget).
//   node scripts/fuzz-rpc.mjs [BODIES=100000] [SEED=random]      (or: scripts/dev fuzz [BODIES] [SEED])
// Needs a build (tsc -b). Prints the seed, so a failing run can be repeated exactly.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const bodies = Number(process.argv[2] ?? 100_000)
const seed = Number(process.argv[3] ?? Math.floor(Math.random() * 2 ** 31))
if (!Number.isInteger(bodies) || bodies < 1 || !Number.isInteger(seed)) {
  console.error('usage: fuzz-rpc.mjs [BODIES] [SEED]')
  process.exit(2)
}
console.log(`fuzz: ${bodies} bodies, seed ${seed}`)
const test = fileURLToPath(new URL('../test/dist/rpc-fuzz.test.js', import.meta.url))
const child = spawn(process.execPath, [test], { stdio: 'inherit', env: { ...process.env, SHOAL_FUZZ_BODIES: String(bodies), SHOAL_FUZZ_SEED: String(seed) } })
child.on('exit', code => process.exit(code ?? 1))
