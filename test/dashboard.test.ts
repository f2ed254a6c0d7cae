/**
 * The live dashboard in a real browser: a 5-node swarm (bootstrapped through node 1), node 1's page opened in
 * headless Chromium. Without the token nothing of the swarm is on the page and a wrong one is refused; with it
 * the page shows 5 alive nodes, and a job submitted over RPC reaches 100%. Screenshots go to
 * test-output/dashboard-*.png. Chromium comes from Debian's package (installed here when missing and root);
 * when it cannot be had, the browser part is skipped with the reason.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { readToken } from '@shoal/node'
import type { Browser } from 'playwright-core'
import { waitUntil } from '@shoal/test-utils'
import { startSwarm } from './helpers/swarm.js'

const CHROMIUM = '/usr/bin/chromium'
/** What this machine needs: no sandbox as root, no GPU, and no background calls to Google on a closed network. */
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync']
const OUT = fileURLToPath(new URL('../../test-output/', import.meta.url))
const WAIT_MS = 60_000

/** Undefined when Chromium is there (installing it if missing and root), else why the browser part is skipped. */
function ensureChromium (): string | undefined {
  if (existsSync(CHROMIUM)) return undefined
  if (process.getuid?.() !== 0) return `${CHROMIUM} is missing and this process is not root, so it cannot apt-get install chromium`
  const started = Date.now()
  const r = spawnSync('sh', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium'], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 900_000 })
  console.log(`chromium: apt-get install took ${((Date.now() - started) / 1000).toFixed(1)} s (exit ${r.status ?? r.signal})`)
  if (existsSync(CHROMIUM)) return undefined
  return `apt-get install chromium failed (exit ${r.status ?? r.signal}): ${String(r.stderr).trim().split('\n').slice(-3).join(' | ')}`
}

const skipReason = ensureChromium()
if (skipReason !== undefined) console.log(`SKIP browser part: ${skipReason}`)

const { swarm, node, all } = await startSwarm(5)
const base = node(1).rpcUrl.replace(/\/rpc$/, '')
const token = await readToken(swarm.dataDir(1))
const peerIds = all().map(n => n.peerId)

test.after(async () => { await swarm.destroy() })

test('the page and its scripts are served without the token and hold no swarm data; data needs the token', async () => {
  for (const [path, type] of [['/', 'text/html'], ['/app.js', 'text/javascript'], ['/style.css', 'text/css']] as const) {
    const res = await fetch(base + path)
    assert.is(res.status, 200, path)
    assert.match(res.headers.get('content-type') ?? '', type)
    assert.match(res.headers.get('content-security-policy') ?? '', "default-src 'none'")
    const body = await res.text()
    for (const id of peerIds) assert.not.match(body, id, `${path} names no peer`)
  }
  const refused = await fetch(`${base}/rpc`, { method: 'POST', body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'swarm.overview' }) })
  assert.is(refused.status, 401)
})

test('swarm.overview: every node reports its neighbours, load and rates; KV converges', async () => {
  const o = await waitUntil('every node\'s status with 4 neighbours', async () => {
    const overview = await node(1).client.call('swarm.overview', {})
    return overview.statuses.length === 5 && overview.statuses.every(s => s.neighbours.length >= 4) ? overview : undefined
  }, { timeoutMs: WAIT_MS, intervalMs: 500 })
  assert.is(o.self.peerId, node(1).peerId)
  assert.equal(o.statuses.map(s => s.peerId).sort(), [...peerIds].sort())
  for (const s of o.statuses) {
    assert.is(s.neighbours.length, 4, `${s.peerId} is connected to the 4 others`)
    assert.ok(s.load.rssBytes > 0)
  }
  assert.is(o.members.filter(m => m.state === 'alive').length, 5)
  await waitUntil('the KV replicas to converge', async () => (await node(1).client.call('swarm.overview', {})).kv.converged, { timeoutMs: WAIT_MS })
})

