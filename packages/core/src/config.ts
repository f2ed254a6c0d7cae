/**
 * Node configuration: the pure precedence rule flags > SHOAL_* env > config file > defaults, then one check
 * against CONFIG_SCHEMA (config-schema.ts, where the shape, defaults and env names live). A bad value raises
 * ConfigError naming field, value and expectation.
 */
import { CONFIG_SCHEMA, type ConfigInput, type ShoalConfig } from './config-schema.js'
import { configFromEnv, nonEmpty } from './config-env.js'
import { ConfigError } from './errors.js'
import { checkerOf, type JsonSchema } from './schema/index.js'
import Value from 'typebox/value'

export * from './config-schema.js'
export { configFromEnv, envSettings, parseHostPort, type EnvSetting } from './config-env.js'

/** Every default, fresh objects each call (a caller may mutate its copy). */
export function defaultConfig (dataDir: string): ShoalConfig {
  return Value.Default(CONFIG_SCHEMA, { dataDir }) as ShoalConfig
}

export interface ConfigSources {
  /** Parsed config file (JSON), if any. */
  file?: unknown
  /** process.env or a test's stand-in. */
  env?: Record<string, string | undefined>
  /** Already-parsed command-line flags. */
  flags?: ConfigInput
  /** Default data dir (e.g. ~/.shoal) when neither flag nor env name one. */
  defaultDataDir: string
}

const DATA_DIR_ENV = (CONFIG_SCHEMA.properties.dataDir as unknown as JsonSchema).env as string

/** Where the data dir comes from (the config file lives inside it, so it cannot come from the file). */
export function resolveDataDir (sources: Pick<ConfigSources, 'env' | 'flags' | 'defaultDataDir'>): string {
  const dir = sources.flags?.dataDir ?? nonEmpty(sources.env?.[DATA_DIR_ENV]) ?? sources.defaultDataDir
  if (typeof dir !== 'string' || dir.length === 0) throw new ConfigError('dataDir', dir, 'a directory path')
  return dir
}

export function resolveConfig (sources: ConfigSources): ShoalConfig {
  const dataDir = resolveDataDir(sources)
  const fromFile = checkFileShape(sources.file)
  const fromEnv = configFromEnv(sources.env ?? {})
  const merged = mergeInputs(defaultConfig(dataDir), fromFile, fromEnv, sources.flags ?? {})
  merged.dataDir = dataDir
  // A section given in part deeper than one level (tasks.exec without `allow`) gets its defaults back.
  return validateConfig(Value.Default(CONFIG_SCHEMA, merged) as ShoalConfig)
}

/** Checks a fully merged config against CONFIG_SCHEMA, then the rules between fields; returns it unchanged. */
export function validateConfig (c: ShoalConfig): ShoalConfig {
  const failure = checkerOf(CONFIG_SCHEMA).failure(c, '', {
    unknownField: (field, value, known) => ({ field, value, expected: `a known field (${known.join(', ')})` })
  })
  if (failure !== undefined) throw new ConfigError(failure.field, failure.value, failure.expected)
  const m = c.membership
  if (m.probeTimeoutMs >= m.probeIntervalMs) {
    throw new ConfigError('membership.probeTimeoutMs', m.probeTimeoutMs, `less than membership.probeIntervalMs (${m.probeIntervalMs})`)
  }
  return c
}

const PROPERTIES = CONFIG_SCHEMA.properties as unknown as Record<string, JsonSchema>
/** Sections merged key by key across layers (objects with named fields). */
const SECTIONS = Object.keys(PROPERTIES).filter(k => PROPERTIES[k]?.type === 'object' && PROPERTIES[k]?.properties !== undefined)

function mergeInputs (base: ShoalConfig, ...layers: ConfigInput[]): ShoalConfig {
  const out: Record<string, unknown> = { ...base }
  for (const layer of layers) {
    for (const [k, v] of Object.entries(layer)) {
      if (v === undefined) continue
      if (SECTIONS.includes(k) && isPlainObject(v)) {
        out[k] = { ...(out[k] as object), ...stripUndefined(v) }
      } else {
        out[k] = v
      }
    }
  }
  return out as unknown as ShoalConfig
}

const TOP_FIELDS = Object.keys(PROPERTIES)

/** The file's own shape, before it is merged: an object of known fields and sections, and no dataDir. */
function checkFileShape (file: unknown): ConfigInput {
  if (file === undefined) return {}
  if (!isPlainObject(file)) throw new ConfigError('(config file)', file, 'a JSON object')
  for (const [k, v] of Object.entries(file)) {
    if (!Object.hasOwn(PROPERTIES, k)) throw new ConfigError(k, v, `a known field (${TOP_FIELDS.join(', ')})`)
    if (k === 'dataDir') throw new ConfigError('dataDir', v, 'no dataDir in the config file (use --data-dir or SHOAL_DATA_DIR)')
    if (!SECTIONS.includes(k)) continue
    if (!isPlainObject(v)) throw new ConfigError(k, v, 'an object')
    const fields = PROPERTIES[k]?.properties as Record<string, JsonSchema>
    for (const sub of Object.keys(v)) {
      if (!Object.hasOwn(fields, sub)) throw new ConfigError(`${k}.${sub}`, v[sub], `a known field (${Object.keys(fields).join(', ')})`)
    }
  }
  return file as ConfigInput
}

function isPlainObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function stripUndefined (o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined))
}
