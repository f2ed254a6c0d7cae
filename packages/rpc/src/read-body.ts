/**
 * Reads a request body up to a byte limit. Past the limit it stops reading at once (the caller answers 413
 * and closes), so an oversized upload costs at most `limit` bytes of memory.
 */
import type { IncomingMessage } from 'node:http'

export type BodyResult = { ok: true, body: Buffer } | { ok: false, reason: 'too-large' | 'aborted' }

export async function readBody (req: IncomingMessage, limit: number): Promise<BodyResult> {
  const declared = Number(req.headers['content-length'])
  if (Number.isFinite(declared) && declared > limit) return { ok: false, reason: 'too-large' }
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
    const onData = (chunk: Buffer): void => {
      size += chunk.length
      if (size > limit) {
        req.pause()
        done({ ok: false, reason: 'too-large' })
        return
      }
      chunks.push(chunk)
    }
    const onEnd = (): void => { done({ ok: true, body: Buffer.concat(chunks, size) }) }
    const onError = (): void => { done({ ok: false, reason: 'aborted' }) }
    // 'close' before 'end' means the client went away mid-body.
    const onClose = (): void => { if (!req.complete) done({ ok: false, reason: 'aborted' }) }
    req.on('data', onData)
    req.on('end', onEnd)
    req.on('error', onError)
    req.on('close', onClose)
  })
}
