/**
 * /shoal/<swarm>/task-results/1.0.0 (docs/protocols/tasks.md, "Result stream and checkpoints"): a worker sends a
 * finished chunk's result to the job's finisher in one length-prefixed JSON frame (`ResultsRequest`) and gets one
 * frame back (`ResultsReply`, an ack per entry). Both frames are checked against core's schemas at the door.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { validateResultsReply, validateResultsRequest } from '@shoal/core'
import type { Logger, ResultsReply, ResultsRequest } from '@shoal/core'
import { handleRequests, request, unhandleRequests } from '../frames.js'
import type { ShoalLibp2p } from '../libp2p.js'

/** How long the finisher may take to read, take and answer one frame. */
const SERVE_TIMEOUT_MS = 5_000
/** Results frames in flight per connection: a worker sends one per chunk it finishes, per slot. */
const MAX_INBOUND_STREAMS = 64

/** What the task driver needs of a result transport (an in-memory one in unit tests). */
export interface ResultTransport {
  /** Serves incoming frames with `handler` (called with the sender's member id) until stop(). */
  start: (handler: (req: ResultsRequest, from: string) => Promise<ResultsReply>) => Promise<void>
  stop: () => Promise<void>
  /** One request/response with `peer`; throws on a dial or protocol failure, a bad reply, or `signal`. */
  send: (peer: string, req: ResultsRequest, signal: AbortSignal) => Promise<ResultsReply>
}

export interface ResultStreamComponents {
  libp2p: ShoalLibp2p
  logger: Logger
}

export interface ResultStreamInit {
  /** swarmProtocols(swarm).taskResults */
  protocol: string
}

export class ResultStream implements ResultTransport {
  private readonly log: Logger

  constructor (private readonly components: ResultStreamComponents, private readonly init: ResultStreamInit) {
    this.log = components.logger.child({ component: 'shoal:node:task-results' })
  }

  async start (handler: (req: ResultsRequest, from: string) => Promise<ResultsReply>): Promise<void> {
    await handleRequests(this.components.libp2p, this.init.protocol, async (message, from) => await handler(validateResultsRequest(message), from.toString()),
      { logger: this.log, timeoutMs: SERVE_TIMEOUT_MS, maxInboundStreams: MAX_INBOUND_STREAMS })
  }

  async stop (): Promise<void> {
    await unhandleRequests(this.components.libp2p, this.init.protocol)
  }

  async send (peer: string, req: ResultsRequest, signal: AbortSignal): Promise<ResultsReply> {
    const reply = await request(this.components.libp2p, peerIdFromString(peer), this.init.protocol, req, { signal })
    return validateResultsReply(reply, req.entries.length)
  }
}
