/**
 * The SWIM membership machine, tested as transcripts (etcd raft testdata style): inputs in, the exact effects
 * out. The summary format is described in membership-helpers.ts.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { RETRANSMIT_MULT } from '../src/constants.js'
import type { MembershipEffect } from '../src/membership/types.js'
import { META, TIMINGS, alive, dead, describe, left, machine, probeOf, run, stateOf, suspect, tick, updates, withMembers } from './membership-helpers.js'

// ---------------------------------------------------------------------------------------------------------
const join = suite('membership: join and alive updates')

join('an alive update about a stranger adds it; stale alives are ignored', () => {
  const m = machine()
  run(m, [
    [updates(10, alive('b', 5)), ['changed b none->alive@5']],
    [updates(20, alive('b', 5)), []], // same incarnation: nothing new
    [updates(30, alive('b', 4)), []], // older incarnation: stale
    [updates(40, alive('c', 0), alive('d', 2)), ['changed c none->alive@0', 'changed d none->alive@2']]
  ])
  const b = m.get('b')!
  assert.equal({ state: b.state, stateSince: b.stateSince, lastSeen: b.lastSeen }, { state: 'alive', stateSince: 10, lastSeen: 0 })
  assert.equal(m.view().map(x => x.id), ['a', 'b', 'c', 'd'])
})

join('a higher incarnation updates meta and reports the change (memberlist NotifyUpdate)', () => {
  const m = machine()
  run(m, [
    [updates(0, alive('b', 1, ['/dns4/old/tcp/1'])), ['changed b none->alive@1']],
    // New addresses: the driver must hear about them to redial (it merges addrs on `changed`).
    [updates(5, alive('b', 2, ['/dns4/new/tcp/1'])), ['changed b alive->alive@2']],
    // Same meta at a higher incarnation (e.g. a refutation): the incarnation moves, nothing to report.
    [updates(9, alive('b', 3, ['/dns4/new/tcp/1'])), []],
    // A stale alive with other addresses must not overwrite the newer ones.
    [updates(9, alive('b', 2, ['/dns4/stale/tcp/1'])), []]
  ])
  assert.equal(m.get('b')!.addrs, ['/dns4/new/tcp/1'])
  assert.is(m.get('b')!.incarnation, 3)
  assert.is(m.get('b')!.stateSince, 0, 'still alive since it joined')
})

join('news about a stranger other than alive is dropped (only alive introduces a member)', () => {
  const m = machine()
  run(m, [
    [updates(0, suspect('x', 1), dead('y', 1), left('w', 1)), []]
  ])
  assert.equal(m.view().map(x => x.id), ['a'])
})

join('heard-from and updates with `from` refresh lastSeen only', () => {
  const m = withMembers(['b', 'c'])
  run(m, [
    [{ type: 'heard-from', now: 70, peer: 'b' }, []],
    [{ type: 'updates', now: 80, from: 'c', updates: [] }, []],
    [{ type: 'heard-from', now: 90, peer: 'stranger' }, []]
  ])
  assert.is(m.get('b')!.lastSeen, 70)
  assert.is(m.get('c')!.lastSeen, 80)
  assert.is(m.get('stranger'), undefined)
})

join('view and get return copies', () => {
  const m = withMembers(['b'])
  m.view()[1]!.state = 'dead'
  m.get('b')!.incarnation = 99
  assert.is(stateOf(m, 'b'), 'alive@1')
})

join.run()

// ---------------------------------------------------------------------------------------------------------
const probing = suite('membership: probing')

probing('one probe per interval, round-robin over every live member before repeating', () => {
  const ids = ['b', 'c', 'd', 'e', 'f']
  const m = withMembers(ids, { seed: 3 })
  const probes: Array<{ at: number, target: string }> = []
  for (let now = 0; now < 15_000; now += 100) {
    for (const e of m.step(tick(now))) {
      if (e.type !== 'probe') continue
      probes.push({ at: now, target: e.target })
      // The peer answers well within the timeout.
      assert.equal(m.step({ type: 'probe-result', now: now + 10, target: e.target, seq: e.seq, ok: true }), [])
    }
  }
  assert.equal(probes.map(p => p.at), Array.from({ length: 15 }, (_, i) => i * 1000))
  // Three full rounds: each is a permutation of all members.
  for (let round = 0; round < 3; round++) {
    const targets = probes.slice(round * 5, round * 5 + 5).map(p => p.target)
    assert.equal([...targets].sort(), ids, `round ${round}: ${targets.join(',')}`)
  }
  // The order is reshuffled between rounds (SWIM randomises each pass); with this seed they differ.
  assert.not.equal(probes.slice(0, 5).map(p => p.target), probes.slice(5, 10).map(p => p.target))
})

probing('ticks between intervals do nothing; the interval restarts from the tick that probed', () => {
  const m = withMembers(['b'])
  run(m, [
    [tick(0), ['probe b']],
    [tick(999), []],
    [tick(1000), []] // b is still in flight: never two probes of one member at once
  ])
})

probing('via excludes the target and self, is distinct, only alive members, at most indirectProbes', () => {
  const ids = ['b', 'c', 'd', 'e', 'f', 'g']
  for (const indirectProbes of [0, 1, 3, 10]) {
    const m = withMembers(ids, { seed: indirectProbes, timings: { indirectProbes } })
    m.step(updates(0, suspect('g', 1))) // a suspect member is probed but never asked to relay
    for (let now = 0; now < 20_000; now += 1000) {
      for (const e of m.step(tick(now))) {
        if (e.type !== 'probe') continue
        assert.is(e.timeoutMs, TIMINGS.probeTimeoutMs)
        assert.not.ok(e.via.includes(e.target), 'target not in via')
        assert.not.ok(e.via.includes('a'), 'self not in via')
        assert.not.ok(e.via.includes('g'), 'suspect not in via')
        assert.is(new Set(e.via).size, e.via.length, 'distinct')
        const relays = ids.filter(id => id !== e.target && id !== 'g').length
        assert.is(e.via.length, Math.min(indirectProbes, relays))
        m.step({ type: 'probe-result', now, target: e.target, seq: e.seq, ok: true })
      }
    }
  }
})

probing('no probe while there is no live member', () => {
  const m = machine()
  for (let now = 0; now <= 20_000; now += 100) assert.equal(m.step(tick(now)), [], `t=${now}`)
  // Dead and left members are not probed either.
  m.step(updates(20_000, alive('b', 1), alive('c', 1)))
  m.step(updates(20_000, dead('b', 1), left('c', 1)))
  for (let now = 21_000; now <= 40_000; now += 1000) assert.equal(m.step(tick(now)), [], `t=${now}`)
})

probing('probe-result ok changes nothing but lastSeen; unknown seq or wrong target is ignored', () => {
  const m = withMembers(['b'])
  const [[probe]] = run(m, [[tick(0), ['probe b']]]) as [[Extract<MembershipEffect, { type: 'probe' }>]]
  run(m, [
    [{ type: 'probe-result', now: 200, target: 'b', seq: probe.seq + 1, ok: false }, []], // unknown seq
    [{ type: 'probe-result', now: 200, target: 'c', seq: probe.seq, ok: false }, []], // seq of another target
    [{ type: 'probe-result', now: 300, target: 'b', seq: probe.seq, ok: true }, []],
    [{ type: 'probe-result', now: 400, target: 'b', seq: probe.seq, ok: false }, []] // already answered
  ])
  assert.is(stateOf(m, 'b'), 'alive@1')
  assert.is(m.get('b')!.lastSeen, 300)
})

probing('push-pull with a random live member every pushPullIntervalMs', () => {
  const m = withMembers(['b'])
  const pushPulls: number[] = []
  for (let now = 0; now <= 46_000; now += 500) {
    for (const e of m.step(tick(now))) {
      if (e.type === 'push-pull') { assert.is(e.peer, 'b'); pushPulls.push(now) }
      if (e.type === 'probe') m.step({ type: 'probe-result', now, target: e.target, seq: e.seq, ok: true })
    }
  }
  assert.equal(pushPulls, [15_000, 30_000, 45_000])
})

probing.run()

// ---------------------------------------------------------------------------------------------------------
const failure = suite('membership: failure detection')

failure('a failed probe makes the member suspect, then dead after suspicionTimeoutMs', () => {
  const m = withMembers(['b'])
  const [[p1]] = run(m, [[tick(0), ['probe b']]]) as [[Extract<MembershipEffect, { type: 'probe' }>]]
  const effects = run(m, [
    [{ type: 'probe-result', now: 500, target: 'b', seq: p1.seq, ok: false }, ['changed b alive->suspect@1']],
    // Suspects are still probed (a success is how they get a chance to refute). With no relay to ask, the failure
    // counted against this node's local health (Lifeguard), so the next probe comes 2 x probeIntervalMs later.
    [tick(1000), []],
    [tick(2000), ['probe b']],
    [tick(3499), []], // deadline is 500 + 3000
    [tick(3500), ['changed b suspect->dead@1', 'broadcast dead b@1']],
    [tick(4000), []],
    [tick(9000), []]
  ])
  // The suspicion goes out in gossip rounds and on probes (the queue), not flooded on the topic; its death is.
  assert.ok(effects[1]!.some(e => e.type === 'gossip'), 'a gossip round at the next tick')
  assert.equal(m.takePiggyback(16).find(u => u.id === 'b'), { kind: 'dead', id: 'b', incarnation: 1, from: 'a' })
  // A late answer to the probe sent while suspect does not revive a dead member.
  const p2 = probeOf(effects[2]!)
  run(m, [[{ type: 'probe-result', now: 9100, target: 'b', seq: p2.seq, ok: true }, []]])
  assert.is(stateOf(m, 'b'), 'dead@1')
})

failure('a refutation (alive at a higher incarnation) before the deadline clears suspicion', () => {
  const m = withMembers(['b'])
  const [[p1]] = run(m, [[tick(0), ['probe b']]]) as [[Extract<MembershipEffect, { type: 'probe' }>]]
  run(m, [
    [{ type: 'probe-result', now: 500, target: 'b', seq: p1.seq, ok: false }, ['changed b alive->suspect@1']],
    [updates(1500, alive('b', 1)), []], // same incarnation does not refute
    [updates(2000, alive('b', 2)), ['changed b suspect->alive@2']],
    [tick(3500), ['probe b']],
    [tick(10_000), []]
  ])
  assert.is(stateOf(m, 'b'), 'alive@2')
})

failure('suspicion heard from another node starts our own timer; we declare dead ourselves', () => {
  const m = withMembers(['b', 'c'])
  run(m, [
    [updates(100, suspect('b', 1, 'c')), ['changed b alive->suspect@1']],
    [updates(200, suspect('b', 1, 'd')), []], // the same suspicion again: no new timer
    [updates(300, suspect('b', 0, 'd')), []] // an older one: ignored
  ])
  const seen: string[] = []
  for (let now = 1000; now <= 3100; now += 100) {
    for (const e of m.step(tick(now))) {
      if (e.type === 'probe') m.step({ type: 'probe-result', now, target: e.target, seq: e.seq, ok: true })
      else if (e.type !== 'gossip') seen.push(`${now} ${describe(e)}`)
    }
  }
  assert.equal(seen, ['3100 changed b suspect->dead@1', '3100 broadcast dead b@1'])
})

failure('a failed probe of a member already suspect or dead adds nothing', () => {
  const m = withMembers(['b'])
  const [[p1]] = run(m, [[tick(0), ['probe b']]]) as [[Extract<MembershipEffect, { type: 'probe' }>]]
  run(m, [
    [updates(100, suspect('b', 1)), ['changed b alive->suspect@1']],
    [{ type: 'probe-result', now: 500, target: 'b', seq: p1.seq, ok: false }, []]
  ])
})

failure.run()

// ---------------------------------------------------------------------------------------------------------
const connLost = suite('membership: connection-lost fast path')

connLost('a dropped connection to an alive member probes it now, once', () => {
  const m = withMembers(['b', 'c'])
  const first = probeOf(m.step(tick(0)))
  const other = first.target === 'b' ? 'c' : 'b'
  run(m, [
    [{ type: 'connection-lost', now: 100, peer: other }, [`probe ${other}`]], // long before the next interval
    [{ type: 'connection-lost', now: 150, peer: other }, []], // already in flight
    [{ type: 'connection-lost', now: 160, peer: first.target }, []], // in flight from the tick
    [{ type: 'connection-lost', now: 170, peer: 'stranger' }, []],
    [{ type: 'connection-lost', now: 180, peer: 'a' }, []] // self
  ])
})

connLost('not for dead or left members, nor after this node left', () => {
  const m = withMembers(['b', 'c', 'd'])
  m.step(updates(0, dead('b', 1), left('c', 1)))
  run(m, [
    [{ type: 'connection-lost', now: 100, peer: 'b' }, []],
    [{ type: 'connection-lost', now: 100, peer: 'c' }, []],
    [{ type: 'leave', now: 200 }, ['changed a alive->left@1', 'broadcast left a@1']],
    [{ type: 'connection-lost', now: 300, peer: 'd' }, []]
  ])
})

connLost('the fast-path probe fails like any other: suspect', () => {
  const m = withMembers(['b'])
  m.step(tick(0)) // probes b (seq 1)
  m.step({ type: 'probe-result', now: 10, target: 'b', seq: 1, ok: true })
  const [[probe]] = run(m, [[{ type: 'connection-lost', now: 100, peer: 'b' }, ['probe b']]]) as [[Extract<MembershipEffect, { type: 'probe' }>]]
  run(m, [[{ type: 'probe-result', now: 600, target: 'b', seq: probe.seq, ok: false }, ['changed b alive->suspect@1']]])
})

connLost.run()

// ---------------------------------------------------------------------------------------------------------
const refute = suite('membership: self-refutation')

refute('suspect, dead or left about self at >= our incarnation: bump above it, queue alive and flood it', () => {
  const m = machine({ incarnation: 5 })
  const queued = (): string[] => m.takePiggyback(16).filter(u => u.id === 'a').map(u => `${u.kind} a@${u.incarnation}`)
  m.takePiggyback(16)
  run(m, [[updates(0, suspect('a', 5)), ['broadcast alive a@6']]])
  assert.equal(queued(), ['alive a@6'])
  run(m, [[updates(0, dead('a', 9)), ['broadcast alive a@10']]])
  assert.equal(queued(), ['alive a@10'])
  run(m, [[updates(0, left('a', 10)), ['broadcast alive a@11']]])
  assert.equal(queued(), ['alive a@11'])
  // Someone claims an alive of ours from the future (an earlier life): move above it too.
  run(m, [[updates(0, alive('a', 20)), ['broadcast alive a@21']]])
  assert.equal(queued(), ['alive a@21'])
  assert.is(m.incarnation, 21)
  assert.is(stateOf(m, 'a'), 'alive@21')
})

refute('lower incarnations about self are ignored', () => {
  const m = machine({ incarnation: 5 })
  run(m, [
    [updates(0, suspect('a', 4), dead('a', 0), left('a', 4), alive('a', 5), alive('a', 1)), []]
  ])
  assert.is(m.incarnation, 5)
})

refute('the refutation carries our meta and goes first into the piggyback queue', () => {
  const m = machine({ incarnation: 5 })
  m.takePiggyback(16) // the initial alive announce has been sent once
  run(m, [[updates(0, dead('a', 5)), ['broadcast alive a@6']]])
  assert.equal(m.takePiggyback(1), [{ kind: 'alive', id: 'a', incarnation: 6, ...META }])
})

refute.run()

// ---------------------------------------------------------------------------------------------------------
const leave = suite('membership: leave and rejoin')

leave('leave marks self left, broadcasts it, and stops probing', () => {
  const m = withMembers(['b', 'c'])
  run(m, [
    [{ type: 'leave', now: 1000 }, ['changed a alive->left@1', 'broadcast left a@1']],
    [{ type: 'leave', now: 1100 }, []], // idempotent
    [tick(2000), []],
    [tick(60_000), []],
    // No refutation after leaving: we really are gone.
    [updates(61_000, dead('a', 1)), []],
    // Nor a new alive announce if meta changes while shutting down (peers would take it as a rejoin).
    [{ type: 'set-meta', now: 61_000, meta: { addrs: [] } }, []]
  ])
  assert.is(stateOf(m, 'a'), 'left@1')
  assert.equal(m.fullState()[0], { kind: 'left', id: 'a', incarnation: 1 })
})

leave('a left member: old news ignored, a rejoin at a higher incarnation is alive again', () => {
  const m = withMembers(['b'])
  run(m, [
    [updates(100, left('b', 1)), ['changed b alive->left@1']],
    [updates(200, dead('b', 1)), []], // an old death must not overwrite a graceful leave
    [updates(200, suspect('b', 1)), []],
    [updates(200, alive('b', 1)), []],
    [updates(200, left('b', 1)), []],
    [updates(300, alive('b', 2)), ['changed b left->alive@2']],
    [updates(400, dead('b', 2)), ['changed b alive->dead@2']],
    [updates(400, left('b', 2)), ['changed b dead->left@2']], // left outranks dead at one incarnation
    [updates(500, alive('b', 3)), ['changed b left->alive@3']]
  ])
})

leave('a dead member rejoins only at a higher incarnation', () => {
  const m = withMembers(['b'])
  run(m, [
    [updates(100, dead('b', 1)), ['changed b alive->dead@1']],
    [updates(200, alive('b', 1)), []],
    [updates(200, suspect('b', 1)), []], // a stale suspicion does not resurrect
    [updates(300, alive('b', 2)), ['changed b dead->alive@2']]
  ])
})

leave('news from a newer life of a dead member counts, whatever its kind', () => {
  // b died at incarnation 1, refuted (alive@2, which we missed) and is now suspected at 2 by someone else.
  const m = withMembers(['b'], { timings: { pushPullIntervalMs: 10_000_000 } })
  run(m, [
    [updates(100, dead('b', 1)), ['changed b alive->dead@1']],
    [updates(200, suspect('b', 2)), ['changed b dead->suspect@2']],
    [updates(300, dead('b', 2)), ['changed b suspect->dead@2']],
    // With the order reversed the result is the same: the older death cannot undo the newer one.
    [updates(400, dead('b', 1), suspect('b', 2), alive('b', 2)), []]
  ])
})

leave.run()

// ---------------------------------------------------------------------------------------------------------
const pushPull = suite('membership: full state (push-pull)')

pushPull('B learns A and every member A knows alive', () => {
  const a = withMembers(['c', 'd'])
  const b = machine({ self: 'b' })
  const effects = b.step({ type: 'updates', now: 50, from: 'a', updates: a.fullState() })
  assert.equal(effects.map(describe), ['changed a none->alive@1', 'changed c none->alive@1', 'changed d none->alive@1'])
  assert.is(b.get('a')!.lastSeen, 0, 'lastSeen is only set for members known when the message arrives')
  assert.equal(b.get('a')!.addrs, META.addrs)
})

pushPull('a dead member in A\'s full state only makes B suspect it; B decides death itself', () => {
  const a = withMembers(['c', 'd', 'e'])
  a.step(updates(0, dead('c', 1), left('d', 1)))
  const b = machine({ self: 'b' })
  b.step(updates(0, alive('c', 1), alive('d', 1), alive('e', 1)))
  run(b, [
    [updates(100, ...a.fullState()), ['changed a none->alive@1', 'changed c alive->suspect@1', 'changed d alive->left@1']],
    // Exchanging again is idempotent.
    [updates(200, ...a.fullState()), []]
  ])
  const suspectOf = a.fullState().find(u => u.id === 'c')
  assert.is(suspectOf?.kind, 'suspect')
  // B's own suspicion timer, not A's word, turns c dead: with nobody confirming B's own failed probes, after the
  // longest suspicion (Lifeguard: 6 x 3 s from when the full state came, at 100 ms).
  const declared: string[] = []
  for (let now = 1000; now <= 18_200; now += 100) {
    for (const e of b.step(tick(now))) {
      if (e.type === 'probe') b.step({ type: 'probe-result', now, target: e.target, seq: e.seq, ok: e.target !== 'c' })
      else if (e.type === 'changed' || (e.type === 'broadcast' && e.update.kind === 'dead')) declared.push(`${now} ${describe(e)}`)
    }
  }
  assert.equal(declared, ['18100 changed c suspect->dead@1', '18100 broadcast dead c@1'])
})

pushPull('a member B does not know and A thinks dead stays unknown to B', () => {
  const a = withMembers(['c'])
  a.step(updates(0, dead('c', 1)))
  const b = machine({ self: 'b' })
  b.step(updates(0, ...a.fullState()))
  assert.is(b.get('c'), undefined)
})

pushPull.run()

// ---------------------------------------------------------------------------------------------------------
const reap = suite('membership: reaping')

reap('dead and left members are removed after deadMemberRetentionMs', () => {
  const m = withMembers(['b', 'c', 'd'], { timings: { pushPullIntervalMs: 10_000_000 } })
  run(m, [
    [updates(1000, dead('b', 1)), ['changed b alive->dead@1']],
    [updates(2000, left('c', 1)), ['changed c alive->left@1']],
    [tick(60_999), ['probe d']],
    [tick(61_000), ['removed b']],
    [tick(61_999), []],
    [tick(62_000), ['removed c']],
    [tick(200_000), []]
  ])
  assert.equal(m.view().map(x => x.id), ['a', 'd'])
  // Their queued news goes with them.
  assert.ok(m.takePiggyback(100).every(u => u.id !== 'b' && u.id !== 'c'))
})

reap('stale news about a dead member does not extend its retention', () => {
  const m = withMembers(['b'])
  run(m, [
    [updates(1000, dead('b', 1)), ['changed b alive->dead@1']],
    [updates(30_000, dead('b', 1), suspect('b', 1), alive('b', 0)), []],
    [tick(61_000), ['removed b']]
  ])
})

reap('a member that came back is not reaped', () => {
  const m = withMembers(['b'])
  m.step(updates(1000, dead('b', 1)))
  m.step(updates(2000, alive('b', 2)))
  for (let now = 0; now <= 100_000; now += 1000) {
    for (const e of m.step(tick(now))) {
      assert.is.not(e.type, 'removed')
      if (e.type === 'probe') m.step({ type: 'probe-result', now, target: e.target, seq: e.seq, ok: true })
    }
  }
  assert.is(stateOf(m, 'b'), 'alive@2')
})

reap.run()

// ---------------------------------------------------------------------------------------------------------
const piggyback = suite('membership: piggyback queue')

piggyback('least-sent first, each update dropped after the retransmit limit', () => {
  const m = machine()
  m.step(updates(0, alive('b', 1)))
  // Two members in the view -> n = 2 nodes, limit = mult * ceil(log10(n + 1)) = 4.
  const limit = RETRANSMIT_MULT * 1
  const sent: string[] = []
  for (let i = 0; i < 3 * limit; i++) sent.push(m.takePiggyback(1).map(u => `${u.kind} ${u.id}`).join(''))
  // With max 1 per message the two updates alternate (least-sent first, ties in queue order).
  assert.equal(sent, [
    ...Array.from({ length: limit }, () => ['alive a', 'alive b']).flat(),
    ...Array.from({ length: limit }, () => '')
  ])
})

piggyback('the retransmit limit grows with log10 of the swarm size', () => {
  const ids = Array.from({ length: 9 }, (_, i) => `m${i}`)
  const m = withMembers(ids) // 10 nodes -> ceil(log10(11)) = 2
  let times = 0
  while (m.takePiggyback(100).some(u => u.id === 'm0')) times++
  assert.is(times, RETRANSMIT_MULT * 2)
})

piggyback('max bounds the batch; newest (least sent) first', () => {
  const m = machine()
  m.takePiggyback(1) // self announce sent once
  m.step(updates(0, alive('b', 1), alive('c', 1)))
  assert.equal(m.takePiggyback(2).map(u => u.id), ['b', 'c'])
  assert.equal(m.takePiggyback(0), [])
  assert.equal(m.takePiggyback(3).map(u => u.id), ['a', 'b', 'c'])
})

piggyback('a newer update about a member replaces the older one and starts its count again', () => {
  const m = machine()
  m.step(updates(0, alive('b', 1)))
  m.takePiggyback(16)
  m.takePiggyback(16)
  m.step(updates(0, suspect('b', 1)))
  const next = m.takePiggyback(1)
  assert.equal(next, [suspect('b', 1)])
  // Exactly one entry per member: the alive about b is gone for good.
  let count = 1
  for (;;) {
    const batch = m.takePiggyback(16)
    if (batch.length === 0) break
    assert.not.ok(batch.some(u => u.id === 'b' && u.kind === 'alive'))
    if (batch.some(u => u.id === 'b')) count++
  }
  assert.is(count, RETRANSMIT_MULT)
})

piggyback('ignored (stale) updates are not re-gossiped', () => {
  const m = machine()
  m.step(updates(0, alive('b', 2)))
  while (m.takePiggyback(16).length > 0) { /* drain */ }
  m.step(updates(0, alive('b', 1), suspect('b', 1), dead('x', 3)))
  assert.equal(m.takePiggyback(16), [])
})

