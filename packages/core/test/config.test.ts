/**
 * Config resolution: defaults, the precedence flags > SHOAL_* env > file > defaults (field by field, nested
 * objects merged key by key), and the errors an operator sees when a value is wrong.
 */
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { configFromEnv, defaultConfig, parseHostPort, resolveConfig, resolveDataDir } from '../src/config.js'
import type { ConfigSources, ShoalConfig } from '../src/config.js'
import * as C from '../src/constants.js'
import { ConfigError } from '../src/errors.js'

const DIR = '/var/lib/shoal'

function resolve (sources: Partial<ConfigSources> = {}): ShoalConfig {
  return resolveConfig({ defaultDataDir: DIR, ...sources })
}

/** Runs `fn`, expects a ConfigError and checks its field, value and expectation (and that the message says them). */
function expectConfigError (fn: () => unknown, field: string, value: unknown, expected: string | RegExp): ConfigError {
  let caught: unknown
  try { fn() } catch (err) { caught = err }
  assert.ok(caught instanceof ConfigError, `expected a ConfigError, got ${String(caught)}`)
  const err = caught as ConfigError
  assert.is(err.code, 'ERR_INVALID_CONFIG')
  assert.is(err.field, field)
  assert.equal(err.value, value)
  if (typeof expected === 'string') assert.is(err.expected, expected)
  else assert.match(err.expected, expected)
  // The message must let an operator fix the problem without reading code.
  assert.ok(err.message.includes(field), `message names the field: ${err.message}`)
  assert.ok(err.message.includes(err.expected), `message names the expectation: ${err.message}`)
  if (typeof value === 'string' || typeof value === 'number') {
    assert.ok(err.message.includes(String(value)), `message names the value: ${err.message}`)
  }
  return err
}

// ---------------------------------------------------------------------------------------------------------
const defaults = suite('config: defaults')

defaults('no sources gives exactly the documented defaults', () => {
  const c = resolve()
  assert.equal(c, defaultConfig(DIR))
  assert.is(c.dataDir, DIR)
  assert.is(c.swarm, C.DEFAULT_SWARM)
  assert.equal(c.listen, C.DEFAULT_LISTEN)
  assert.equal(c.rpc, { host: C.DEFAULT_RPC_HOST, port: C.DEFAULT_RPC_PORT, allowNonLoopback: false })
  assert.is(c.membership.probeIntervalMs, C.PROBE_INTERVAL_MS)
  assert.is(c.membership.suspicionTimeoutMs, C.SUSPICION_TIMEOUT_MS)
  assert.is(c.gossip.maxMessageBytes, C.MAX_GOSSIP_MESSAGE_BYTES)
  assert.is(c.swarmKeyFile, undefined)
})

defaults('defaults pass their own validation and are fresh objects each time', () => {
  const a = resolve()
  a.listen.push('/ip4/1.1.1.1/tcp/1')
  a.rpc.port = 1
  // Mutating one resolved config must not leak into the next (shared default arrays would).
  assert.equal(resolve().listen, C.DEFAULT_LISTEN)
  assert.is(resolve().rpc.port, C.DEFAULT_RPC_PORT)
})

defaults.run()

// ---------------------------------------------------------------------------------------------------------
const precedence = suite('config: precedence flags > env > file > defaults')

precedence('a top-level field: each layer overrides the one below', () => {
  const file = { swarm: 'from-file' }
  const env = { SHOAL_SWARM: 'from-env' }
  const flags = { swarm: 'from-flags' }
  assert.is(resolve().swarm, 'default')
  assert.is(resolve({ file }).swarm, 'from-file')
  assert.is(resolve({ file, env }).swarm, 'from-env')
  assert.is(resolve({ file, env, flags }).swarm, 'from-flags')
  // A layer that does not mention a field leaves the lower one in place.
  assert.is(resolve({ file, env: { SHOAL_LOG_LEVEL: 'debug' } }).swarm, 'from-file')
})

