/**
 * The built-in handlers: primes (CPU-bound, runs in the worker pool), wordcount, hash and sleep. Each validates its
 * input and throws InvalidInputError naming the field; split and reduce are pure and deterministic, and
 * reduce(split(x).map(run)) equals run(x).
 */
import { createHash } from 'node:crypto'
import { InvalidInputError, describeValue } from '@shoal/core'
import { abortError } from './abort.js'
import { PRIMES_MAX, SLEEP_MAX_MS } from './constants.js'
import type { Handler, HandlerContext } from './types.js'
import type { WorkerPool } from './worker-pool.js'

const WORK = new URL('./builtin-work.js', import.meta.url)

export interface BuiltinsComponents {
  pool: WorkerPool
}

function invalid (handler: string, field: string, value: unknown, expected: string): InvalidInputError {
  return new InvalidInputError(`${handler}: ${field} = ${describeValue(value)}; expected ${expected}`, { field, value: describeValue(value), expected })
}

function record (handler: string, input: unknown): Record<string, unknown> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw invalid(handler, 'input', input, 'an object')
  return input as Record<string, unknown>
}

/** The number of parts a split asks for: a positive safe integer. */
export function checkParts (handler: string, n: unknown): number {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1) throw invalid(handler, 'split', n, 'a positive integer')
  return n
}

/** n contiguous chunks of nearly equal length (the first len % n are one longer); concatenated they are `items`. */
export function chunk<T> (items: T[], n: number): T[][] {
  const size = Math.floor(items.length / n)
  const extra = items.length % n
  const out: T[][] = []
  let at = 0
  for (let i = 0; i < n; i++) {
    const len = size + (i < extra ? 1 : 0)
    out.push(items.slice(at, at + len))
    at += len
  }
  return out
}

function checkResults (handler: string, results: unknown): unknown[] {
  if (!Array.isArray(results)) throw invalid(handler, 'results', results, 'an array of sub-results')
  return results
}

// primes ---------------------------------------------------------------------------------------------------------

export interface PrimesInput { from: number, to: number }

export function primesInput (input: unknown): PrimesInput {
  const o = record('primes', input)
  const expected = `an integer in [0, 2^40]`
  const from = o.from
  const to = o.to
  if (typeof from !== 'number' || !Number.isInteger(from) || from < 0 || from > PRIMES_MAX) throw invalid('primes', 'from', from, expected)
  if (typeof to !== 'number' || !Number.isInteger(to) || to < 0 || to > PRIMES_MAX) throw invalid('primes', 'to', to, expected)
  if (from > to) throw invalid('primes', 'from', from, `from <= to (to = ${to})`)
  return { from, to }
}

function primes (pool: WorkerPool): Handler {
  return {
    name: 'primes',
    validate (input) { primesInput(input) },
    split (input, n) {
      const { from, to } = primesInput(input)
      const parts = checkParts('primes', n)
      const size = Math.floor((to - from) / parts)
      const extra = (to - from) % parts
      const out: PrimesInput[] = []
      let at = from
      for (let i = 0; i < parts; i++) {
        const end = at + size + (i < extra ? 1 : 0)
        out.push({ from: at, to: end })
        at = end
      }
      return out
    },
    async run (input, ctx) {
      return await pool.run(WORK, 'countPrimes', primesInput(input), ctx.signal)
    },
    reduce (results) {
      return checkResults('primes', results).reduce<number>((sum, r, i) => {
        if (typeof r !== 'number' || !Number.isSafeInteger(r) || r < 0) throw invalid('primes', `results[${i}]`, r, 'a count')
        return sum + r
      }, 0)
    }
  }
}

// wordcount ------------------------------------------------------------------------------------------------------

