/**
 * Deadlines that do not blame a peer for this process's own stalls (Lifeguard, Dadgar, Phillips and Currey 2018,
 * §IV-A: a member must not suspect others for its own slowness).
 *
 * `AbortSignal.timeout(ms)` fails a probe whose answer is already waiting in the socket whenever the event loop
 * was blocked past the deadline: Node runs due timers before it polls for I/O, so after a stall the timeout wins
 * the race against a reply that arrived in time. On a saturated machine that turns every stall into failed probes,
 * suspicions and refutations, whose gossip saturates it further (30 daemons on 2 cores never formed; docs/scale.md).
 *
 * A patient deadline, when its timer fires:
 * - if the timer fired late (the loop was stalled), it is re-armed for that lateness, since whatever the peer sent
 *   meanwhile has not been read yet; the whole wait never exceeds `maxMs`;
 * - otherwise it aborts one loop turn later (setImmediate, after the I/O poll), so a reply already read off the
 *   socket is handled first.
 */

/** A timer this much later than asked counts as a stall of the loop (ms). */
const STALL_MS = 20

export class PatientTimeoutError extends Error {
  constructor (ms: number) {
    super(`no answer within ${Math.round(ms)} ms`)
    this.name = 'TimeoutError'
  }
}

/**
 * An AbortSignal that aborts (with a TimeoutError) `ms` after now, extended by the time this process's event loop
 * spent stalled meanwhile, up to `maxMs` (default 4 × ms) in all; or when `parent` aborts (with its reason).
 */
export function patientDeadline (ms: number, parent?: AbortSignal, maxMs = 4 * ms): AbortSignal {
  const controller = new AbortController()
  const start = performance.now()
  const arm = (delay: number): void => {
    const due = performance.now() + delay
    setTimeout(() => {
      const now = performance.now()
      const late = now - due
      const left = start + maxMs - now
      if (late > STALL_MS && left > 0) arm(Math.min(late, left))
      else setImmediate(() => { controller.abort(new PatientTimeoutError(performance.now() - start)) })
    }, delay).unref()
  }
  arm(ms)
  // AbortSignal.any holds its sources weakly: a long-lived parent (the service's own) collects no listeners.
  return parent === undefined ? controller.signal : AbortSignal.any([parent, controller.signal])
}