precedence('every env-settable field overrides the file', () => {
  const file = {
    swarm: 'file', swarmKeyFile: '/file.key', listen: ['/ip4/0.0.0.0/tcp/1'], bootstrap: ['/dns4/file/tcp/1'],
    logLevel: 'warn', logFormat: 'json', debug: false
  }
  const env = {
    SHOAL_SWARM: 'env', SHOAL_SWARM_KEY: '/env.key', SHOAL_LISTEN: '/ip4/0.0.0.0/tcp/2', SHOAL_BOOTSTRAP: '/dns4/env/tcp/2',
    SHOAL_LOG_LEVEL: 'trace', SHOAL_LOG_FORMAT: 'pretty', SHOAL_DEBUG: 'on'
  }
  const c = resolve({ file, env })
  assert.is(c.swarm, 'env')
  assert.is(c.swarmKeyFile, '/env.key')
  assert.equal(c.listen, ['/ip4/0.0.0.0/tcp/2'])
  assert.equal(c.bootstrap, ['/dns4/env/tcp/2'])
  assert.is(c.logLevel, 'trace')
  assert.is(c.logFormat, 'pretty')
  assert.is(c.debug, true)
})

precedence('nested objects merge key by key across layers', () => {
  // rpc.port and rpc.allowNonLoopback from the file, rpc.host and rpc.port from env, rpc.port from flags.
  const file = { rpc: { port: 9000, allowNonLoopback: true } }
  assert.equal(resolve({ file }).rpc, { host: C.DEFAULT_RPC_HOST, port: 9000, allowNonLoopback: true })
  const env = { SHOAL_RPC: '0.0.0.0:9100' }
  assert.equal(resolve({ file, env }).rpc, { host: '0.0.0.0', port: 9100, allowNonLoopback: true })
  const flags = { rpc: { port: 9200 } }
  assert.equal(resolve({ file, env, flags }).rpc, { host: '0.0.0.0', port: 9200, allowNonLoopback: true })
})

precedence('SHOAL_RPC=":PORT" keeps the host from the file', () => {
  const c = resolve({ file: { rpc: { host: '10.0.0.1', port: 9000 } }, env: { SHOAL_RPC: ':9100' } })
  assert.equal(c.rpc, { host: '10.0.0.1', port: 9100, allowNonLoopback: false })
})

precedence('membership timings from the file merge with defaults; flags override one of them', () => {
  const file = { membership: { probeIntervalMs: 2000, suspicionTimeoutMs: 5000 } }
  const c = resolve({ file, flags: { membership: { suspicionTimeoutMs: 7000, probeTimeoutMs: undefined } } })
  assert.is(c.membership.probeIntervalMs, 2000)
  assert.is(c.membership.suspicionTimeoutMs, 7000)
  // An undefined flag means "not given", not "unset".
  assert.is(c.membership.probeTimeoutMs, C.PROBE_TIMEOUT_MS)
  assert.is(c.membership.indirectProbes, C.INDIRECT_PROBES)
})

precedence('a flag set to undefined does not erase a lower layer', () => {
  assert.is(resolve({ file: { swarm: 'file' }, flags: { swarm: undefined } }).swarm, 'file')
})

precedence('empty or blank env vars count as unset', () => {
  const c = resolve({ file: { swarm: 'file' }, env: { SHOAL_SWARM: '', SHOAL_DEBUG: '   ', SHOAL_RPC: ' ' } })
  assert.is(c.swarm, 'file')
  assert.is(c.debug, false)
  assert.is(c.rpc.port, C.DEFAULT_RPC_PORT)
})

precedence.run()

// ---------------------------------------------------------------------------------------------------------
const env = suite('config: environment parsing')

env('lists are comma-separated, trimmed, empty items dropped', () => {
  const c = configFromEnv({ SHOAL_LISTEN: ' /ip4/0.0.0.0/tcp/1 ,/ip6/::/tcp/2,, ', SHOAL_BOOTSTRAP: '/dns4/a/tcp/1,/dns4/b/tcp/2' })
  assert.equal(c.listen, ['/ip4/0.0.0.0/tcp/1', '/ip6/::/tcp/2'])
  assert.equal(c.bootstrap, ['/dns4/a/tcp/1', '/dns4/b/tcp/2'])
})

