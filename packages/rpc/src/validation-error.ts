/**
 * The one error a schema produces: which field, what it held, what was expected. The server turns it into a
 * JSON-RPC -32602 whose `data` is exactly { field, value, expected }.
 */
import { previewValue as corePreview } from '@shoal/core'
import { PREVIEW_CHARS } from './constants.js'

export class ValidationError extends Error {
  static readonly code = 'ERR_VALIDATION'
  readonly code = ValidationError.code
  /** Path of the offending field, e.g. `params.addr` or `params.items[3].key`. */
  readonly field: string
  /** The bad value, shortened: primitives as they are, strings and structures cut to a preview. */
  readonly value: unknown
  /** What would have been accepted, e.g. "a string of at most 256 characters". */
  readonly expected: string

  constructor (field: string, value: unknown, expected: string, message?: string) {
    super(message ?? `${field}: expected ${expected}, got ${describeValue(value)}`)
    this.name = 'ValidationError'
    this.field = field
    this.value = previewValue(value)
    this.expected = expected
  }

  toJSON (): { field: string, value: unknown, expected: string } {
    return { field: this.field, value: this.value, expected: this.expected }
  }
}

/** A copy of a bad value small enough to echo back: we never return a large input to its sender. */
export function previewValue (value: unknown): unknown {
  return corePreview(value, PREVIEW_CHARS)
}

/** A short phrase for messages: `"abc"`, `42`, `an array [1,2]`, `nothing`. */
export function describeValue (value: unknown): string {
  if (value === undefined) return 'nothing'
  if (typeof value === 'string') return JSON.stringify(truncate(value))
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return String(value)
  const kind = Array.isArray(value) ? 'an array' : typeof value === 'object' ? 'an object' : `a ${typeof value}`
  return `${kind} ${truncate(safeJson(value))}`
}

function safeJson (value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    // Cycles, BigInt, or nesting too deep for the stack: the preview is only a hint.
    return `[unprintable ${typeof value}]`
  }
}

function truncate (text: string): string {
  return text.length > PREVIEW_CHARS ? `${text.slice(0, PREVIEW_CHARS)}…` : text
}
