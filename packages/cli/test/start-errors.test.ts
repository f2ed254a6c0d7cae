/** explainStartFailure: a failed start in one line that names the setting to change, never libp2p's advice. */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { ShoalError } from '@shoal/core'
import { explainStartFailure, StartError, systemCode } from '../src/start-errors.js'

// What libp2p 3's transport manager throws when the TCP port is taken (shoal-node wraps it in ERR_START_FAILED).
const LIBP2P = new ShoalError('ERR_START_FAILED', 'could not start libp2p: Some configured addresses failed to be listened on, you may need to remove one or more ' +
  'listen addresses from your configuration or set `transportManager.faultTolerance` to NO_FATAL:\n\n  /ip4/0.0.0.0/tcp/7700: listen EADDRINUSE: address already in use 0.0.0.0:7700\n')

test('libp2p port in use: one line naming the address and the flag, without transportManager', () => {
  const err = explainStartFailure(LIBP2P, { kind: 'listen', addrs: ['/ip4/0.0.0.0/tcp/7700'] })!
  assert.instance(err, StartError)
  assert.is(err.message, 'cannot listen on /ip4/0.0.0.0/tcp/7700: address already in use (is another daemon running? choose a free port with --listen /ip4/0.0.0.0/tcp/PORT)')
  assert.not.match(err.message, 'faultTolerance')
  assert.not.match(err.message, '\n')
})

test('RPC port in use: names host:port and --rpc', () => {
  const inUse = Object.assign(new Error('listen EADDRINUSE: address already in use 127.0.0.1:7701'), { code: 'EADDRINUSE', syscall: 'listen' })
  assert.is(explainStartFailure(inUse, { kind: 'rpc', host: '127.0.0.1', port: 7701 })?.message,
    'cannot serve RPC on 127.0.0.1:7701: address already in use (is another daemon running? choose another port with --rpc 127.0.0.1:PORT, or port 0 for any free one)')
  assert.is(explainStartFailure(new Error('a bug'), { kind: 'rpc', host: '127.0.0.1', port: 7701 }), undefined, 'not a setting: left alone')
})

test('data dir: permission denied or in the way, names --data-dir', () => {
  const denied = Object.assign(new Error("EACCES: permission denied, mkdir '/root/x'"), { code: 'EACCES' })
  assert.is(explainStartFailure(denied, { kind: 'dataDir', dataDir: '/root/x' })?.message, 'cannot use the data dir /root/x: permission denied (check --data-dir or $SHOAL_DATA_DIR)')
})

test('system codes are found in causes, aggregated errors and messages', () => {
  assert.is(systemCode(new Error('x', { cause: Object.assign(new Error('y'), { code: 'EADDRINUSE' }) })), 'EADDRINUSE')
  assert.is(systemCode(new AggregateError([new Error('a'), Object.assign(new Error('b'), { code: 'EACCES' })])), 'EACCES')
  assert.is(systemCode(new Error('listen EADDRINUSE: address already in use')), 'EADDRINUSE')
  assert.is(systemCode(new Error('nothing here')), undefined)
  assert.is(systemCode(Object.assign(new Error('app'), { code: 'ERR_START_FAILED' })), undefined)
})

test.run()
