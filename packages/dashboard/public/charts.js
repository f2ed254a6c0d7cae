// The SVG pictures: the swarm map, the swarm traffic plot and the per-node sparklines.
import { svg, short } from './dom.js'
import { STALE_MS } from './history.js'

const MAP = { w: 420, h: 340, cx: 210, cy: 160, r: 118 }

/** Above this many members the map drops per-node labels and draws small dots (labels only for self and trouble). */
const LABELLED_MAX = 24
/** Above this many members, consecutive ring positions merge into clusters (one dot per cluster, sized by count). */
const CLUSTER_OVER = 120
const CLUSTERS = 48

/**
 * The overlay's ring position of a peer id: 32-bit FNV-1a, as core's membership/overlay.ts ringPosition. On the
 * map each node sits at its ring position, so the ring links every node keeps are short arcs and the random
 * links cross the middle.
 */
export function ringPosition (id) {
  let h = 0x811c9dc5
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/**
 * Nodes around a circle in overlay ring order (so they stay put), edges for the neighbours each node reports.
 * Small swarms get a labelled dot per node; from LABELLED_MAX members small unlabelled dots (hover for the id,
 * self and non-alive nodes keep a label) and a count per state; from CLUSTER_OVER members runs of ring
 * neighbours merge into CLUSTERS clusters, coloured by their worst state, with the links between clusters.
 */
export function drawMap (el, overview) {
  const members = [...overview.members].sort((a, b) => ringPosition(a.id) - ringPosition(b.id) || (a.id < b.id ? -1 : 1))
  const n = members.length
  const clustered = n > CLUSTER_OVER
  const groupOf = new Map(members.map((m, i) => [m.id, clustered ? Math.floor(i * CLUSTERS / n) : i]))
  const groups = clustered ? CLUSTERS : n
  const at = g => {
    const a = -Math.PI / 2 + (2 * Math.PI * g) / Math.max(1, groups)
    return groups === 1 ? { x: MAP.cx, y: MAP.cy } : { x: MAP.cx + MAP.r * Math.cos(a), y: MAP.cy + MAP.r * Math.sin(a) }
  }
  const sides = new Map()
  for (const st of overview.statuses) {
    if (!groupOf.has(st.peerId) || overview.now - st.at > STALE_MS) continue
    for (const nb of st.neighbours) {
      if (!groupOf.has(nb) || nb === st.peerId) continue
      const [ga, gb] = [groupOf.get(st.peerId), groupOf.get(nb)]
      if (ga === gb) continue
      const key = ga < gb ? `${ga} ${gb}` : `${gb} ${ga}`
      sides.set(key, (sides.get(key) ?? 0) + 1)
    }
  }
  const edges = [...sides].map(([key, count]) => {
    const [a, b] = key.split(' ').map(g => at(Number(g)))
    // Unclustered: reported by both ends (solid) or one (dashed). Clustered: every link counts, so no dashes.
    return svg('line', { class: clustered || count > 1 ? 'edge' : 'edge one', x1: a.x, y1: a.y, x2: b.x, y2: b.y, 'data-testid': 'map-edge' })
  })
  const counts = {}
  for (const m of members) counts[m.state] = (counts[m.state] ?? 0) + 1
  const legend = n > LABELLED_MAX
    ? [svg('text', { class: 'map-legend', x: 6, y: MAP.h - 8, text: ['alive', 'suspect', 'dead', 'left'].filter(s => counts[s]).map(s => `${counts[s]} ${s}`).join(' · ') + (clustered ? ` · ${CLUSTERS} clusters of ~${Math.round(n / CLUSTERS)}` : '') })]
    : []
  const dots = clustered ? clusterDots(members, groupOf, at, overview) : nodeDots(members, at, overview, n > LABELLED_MAX)
  el.replaceChildren(svg('g', { class: n > LABELLED_MAX ? 'large' : '' }, edges), svg('g', {}, dots), ...legend)
}

function nodeDots (members, at, overview, large) {
  const statusOf = new Map(overview.statuses.map(s => [s.peerId, s]))
  return members.map((m, i) => {
    const p = at(i)
    const below = p.y >= MAP.cy - 1
    const ty = below ? p.y + (large ? 16 : 30) : p.y - (large ? 12 : 32)
    const st = statusOf.get(m.id)
    const self = m.id === overview.self.peerId
    const sub = m.state !== 'alive' ? m.state : st !== undefined ? `${st.neighbours.length} links` : ''
    const labelled = !large || self || m.state !== 'alive'
    return svg('g', { class: `node ${m.state}`, 'data-testid': 'map-node', 'data-peer': m.id, 'data-state': m.state },
      svg('title', { text: `${m.id}\n${m.state}${st !== undefined ? `\n${st.neighbours.length} links` : ''}` }),
      self ? svg('circle', { class: 'self', cx: p.x, cy: p.y, r: large ? 8 : 20 }) : null,
      svg('circle', { class: 'body', cx: p.x, cy: p.y, r: large ? 5 : 14 }),
      labelled ? svg('text', { x: p.x, y: ty, text: short(m.id) }) : null,
      labelled && !large ? svg('text', { class: 'sub', x: p.x, y: ty + 13, text: sub }) : null)
  })
}

const WORST = ['alive', 'suspect', 'dead', 'left']

function clusterDots (members, groupOf, at, overview) {
  const byGroup = new Map()
  for (const m of members) {
    const g = groupOf.get(m.id)
    if (!byGroup.has(g)) byGroup.set(g, [])
    byGroup.get(g).push(m)
  }
  return [...byGroup].map(([g, list]) => {
    const p = at(g)
    const states = list.map(m => m.state)
    const worst = WORST.slice(1).reverse().find(s => s !== 'left' && states.includes(s)) ?? 'alive'
    const hasSelf = list.some(m => m.id === overview.self.peerId)
    const r = 3 + Math.sqrt(list.length) * 1.6
    const trouble = list.filter(m => m.state !== 'alive')
    return svg('g', { class: `node cluster ${worst}`, 'data-testid': 'map-cluster', 'data-size': String(list.length), 'data-state': worst },
      svg('title', { text: `${list.length} nodes${trouble.length > 0 ? `\n${trouble.map(m => `${short(m.id)} ${m.state}`).join('\n')}` : ''}` }),
      hasSelf ? svg('circle', { class: 'self', cx: p.x, cy: p.y, r: r + 4 }) : null,
      svg('circle', { class: 'body', cx: p.x, cy: p.y, r }))
  })
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
