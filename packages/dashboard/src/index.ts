/**
 * The live dashboard's static files (public/: plain ES modules, no build step, nothing from the network).
 * The daemon serves them without the token: the page holds no swarm data, it asks for the token and then
 * reads everything over the token-protected WebSocket.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { extname } from 'node:path'
import { fileURLToPath } from 'node:url'

export interface DashboardAsset {
  /** Content-Type header value. */
  type: string
  body: Buffer
}

const PUBLIC_DIR = fileURLToPath(new URL('../../public/', import.meta.url))

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml'
}

/**
 * Only these origins: scripts, styles and the WebSocket from the daemon itself, no inline script, no frames.
 * Element styles set from script (el.style.width) are CSSOM writes, which 'self' allows.
 */
export const DASHBOARD_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

/** URL path ('/', '/app.js', ...) to its file, read once now. */
export function dashboardAssets (): Map<string, DashboardAsset> {
  const assets = new Map<string, DashboardAsset>()
  for (const name of readdirSync(PUBLIC_DIR).sort()) {
    const type = TYPES[extname(name)]
    if (type === undefined) continue
    const asset = { type, body: readFileSync(PUBLIC_DIR + name) }
    assets.set(name === 'index.html' ? '/' : `/${name}`, asset)
  }
  return assets
}
