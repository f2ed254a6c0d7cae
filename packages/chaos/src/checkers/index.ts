/** All checkers, one per invariant of docs/protocols/invariants.md. */
import type { Checker, CheckInput, InvariantId, Violation } from '../types.js'
import { checkCausal } from './causal.js'
import { checkBoundedSkew } from './bounded-skew.js'
import { checkDurability } from './durability.js'
import { checkResurrection } from './resurrection.js'
import { checkConvergence } from './convergence.js'
import { checkEvents } from './events.js'
import { checkQuorum } from './quorum.js'
import { checkJobs } from './jobs.js'
import { checkFailedNoEffect } from './failed-no-effect.js'
import { checkClosedTopics } from './closed-topics.js'
import { checkNoInternalError } from './internal-errors.js'

export { checkCausal, checkBoundedSkew, checkDurability, checkResurrection, checkConvergence, checkEvents, checkQuorum, checkJobs, checkFailedNoEffect, checkClosedTopics, checkNoInternalError }
export { kvDifferences } from './convergence.js'

export const CHECKERS: Record<InvariantId, Checker> = {
  'inv1-causal': checkCausal,
  'inv2-bounded-skew': checkBoundedSkew,
  'inv3-durability': checkDurability,
  'inv4-no-resurrection': checkResurrection,
  'inv5-convergence': checkConvergence,
  'inv6-events': checkEvents,
  'inv7-quorum': checkQuorum,
  'inv8-jobs': checkJobs,
  'inv9-failed-no-effect': checkFailedNoEffect,
  'inv10-closed-topics': checkClosedTopics,
  'inv11-no-internal-error': checkNoInternalError
}

export function checkAll (input: CheckInput): Violation[] {
  return Object.values(CHECKERS).flatMap(c => c(input))
}