env('a list of only commas is an empty listen list, which validation refuses', () => {
  expectConfigError(() => resolve({ env: { SHOAL_LISTEN: ',,' } }), 'listen', [], 'a list of at least 1 multiaddr(s)')
})

env('booleans accept 1/true/yes/on and 0/false/no/off, any case', () => {
  for (const v of ['1', 'true', 'TRUE', 'yes', 'Yes', 'on', 'ON']) {
    assert.is(configFromEnv({ SHOAL_DEBUG: v }).debug, true, v)
  }
  for (const v of ['0', 'false', 'FALSE', 'no', 'No', 'off', 'OFF']) {
    assert.is(configFromEnv({ SHOAL_DEBUG: v }).debug, false, v)
  }
})

env('a bad boolean names the field, the value and the variable it came from', () => {
  expectConfigError(() => configFromEnv({ SHOAL_DEBUG: 'maybe' }), 'debug', 'maybe', 'true or false (from SHOAL_DEBUG)')
  expectConfigError(() => configFromEnv({ SHOAL_DEBUG: '2' }), 'debug', '2', 'true or false (from SHOAL_DEBUG)')
  // Partial words are not accepted (the pattern is anchored).
  expectConfigError(() => configFromEnv({ SHOAL_DEBUG: 'yesno' }), 'debug', 'yesno', 'true or false (from SHOAL_DEBUG)')
  // The error surfaces through resolveConfig too.
  expectConfigError(() => resolve({ env: { SHOAL_DEBUG: 'sure' } }), 'debug', 'sure', 'true or false (from SHOAL_DEBUG)')
})

env('only SHOAL_* names are read; unrelated variables are ignored', () => {
  assert.equal(configFromEnv({ PATH: '/bin', SWARM: 'x', shoal_swarm: 'y' }), {})
})

env('a bad SHOAL_RPC names the rpc field', () => {
  expectConfigError(() => configFromEnv({ SHOAL_RPC: 'localhost' }), 'rpc', 'localhost', /HOST:PORT/)
})

env.run()

// ---------------------------------------------------------------------------------------------------------
const dataDir = suite('config: dataDir')

dataDir('flag > SHOAL_DATA_DIR > default', () => {
  assert.is(resolveDataDir({ defaultDataDir: DIR }), DIR)
  assert.is(resolveDataDir({ defaultDataDir: DIR, env: { SHOAL_DATA_DIR: '/env' } }), '/env')
  assert.is(resolveDataDir({ defaultDataDir: DIR, env: { SHOAL_DATA_DIR: '/env' }, flags: { dataDir: '/flag' } }), '/flag')
  assert.is(resolveDataDir({ defaultDataDir: DIR, env: { SHOAL_DATA_DIR: '  ' } }), DIR)
  assert.is(resolve({ env: { SHOAL_DATA_DIR: '/env' }, flags: { dataDir: '/flag' } }).dataDir, '/flag')
})

dataDir('an empty dataDir flag is refused, not silently replaced', () => {
  expectConfigError(() => resolveDataDir({ defaultDataDir: DIR, flags: { dataDir: '' } }), 'dataDir', '', 'a directory path')
  expectConfigError(() => resolveDataDir({ defaultDataDir: '' }), 'dataDir', '', 'a directory path')
})

dataDir('a dataDir in the config file is refused (the file lives inside it)', () => {
  const err = expectConfigError(() => resolve({ file: { dataDir: '/elsewhere' } }), 'dataDir', '/elsewhere', /no dataDir in the config file/)
  assert.match(err.message, /--data-dir|SHOAL_DATA_DIR/)
})

dataDir.run()

// ---------------------------------------------------------------------------------------------------------
const errors = suite('config: validation errors')

errors('the file must be a JSON object', () => {
  expectConfigError(() => resolve({ file: [] }), '(config file)', [], 'a JSON object')
  expectConfigError(() => resolve({ file: null }), '(config file)', null, 'a JSON object')
  expectConfigError(() => resolve({ file: 'swarm=x' }), '(config file)', 'swarm=x', 'a JSON object')
})

