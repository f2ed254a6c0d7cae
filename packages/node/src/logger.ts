/**
 * Structured JSON lines via pino (stderr), scoped by component; 'pretty' prints one readable line each.
 * Every key appears once per line: a child's bindings replace its parent's (the innermost component wins), a
 * field equal to a bound one is dropped, and a field that differs from a bound one goes under `fields` (a
 * line about another peer keeps this node's `peerId` and carries the other's as `fields.peerId`).
 */
import { pino } from 'pino'
import type { Logger, LogLevel, LogFormat } from '@shoal/core'

export interface LoggerInit {
  level: LogLevel
  format: LogFormat
  /** Fields on every line (peer id, swarm). */
  base?: Record<string, unknown>
  /** Defaults to stderr, so stdout stays for what the daemon prints to people. */
  destination?: NodeJS.WritableStream
}

export function createLogger (init: LoggerInit): Logger {
  const destination = init.destination ?? process.stderr
  if (init.format === 'pretty') {
    return prettyLogger(init.level, init.base ?? {}, destination)
  }
  const root = pino({ level: init.level, base: {}, timestamp: pino.stdTimeFunctions.isoTime }, destination as pino.DestinationStream)
  return wrapPino(root, init.base ?? {})
}

/** One pino child per logger, bound once with all its bindings: pino itself repeats keys bound twice. */
function wrapPino (root: pino.Logger, bindings: Record<string, unknown>): Logger {
  const p = root.child(bindings)
  const call = (fn: pino.LogFn) => (obj: object | string, msg?: string) => {
    if (typeof obj === 'string') fn(obj)
    else fn(withoutBound(obj as Record<string, unknown>, bindings), msg)
  }
  return {
    trace: call(p.trace.bind(p)),
    debug: call(p.debug.bind(p)),
    info: call(p.info.bind(p)),
    warn: call(p.warn.bind(p)),
    error: call(p.error.bind(p)),
    child: more => wrapPino(root, { ...bindings, ...more })
  }
}

/** A line's fields without the keys its logger already binds (see the file's comment). */
export function withoutBound (fields: Record<string, unknown>, bound: Record<string, unknown>): Record<string, unknown> {
  let out: Record<string, unknown> | undefined
  let moved: Record<string, unknown> | undefined
  for (const key of Object.keys(fields)) {
    if (!(key in bound)) continue
    out ??= { ...fields }
    delete out[key]
    if (fields[key] !== bound[key]) (moved ??= {})[key] = fields[key]
  }
  if (out === undefined) return fields
  if (moved === undefined) return out
  const own = out.fields
  return { ...out, fields: own !== null && typeof own === 'object' && !Array.isArray(own) ? { ...own, ...moved } : own === undefined ? moved : { ...moved, fields: own } }
}

const ORDER = ['trace', 'debug', 'info', 'warn', 'error', 'silent']

function prettyLogger (level: LogLevel, bindings: Record<string, unknown>, out: NodeJS.WritableStream): Logger {
  const min = ORDER.indexOf(level)
  const at = (name: string) => (obj: object | string, msg?: string) => {
    if (ORDER.indexOf(name) < min) return
    const fields = typeof obj === 'string' ? {} : obj
    const text = typeof obj === 'string' ? obj : (msg ?? '')
    const component = (bindings.component as string | undefined) ?? 'shoal'
    const extra = Object.entries(fields).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ')
    out.write(`${new Date().toISOString().slice(11, 23)} ${name.toUpperCase().padEnd(5)} ${component} ${text}${extra === '' ? '' : ' ' + extra}\n`)
  }
  return {
    trace: at('trace'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: b => prettyLogger(level, { ...bindings, ...b }, out)
  }
}
