/**
 * The error a handler run fails with when the work itself failed (a module's run threw, a worker crashed, a command
 * exited non-zero). Its message is what the job records; `data` carries structured detail (exitCode, stderr).
 * Candidate for @shoal/core errors.ts once the tasks work lands there.
 */
import { ShoalError } from '@shoal/core'

export class HandlerError extends ShoalError {
  static readonly code = 'ERR_HANDLER_FAILED'
  constructor (message: string, data?: Record<string, unknown>) {
    super(HandlerError.code, message, data)
  }
}
