/**
 * Named errors with stable codes. Callers (the RPC layer, the CLI) map `code`, never message text.
 */
export class ShoalError extends Error {
  readonly code: string
  readonly data?: Record<string, unknown>

  constructor (code: string, message: string, data?: Record<string, unknown>) {
    super(message)
    this.name = new.target.name
    this.code = code
    if (data !== undefined) this.data = data
  }
}

/** A config value is wrong: names the field, the bad value and what is expected. */
export class ConfigError extends ShoalError {
  static readonly code = 'ERR_INVALID_CONFIG'
  readonly field: string
  readonly value: unknown
  readonly expected: string

  constructor (field: string, value: unknown, expected: string) {
    super(ConfigError.code, `invalid config: ${field} = ${describeValue(value)}; expected ${expected}`, { field, value, expected })
    this.field = field
    this.value = value
    this.expected = expected
  }
}

/** Input from a peer or a caller failed validation. */
export class InvalidInputError extends ShoalError {
  static readonly code = 'ERR_INVALID_INPUT'
  constructor (message: string, data?: Record<string, unknown>) {
    super(InvalidInputError.code, message, data)
  }
}

export class NotFoundError extends ShoalError {
  static readonly code = 'ERR_NOT_FOUND'
  constructor (message: string, data?: Record<string, unknown>) {
    super(NotFoundError.code, message, data)
  }
}

export class UnavailableError extends ShoalError {
  static readonly code = 'ERR_UNAVAILABLE'
  constructor (message: string, data?: Record<string, unknown>) {
    super(UnavailableError.code, message, data)
  }
}

export class TimeoutError extends ShoalError {
  static readonly code = 'ERR_TIMEOUT'
  constructor (message: string, data?: Record<string, unknown>) {
    super(TimeoutError.code, message, data)
  }
}

export class AlreadyExistsError extends ShoalError {
  static readonly code = 'ERR_ALREADY_EXISTS'
  constructor (message: string, data?: Record<string, unknown>) {
    super(AlreadyExistsError.code, message, data)
  }
}

/** Short, printable form of a value for error messages (never the whole of a large input). */
export function describeValue (value: unknown, max = 60): string {
  let text: string
  try {
    // Numbers via String: JSON.stringify turns NaN and Infinity into "null", which misreports the value.
    text = typeof value === 'number' ? String(value) : typeof value === 'string' ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value))
  } catch {
    text = String(value)
  }
  return text.length > max ? `${text.slice(0, max)}…` : text
}

/** Characters of a bad input echoed back in an error's `data.value`: enough to recognise it, never the whole input. */
export const PREVIEW_CHARS = 64

/**
 * A copy of a bad value small enough to echo back to its sender: primitives as they are, strings and structures
 * cut to `maxChars` (structures as JSON text).
 */
export function previewValue (value: unknown, maxChars = PREVIEW_CHARS): unknown {
  if (value === null || typeof value === 'number' || typeof value === 'boolean' || value === undefined) return value
  const text = typeof value === 'string' ? value : safeJson(value)
  return text.length > maxChars ? `${text.slice(0, maxChars)}…` : text
}

function safeJson (value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    // Cycles, BigInt, or nesting too deep for the stack: the preview is only a hint.
    return `[unprintable ${typeof value}]`
  }
}
