/**
 * The one logging face every package takes as a dependency. Component scopes read 'shoal:node:membership';
 * the daemon backs it with structured JSON lines, tests with a silent or capturing logger.
 */
export interface Logger {
  trace(obj: object | string, msg?: string): void
  debug(obj: object | string, msg?: string): void
  info(obj: object | string, msg?: string): void
  warn(obj: object | string, msg?: string): void
  error(obj: object | string, msg?: string): void
  /** A logger whose lines carry `component` (and any other bindings). */
  child(bindings: { component?: string } & Record<string, unknown>): Logger
}

export const silentLogger: Logger = {
  trace () {},
  debug () {},
  info () {},
  warn () {},
  error () {},
  child () { return silentLogger }
}
