// Puts one swarm.overview answer (and the client-side history) on the page.
import { h, short, nodeColours, fmtRate, fmtBytes, fmtAgo } from './dom.js'
import { drawMap, drawTraffic, sparkline } from './charts.js'

const $ = id => document.getElementById(id)

export function render (overview, history, { latencyMs }) {
  const colours = nodeColours(overview.members.map(m => m.id))
  const alive = overview.members.filter(m => m.state === 'alive').length
  $('swarm').textContent = `swarm ${overview.self.swarm} · node ${short(overview.self.peerId)}`
  $('alive-count').textContent = String(alive)
  $('alive-count').parentElement.title = `${alive} of ${overview.members.length} known members alive`
  const last = history.swarm.at(-1) ?? { events: 0, kv: 0 }
  $('events-rate').textContent = fmtRate(last.events)
  $('kv-rate').textContent = fmtRate(last.kv)
  renderConvergence(overview)
  drawMap($('map'), overview)
  drawTraffic($('traffic'), history.swarm)
  renderJobs(overview, colours)
  renderNodes(overview, history)
  $('footer').textContent = `updated ${new Date(overview.now).toLocaleTimeString()} · ${latencyMs} ms · Shoal ${overview.self.version}`
}

function renderConvergence (overview) {
  const el = $('convergence')
  const peers = Object.values(overview.kv.peers)
  const differ = peers.filter(p => !p.match).length
  el.dataset.converged = String(overview.kv.converged)
  el.className = `badge ${overview.kv.converged ? 'ok' : 'warn'}`
  el.textContent = overview.kv.converged ? '✓ KV converged' : `KV converging · ${differ} of ${peers.length} differ`
  el.title = `root ${overview.kv.root.slice(0, 16)}…`
}

function renderJobs (overview, colours) {
  const { total, byState, recent } = overview.jobs
  $('job-counts').textContent = total === 0 ? '' : [`${total} total`, ...Object.entries(byState).map(([s, n]) => `${n} ${s}`)].join(' · ')
  if (recent.length === 0) {
    $('jobs').replaceChildren(h('p', { class: 'muted', text: 'No jobs yet. Submit one with shoal task run.' }))
    return
  }
  $('jobs').replaceChildren(...recent.map(job => jobRow(job, colours)))
}

function jobRow (job, colours) {
  const total = Math.max(1, job.subtasks)
  const done = job.counts.done
  const pct = Math.floor((done / total) * 100)
  const workers = Object.entries(job.perMember).filter(([, c]) => c.done + c.running > 0).sort((a, b) => a[0] < b[0] ? -1 : 1)
  const segs = workers.filter(([, c]) => c.done > 0).map(([id, c]) => {
    const seg = h('div', { class: 'seg', title: `${short(id)}: ${c.done} done` })
    seg.style.width = `${(c.done / total) * 100}%`
    seg.style.background = colours.get(id) ?? '#8695a6'
    return seg
  })
  const running = h('div', { class: 'seg running', title: `${job.counts.running} running` })
  running.style.width = `${(job.counts.running / total) * 100}%`
  const age = fmtAgo(Date.now() - job.submittedAt)
  return h('div', { class: 'job', 'data-testid': 'job', 'data-job-id': job.jobId, 'data-state': job.state, 'data-progress': pct },
    h('div', { class: 'job-head' },
      h('span', { class: 'name', text: job.handler }),
      h('span', { class: 'mono muted', text: job.jobId.slice(0, 8), title: job.jobId }),
      h('span', { class: `pill ${job.state}`, text: job.state }),
      h('span', { class: 'muted small', text: age }),
      h('span', { class: 'pct', 'data-testid': 'job-progress', text: `${done}/${job.subtasks} · ${pct}%` })),
    h('div', { class: 'bar', role: 'progressbar', 'aria-valuenow': pct, 'aria-valuemin': 0, 'aria-valuemax': 100 }, segs, running),
    h('div', { class: 'per-node', 'data-testid': 'job-per-node' }, workers.map(([id, c]) => {
      const dot = h('i')
      dot.style.background = colours.get(id) ?? '#8695a6'
      return h('span', { title: id }, dot, h('span', { class: 'mono', text: short(id) }), h('span', { text: `${c.done}${c.running > 0 ? ` +${c.running}` : ''}` }))
    }), job.counts.failed > 0 ? h('span', { class: 'error', text: `${job.counts.failed} failed` }) : null))
}

function renderNodes (overview, history) {
  const statusOf = new Map(overview.statuses.map(s => [s.peerId, s]))
  const order = { alive: 0, suspect: 1, dead: 2, left: 3 }
  const members = [...overview.members].sort((a, b) => (order[a.state] - order[b.state]) || (a.id < b.id ? -1 : 1))
  $('nodes').replaceChildren(...members.map(m => nodeCard(m, statusOf.get(m.id), overview, history.node(m.id))))
}

function nodeCard (m, st, overview, hist) {
  const self = m.id === overview.self.peerId
  const kvPeer = overview.kv.peers[m.id]
  const inSync = self || kvPeer?.match === true
  const kpi = (label, value) => h('div', { class: 'kpi' }, h('b', { text: value }), label)
  const row = (label, values, cls, value) => h('div', { class: 'spark-row' }, h('span', { text: label }), sparkline(values, cls), h('b', { text: value }))
  const body = st === undefined
    ? [h('p', { class: 'muted small', text: 'No status reported yet.' })]
    : [
        h('div', { class: 'kpis' },
          kpi('loop p99', `${Math.round(st.load.eventLoopP99Ms)} ms`),
          kpi('memory', fmtBytes(st.load.rssBytes)),
          kpi('subtasks', String(st.load.runningSubtasks))),
        row('events/s', hist.events, 'events', fmtRate(st.rates.eventsPerSec)),
        row('KV ops/s', hist.kv, 'kv', fmtRate(st.rates.kvOpsPerSec)),
        row('loop p99', hist.loop, 'loop', `${Math.round(st.load.eventLoopP99Ms)} ms`),
        h('div', { class: 'foot' },
          h('span', { text: `${st.neighbours.length} neighbours` }),
          h('span', { text: m.state === 'alive' || m.state === 'suspect' ? (inSync ? 'KV in sync' : 'KV differs') : '' }),
          h('span', { text: fmtAgo(overview.now - st.at) }))
      ]
  return h('article', { class: `card ${m.state}`, 'data-testid': 'node-card', 'data-peer': m.id, 'data-state': m.state },
    h('div', { class: 'card-head' },
      h('span', { class: 'id mono', text: short(m.id), title: m.id }),
      self ? h('span', { class: 'me', text: 'this node' }) : null,
      h('span', { class: `pill ${m.state}`, 'data-testid': 'node-state', text: m.state })),
    body)
}
