export { MemorySwarm } from './memory-swarm.js'
export type { MemorySwarmInit } from './memory-swarm.js'
export { waitUntil, timed } from './wait.js'
export type { WaitOptions } from './wait.js'
