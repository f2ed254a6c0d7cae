/**
 * Rendezvous (highest random weight) hashing: members ordered by sha256(key + '\0' + memberId) descending.
 * Every node with the same membership view gets the same order, and removing a member only moves the keys it
 * ranked first (everyone else keeps their relative order).
 */
import { createHash } from 'node:crypto'

export function weight (key: string, memberId: string): string {
  return createHash('sha256').update(`${key}\0${memberId}`).digest('hex')
}

/** Member ids ranked for `key`, best first. Ties (a sha256 collision) would break by id; duplicates are dropped. */
export function rank (key: string, memberIds: readonly string[]): string[] {
  const weighted = [...new Set(memberIds)].map(id => ({ id, w: weight(key, id) }))
  weighted.sort((a, b) => a.w < b.w ? 1 : a.w > b.w ? -1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  return weighted.map(x => x.id)
}
