/**
 * Reads a request body up to a byte limit; an oversized upload costs at most `limit` bytes of memory. Past the
 * limit the rest is read and thrown away (up to DRAIN_FACTOR x limit) before the caller answers 413: a client
 * still sending when the server closes sees a reset instead of the 413 that says what is wrong. Beyond that,
 * reading stops at once and the caller closes. A client that never finishes gets its 413 after DRAIN_MS.
 */
import type { IncomingMessage } from 'node:http'

export type BodyResult = { ok: true, body: Buffer } | { ok: false, reason: 'too-large' | 'aborted' }

/** How much of an oversized body is drained (as a multiple of the limit) so the client can read the 413... */
const DRAIN_FACTOR = 4
/** ...and for how long at most: a client that never finishes its upload still gets its answer. */
const DRAIN_MS = 1000

export async function readBody (req: IncomingMessage, limit: number): Promise<BodyResult> {
  const declared = Number(req.headers['content-length'])
  if (Number.isFinite(declared) && declared > limit * DRAIN_FACTOR) return { ok: false, reason: 'too-large' }
  return await new Promise(resolve => {
    const chunks: Buffer[] = []
    let size = 0
    let settled = false
    const done = (result: BodyResult): void => {
      if (settled) return
      settled = true
      // The 'error' listener stays: a late socket error with no listener would crash the process.
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('close', onClose)
      resolve(result)
    }
    let tooLarge = false
    const onData = (chunk: Buffer): void => {
      size += chunk.length
      if (size > limit && !tooLarge) {
        tooLarge = true
        chunks.length = 0
        setTimeout(() => { req.pause(); done({ ok: false, reason: 'too-large' }) }, DRAIN_MS).unref()
      }
      if (size > limit * DRAIN_FACTOR) {
        req.pause()
        done({ ok: false, reason: 'too-large' })
        return
      }
      if (!tooLarge) chunks.push(chunk)
    }
    const onEnd = (): void => { done(tooLarge ? { ok: false, reason: 'too-large' } : { ok: true, body: Buffer.concat(chunks, size) }) }
    const onError = (): void => { done({ ok: false, reason: 'aborted' }) }
    // 'close' before 'end' means the client went away mid-body.
    const onClose = (): void => { if (!req.complete) done({ ok: false, reason: 'aborted' }) }
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', onError)
    req.on('close', onClose)
  })
}
