/**
 * The error a run rejects with when its signal aborts: the signal's reason when it is an Error (so a caller that
 * aborted with its own error gets it back), else an AbortError naming what was aborted.
 */
export function abortError (signal: AbortSignal, what: string): Error {
  const reason: unknown = signal.reason
  if (reason instanceof Error) return reason
  const err = new Error(`${what} aborted${reason === undefined ? '' : `: ${String(reason)}`}`)
  err.name = 'AbortError'
  return err
}