errors('an unknown top-level field is named, with the known ones listed', () => {
  const err = expectConfigError(() => resolve({ file: { swram: 'x' } }), 'swram', 'x', /^a known field \(/)
  assert.match(err.expected, /swarm/)
  assert.match(err.expected, /membership/)
  // Names inherited from Object.prototype are not fields either.
  expectConfigError(() => resolve({ file: JSON.parse('{"__proto__": {"swarm": "x"}}') }), '__proto__', { swarm: 'x' }, /^a known field/)
  expectConfigError(() => resolve({ file: { constructor: 1 } }), 'constructor', 1, /^a known field/)
})

errors('an unknown nested field is named with its full path', () => {
  const err = expectConfigError(() => resolve({ file: { rpc: { hostname: 'x' } } }), 'rpc.hostname', 'x', /^a known field \(/)
  assert.match(err.expected, /host, port, allowNonLoopback/)
  expectConfigError(() => resolve({ file: { membership: { probeIntervalMS: 5 } } }), 'membership.probeIntervalMS', 5, /^a known field/)
  // Inherited names ("constructor", "toString", "__proto__") must be refused like any other unknown field.
  expectConfigError(() => resolve({ file: { gossip: { toString: 5 } } }), 'gossip.toString', 5, /^a known field/)
  expectConfigError(() => resolve({ file: { membership: { constructor: 5 } } }), 'membership.constructor', 5, /^a known field/)
  expectConfigError(() => resolve({ file: JSON.parse('{"rpc": {"__proto__": {"port": 1}}}') }), 'rpc.__proto__', { port: 1 }, /^a known field/)
})

errors('a nested section that is not an object', () => {
  expectConfigError(() => resolve({ file: { rpc: 7701 } }), 'rpc', 7701, 'an object')
  expectConfigError(() => resolve({ file: { membership: [] } }), 'membership', [], 'an object')
})

errors('swarm names are lowercase letters, digits and dashes, 1-32 characters', () => {
  const expected = 'lowercase letters, digits and dashes, 1-32 characters'
  for (const bad of ['Upper', 'under_score', '-leading', 'a'.repeat(33), 'sp ace', 'dot.ted', '../x']) {
    expectConfigError(() => resolve({ flags: { swarm: bad } }), 'swarm', bad, expected)
  }
  for (const good of ['a', '0', 'my-swarm', 'a'.repeat(32), 'x-1-y']) {
    assert.is(resolve({ flags: { swarm: good } }).swarm, good)
  }
  expectConfigError(() => resolve({ file: { swarm: 5 } }), 'swarm', 5, 'a non-empty string')
})

errors('rpc.port is an integer from 0 to 65535', () => {
  const expected = 'an integer from 0 to 65535'
  for (const bad of [-1, 65536, 1.5, Number.NaN]) {
    expectConfigError(() => resolve({ file: { rpc: { port: bad } } }), 'rpc.port', bad, expected)
  }
  expectConfigError(() => resolve({ file: { rpc: { port: '7701' } } }), 'rpc.port', '7701', expected)
  assert.is(resolve({ file: { rpc: { port: 0 } } }).rpc.port, 0)
  assert.is(resolve({ file: { rpc: { port: 65535 } } }).rpc.port, 65535)
})

errors('probeTimeoutMs must be below probeIntervalMs (a probe must end before the next one)', () => {
  expectConfigError(() => resolve({ file: { membership: { probeIntervalMs: 500, probeTimeoutMs: 500 } } }),
    'membership.probeTimeoutMs', 500, 'less than membership.probeIntervalMs (500)')
  expectConfigError(() => resolve({ file: { membership: { probeIntervalMs: 1000 } }, flags: { membership: { probeTimeoutMs: 1200 } } }),
    'membership.probeTimeoutMs', 1200, 'less than membership.probeIntervalMs (1000)')
  assert.is(resolve({ file: { membership: { probeIntervalMs: 500, probeTimeoutMs: 499 } } }).membership.probeTimeoutMs, 499)
})

errors('every membership timing is range-checked', () => {
  expectConfigError(() => resolve({ file: { membership: { probeIntervalMs: 49 } } }), 'membership.probeIntervalMs', 49, 'an integer from 50 to 60000')
  expectConfigError(() => resolve({ file: { membership: { indirectProbes: 17 } } }), 'membership.indirectProbes', 17, 'an integer from 0 to 16')
  expectConfigError(() => resolve({ file: { membership: { suspicionTimeoutMs: 99 } } }), 'membership.suspicionTimeoutMs', 99, 'an integer from 100 to 600000')
  expectConfigError(() => resolve({ file: { membership: { pushPullIntervalMs: 0 } } }), 'membership.pushPullIntervalMs', 0, 'an integer from 100 to 3600000')
  expectConfigError(() => resolve({ file: { membership: { deadMemberRetentionMs: 999 } } }), 'membership.deadMemberRetentionMs', 999, /^an integer from 1000 to /)
  expectConfigError(() => resolve({ file: { gossip: { maxMessageBytes: 255 } } }), 'gossip.maxMessageBytes', 255, /^an integer from 256 to /)
  expectConfigError(() => resolve({ file: { connections: { maxConnections: 1 } } }), 'connections.maxConnections', 1, 'an integer from 2 to 100000')
})

errors('metrics.public is a boolean, false by default, settable in the file', () => {
  assert.is(resolve({}).metrics.public, false)
  assert.is(resolve({ file: { metrics: { public: true } } }).metrics.public, true)
  expectConfigError(() => resolve({ file: { metrics: { public: 'yes' } } }), 'metrics.public', 'yes', /true or false/)
})

errors('mdns is a boolean, off by default, set by the file, SHOAL_MDNS or a flag', () => {
  assert.is(resolve({}).mdns, false)
  assert.is(resolve({ file: { mdns: true } }).mdns, true)
  assert.is(resolve({ file: { mdns: true }, env: { SHOAL_MDNS: 'off' } }).mdns, false)
  assert.is(resolve({ env: { SHOAL_MDNS: 'off' }, flags: { mdns: true } }).mdns, true)
  expectConfigError(() => resolve({ file: { mdns: 'yes' } }), 'mdns', 'yes', /true or false/)
  expectConfigError(() => configFromEnv({ SHOAL_MDNS: 'lan' }), 'mdns', 'lan', 'true or false (from SHOAL_MDNS)')
})

errors('listen and bootstrap entries must be multiaddrs', () => {
  expectConfigError(() => resolve({ file: { listen: ['tcp://0.0.0.0:7700'] } }), 'listen[0]', 'tcp://0.0.0.0:7700', /^a multiaddr/)
  expectConfigError(() => resolve({ env: { SHOAL_LISTEN: '/ip4/0.0.0.0/tcp/1,0.0.0.0:2' } }), 'listen[1]', '0.0.0.0:2', /^a multiaddr/)
  expectConfigError(() => resolve({ file: { bootstrap: ['/dns4/a/tcp/1', 7] } }), 'bootstrap[1]', 7, /^a multiaddr/)
  expectConfigError(() => resolve({ file: { listen: [] } }), 'listen', [], 'a list of at least 1 multiaddr(s)')
  // Bootstrap may be empty (mDNS or a later `shoal connect`).
  assert.equal(resolve({ file: { bootstrap: [] } }).bootstrap, [])
})

errors('logLevel and logFormat name their allowed values', () => {
  expectConfigError(() => resolve({ env: { SHOAL_LOG_LEVEL: 'loud' } }), 'logLevel', 'loud', 'one of trace, debug, info, warn, error, silent')
  expectConfigError(() => resolve({ env: { SHOAL_LOG_FORMAT: 'xml' } }), 'logFormat', 'xml', 'json or pretty')
})

errors('wrong types in the file are refused with the field path', () => {
  expectConfigError(() => resolve({ file: { listen: '/ip4/0.0.0.0/tcp/1' } }), 'listen', '/ip4/0.0.0.0/tcp/1', 'a list of at least 1 multiaddr(s)')
  expectConfigError(() => resolve({ file: { debug: 'yes' } }), 'debug', 'yes', 'true or false')
  expectConfigError(() => resolve({ file: { debug: 1 } }), 'debug', 1, 'true or false')
  expectConfigError(() => resolve({ file: { rpc: { allowNonLoopback: 'no' } } }), 'rpc.allowNonLoopback', 'no', 'true or false')
  expectConfigError(() => resolve({ file: { rpc: { host: '' } } }), 'rpc.host', '', 'a non-empty string')
  expectConfigError(() => resolve({ file: { deny: 'QmPeer' } }), 'deny', 'QmPeer', 'a list of peer ids')
  expectConfigError(() => resolve({ file: { deny: ['QmA', 3] } }), 'deny[1]', 3, 'a non-empty string')
  expectConfigError(() => resolve({ file: { swarmKeyFile: '' } }), 'swarmKeyFile', '', 'a non-empty string')
  expectConfigError(() => resolve({ file: { membership: { probeIntervalMs: '1000' } } }), 'membership.probeIntervalMs', '1000', 'an integer from 50 to 60000')
})

errors.run()

// ---------------------------------------------------------------------------------------------------------
const tracing = suite('config: tracing')

tracing('off by default; a config file may set endpoint, serviceName and sampleRatio', () => {
  assert.is(resolve({}).tracing.endpoint, undefined)
  assert.is(resolve({}).tracing.sampleRatio, 1)
  const c = resolve({ file: { tracing: { endpoint: 'http://127.0.0.1:4318/v1/traces', serviceName: 'edge', sampleRatio: 0.25 } } })
  assert.equal(c.tracing, { endpoint: 'http://127.0.0.1:4318/v1/traces', serviceName: 'edge', sampleRatio: 0.25 })
})

tracing('bad values name the field', () => {
  expectConfigError(() => resolve({ file: { tracing: { endpoint: 'udp://x' } } }), 'tracing.endpoint', 'udp://x', /an http\(s\) URL/)
  expectConfigError(() => resolve({ file: { tracing: { sampleRatio: 2 } } }), 'tracing.sampleRatio', 2, 'a number from 0 to 1')
  expectConfigError(() => resolve({ file: { tracing: { serviceName: '' } } }), 'tracing.serviceName', '', 'a non-empty string')
  expectConfigError(() => resolve({ file: { tracing: { exporter: 'x' } } }), 'tracing.exporter', 'x', /a known field/)
})

tracing.run()

const hostPort = suite('config: parseHostPort')

hostPort('accepted forms', () => {
  assert.equal(parseHostPort('127.0.0.1:7701', 'f'), { host: '127.0.0.1', port: 7701 })
  assert.equal(parseHostPort('localhost:0', 'f'), { host: 'localhost', port: 0 })
  assert.equal(parseHostPort('[::1]:8080', 'f'), { host: '::1', port: 8080 })
  assert.equal(parseHostPort('[fe80::1%eth0]:1', 'f'), { host: 'fe80::1%eth0', port: 1 })
  assert.equal(parseHostPort(':65535', 'f'), { port: 65535 })
  assert.equal(parseHostPort('  example.org:443 ', 'f'), { host: 'example.org', port: 443 })
  // The URL `shoal status` prints is accepted as it is.
  assert.equal(parseHostPort('http://127.0.0.1:7701/rpc', 'f'), { host: '127.0.0.1', port: 7701 })
  assert.equal(parseHostPort('https://[::1]:7701/', 'f'), { host: '::1', port: 7701 })
  assert.equal(parseHostPort('http://node-1:7701', 'f'), { host: 'node-1', port: 7701 })
  // No host key at all for ":PORT", so a merge keeps the lower layer's host.
  assert.not.ok('host' in parseHostPort(':1', 'f'))
})

hostPort('refused forms name the caller\'s field and the input', () => {
  for (const bad of ['localhost', '7701', 'host:', 'host:65536', 'host:-1', 'host:123456', '::1:80', 'host:80:90', 'host:8o', '', '[::1]80', 'ftp://host:1', 'http://host:1/other', 'a/b:1']) {
    expectConfigError(() => parseHostPort(bad, 'rpc'), 'rpc', bad, 'HOST:PORT, e.g. 127.0.0.1:7701 (port 0 picks a free one)')
  }
})

hostPort.run()
