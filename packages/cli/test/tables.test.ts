/** `shoal members` and `shoal peers` fit 100 columns by default (they were 183 and 236); --wide shows all. */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { membersTable } from '../src/commands/members.js'
import { peersTable } from '../src/commands/peers.js'
import { fitTable } from '../src/output.js'

const ID = (n: number): string => `12D3KooW${'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz123456789'.slice(n, n + 44)}`
const self = ID(0)
const members = [0, 1, 2].map(n => ({
  id: ID(n),
  state: n === 2 ? 'suspect' : 'alive',
  incarnation: 12345,
  version: '0.1.0',
  lastSeen: 1_000_000 - n * 1500,
  addrs: [`/ip4/127.0.0.1/tcp/4${n}123/p2p/${ID(n)}`, `/ip6/2001:db8:85a3::8a2e:370:7334/tcp/4${n}123/p2p/${ID(n)}`, '/ip4/192.168.100.200/tcp/7700']
}))
const peers = [1, 2].map(n => ({ peerId: ID(n), member: true, direction: 'outbound', addresses: members[n]!.addrs }))

const widest = (text: string): number => Math.max(...text.split('\n').map(l => l.length))

test('members: at most 100 columns by default, short ids, self marked, one address with a count', () => {
  const out = membersTable(members, self, 1_000_000, false)
  assert.ok(widest(out) <= 100, `${widest(out)} columns:\n${out}`)
  assert.not.match(out, ID(1), 'ids shortened')
  assert.match(out, '(self)')
  assert.match(out, '/ip4/127.0.0.1/tcp/41123 (+2)')
  assert.not.match(out, '/p2p/', 'the peer id is not repeated in the address')
})

test('members --wide: full ids and every address', () => {
  const out = membersTable(members, self, 1_000_000, true)
  for (const m of members) {
    assert.match(out, m.id)
    for (const a of m.addrs) assert.match(out, a)
  }
})

test('peers: at most 100 columns by default, the peer id once per row; --wide shows all', () => {
  const out = peersTable(peers, false)
  assert.ok(widest(out) <= 100, `${widest(out)} columns:\n${out}`)
  for (const line of out.split('\n').slice(2)) assert.ok(!line.includes('/p2p/'), line)
  const wide = peersTable(peers, true)
  for (const p of peers) for (const a of p.addresses) assert.match(wide, a)
})

test('fitTable cuts only the last column, with an ellipsis', () => {
  const out = fitTable(['A', 'B'], [['x'.repeat(20), 'y'.repeat(200)]], 50)
  assert.is(widest(out), 50)
  assert.match(out, `${'y'.repeat(27)}…`)
  assert.is(fitTable(['A', 'B'], [['a', 'b']], 50), 'A  B\n-  -\na  b')
})

test.run()
