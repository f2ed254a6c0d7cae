/**
 * The yamux patch (docs/decisions/0013-yamux-window-updates.md): a stream grants the sender more credit once half
 * its receive window is used, as hashicorp/yamux and go-yamux do, not after every data frame. Unpatched, each small
 * message a peer receives (a gossip RPC, a request frame) is answered by a window-update frame of its own.
 * A real YamuxStream fed data frames; the frames it sends back are captured.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { StreamState, YamuxStream } from '@chainsafe/libp2p-yamux/stream'

/** yamux's initial (and, with no RTT known, only) stream window: 256 KiB. */
const WINDOW = 256 * 1024
const WINDOW_UPDATE = 1

type Sent = Array<{ type: number, length: number }>

function receiver (): { stream: YamuxStream, sent: Sent } {
  const sent: Sent = []
  const log = Object.assign(() => {}, { trace: () => {}, error: () => {}, enabled: false, newScope: () => log })
  const stream = new YamuxStream({
    id: '1',
    streamId: 1,
    direction: 'inbound',
    state: StreamState.Established,
    sendFrame: (frame: { type: number, length: number }) => { sent.push({ type: frame.type, length: frame.length }); return true },
    getRTT: () => -1,
    log
  } as unknown as ConstructorParameters<typeof YamuxStream>[0])
  stream.addEventListener('message', () => {})
  return { stream, sent }
}

function receive (stream: YamuxStream, bytes: number): void {
  stream.handleData({ header: { type: 0, flag: 0, streamID: 1, length: bytes }, data: new Uint8Array(bytes) } as unknown as Parameters<YamuxStream['handleData']>[0])
}

test('small frames within half the window get no window update each', () => {
  const { stream, sent } = receiver()
  for (let i = 0; i < 100; i++) receive(stream, 1000) // 100 KB < 128 KiB
  assert.equal(sent.filter(f => f.type === WINDOW_UPDATE).length, 0)
})

test('once half the window is used, one update restores the whole window', () => {
  const { stream, sent } = receiver()
  const frames = 1000 // about 1 MB in all, four windows' worth: the sender never runs out of credit
  let granted = WINDOW
  for (let i = 0; i < frames; i++) {
    assert.ok(granted - (i + 1) * 1000 >= 0, `frame ${i} would exceed the receive window`)
    receive(stream, 1000)
    granted = WINDOW + sent.filter(f => f.type === WINDOW_UPDATE).reduce((sum, f) => sum + f.length, 0)
  }
  const updates = sent.filter(f => f.type === WINDOW_UPDATE)
  // Every 131 frames of 1000 bytes crosses half the window: about 7 updates for 1000 frames, not 1000.
  assert.ok(updates.length >= 6 && updates.length <= 8, `window updates: ${updates.length}`)
  assert.ok(updates.every(u => u.length > WINDOW / 2), 'each update returns at least half the window')
})

test.run()
