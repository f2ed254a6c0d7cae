#!/usr/bin/env node
// Reads the simulator's runs (docs/scale/runs/*.json, from scripts/sim-sweep.mjs) and writes SVG line plots to
// docs/scale/ and the markdown table for docs/scale.md to stdout. Plain SVG, no dependencies.
// Usage: node scripts/plot-scale.mjs
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const root = new URL('..', import.meta.url).pathname
const dir = join(root, 'docs', 'scale')
const runs = readdirSync(join(dir, 'runs')).filter(f => f.endsWith('.json')).map(f => ({ name: f.replace(/\.json$/, ''), ...JSON.parse(readFileSync(join(dir, 'runs', f), 'utf8')) }))
const series = prefix => runs.filter(r => r.name.startsWith(prefix)).sort((a, b) => a.nodes - b.nodes)
const bounded = series('formed-d8-')
const full = series('formed-full-')
const joins = series('join-d8-')

const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e']

/** A log-x line plot: lines = [{ label, points: [[n, y]] }]. */
function plot ({ title, yLabel, lines, file, yMin = 0 }) {
  const W = 560; const H = 320; const L = 64; const R = 150; const T = 34; const B = 44
  const xs = lines.flatMap(l => l.points.map(p => p[0]))
  const ys = lines.flatMap(l => l.points.map(p => p[1])).filter(Number.isFinite)
  const x0 = Math.log10(Math.min(...xs)); const x1 = Math.log10(Math.max(...xs))
  const yMax = niceMax(Math.max(...ys, 1e-9))
  const x = n => L + (x1 === x0 ? 0.5 : (Math.log10(n) - x0) / (x1 - x0)) * (W - L - R)
  const y = v => H - B - ((v - yMin) / (yMax - yMin)) * (H - T - B)
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`, `<text x="${W / 2 - R / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>`]
  for (let i = 0; i <= 4; i++) {
    const v = yMin + (yMax - yMin) * i / 4
    parts.push(`<line x1="${L}" x2="${W - R}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`, `<text x="${L - 6}" y="${y(v) + 4}" text-anchor="end">${fmt(v)}</text>`)
  }
  for (const n of [...new Set(xs)].sort((a, b) => a - b)) parts.push(`<text x="${x(n)}" y="${H - B + 16}" text-anchor="middle">${n}</text>`)
  parts.push(`<text x="${(L + W - R) / 2}" y="${H - 8}" text-anchor="middle">nodes (log scale)</text>`,
    `<text transform="translate(16 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`)
  lines.forEach((l, i) => {
    const pts = l.points.filter(p => Number.isFinite(p[1]))
    const c = l.colour ?? COLOURS[i % COLOURS.length]
    parts.push(`<polyline fill="none" stroke="${c}" stroke-width="2" ${l.dashed ? 'stroke-dasharray="6 4"' : ''} points="${pts.map(p => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(' ')}"/>`)
    for (const p of pts) parts.push(`<circle cx="${x(p[0]).toFixed(1)}" cy="${y(p[1]).toFixed(1)}" r="3" fill="${c}"/>`)
    parts.push(`<line x1="${W - R + 10}" x2="${W - R + 30}" y1="${T + 10 + i * 18}" y2="${T + 10 + i * 18}" stroke="${c}" stroke-width="2" ${l.dashed ? 'stroke-dasharray="6 4"' : ''}/>`,
      `<text x="${W - R + 36}" y="${T + 14 + i * 18}">${esc(l.label)}</text>`)
  })
  parts.push('</svg>')
  writeFileSync(join(dir, file), parts.join('\n') + '\n')
}

function niceMax (v) {
  const p = 10 ** Math.floor(Math.log10(v))
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p
  return 10 * p
}
const fmt = v => v >= 1000 ? `${+(v / 1000).toFixed(1)}k` : `${+v.toFixed(2)}`
const esc = s => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;')
const pts = (rs, f) => rs.map(r => [r.nodes, f(r)])