piggyback.run()

// ---------------------------------------------------------------------------------------------------------
const setMeta = suite('membership: set-meta')

setMeta('set-meta bumps the incarnation and gossips alive with the new meta', () => {
  const m = machine({ incarnation: 7 })
  m.takePiggyback(16)
  run(m, [[{ type: 'set-meta', now: 10, meta: { addrs: ['/ip4/10.0.0.1/tcp/1'] } }, []]])
  const [update] = m.takePiggyback(16)
  assert.equal(update, { kind: 'alive', id: 'a', incarnation: 8, addrs: ['/ip4/10.0.0.1/tcp/1'], version: META.version, capabilities: META.capabilities })
  assert.equal(m.get('a')!.addrs, ['/ip4/10.0.0.1/tcp/1'])
  assert.is(m.incarnation, 8)
  // A peer that hears it sees the new meta (and reports it: see "higher incarnation updates meta").
  const peer = machine({ self: 'p' })
  peer.step(updates(0, alive('a', 7)))
  run(peer, [[updates(20, update!), ['changed a alive->alive@8']]])
  assert.equal(peer.get('a')!.addrs, ['/ip4/10.0.0.1/tcp/1'])
})

setMeta('the caller\'s arrays are copied, not shared', () => {
  const addrs = ['/ip4/10.0.0.1/tcp/1']
  const m = machine()
  m.step({ type: 'set-meta', now: 0, meta: { addrs } })
  addrs.push('/ip4/6.6.6.6/tcp/6')
  assert.equal(m.get('a')!.addrs, ['/ip4/10.0.0.1/tcp/1'])
})

setMeta.run()
