import { generateSwarmKey } from '@shoal/node'
import { parse } from '../args.js'
import type { Io } from '../output.js'

export const SWARM_KEY_HELP = `Usage: shoal swarm-key > swarm.key

Prints a new pre-shared key in the libp2p pnet format. Give the same file to every node of a private
swarm (\`shoal init --swarm-key swarm.key\` or \`shoal daemon --swarm-key swarm.key\`); nodes without it
cannot connect.`

export function swarmKeyCommand (argv: string[], io: Io): number {
  const { values } = parse('swarm-key', argv, {})
  if (values.help === true) { io.out(SWARM_KEY_HELP); return 0 }
  io.out(generateSwarmKey().trimEnd())
  return 0
}
