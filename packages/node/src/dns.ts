/**
 * Name resolution for bootstrap and peer addresses when `dnsServers` is set: /dnsaddr TXT lookups and /dns4,
 * /dns6, /dns names all go to those servers (e.g. a cluster's or a test's own DNS server). With no servers
 * configured none of this is used: libp2p's dnsaddr resolver asks the servers in resolv.conf, and a /dns4 name
 * reaches the TCP transport as a host name, which the system resolver (hosts file first) turns into an address.
 *
 * Record shapes follow @multiformats/dns (DNS JSON, RFC 8427 style); /dnsaddr is the multiaddr spec's
 * `_dnsaddr.<name>` TXT convention (github.com/multiformats/multiaddr/blob/master/protocols/DNSADDR.md).
 */
import { Resolver } from 'node:dns/promises'
import { dns, RecordType } from '@multiformats/dns'
import type { Answer, DNS, DNSResponse, QueryOptions } from '@multiformats/dns'

type DNSResolver = (fqdn: string, options?: QueryOptions) => Promise<DNSResponse>
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { MultiaddrResolver, MultiaddrResolveOptions } from '@libp2p/interface'
import { dnsaddrResolver } from 'libp2p'

/** Answers are cached by @multiformats/dns for their TTL; node:dns returns none with these calls. */
const DEFAULT_TTL_S = 60

/** A @multiformats/dns resolver that asks only `servers` ('IP' or 'IP:PORT'), for A, AAAA, TXT and CNAME. */
export function serversResolver (servers: string[]): DNSResolver {
  return async (fqdn: string, options: QueryOptions = {}) => {
    const resolver = new Resolver({ timeout: 2000, tries: 2 })
    resolver.setServers(servers)
    const onAbort = (): void => { resolver.cancel() }
    options.signal?.addEventListener('abort', onAbort, { once: true })
    const types = options.types === undefined ? [RecordType.A, RecordType.AAAA] : [options.types].flat()
    try {
      const answers: Answer[] = []
      for (const type of types) {
        const answer = (data: string): Answer => ({ name: fqdn, type, TTL: DEFAULT_TTL_S, data })
        try {
          if (type === RecordType.A) answers.push(...(await resolver.resolve4(fqdn)).map(answer))
          else if (type === RecordType.AAAA) answers.push(...(await resolver.resolve6(fqdn)).map(answer))
          else if (type === RecordType.TXT) answers.push(...(await resolver.resolveTxt(fqdn)).map(parts => answer(parts.join(''))))
          else if (type === RecordType.CNAME) answers.push(...(await resolver.resolveCname(fqdn)).map(answer))
        } catch (err) {
          // No record of one type is not a failure of the others (an A-only name has no AAAA).
          if ((err as { code?: string }).code !== 'ENODATA' || types.length === 1) throw err
        }
      }
      const response: DNSResponse = { Status: 0, TC: false, RD: true, RA: true, AD: false, CD: false, Question: types.map(type => ({ name: fqdn, type })), Answer: answers }
      return response
    } finally {
      options.signal?.removeEventListener('abort', onAbort)
    }
  }
}

/** Replaces a leading /dns4, /dns6 or /dns component with the addresses the name resolves to. */
class DnsNameResolver implements MultiaddrResolver {
  constructor (private readonly dns: DNS) {}

  canResolve (address: Multiaddr): boolean {
    const first = address.getComponents()[0]?.name
    return first === 'dns4' || first === 'dns6' || first === 'dns'
  }

  async resolve (address: Multiaddr, options: MultiaddrResolveOptions): Promise<Multiaddr[]> {
    const [first, ...rest] = address.getComponents()
    if (first?.value === undefined) return [address]
    const types = first.name === 'dns4' ? [RecordType.A] : first.name === 'dns6' ? [RecordType.AAAA] : [RecordType.A, RecordType.AAAA]
    const result = await (options.dns ?? this.dns).query(first.value, { signal: options.signal, types })
    const tail = rest.map(c => `/${c.name}${c.value !== undefined ? `/${c.value}` : ''}`).join('')
    return result.Answer
      .filter(a => a.type === RecordType.A || a.type === RecordType.AAAA)
      .map(a => multiaddr(`/${a.type === RecordType.A ? 'ip4' : 'ip6'}/${a.data}${tail}`))
  }
}

/** libp2p options for `dnsServers`: empty when none are set (libp2p's defaults then apply). */
export function dnsOptions (servers: string[]): { dns?: DNS, resolvers?: Record<string, MultiaddrResolver> } {
  if (servers.length === 0) return {}
  const resolver = dns({ resolvers: { '.': serversResolver(servers) } })
  return { dns: resolver, resolvers: { dnsaddr: dnsaddrResolver, dnsname: new DnsNameResolver(resolver) } }
}