plot({
  title: 'Failure detection (all survivors see dead)', yLabel: 'seconds', file: 'detection.svg',
  lines: [
    { label: 'hang p99', points: pts(bounded, r => r.detection.hang.allMs.p99 / 1000) },
    { label: 'hang p50', points: pts(bounded, r => r.detection.hang.allMs.p50 / 1000) },
    { label: 'kill -9 p99', points: pts(bounded, r => r.detection.kill.allMs.p99 / 1000) },
    { label: 'SWIM bound', points: pts(bounded, () => 1 + 1 + 3), dashed: true, colour: '#888' }
  ]
})
plot({
  title: 'Messages sent per node per second', yLabel: 'messages/s', file: 'messages.svg',
  lines: [
    { label: 'SWIM probes', points: pts(bounded, r => r.load.messagesPerNodePerSec.swim) },
    { label: 'all, degree 8', points: pts(bounded, r => r.load.messagesPerNodePerSec.total) },
    { label: 'all, full mesh', points: pts(full, r => r.load.messagesPerNodePerSec.total), dashed: true }
  ]
})
plot({
  title: 'Bytes sent per node per second', yLabel: 'bytes/s', file: 'bytes.svg',
  lines: [
    { label: 'all, degree 8', points: pts(bounded, r => r.load.bytesPerNodePerSec.total) },
    { label: 'push-pull', points: pts(bounded, r => r.load.bytesPerNodePerSec.sync) },
    { label: 'SWIM probes', points: pts(bounded, r => r.load.bytesPerNodePerSec.swim) },
    { label: 'all, full mesh', points: pts(full, r => r.load.bytesPerNodePerSec.total), dashed: true }
  ]
})
plot({
  title: 'Event dissemination', yLabel: 'milliseconds', file: 'dissemination.svg',
  lines: [
    { label: 'to 100%, p99', points: pts(bounded, r => r.dissemination.to100Ms.p99) },
    { label: 'to 99%, p50', points: pts(bounded, r => r.dissemination.to99Ms.p50) }
  ]
})
plot({
  title: 'Connections per node', yLabel: 'open connections', file: 'connections.svg',
  lines: [
    { label: 'degree 8, mean', points: pts(bounded, r => r.connections.mean) },
    { label: 'degree 8, max', points: pts(bounded, r => r.connections.max) },
    { label: 'full mesh, mean', points: pts(full, r => r.connections.mean), dashed: true }
  ]
})

const s = ms => ms === null || !Number.isFinite(ms) ? '—' : `${(ms / 1000).toFixed(1)} s`
const rows = [
  '| nodes | conns mean / max | msg/s/node (SWIM) | B/s/node (push-pull) | false pos. (suspect/dead) | detect kill p50 / p99 | detect hang p50 / p99 | events to 99% / 100% p99 | partition heal: views / events | wall, RSS |',
  '|---|---|---|---|---|---|---|---|---|---|',
  ...bounded.map(r => `| ${r.nodes} | ${r.connections.mean} / ${r.connections.max} | ${r.load.messagesPerNodePerSec.total} (${r.load.messagesPerNodePerSec.swim}) | ${r.load.bytesPerNodePerSec.total} (${r.load.bytesPerNodePerSec.sync}) | ${r.falsePositives.suspect}/${r.falsePositives.dead} | ${s(r.detection.kill.allMs.p50)} / ${s(r.detection.kill.allMs.p99)} | ${s(r.detection.hang.allMs.p50)} / ${s(r.detection.hang.allMs.p99)} | ${r.dissemination.to99Ms.p99} / ${r.dissemination.to100Ms.p99} ms | ${s(r.partition?.viewsMs ?? null)} / ${s(r.partition?.eventsMs ?? null)} | ${r.wallSeconds} s, ${r.maxRssMb} MB |`)
]
const fullRows = [
  '| nodes | conns mean | msg/s/node | B/s/node |',
  '|---|---|---|---|',
  ...full.map(r => `| ${r.nodes} | ${r.connections.mean} | ${r.load.messagesPerNodePerSec.total} | ${r.load.bytesPerNodePerSec.total} |`)
]
const joinRows = [
  '| nodes | every node sees every node alive after |',
  '|---|---|',
  ...joins.map(r => `| ${r.nodes} | ${s(r.joinMs)} |`)
]
process.stdout.write(['## degree 8 (formed)', ...rows, '', '## full mesh (formed)', ...fullRows, '', '## join through one bootstrap node', ...joinRows, ''].join('\n'))
