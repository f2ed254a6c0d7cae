/**
 * patientDeadline (patient-deadline.ts): a reply that reached the socket in time is not failed because this
 * process's event loop was stalled past the deadline. A real TCP peer in another process answers 50 ms after our
 * request while we block our own loop for 700 ms; then a 300 ms deadline races the reply. AbortSignal.timeout
 * loses that race (Node runs due timers before it reads the socket), which is the false suspicion this prevents.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawn } from 'node:child_process'
import { connect } from 'node:net'
import type { Socket } from 'node:net'
import { once } from 'node:events'
import { patientDeadline } from '../src/patient-deadline.js'

const PEER = `
const net = require('node:net')
const server = net.createServer(socket => socket.on('data', () => setTimeout(() => socket.write('pong'), 50)))
server.listen(0, '127.0.0.1', () => process.stdout.write(String(server.address().port) + '\\n'))
`

function block (ms: number): void {
  const until = performance.now() + ms
  while (performance.now() < until) { /* a stalled event loop */ }
}

/**
 * Sends a ping, stalls this process for 700 ms, then races the reply against `signal` (made just before the ping).
 * Also returns the reply itself, for the caller to wait out before the next round.
 */
async function stalledRace (socket: Socket, makeSignal: () => AbortSignal): Promise<{ winner: 'reply' | 'deadline', reply: Promise<unknown> }> {
  const signal = makeSignal()
  const reply = once(socket, 'data').then(() => 'reply' as const)
  const deadline = new Promise<'deadline'>(resolve => { signal.addEventListener('abort', () => { resolve('deadline') }, { once: true }) })
  socket.write('ping')
  block(700)
  return { winner: await Promise.race([reply, deadline]), reply }
}

test('after a stall, a reply already in the socket beats a patient deadline, and beats no plain timeout', async () => {
  const peer = spawn(process.execPath, ['-e', PEER], { stdio: ['ignore', 'pipe', 'inherit'] })
  try {
    const [line] = await once(peer.stdout!, 'data') as [Buffer]
    const socket = connect(Number(line.toString().trim()), '127.0.0.1')
    await once(socket, 'connect')
    const alive = setInterval(() => {}, 1000)
    try {
      const plain = await stalledRace(socket, () => AbortSignal.timeout(300))
      assert.is(plain.winner, 'deadline', 'the plain timeout fires first after a stall (the failure mode)')
      await plain.reply // the first round's reply, read before the second round starts
      assert.is((await stalledRace(socket, () => patientDeadline(300))).winner, 'reply')
    } finally {
      clearInterval(alive)
      socket.destroy()
    }
  } finally {
    peer.kill()
  }
})

test('without a stall a patient deadline fires on time, and at most maxMs after its start however late timers run', async () => {
  const alive = setInterval(() => {}, 1000)
  try {
    let started = performance.now()
    let signal = patientDeadline(100)
    await once(signal, 'abort')
    const onTime = performance.now() - started
    assert.ok(onTime >= 99 && onTime < 600, `fired after ${onTime.toFixed(0)} ms`)
    assert.is((signal.reason as Error).name, 'TimeoutError')

    started = performance.now()
    signal = patientDeadline(100, undefined, 300)
    block(600) // the timer fires 500 ms late, past maxMs: no re-arm (uncapped it would wait 500 ms more)
    await once(signal, 'abort')
    const capped = performance.now() - started
    assert.ok(capped >= 600 && capped < 1000, `fired after ${capped.toFixed(0)} ms`)
  } finally {
    clearInterval(alive)
  }
})

test("a parent's abort ends it at once, with the parent's reason", async () => {
  const parent = new AbortController()
  const signal = patientDeadline(10_000, parent.signal)
  parent.abort(new Error('stopping'))
  assert.ok(signal.aborted)
  assert.is((signal.reason as Error).message, 'stopping')
})

test.run()
