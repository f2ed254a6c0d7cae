/**
 * Small checks for untrusted input (peers, disk). Each failure names the path and what was expected, so a
 * rejected message can be counted by reason and logged precisely.
 */
import { InvalidInputError, describeValue, previewValue } from './errors.js'

export function fail (path: string, value: unknown, expected: string): never {
  throw new InvalidInputError(`${path}: expected ${expected}, got ${describeValue(value)}`, { field: path, value: previewValue(value), expected })
}

export function isRecord (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

export function record (v: unknown, path: string): Record<string, unknown> {
  if (!isRecord(v)) fail(path, v, 'an object')
  return v
}

export function string (v: unknown, path: string, maxLength: number, minLength = 1): string {
  if (typeof v !== 'string' || v.length < minLength || v.length > maxLength) {
    fail(path, v, `a string of ${minLength}-${maxLength} characters`)
  }
  return v
}

export function safeInt (v: unknown, path: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) fail(path, v, `an integer from ${min} to ${max}`)
  return v
}

export function stringList (v: unknown, path: string, maxItems: number, maxLength: number): string[] {
  if (!Array.isArray(v) || v.length > maxItems) fail(path, v, `a list of at most ${maxItems} strings`)
  return v.map((s, i) => string(s, `${path}[${i}]`, maxLength))
}

export function list (v: unknown, path: string, maxItems: number): unknown[] {
  if (!Array.isArray(v) || v.length > maxItems) fail(path, v, `a list of at most ${maxItems} items`)
  return v
}

export function oneOf<T extends string> (v: unknown, path: string, options: readonly T[]): T {
  if (typeof v !== 'string' || !(options as readonly string[]).includes(v)) fail(path, v, `one of ${options.join(', ')}`)
  return v as T
}

/** Rejects fields a schema does not name: unknown data is a sign of a version mismatch or an attack. */
export function onlyKeys (o: Record<string, unknown>, path: string, keys: readonly string[]): void {
  for (const k of Object.keys(o)) if (!keys.includes(k)) fail(`${path}.${k}`, o[k], `no such field (allowed: ${keys.join(', ')})`)
}