/** Lowercase runs of letters (with their combining marks), decimal digits and apostrophes (' and ’). */
const WORD = /[\p{L}\p{M}\p{Nd}'\u2019]+/gu
const HAS_WORD_CHAR = /[\p{L}\p{Nd}]/u

function wordcountText (input: unknown): string {
  const text = record('wordcount', input).text
  if (typeof text !== 'string') throw invalid('wordcount', 'text', text, 'a string')
  return text
}

export function countWords (text: string): Record<string, number> {
  const counts = new Map<string, number>()
  for (const m of text.toLowerCase().matchAll(WORD)) {
    const word = m[0]
    if (!HAS_WORD_CHAR.test(word)) continue // a run of apostrophes alone is punctuation
    counts.set(word, (counts.get(word) ?? 0) + 1)
  }
  return Object.fromEntries(counts) // own data properties, so a word like "__proto__" is safe
}

const wordcount: Handler = {
  name: 'wordcount',
  validate (input) { wordcountText(input) },
  split (input, n) {
    const lines = wordcountText(input).split('\n')
    return chunk(lines, checkParts('wordcount', n)).map(part => ({ text: part.join('\n') }))
  },
  async run (input) {
    return countWords(wordcountText(input))
  },
  reduce (results) {
    const merged = new Map<string, number>()
    checkResults('wordcount', results).forEach((r, i) => {
      if (typeof r !== 'object' || r === null || Array.isArray(r)) throw invalid('wordcount', `results[${i}]`, r, 'an object of counts')
      for (const [word, count] of Object.entries(r)) {
        if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0) throw invalid('wordcount', `results[${i}].${word}`, count, 'a count')
        merged.set(word, (merged.get(word) ?? 0) + count)
      }
    })
    return Object.fromEntries(merged)
  }
}

// hash -----------------------------------------------------------------------------------------------------------

function hashInput (input: unknown): string[] {
  if (!Array.isArray(input)) throw invalid('hash', 'input', input, 'an array of strings')
  input.forEach((s, i) => { if (typeof s !== 'string') throw invalid('hash', `input[${i}]`, s, 'a string') })
  return input as string[]
}

const hash: Handler = {
  name: 'hash',
  validate (input) { hashInput(input) },
  split (input, n) {
    return chunk(hashInput(input), checkParts('hash', n))
  },
  async run (input) {
    return hashInput(input).map(s => createHash('sha256').update(s, 'utf8').digest('hex'))
  },
  reduce (results) {
    return checkResults('hash', results).flatMap((r, i) => {
      if (!Array.isArray(r)) throw invalid('hash', `results[${i}]`, r, 'an array of digests')
      return r as unknown[]
    })
  }
}

// sleep ----------------------------------------------------------------------------------------------------------

function sleepMs (input: unknown): number {
  const ms = record('sleep', input).ms
  if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < 0 || ms > SLEEP_MAX_MS) throw invalid('sleep', 'ms', ms, `an integer in [0, ${SLEEP_MAX_MS}]`)
  return ms
}

async function wait (ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) throw abortError(signal, 'sleep')
  await new Promise<void>((resolve, reject) => {
    const onAbort = (): void => { clearTimeout(timer); reject(abortError(signal, 'sleep')) }
    const timer = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve() }, ms)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

const sleep: Handler = {
  name: 'sleep',
  validate (input) { sleepMs(input) },
  split (input, n) {
    const ms = sleepMs(input)
    return Array.from({ length: checkParts('sleep', n) }, () => ({ ms }))
  },
  async run (input, ctx: HandlerContext) {
    const ms = sleepMs(input)
    await wait(ms, ctx.signal)
    return { slept: ms }
  },
  reduce (results) {
    // The parts slept side by side, so the job slept as long as the longest.
    const slept = checkResults('sleep', results).reduce<number>((max, r, i) => {
      const v = typeof r === 'object' && r !== null ? (r as { slept?: unknown }).slept : undefined
      if (typeof v !== 'number') throw invalid('sleep', `results[${i}].slept`, v, 'a number')
      return Math.max(max, v)
    }, 0)
    return { slept }
  }
}

export function createBuiltins (components: BuiltinsComponents): Handler[] {
  return [primes(components.pool), wordcount, hash, sleep]
}
