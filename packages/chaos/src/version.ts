/** The order the daemon documents for KV versions (docs/protocols/kv.md): (wall, logical, node), never a tie. */
import type { Version } from './types.js'

export function compareVersion (a: Version, b: Version): number {
  if (a.wall !== b.wall) return a.wall < b.wall ? -1 : 1
  if (a.logical !== b.logical) return a.logical < b.logical ? -1 : 1
  if (a.node === b.node) return 0
  return a.node < b.node ? -1 : 1
}

export function isVersion (v: unknown): v is Version {
  const o = v as Version | undefined
  return typeof o === 'object' && o !== null && typeof o.wall === 'number' && typeof o.logical === 'number' && typeof o.node === 'string'
}

export function showVersion (v: Version | undefined): string {
  return v === undefined ? '-' : `${v.wall}.${v.logical}@${v.node.slice(-6)}`
}
