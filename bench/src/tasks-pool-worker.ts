/**
 * A worker of the jobs bench's local baseline pool: loads the daemon's own primes work module (the URL comes in
 * workerData) and answers { i, from, to } with { i, count }. No Shoal code runs here besides that function.
 */
import { parentPort, workerData } from 'node:worker_threads'

export interface PoolRequest { i: number, from: number, to: number }
export interface PoolResponse { i: number, count: number }

type CountPrimes = (input: { from: number, to: number }) => number

const { workUrl } = workerData as { workUrl: string }
const work = await import(workUrl) as { countPrimes: CountPrimes }
const port = parentPort
if (port !== null) {
  port.on('message', (req: PoolRequest) => {
    port.postMessage({ i: req.i, count: work.countPrimes({ from: req.from, to: req.to }) } satisfies PoolResponse)
  })
}
