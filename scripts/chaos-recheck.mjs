#!/usr/bin/env node
// Runs today's checkers (packages/chaos, built) again on a recorded chaos run directory: the ops from
// history.jsonl, the wipes and the durability kill from its nemesis lines, the dumps from final-state.json.
// For a checker fixed after the run: `node scripts/chaos-recheck.mjs test-output/chaos/<seed> [--nodes 7]`.
// Prints the violations per invariant; exit 0 = none, 1 = some.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { checkAll } from '../packages/chaos/dist/src/checkers/index.js'

const dir = process.argv[2]
if (dir === undefined) { console.error('usage: chaos-recheck.mjs RUN_DIR [--nodes N] [--drift MS]'); process.exit(2) }
const flag = (name, fallback) => { const i = process.argv.indexOf(name); return i > 0 ? Number(process.argv[i + 1]) : fallback }
const ops = new Map()
const wipes = []
let killed = []
for (const line of readFileSync(join(dir, 'history.jsonl'), 'utf8').split('\n')) {
  if (line === '') continue
  const h = JSON.parse(line)
  if (h.type === 'invoke') ops.set(h.id, { id: h.id, client: h.client, node: h.node, kind: h.kind, args: h.args, invokeAt: h.at })
  else if (h.type === 'nemesis') {
    if (h.phase === 'start' && h.fault?.kind === 'wipe') wipes.push({ node: h.fault.nodes[0], at: h.at })
    if (h.phase === 'durability-kill') killed = h.nodes
  } else {
    const op = ops.get(h.id)
    if (op !== undefined) Object.assign(op, { completeAt: h.at, outcome: h.type, ...(h.result !== undefined ? { result: h.result } : {}), ...(h.error !== undefined ? { error: h.error } : {}) })
  }
}
const { survivors, final } = JSON.parse(readFileSync(join(dir, 'final-state.json'), 'utf8'))
const done = [...ops.values()].filter(o => o.outcome !== undefined)
const violations = checkAll({
  ops: done, members: flag('--nodes', final.length), peerIds: Object.fromEntries(final.map(s => [s.index, s.peerId])),
  maxClockDriftMs: flag('--drift', 5000), survivors, killed, final, wipes
})
const by = new Map()
for (const v of violations) by.set(v.invariant, (by.get(v.invariant) ?? 0) + 1)
console.log(`${done.length} ops, ${wipes.length} wipes; violations: ${violations.length}`)
for (const [k, n] of by) console.log(`  ${k} ${n}`)
for (const v of violations.slice(0, 10)) console.log(`${v.invariant}: ${v.message.slice(0, 300)}`)
process.exit(violations.length === 0 ? 0 : 1)
