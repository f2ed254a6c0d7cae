/**
 * Turns argv into options with node:util parseArgs, strictly: an unknown flag or a missing value is a
 * UsageError that names the flag and says where to look, never a silent default.
 */
import { parseArgs } from 'node:util'
import type { ParseArgsConfig } from 'node:util'
import { ShoalError } from '@shoal/core'

export class UsageError extends ShoalError {
  constructor (message: string) {
    super('ERR_USAGE', message)
  }
}

export type OptionSpec = NonNullable<ParseArgsConfig['options']>

export interface Parsed {
  values: Record<string, string | boolean | string[] | undefined>
  positionals: string[]
}

export function parse (command: string, argv: string[], options: OptionSpec, maxPositionals = 0): Parsed {
  let result
  try {
    // allowNegative: a boolean that defaults to on is turned off with --no-NAME (demo --no-churn).
    result = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, allowNegative: true, strict: true })
  } catch (err) {
    throw new UsageError(`shoal ${command}: ${(err as Error).message.replace(/\. To specify a positional.*$/s, '')}. See \`shoal ${command} --help\`.`)
  }
  if (result.positionals.length > maxPositionals) {
    throw new UsageError(`shoal ${command}: unexpected argument '${result.positionals[maxPositionals]!}'. See \`shoal ${command} --help\`.`)
  }
  return result as Parsed
}

export function str (v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined
}

export function strs (v: unknown): string[] | undefined {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : undefined
}
