/**
 * Swarm-wide costs of a job, sampled from every daemon before and after it: CPU time (user + system of each
 * daemon process, from /proc/<pid>/stat, worker threads included), replicated writes (KV puts and deletes that
 * succeeded, `shoal_kv_operations_total`: each is one signed event applied on every node), signatures
 * (`shoal_events_published_total`: each published event is signed once), signature checks (Ed25519
 * verifications of received events, `shoal_events_signature_checks_total` outcomes valid and invalid: a node checks
 * each event once, however many copies reach it) and fsyncs at the writer (each acknowledged
 * write syncs its batch on the node that wrote it; appliers batch theirs, so this is the writers' share only).
 */
import type { LocalNode } from '@shoal/cli/local-swarm'
import { readToken } from '@shoal/node'
import { cpuMs } from './proc-cpu.js'

export interface Counters { cpuMs: number, writes: number, signatures: number, verifies: number }

function metric (text: string, name: string, labels: (l: string) => boolean = () => true): number {
  let sum = 0
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue
    const rest = line.slice(name.length)
    const m = /^(\{[^}]*\})? ([0-9.e+-]+)$/.exec(rest)
    if (m === null || !labels(m[1] ?? '')) continue
    sum += Number(m[2])
  }
  return sum
}

export async function sample (nodes: LocalNode[]): Promise<Counters> {
  const total: Counters = { cpuMs: 0, writes: 0, signatures: 0, verifies: 0 }
  for (const node of nodes) {
    total.cpuMs += await cpuMs(node.child.pid!)
    const res = await fetch(new URL('/metrics', node.rpcUrl), { headers: { authorization: `Bearer ${await readToken(node.dataDir)}` } })
    if (!res.ok) throw new Error(`GET /metrics on ${node.rpcUrl}: HTTP ${res.status}`)
    const text = await res.text()
    const published = metric(text, 'shoal_events_published_total')
    total.writes += metric(text, 'shoal_kv_operations_total', l => /op="(put|delete)"/.test(l) && l.includes('outcome="ok"'))
    total.signatures += published
    total.verifies += metric(text, 'shoal_events_signature_checks_total', l => !l.includes('"known"'))
  }
  return total
}

export const diff = (a: Counters, b: Counters): Counters => ({ cpuMs: b.cpuMs - a.cpuMs, writes: b.writes - a.writes, signatures: b.signatures - a.signatures, verifies: b.verifies - a.verifies })
