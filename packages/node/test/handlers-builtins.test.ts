/**
 * Built-in handlers: primes against a plain sieve (run in the worker pool), wordcount's word rule, hash digests,
 * sleep and its abort; for each, split covers the input exactly and reduce(split results) equals the unsplit
 * result; bad input names the field.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { silentLogger } from '@shoal/core'
import { chunk, countWords } from '../src/tasks/handlers/builtins.js'
import { createHandlerRegistry } from '../src/tasks/handlers/index.js'
import type { Handler, HandlerContext, HandlerRegistry } from '../src/tasks/handlers/index.js'

const test = suite('handlers: built-ins')
let registry: HandlerRegistry

test.before(async () => { registry = await createHandlerRegistry({ poolSize: 2, logger: silentLogger }) })
test.after(async () => { await registry.close() })

function ctx (signal = new AbortController().signal, index = 0): HandlerContext {
  return { signal, jobId: 'job-1', index, attempt: 1 }
}

function handler (name: string): Handler {
  const h = registry.get(name)
  if (h === undefined) throw new Error(`no handler ${name}`)
  return h
}

/** Splits into n, runs every part, reduces; the path a split job takes. */
async function splitRunReduce (h: Handler, input: unknown, n: number): Promise<unknown> {
  const parts = h.split?.(input, n) ?? []
  assert.is(parts.length, n)
  const results = await Promise.all(parts.map(async (p, i) => await h.run(p, ctx(undefined, i))))
  return h.reduce === undefined ? results : h.reduce(results)
}

function sieveCount (from: number, to: number): number {
  const composite = new Uint8Array(Math.max(to, 2))
  let count = 0
  for (let i = 2; i < to; i++) {
    if (composite[i] === 1) continue
    if (i >= from) count++
    for (let j = i * i; j < to; j += i) composite[j] = 1
  }
  return count
}

function isPrime (n: number): boolean {
  if (n < 2) return false
  if (n % 2 === 0) return n === 2
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false
  return true
}

test('names: the four built-ins', () => {
  assert.equal(registry.names().sort(), ['hash', 'primes', 'sleep', 'wordcount'])
})

test('primes: counts match a sieve', async () => {
  const ranges: Array<[number, number]> = [[0, 0], [0, 1], [0, 2], [2, 3], [0, 3], [3, 3], [0, 100], [17, 18], [90, 97], [90, 98], [0, 100_000], [99_000, 100_000], [12_345, 67_890]]
  for (const [from, to] of ranges) {
    assert.is(await handler('primes').run({ from, to }, ctx()), sieveCount(from, to), `[${from}, ${to})`)
  }
  assert.is(await handler('primes').run({ from: 0, to: 100_000 }, ctx()), 9592)
})

test('primes: near 2^40 matches trial division', async () => {
  const to = 2 ** 40
  const from = to - 300
  let expected = 0
  for (let n = from; n < to; n++) if (isPrime(n)) expected++
  assert.is(await handler('primes').run({ from, to }, ctx()), expected)
})

test('primes: split covers [from, to) exactly; reduce(split) equals the whole', async () => {
  const h = handler('primes')
  for (const [from, to, n] of [[0, 100_000, 7], [5, 9, 8], [0, 0, 3], [10, 11, 1], [1000, 2001, 4]] as const) {
    const parts = h.split?.({ from, to }, n) as Array<{ from: number, to: number }>
    assert.is(parts.length, n)
    assert.is(parts[0]?.from, from)
    assert.is(parts[n - 1]?.to, to)
    for (let i = 1; i < n; i++) assert.is(parts[i]?.from, parts[i - 1]?.to)
    const sizes = parts.map(p => p.to - p.from)
    assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, 'nearly equal')
    assert.is(await splitRunReduce(h, { from, to }, n), await h.run({ from, to }, ctx()))
  }
})

test('wordcount: lowercase runs of Unicode letters, digits and apostrophes', async () => {
  const text = "Don't stop: Café café CAFÉ!\nNaïve 42 naïve -- 'tis ''\nΣΟΦΊΑ σοφία 日本"
  assert.equal(await handler('wordcount').run({ text }, ctx()), {
    "don't": 1, stop: 1, café: 3, naïve: 2, 42: 1, "'tis": 1, σοφία: 2, 日本: 1
  })
  assert.equal(countWords(''), {})
  assert.equal(countWords('constructor Constructor toString'), { constructor: 2, tostring: 1 })
})

