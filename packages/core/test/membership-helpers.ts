/**
 * Shared helpers for the membership machine tests: a machine factory with fixed timings, update builders, and
 * the transcript runner (inputs in, exact effects out, one summary line per effect):
 *
 *   changed <id> <previous|none>-><state>@<incarnation>
 *   broadcast <kind> <id>@<incarnation>
 *   probe <target>            (via is random; checked separately)
 *   push-pull <peer>
 *   gossip <peer,...>
 *   removed <id>
 */
import * as assert from 'uvu/assert'
import { MembershipMachine } from '../src/membership/machine.js'
import type { MemberMeta, MemberUpdate, MembershipEffect, MembershipInput, MembershipTimings } from '../src/membership/types.js'
import { seededRng } from '../src/rng.js'

export const TIMINGS: MembershipTimings = {
  probeIntervalMs: 1000,
  probeTimeoutMs: 500,
  indirectProbes: 3,
  suspicionTimeoutMs: 3000,
  pushPullIntervalMs: 15_000,
  deadMemberRetentionMs: 60_000
}

export const META: MemberMeta = { addrs: ['/ip4/127.0.0.1/tcp/7700'], version: '0.1.0', capabilities: ['kv'] }

export function machine (opts: { self?: string, incarnation?: number, now?: number, seed?: number, timings?: Partial<MembershipTimings> } = {}): MembershipMachine {
  return new MembershipMachine({
    selfId: opts.self ?? 'a',
    meta: META,
    incarnation: opts.incarnation ?? 1,
    now: opts.now ?? 0,
    timings: { ...TIMINGS, ...opts.timings },
    rng: seededRng(opts.seed ?? 1)
  })
}

export const alive = (id: string, incarnation: number, addrs = [`/dns4/${id}/tcp/7700`]): MemberUpdate =>
  ({ kind: 'alive', id, incarnation, addrs, version: '0.1.0', capabilities: [] })
export const suspect = (id: string, incarnation: number, from = 'z'): MemberUpdate => ({ kind: 'suspect', id, incarnation, from })
export const dead = (id: string, incarnation: number, from = 'z'): MemberUpdate => ({ kind: 'dead', id, incarnation, from })
export const left = (id: string, incarnation: number): MemberUpdate => ({ kind: 'left', id, incarnation })

export const updates = (now: number, ...list: MemberUpdate[]): MembershipInput => ({ type: 'updates', now, updates: list })
export const tick = (now: number): MembershipInput => ({ type: 'tick', now })

export function describe (e: MembershipEffect): string {
  switch (e.type) {
    case 'changed': return `changed ${e.member.id} ${e.previous ?? 'none'}->${e.member.state}@${e.member.incarnation}`
    case 'broadcast': return `broadcast ${e.update.kind} ${e.update.id}@${e.update.incarnation}`
    case 'probe': return `probe ${e.target}`
    case 'push-pull': return `push-pull ${e.peer}`
    case 'gossip': return `gossip ${e.peers.join(',')}`
    case 'removed': return `removed ${e.id}`
  }
}

/**
 * Feeds each input and asserts the exact effects, in order, leaving out gossip rounds (which only say when
 * queued updates go out; membership-gossip.test.ts checks them). Returns every effect for further checks.
 */
export function run (m: MembershipMachine, transcript: Array<[MembershipInput, string[]]>): MembershipEffect[][] {
  return transcript.map(([input, expected], i) => {
    const effects = m.step(input)
    assert.equal(effects.filter(e => e.type !== 'gossip').map(describe), expected, `step ${i} (${JSON.stringify(input)})`)
    return effects
  })
}

export function stateOf (m: MembershipMachine, id: string): string {
  const member = m.get(id)
  return member === undefined ? 'unknown' : `${member.state}@${member.incarnation}`
}

/** A machine that already knows the given members as alive at incarnation 1. */
export function withMembers (ids: string[], opts: Parameters<typeof machine>[0] = {}): MembershipMachine {
  const m = machine(opts)
  m.step(updates(opts.now ?? 0, ...ids.map(id => alive(id, 1))))
  return m
}

export function probeOf (effects: MembershipEffect[]): Extract<MembershipEffect, { type: 'probe' }> {
  const probes = effects.filter((e): e is Extract<MembershipEffect, { type: 'probe' }> => e.type === 'probe')
  assert.is(probes.length, 1, `one probe in ${JSON.stringify(effects.map(describe))}`)
  return probes[0]!
}
