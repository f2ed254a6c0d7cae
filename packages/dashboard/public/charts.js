// The SVG pictures: the swarm map, the swarm traffic plot and the per-node sparklines.
import { svg, short } from './dom.js'
import { STALE_MS } from './history.js'

const MAP = { w: 420, h: 340, cx: 210, cy: 160, r: 118 }

/** Nodes on a circle (sorted by peer id, so they stay put), edges for the neighbours each node reports. */
export function drawMap (el, overview) {
  const members = [...overview.members].sort((a, b) => a.id < b.id ? -1 : 1)
  const n = members.length
  const pos = new Map(members.map((m, i) => {
    const a = -Math.PI / 2 + (2 * Math.PI * i) / Math.max(1, n)
    return [m.id, n === 1 ? { x: MAP.cx, y: MAP.cy } : { x: MAP.cx + MAP.r * Math.cos(a), y: MAP.cy + MAP.r * Math.sin(a) }]
  }))
  const sides = new Map()
  for (const st of overview.statuses) {
    if (!pos.has(st.peerId) || overview.now - st.at > STALE_MS) continue
    for (const nb of st.neighbours) {
      if (!pos.has(nb) || nb === st.peerId) continue
      const key = st.peerId < nb ? `${st.peerId} ${nb}` : `${nb} ${st.peerId}`
      sides.set(key, (sides.get(key) ?? 0) + 1)
    }
  }
  const edges = [...sides].map(([key, count]) => {
    const [a, b] = key.split(' ').map(id => pos.get(id))
    return svg('line', { class: count > 1 ? 'edge' : 'edge one', x1: a.x, y1: a.y, x2: b.x, y2: b.y, 'data-testid': 'map-edge' })
  })
  const statusOf = new Map(overview.statuses.map(s => [s.peerId, s]))
  const nodes = members.map(m => {
    const p = pos.get(m.id)
    const below = p.y >= MAP.cy - 1
    const ty = below ? p.y + 30 : p.y - 32
    const st = statusOf.get(m.id)
    const sub = m.state !== 'alive' ? m.state : st !== undefined ? `${st.neighbours.length} links` : ''
    return svg('g', { class: `node ${m.state}`, 'data-testid': 'map-node', 'data-peer': m.id, 'data-state': m.state },
      svg('title', { text: `${m.id}\n${m.state}` }),
      m.id === overview.self.peerId ? svg('circle', { class: 'self', cx: p.x, cy: p.y, r: 20 }) : null,
      svg('circle', { class: 'body', cx: p.x, cy: p.y, r: 14 }),
      svg('text', { x: p.x, y: ty, text: short(m.id) }),
      svg('text', { class: 'sub', x: p.x, y: ty + 13, text: sub }))
  })
  el.replaceChildren(svg('g', {}, edges), svg('g', {}, nodes))
}

/** Two area plots (events/s, KV ops/s) over the swarm-wide history. */
export function drawTraffic (el, samples) {
  const W = 420
  const H = 150
  const pad = 14
  const max = niceMax(Math.max(1, ...samples.map(s => Math.max(s.events, s.kv))))
  const slots = 120
  const x = i => W - ((samples.length - 1 - i) / (slots - 1)) * W
  const y = v => H - pad - (v / max) * (H - 2 * pad)
  const area = key => {
    if (samples.length < 2) return ''
    const line = samples.map((s, i) => `${i === 0 ? 'M' : 'L'}${x(i).toFixed(1)},${y(s[key]).toFixed(1)}`).join('')
    return `${line}L${x(samples.length - 1).toFixed(1)},${H - pad}L${x(0).toFixed(1)},${H - pad}Z`
  }
  const grid = [0, 0.5, 1].map(f => svg('line', { class: 'grid-line', x1: 0, x2: W, y1: y(max * f), y2: y(max * f) }))
  const labels = [0.5, 1].map(f => svg('text', { x: 4, y: y(max * f) - 3, text: `${+(max * f).toFixed(1)}/s` }))
  el.replaceChildren(...grid, svg('path', { class: 'kv', d: area('kv') }), svg('path', { class: 'events', d: area('events') }), ...labels)
}

/** A line over the last values, scaled to their own maximum (the number beside it gives the size). */
export function sparkline (values, cls) {
  const W = 100
  const H = 24
  const max = Math.max(1e-9, ...values)
  const pts = values.length < 2 ? [] : values.map((v, i) => `${i === 0 ? 'M' : 'L'}${((i / (values.length - 1)) * W).toFixed(1)},${(H - 2 - (v / max) * (H - 4)).toFixed(1)}`)
  return svg('svg', { class: 'spark', viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none' }, svg('path', { class: cls, d: pts.join('') }))
}

function niceMax (v) {
  const p = 10 ** Math.floor(Math.log10(v))
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v * 1.1) return m * p
  return 10 * p
}
