#!/usr/bin/env node
// By-hand JSON-RPC fuzz run against a real daemon with a bigger budget: POST /rpc (test/rpc-fuzz.test.ts), then
// the WebSocket endpoint (test/rpc-ws-fuzz.test.ts), BODIES each, same seed.
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
const env = { ...process.env, SHOAL_FUZZ_BODIES: String(bodies), SHOAL_FUZZ_WS_MESSAGES: String(bodies), SHOAL_FUZZ_SEED: String(seed) }
for (const file of ['rpc-fuzz.test.js', 'rpc-ws-fuzz.test.js']) {
  const test = fileURLToPath(new URL(`../test/dist/${file}`, import.meta.url))
  console.log(`fuzz: ${file}`)
  const code = await new Promise(resolve => spawn(process.execPath, [test], { stdio: 'inherit', env }).on('exit', c => { resolve(c ?? 1) }))
  if (code !== 0) process.exit(code)
}
