/** Structured JSON lines via pino (stderr), scoped by component; 'pretty' prints one readable line each. */
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
  const p = pino({ level: init.level, base: init.base ?? {}, timestamp: pino.stdTimeFunctions.isoTime }, destination as pino.DestinationStream)
  return wrapPino(p)
}

function wrapPino (p: pino.Logger): Logger {
  const call = (fn: pino.LogFn) => (obj: object | string, msg?: string) => {
    if (typeof obj === 'string') fn(obj)
    else fn(obj, msg)
  }
  return {
    trace: call(p.trace.bind(p)),
    debug: call(p.debug.bind(p)),
    info: call(p.info.bind(p)),
    warn: call(p.warn.bind(p)),
    error: call(p.error.bind(p)),
    child: bindings => wrapPino(p.child(bindings))
  }
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