test('wordcount: split by lines into n chunks; reduce(split) equals the whole', async () => {
  const h = handler('wordcount')
  const lines = Array.from({ length: 23 }, (_, i) => `line ${i % 5} the quick brown fox ${i % 3 === 0 ? 'jumps' : 'naps'}`)
  const text = lines.join('\n')
  for (const n of [1, 2, 3, 7, 23, 40]) {
    const parts = h.split?.({ text }, n) as Array<{ text: string }>
    assert.is(parts.length, n)
    // Chunks past the number of lines are empty; the rest hold the lines in order.
    assert.equal(parts.flatMap(p => p.text === '' ? [] : p.text.split('\n')), lines)
    const counts = parts.map(p => p.text === '' ? 0 : p.text.split('\n').length)
    if (n <= 23) assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, `nearly equal for n=${n}`)
    assert.equal(await splitRunReduce(h, { text }, n), await h.run({ text }, ctx()))
  }
})

test('hash: sha256 hex per string in order; split in contiguous chunks; reduce concatenates', async () => {
  const h = handler('hash')
  assert.equal(await h.run(['abc', ''], ctx()), [
    'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'
  ])
  const input = Array.from({ length: 10 }, (_, i) => `item-${i}-é`)
  for (const n of [1, 3, 10, 12]) {
    const parts = h.split?.(input, n) as string[][]
    assert.equal(parts.flat(), input)
    assert.equal(await splitRunReduce(h, input, n), await h.run(input, ctx()))
  }
  assert.equal(chunk([1, 2, 3, 4, 5], 3), [[1, 2], [3, 4], [5]])
})

test('sleep: waits, reports, splits into copies; abort rejects with the reason', async () => {
  const h = handler('sleep')
  assert.equal(await h.run({ ms: 5 }, ctx()), { slept: 5 })
  assert.equal(h.split?.({ ms: 3 }, 3), [{ ms: 3 }, { ms: 3 }, { ms: 3 }])
  assert.equal(await splitRunReduce(h, { ms: 3 }, 4), await h.run({ ms: 3 }, ctx()))
  const controller = new AbortController()
  const running = h.run({ ms: 600_000 }, ctx(controller.signal))
  const reason = new Error('cancelled by test')
  controller.abort(reason)
  try {
    await running
    assert.unreachable('should reject')
  } catch (err) {
    assert.is(err, reason)
  }
})

test('bad input is ERR_INVALID_INPUT naming the field, in run and in split', async () => {
  const cases: Array<[string, unknown, string]> = [
    ['primes', null, 'input'],
    ['primes', { from: -1, to: 5 }, 'from'],
    ['primes', { from: 1.5, to: 5 }, 'from'],
    ['primes', { from: 0, to: 2 ** 40 + 1 }, 'to'],
    ['primes', { from: 0 }, 'to'],
    ['primes', { from: 9, to: 5 }, 'from'],
    ['wordcount', { text: 5 }, 'text'],
    ['wordcount', 'just text', 'input'],
    ['hash', 'abc', 'input'],
    ['hash', ['a', 2], 'input[1]'],
    ['sleep', { ms: 600_001 }, 'ms'],
    ['sleep', { ms: -1 }, 'ms'],
    ['sleep', {}, 'ms']
  ]
  for (const [name, input, field] of cases) {
    for (const call of [async () => await handler(name).run(input, ctx()), async () => handler(name).split?.(input, 2)]) {
      try {
        await call()
        assert.unreachable(`${name} ${JSON.stringify(input)} should fail`)
      } catch (err) {
        const e = err as { code?: string, data?: { field?: string }, message: string }
        assert.is(e.code, 'ERR_INVALID_INPUT', e.message)
        assert.is(e.data?.field, field, e.message)
        assert.ok(e.message.includes(field), e.message)
      }
    }
  }
  for (const n of [0, -1, 1.5]) {
    try {
      handler('hash').split?.(['a'], n)
      assert.unreachable()
    } catch (err) {
      assert.is((err as { data?: { field?: string } }).data?.field, 'split')
    }
  }
})

test.run()
