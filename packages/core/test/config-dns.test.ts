/** `dnsServers`: default empty, from SHOAL_DNS_SERVERS (comma-separated) or the file, each an IP with an optional port. */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { resolveConfig } from '../src/config.js'
import { ConfigError } from '../src/errors.js'

const resolve = (env: Record<string, string> = {}, file?: unknown): ReturnType<typeof resolveConfig> => resolveConfig({ env, file, defaultDataDir: '/tmp/x' })

test('empty by default; env and file set it', () => {
  assert.equal(resolve().dnsServers, [])
  assert.equal(resolve({ SHOAL_DNS_SERVERS: '10.96.0.10, 127.0.0.1:5353' }).dnsServers, ['10.96.0.10', '127.0.0.1:5353'])
  assert.equal(resolve({}, { dnsServers: ['::1', '[fd00::1]:53'] }).dnsServers, ['::1', '[fd00::1]:53'])
})

test('a host name, a URL or a non-list is refused, naming the entry', () => {
  for (const [input, field] of [[['dns.example'], 'dnsServers[0]'], [['1.1.1.1', 'https://1.1.1.1/dns-query'], 'dnsServers[1]'], ['1.1.1.1', 'dnsServers']] as const) {
    try {
      resolve({}, { dnsServers: input })
      assert.unreachable(`accepted ${JSON.stringify(input)}`)
    } catch (err) {
      assert.instance(err, ConfigError)
      assert.is((err as ConfigError).field, field)
    }
  }
})

test.run()
