/**
 * The swarm's members as this node last knew them, kept in `<dataDir>/members.json` beside `db/`, not in it: a
 * node whose store was lost (a moved-aside or rebuilt `db/`) still knows how big its swarm was, so `quorum` and
 * `all` keep counting the members last known (invariant 7) instead of a swarm of one. The store's peer list
 * (discovery's memory) goes with `db/`; this file does not.
 *
 * Shape: `{ "v": 1, "members": { "<peerId>": <lastSeen, ms since the epoch> } }`. Written at most once a second,
 * atomically (temp file, then rename), when the set of members that have not left changes, and to refresh the
 * last-seen time of a member still alive every MEMBER_MEMORY_REFRESH_MS (the caller notes the view that often).
 */
import { readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Clock, Member } from '@shoal/core'

const FILE = 'members.json'
/** Coalesces bursts of membership changes (a swarm forming) into one write. */
const WRITE_DELAY_MS = 1_000
/** An alive member's last-seen time on disk is brought up to date when it is older than this. */
export const MEMBER_MEMORY_REFRESH_MS = 30_000

export class MemberMemory {
  private readonly members = new Map<string, number>()
  private timer: { cancel: () => void } | undefined
  private writing: Promise<void> = Promise.resolve()
  private constructor (private readonly path: string, private readonly self: string, private readonly clock: Clock) {}

  /** Reads the file; a missing or unreadable one is an empty memory (a new node). */
  static async open (dataDir: string, self: string, clock: Clock): Promise<MemberMemory> {
    const m = new MemberMemory(join(dataDir, FILE), self, clock)
    try {
      const parsed = JSON.parse(await readFile(m.path, 'utf8')) as { members?: Record<string, unknown> }
      for (const [id, seen] of Object.entries(parsed.members ?? {})) {
        if (typeof seen === 'number' && Number.isFinite(seen) && id !== self) m.members.set(id, seen)
      }
    } catch {}
    return m
  }

  /** Members remembered, with when each was last seen alive. */
  list (): Array<{ peerId: string, lastSeen: number }> {
    return [...this.members].map(([peerId, lastSeen]) => ({ peerId, lastSeen }))
  }

  /** Takes in the current view: alive members are seen now, left ones are forgotten; schedules a write on change. */
  note (view: readonly Member[], now: number): void {
    let changed = false
    for (const m of view) {
      if (m.id === this.self) continue
      if (m.state === 'left') {
        changed = this.members.delete(m.id) || changed
      } else if (!this.members.has(m.id) || (m.state === 'alive' && now - this.members.get(m.id)! > MEMBER_MEMORY_REFRESH_MS)) {
        changed = true
        this.members.set(m.id, now)
      }
    }
    if (changed && this.timer === undefined) {
      this.timer = this.clock.setTimer(() => { this.timer = undefined; void this.write() }, WRITE_DELAY_MS)
    }
  }

  /** Writes what is pending now (at stop). */
  async flush (): Promise<void> {
    if (this.timer !== undefined) {
      this.timer.cancel()
      this.timer = undefined
      await this.write()
    }
    await this.writing
  }

  private async write (): Promise<void> {
    const text = JSON.stringify({ v: 1, members: Object.fromEntries(this.members) }) + '\n'
    this.writing = this.writing.then(async () => {
      const tmp = `${this.path}.tmp`
      await writeFile(tmp, text)
      await rename(tmp, this.path)
    }).catch(() => {})
    await this.writing
  }
}
