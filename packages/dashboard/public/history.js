// Client-side history for the plots: per node, one sample per status report; swarm-wide, one per poll.

/** Samples kept per node: 40 reports of 3 s is two minutes. */
const NODE_SAMPLES = 40
/** Swarm-wide samples, one per poll (1 s): two minutes. */
const SWARM_SAMPLES = 120
/** A status older than this is not counted in swarm totals (its node stopped reporting). */
export const STALE_MS = 10_000

export class History {
  constructor () {
    this.nodes = new Map()
    this.swarm = []
  }

  add (overview) {
    const live = new Set(overview.members.filter(m => m.state === 'alive' || m.state === 'suspect').map(m => m.id))
    let events = 0
    let kv = 0
    for (const st of overview.statuses) {
      const h = this.nodes.get(st.peerId) ?? { at: 0, events: [], kv: [], loop: [] }
      if (st.at !== h.at) {
        h.at = st.at
        push(h.events, st.rates.eventsPerSec, NODE_SAMPLES)
        push(h.kv, st.rates.kvOpsPerSec, NODE_SAMPLES)
        push(h.loop, st.load.eventLoopP99Ms, NODE_SAMPLES)
        this.nodes.set(st.peerId, h)
      }
      if (live.has(st.peerId) && overview.now - st.at < STALE_MS) {
        events += st.rates.eventsPerSec
        kv += st.rates.kvOpsPerSec
      }
    }
    push(this.swarm, { events, kv }, SWARM_SAMPLES)
  }

  node (peerId) {
    return this.nodes.get(peerId) ?? { at: 0, events: [], kv: [], loop: [] }
  }
}

function push (list, value, max) {
  list.push(value)
  if (list.length > max) list.splice(0, list.length - max)
}
