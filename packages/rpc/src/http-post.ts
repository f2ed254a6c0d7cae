/**
 * One HTTP POST of a text body, resolving with the status and the whole answer as text: the client's transport
 * (client.ts). Rejects with the socket's error (its `code`, e.g. ECONNREFUSED, on the error or in its cause), or
 * with the signal's reason once it aborts.
 */
import http from 'node:http'
import https from 'node:https'

export interface PostAnswer { status: number, text: string }
export type Post = (url: string, headers: Record<string, string>, body: string, signal: AbortSignal) => Promise<PostAnswer>

/**
 * Over node:http (https for an https: URL) with one keep-alive agent per client: a call reuses an open
 * connection. Idle connections do not keep the process alive, and Node's agent drops them a second before the
 * server's announced `Keep-Alive: timeout` so that a request is not sent on a connection the server is closing.
 */
export function nodePost (): Post {
  let agents: { http: http.Agent, https: https.Agent } | undefined
  return async (url, headers, body, signal) => {
    agents ??= { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) }
    const target = new URL(url)
    const secure = target.protocol === 'https:'
    return await new Promise<PostAnswer>((resolve, reject) => {
      const req = (secure ? https : http).request(target, {
        method: 'POST',
        agent: secure ? agents!.https : agents!.http,
        headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
        signal
      }, res => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => { chunks.push(chunk) })
        res.on('end', () => { resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }) })
        res.on('error', reject)
        res.on('close', () => { if (!res.complete) reject(new Error('the connection closed before the whole answer arrived')) })
      })
      req.on('error', reject)
      req.end(body)
    })
  }
}

/** Over a fetch function (the global one, or one a test or an embedder gives). */
export function fetchPost (doFetch: typeof fetch): Post {
  return async (url, headers, body, signal) => {
    const res = await doFetch(url, { method: 'POST', headers, body, signal })
    return { status: res.status, text: await res.text() }
  }
}
