/**
 * The versioned envelope every gossip message travels in (docs/protocols/envelope.md). Decoding never
 * throws: it returns the envelope or a reject reason that validators count and map to a peer-score penalty.
 */
import { InvalidInputError } from './errors.js'
import { checkerOf, failureText, Type } from './schema/index.js'

export const ENVELOPE_VERSION = 1

/**
 * The envelope around every gossip payload: exactly these four fields. `payload` is checked by the validator of
 * its `type`; `v` is checked first and on its own, so a newer version is counted as 'unsupported-version', not
 * as 'malformed'.
 */
export const ENVELOPE = Type.Object({
  v: Type.Literal(ENVELOPE_VERSION),
  type: Type.String({ minLength: 1, maxLength: 64 }),
  sentAt: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }),
  payload: Type.Unknown({ expected: 'a payload' })
}, { additionalProperties: false })
const envelopeChecker = checkerOf(ENVELOPE)

export interface Envelope<T = unknown> {
  v: typeof ENVELOPE_VERSION
  /** Names the payload schema, 'noun.verb' (e.g. 'membership.update'). */
  type: string
  /** Sender's wall clock (ms) when sent; informational, never trusted for ordering. */
  sentAt: number
  payload: T
}

export type RejectReason = 'oversized' | 'malformed' | 'unsupported-version' | 'unknown-type' | 'invalid-payload'
export const REJECT_REASONS: readonly RejectReason[] = ['oversized', 'malformed', 'unsupported-version', 'unknown-type', 'invalid-payload']

export type DecodeResult<T> =
  | { ok: true, envelope: Envelope<T> }
  | { ok: false, reason: RejectReason, detail: string }

/** Checks a payload of one type; throws InvalidInputError naming the field when it is wrong. */
export type PayloadValidator<T> = (payload: unknown) => T

export interface EnvelopeCodecInit<T> {
  maxBytes: number
  /** One validator per accepted type; anything else is 'unknown-type'. */
  validators: Record<string, PayloadValidator<T>>
}

export class EnvelopeCodec<T = unknown> {
  private readonly maxBytes: number
  private readonly validators: Record<string, PayloadValidator<T>>
  private readonly encoder = new TextEncoder()
  private readonly decoder = new TextDecoder('utf-8', { fatal: true })

  constructor (init: EnvelopeCodecInit<T>) {
    this.maxBytes = init.maxBytes
    this.validators = init.validators
  }

  encode (type: string, payload: T, sentAt: number): Uint8Array {
    const envelope: Envelope<T> = { v: ENVELOPE_VERSION, type, sentAt, payload }
    const bytes = this.encoder.encode(JSON.stringify(envelope))
    if (bytes.byteLength > this.maxBytes) {
      throw new InvalidInputError(`message of ${bytes.byteLength} bytes exceeds the ${this.maxBytes}-byte gossip limit`, { size: bytes.byteLength, max: this.maxBytes })
    }
    return bytes
  }

  decode (bytes: Uint8Array): DecodeResult<T> {
    if (bytes.byteLength > this.maxBytes) return reject('oversized', `${bytes.byteLength} bytes > ${this.maxBytes}`)
    let raw: unknown
    try {
      raw = JSON.parse(this.decoder.decode(bytes))
    } catch {
      return reject('malformed', 'not UTF-8 JSON')
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return reject('malformed', 'not a JSON object')
    const v = (raw as { v?: unknown }).v
    if (v !== ENVELOPE_VERSION) return reject('unsupported-version', `v = ${String(v)}`)
    if (!envelopeChecker.check(raw)) {
      const failure = envelopeChecker.failure(raw, 'envelope', { known: 'invalid' })
      return reject('malformed', failure === undefined ? 'envelope: not an envelope' : failureText(failure))
    }
    const { type, sentAt } = raw
    const validator = Object.hasOwn(this.validators, type) ? this.validators[type] : undefined
    if (validator === undefined) return reject('unknown-type', type)
    try {
      return { ok: true, envelope: { v: ENVELOPE_VERSION, type, sentAt, payload: validator(raw.payload) } }
    } catch (err) {
      return reject('invalid-payload', errorText(err))
    }
  }
}

function reject<T> (reason: RejectReason, detail: string): DecodeResult<T> {
  return { ok: false, reason, detail }
}

function errorText (err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