const browserTest = skipReason === undefined ? test : test.skip
browserTest('in Chromium: login gate, 5 nodes alive, a job to 100% with its per-node breakdown', async () => {
  await mkdir(OUT, { recursive: true })
  const { chromium } = await import('playwright-core')
  let browser: Browser | undefined
  try {
    // launch() gives every run a fresh, empty profile directory of its own.
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: WAIT_MS })
    const page = await browser.newPage({ viewport: { width: 1360, height: 900 } })
    const pageErrors: string[] = []
    page.on('pageerror', err => { pageErrors.push(err.message) })
    await page.goto(`${base}/`)
    await page.getByTestId('login-form').waitFor()
    const noData = async (): Promise<void> => {
      assert.is(await page.getByTestId('node-card').count(), 0, 'no node cards before login')
      assert.is(await page.getByTestId('map-node').count(), 0, 'no map before login')
      const html = await page.content()
      for (const id of peerIds) assert.not.match(html, id, 'no peer id before login')
    }
    await noData()
    await page.screenshot({ path: join(OUT, 'dashboard-login.png') })

    await page.getByTestId('token-input').fill('0'.repeat(64))
    await page.getByTestId('login-submit').click()
    await page.getByTestId('login-error').waitFor()
    assert.match(await page.getByTestId('login-error').innerText(), /wrong token/i)
    await noData()
    await page.screenshot({ path: join(OUT, 'dashboard-wrong-token.png') })

    await page.getByTestId('token-input').fill(token)
    await page.getByTestId('login-submit').click()
    await page.locator('[data-testid=node-card][data-state=alive]').nth(4).waitFor({ timeout: WAIT_MS })
    await page.waitForFunction(() => document.querySelector('[data-testid=alive-count]')?.textContent === '5' &&
      document.querySelectorAll('[data-testid=map-node][data-state=alive]').length === 5 &&
      document.querySelectorAll('[data-testid=map-edge]').length >= 4, undefined, { timeout: WAIT_MS })
    assert.is(await page.getByTestId('node-card').count(), 5)
    assert.is(await page.evaluate(() => sessionStorage.getItem('shoal.rpc.token')), token, 'the token stays in this tab only')
    await page.waitForTimeout(6000) // a few reports, so the sparklines have a shape
    await page.screenshot({ path: join(OUT, 'dashboard-swarm.png'), fullPage: true })

    const { jobId } = await node(1).client.call('task.submit', { handler: 'sleep', inputs: Array.from({ length: 20 }, () => ({ ms: 100 })) })
    const job = page.locator(`[data-testid=job][data-job-id="${jobId}"]`)
    await job.waitFor({ timeout: WAIT_MS })
    await page.locator(`[data-testid=job][data-job-id="${jobId}"][data-progress="100"]`).waitFor({ timeout: WAIT_MS })
    assert.match(await job.getByTestId('job-progress').innerText(), '20/20 · 100%')
    assert.ok(await job.getByTestId('job-per-node').locator('span[title]').count() >= 1, 'a per-node breakdown')
    await page.waitForTimeout(1500)
    await page.screenshot({ path: join(OUT, 'dashboard-job.png'), fullPage: true })
    // The map stays readable for large swarms: 50 members are small dots with a per-state count and labels only
    // where something is wrong; 300 merge into clusters of ring neighbours.
    const drawn = await page.evaluate(async () => {
      const chartsUrl = '/charts.js'
      const { drawMap } = await import(chartsUrl) as { drawMap: (el: Element, o: unknown) => void }
      const draw = (n: number, dead: number): { nodes: number, labels: number, clusters: number, edges: number, legend: string } => {
        const ids = Array.from({ length: n }, (_, i) => `12D3KooWsynthetic${String(i).padStart(4, '0')}`)
        const members = ids.map((id, i) => ({ id, state: i < dead ? 'dead' : 'alive' }))
        const now = Date.now()
        const statuses = ids.map((id, i) => ({ peerId: id, at: now, neighbours: [ids[(i + 1) % n], ids[(i + 7) % n], ids[(i + 19) % n]] }))
        const el = document.createElementNS('http://www.w3.org/2000/svg', 'svg')
        drawMap(el, { members, statuses, now, self: { peerId: ids[n - 1] } })
        return {
          nodes: el.querySelectorAll('[data-testid=map-node]').length,
          labels: el.querySelectorAll('[data-testid=map-node] text').length,
          clusters: el.querySelectorAll('[data-testid=map-cluster]').length,
          edges: el.querySelectorAll('[data-testid=map-edge]').length,
          legend: el.querySelector('.map-legend')?.textContent ?? ''
        }
      }
      return { fifty: draw(50, 2), many: draw(300, 3) }
    })
    assert.is(drawn.fifty.nodes, 50)
    assert.is(drawn.fifty.labels, 3, 'labels only for the two dead nodes and self')
    assert.is(drawn.fifty.legend, '48 alive · 2 dead')
    assert.ok(drawn.fifty.edges >= 50)
    assert.is(drawn.many.nodes, 0)
    assert.is(drawn.many.clusters, 48)
    assert.match(drawn.many.legend, '297 alive · 3 dead · 48 clusters')
    assert.equal(pageErrors, [], 'no script errors on the page')
  } finally {
    await browser?.close()
  }
})

test.run()
