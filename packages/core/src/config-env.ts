/**
 * SHOAL_* environment variables, derived from the `env` keywords of CONFIG_SCHEMA: a field names its variable
 * and its type says how the text is read (strings as they are, lists comma-separated, booleans
 * 1/true/yes/on or 0/false/no/off, `envFormat: 'host-port'` as HOST:PORT). Blank counts as unset.
 */
import { CONFIG_SCHEMA, type ConfigInput } from './config-schema.js'
import { ConfigError } from './errors.js'
import { childPath, type JsonSchema } from './schema/index.js'

export interface EnvSetting {
  /** The variable, e.g. SHOAL_LISTEN. */
  name: string
  /** The config field it sets, e.g. listen. */
  field: string
  schema: JsonSchema
}

/** Every SHOAL_* variable the config reads, in schema order (dataDir's is read by resolveDataDir). */
export function envSettings (): EnvSetting[] {
  const out: EnvSetting[] = []
  const walk = (schema: JsonSchema, path: string): void => {
    for (const [key, field] of Object.entries((schema.properties ?? {}) as Record<string, JsonSchema>)) {
      const at = childPath(path, key)
      if (typeof field.env === 'string') out.push({ name: field.env, field: at, schema: field })
      else if (field.properties !== undefined) walk(field, at)
    }
  }
  walk(CONFIG_SCHEMA as unknown as JsonSchema, '')
  return out
}

const SETTINGS = envSettings().filter(s => s.field !== 'dataDir')

/** The config layer the environment gives (only fields whose variable is set and not blank). */
export function configFromEnv (env: Record<string, string | undefined>): ConfigInput {
  const out: Record<string, unknown> = {}
  for (const { name, field, schema } of SETTINGS) {
    const text = nonEmpty(env[name])
    if (text === undefined) continue
    setPath(out, field, readEnv(text, name, field, schema))
  }
  return out as ConfigInput
}

function readEnv (text: string, name: string, field: string, schema: JsonSchema): unknown {
  if (schema.envFormat === 'host-port') return parseHostPort(text, field)
  switch (schema.type) {
    case 'array': return text.split(',').map(s => s.trim()).filter(Boolean)
    case 'boolean':
      if (/^(1|true|yes|on)$/i.test(text)) return true
      if (/^(0|false|no|off)$/i.test(text)) return false
      throw new ConfigError(field, text, `true or false (from ${name})`)
    case 'integer':
    case 'number': {
      const n = Number(text)
      // A non-number is left as text so the check names it with the field's own expectation.
      return text !== '' && Number.isFinite(n) ? n : text
    }
    default: return text
  }
}

/** "HOST:PORT", "[::1]:PORT" or ":PORT"; an RPC URL (http://HOST:PORT/rpc) is read the same way. */
export function parseHostPort (text: string, field: string): { host?: string, port: number } {
  const bare = text.trim().replace(/^https?:\/\//, '').replace(/\/(rpc)?$/, '')
  const m = /^(?:\[([^\]]+)\]|([^:/]*)):(\d{1,5})$/.exec(bare)
  const port = m === null ? NaN : Number(m[3])
  if (m === null || !(port >= 0 && port <= 65535)) {
    throw new ConfigError(field, text, 'HOST:PORT, e.g. 127.0.0.1:7701 (port 0 picks a free one)')
  }
  const host = m[1] ?? m[2]
  return host === undefined || host === '' ? { port } : { host, port }
}

export function nonEmpty (v: string | undefined): string | undefined {
  return v === undefined || v.trim() === '' ? undefined : v.trim()
}

function setPath (target: Record<string, unknown>, field: string, value: unknown): void {
  const parts = field.split('.')
  let at = target
  for (const p of parts.slice(0, -1)) at = (at[p] ??= {}) as Record<string, unknown>
  at[parts[parts.length - 1] as string] = value
}
