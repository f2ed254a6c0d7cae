import { resolveConfig, resolveDataDir } from '@shoal/core'
import { initDataDir, defaultDataDir } from '@shoal/node'
import { parse, str } from '../args.js'
import type { Io } from '../output.js'

export const INIT_HELP = `Usage: shoal init [--data-dir DIR] [--swarm NAME] [--swarm-key FILE]

Creates a data dir (default ~/.shoal, or $SHOAL_DATA_DIR) with config.json, a persistent Ed25519
identity (identity.key) and an RPC token (rpc.token) readable only by you. Refuses to overwrite an
existing identity.

  --data-dir DIR     where to create it
  --swarm NAME       swarm name (lowercase letters, digits, dashes); nodes only meet their own swarm
  --swarm-key FILE   make the swarm private: copy this pnet key (from \`shoal swarm-key\`) into the data dir`

export async function initCommand (argv: string[], io: Io, env: Record<string, string | undefined>): Promise<number> {
  const { values } = parse('init', argv, {
    'data-dir': { type: 'string' },
    swarm: { type: 'string' },
    'swarm-key': { type: 'string' }
  })
  if (values.help === true) { io.out(INIT_HELP); return 0 }
  const dataDir = resolveDataDir({ flags: { dataDir: str(values['data-dir']) }, env, defaultDataDir: defaultDataDir() })
  const swarm = str(values.swarm)
  // The daemon's own rule, applied now, so init never writes a config the daemon would refuse.
  if (swarm !== undefined) resolveConfig({ defaultDataDir: dataDir, flags: { swarm } })
  const result = await initDataDir({ dataDir, swarm, swarmKeyFile: str(values['swarm-key']) })
  io.out(`initialised ${result.dataDir}\npeer id: ${result.peerId}\ncreated: ${result.created.join(', ')}`)
  return 0
}
