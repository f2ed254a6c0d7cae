/** Shoal's version, advertised to the swarm and reported by node.info. */
export const VERSION = '0.1.0'
