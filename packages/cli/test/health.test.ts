/** readiness(): the rule behind GET /readyz, one input at a time. */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { Member } from '@shoal/core'
import { readiness } from '../src/health.js'
import type { ReadinessSources } from '../src/health.js'

const member = (id: string, state: Member['state']): Member => ({ id, state, incarnation: 1, lastSeen: 0, stateSince: 0, addrs: [], version: '0.1.0', capabilities: [] })

function src (over: Partial<ReadinessSources> = {}): ReadinessSources {
  return { self: 'me', members: () => [member('me', 'alive'), member('b', 'alive')], bootstrapCount: 1, stopping: () => false, storeOpen: () => true, ...over }
}

test('a node with a bootstrap address is ready once another member is alive or suspect', () => {
  assert.equal(readiness(src()), { ready: true })
  assert.equal(readiness(src({ members: () => [member('me', 'alive'), member('b', 'suspect')] })), { ready: true })
})

test('alone, or only dead and left others: not joined (itself does not count)', () => {
  assert.equal(readiness(src({ members: () => [member('me', 'alive')] })), { ready: false, reason: 'not-joined' })
  assert.equal(readiness(src({ members: () => [member('me', 'alive'), member('b', 'dead'), member('c', 'left')] })), { ready: false, reason: 'not-joined' })
})

test('a seed (no bootstrap address) is ready on its own', () => {
  assert.equal(readiness(src({ bootstrapCount: 0, members: () => [member('me', 'alive')] })), { ready: true })
})

test('stopping and a closed store win over being joined', () => {
  assert.equal(readiness(src({ stopping: () => true })), { ready: false, reason: 'stopping' })
  assert.equal(readiness(src({ storeOpen: () => false })), { ready: false, reason: 'store-closed' })
})

test.run()
