/** Waiting on conditions with deadlines: the only way tests wait. */

export interface WaitOptions {
  timeoutMs?: number
  intervalMs?: number
}

/** Polls until `probe` returns a truthy value; throws with `what` and the last value seen at the deadline. */
export async function waitUntil<T> (what: string, probe: () => T | Promise<T>, opts: WaitOptions = {}): Promise<NonNullable<T>> {
  const timeoutMs = opts.timeoutMs ?? 20_000
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const value = await probe()
      if (value !== undefined && value !== null && value !== false) return value as NonNullable<T>
      last = value
    } catch (err) {
      last = err
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`)
    }
    await new Promise(resolve => setTimeout(resolve, opts.intervalMs ?? 100))
  }
}

/** Milliseconds `fn` took. */
export async function timed (fn: () => Promise<unknown>): Promise<number> {
  const start = Date.now()
  await fn()
  return Date.now() - start
}
