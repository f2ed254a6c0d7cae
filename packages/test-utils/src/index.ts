export { MemorySwarm, skewedClock } from './memory-swarm.js'
export type { MemorySwarmInit, AddOptions } from './memory-swarm.js'
export { waitUntil, timed } from './wait.js'
export type { WaitOptions } from './wait.js'
