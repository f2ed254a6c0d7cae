/**
 * NetnsLab on the real kernel (root only): two namespaces on a bridge reach each other and the root namespace;
 * a cut drops packets both ways while the root namespace still reaches both; heal restores; cleanup leaves
 * nothing behind, also after a "crashed" run that never cleaned up. Without root every check is skipped with
 * the reason printed.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { execFile } from 'node:child_process'
import { NetnsLab, ensureDebianPackages } from '../src/index.js'

const root = process.getuid?.() === 0
const test = suite('netns lab')
const reachable = async (lab: NetnsLab | undefined, from: number | undefined, to: string): Promise<boolean> => await new Promise(resolve => {
  const cmd = from === undefined || lab === undefined ? ['ping', '-c1', '-W1', to] : ['ip', 'netns', 'exec', lab.ns(from), 'ping', '-c1', '-W1', to]
  execFile(cmd[0]!, cmd.slice(1), err => resolve(err === null))
})
const listed = async (): Promise<string> => await new Promise(resolve => execFile('sh', ['-c', 'ip netns list; ip -o link show'], (_e, out) => resolve(String(out))))

if (!root) {
  console.log('SKIP netns lab: needs root (network namespaces, veth, iptables); not run, not passed')
  test.skip('cut and heal between namespaces', () => {})
} else {
  test('cut and heal between namespaces; cleanup by prefix, also after a crash', async () => {
    // A fresh machine may lack all three (this test runs before the ones that install them).
    const missing = await ensureDebianPackages([{ command: 'ip', pkg: 'iproute2' }, { command: 'iptables', pkg: 'iptables' }, { command: 'ping', pkg: 'iputils-ping' }], line => { console.log(line) })
    assert.equal(missing, [], 'the lab needs ip, iptables and ping')
    const lab = new NetnsLab({ prefix: 'chaost', subnet: '10.78.0', members: [1, 2] })
    try {
      await lab.setup()
      assert.ok(await reachable(lab, 1, lab.addr(2)), '1 -> 2 before the cut')
      assert.ok(await reachable(undefined, undefined, lab.addr(1)), 'root -> 1')
      await lab.cut(1, 2)
      assert.not.ok(await reachable(lab, 1, lab.addr(2)), '1 -> 2 cut')
      assert.not.ok(await reachable(lab, 2, lab.addr(1)), '2 -> 1 cut')
      assert.ok(await reachable(undefined, undefined, lab.addr(2)), 'root -> 2 during the cut')
      await lab.heal()
      assert.ok(await reachable(lab, 1, lab.addr(2)), '1 -> 2 healed')
      // A second lab with the same prefix (a run after a crash) first removes the leftovers, then works.
      const again = new NetnsLab({ prefix: 'chaost', subnet: '10.78.0', members: [1, 2] })
      await again.setup()
      assert.ok(await reachable(again, 2, again.addr(1)))
      // While this process holds the prefix, another process cannot take it (it would delete our namespaces).
      const other = await new Promise<string>(resolve => execFile(process.execPath, ['--input-type=module', '-e',
        `import { NetnsLab } from ${JSON.stringify(new URL('../src/index.js', import.meta.url).href)}; new NetnsLab({ prefix: 'chaost', subnet: '10.78.0', members: [1] }).setup().then(() => console.log('took it'), e => console.log(e.code))`], (_e, out) => resolve(String(out).trim())))
      assert.is(other, 'ERR_NETNS_BUSY')
      assert.ok(await reachable(again, 2, again.addr(1)), 'still up after the refused second run')
    } finally {
      await lab.teardown()
    }
    const left = await listed()
    assert.not.match(left, /chaost/)
  })
}

test.run()
