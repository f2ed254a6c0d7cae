// Tiny DOM helpers: every value goes in as text or an attribute, never as markup.
const SVG_NS = 'http://www.w3.org/2000/svg'

function fill (el, attrs, children) {
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue
    if (k === 'text') el.textContent = String(v)
    else el.setAttribute(k, String(v))
  }
  for (const c of children.flat()) if (c !== undefined && c !== null && c !== false) el.append(c)
  return el
}

export const h = (tag, attrs, ...children) => fill(document.createElement(tag), attrs, children)
export const svg = (tag, attrs, ...children) => fill(document.createElementNS(SVG_NS, tag), attrs, children)

/** The last 6 characters of a peer id: unique enough on a screen, and what people read out loud. */
export const short = id => id.slice(-6)

/** A colour per node, stable for a given set of peer ids (sorted order). */
const PALETTE = ['#5fb3f9', '#b48ef0', '#4cc38a', '#e5b454', '#f07f9c', '#4fd1c5', '#f0a060', '#9fb4ff', '#d4e157', '#e58fe0']
export function nodeColours (ids) {
  return new Map([...ids].sort().map((id, i) => [id, PALETTE[i % PALETTE.length]]))
}

export function fmtRate (n) {
  if (n >= 100) return Math.round(n).toString()
  if (n >= 10) return n.toFixed(0)
  return n.toFixed(1)
}

export function fmtBytes (n) {
  if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(1)} GB`
  return `${Math.round(n / (1 << 20))} MB`
}

export function fmtAgo (ms) {
  if (ms < 1500) return 'just now'
  if (ms < 90_000) return `${Math.round(ms / 1000)} s ago`
  if (ms < 5_400_000) return `${Math.round(ms / 60_000)} min ago`
  return `${Math.round(ms / 3_600_000)} h ago`
}
