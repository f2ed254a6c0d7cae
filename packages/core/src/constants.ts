/**
 * Every default has a home and a reason. Numbers that trade something off say what and where they came from.
 */

/** Protocol and topic ids carry the swarm name so two swarms never mix routing tables or gossip. */
export const PROTOCOL_PREFIX = '/shoal'
export const DEFAULT_SWARM = 'default'
/** Swarm names end up in protocol ids and topic names: keep them short and path-safe. */
export const SWARM_NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,31}$/

export const DEFAULT_LISTEN = ['/ip4/0.0.0.0/tcp/7700']
export const DEFAULT_RPC_HOST = '127.0.0.1'
export const DEFAULT_RPC_PORT = 7701

// SWIM timings. hashicorp/memberlist's LAN config probes every 1 s with a 500 ms timeout, 3 indirect probes
// and SuspicionMult 4. We keep the probe period, use 3 s of suspicion (4 s at memberlist's scale) so a dead
// member is declared within the 10 s bound even when it is probed last in a round, and add a fast path:
// a dropped connection triggers an immediate probe of that member.
export const PROBE_INTERVAL_MS = 1000
export const PROBE_TIMEOUT_MS = 500
export const INDIRECT_PROBES = 3
export const SUSPICION_TIMEOUT_MS = 3000
/**
 * Lifeguard's local health multiplier ceiling (memberlist AwarenessMaxMultiplier = 8): a node whose own probes
 * keep failing probes at most 9x slower with a 9x longer timeout (9 s and 4.5 s with the defaults).
 */
export const LOCAL_HEALTH_MAX = 8
/**
 * Lifeguard's dynamic suspicion (memberlist suspicion.go): a suspicion starts at SUSPICION_MAX_TIMEOUT_MULT x
 * the suspicion timeout and shrinks toward it as independent confirmations arrive; SUSPICION_CONFIRMATIONS of
 * them bring it to the minimum. memberlist: SuspicionMaxTimeoutMult 6, k = SuspicionMult - 2 = 2.
 */
export const SUSPICION_MAX_TIMEOUT_MULT = 6
export const SUSPICION_CONFIRMATIONS = 2
/** Full state exchange with a random member (memberlist: 30 s); repairs anything piggybacking missed. */
export const PUSH_PULL_INTERVAL_MS = 15_000
/** Dead and left members stay in the view this long so operators can see what happened, then go. */
export const DEAD_MEMBER_RETENTION_MS = 60 * 60 * 1000
/** memberlist RetransmitMult: each update is piggybacked about mult * log10(n + 1) times. */
export const RETRANSMIT_MULT = 4
/** Updates piggybacked on one probe message; bounds message size. */
export const MAX_PIGGYBACK_UPDATES = 16
/**
 * memberlist's gossip (LAN: GossipInterval 200 ms, GossipNodes 3): while updates are queued, every interval the
 * node sends them, piggybacked on a ping, to this many random neighbours. A node's dissemination cost is then
 * bounded by the interval, however many members change state at once: a flood on the gossip topic cost every
 * member one message per change, and a swarm whose members flap spent its CPU on that (docs/scale.md).
 */
export const GOSSIP_INTERVAL_MS = 200
export const GOSSIP_FANOUT = 3

// Bounded-degree overlay (docs/protocols/membership.md "Bounded degree", core membership/overlay.ts). Each node
// chooses OVERLAY_DEGREE neighbours and holds about as many links chosen by others, so ~2x in all, whatever N.
// 8 = 1 ring successor + 1 ring predecessor (connectivity) + 6 random (diameter ~log(N)/log(8); gossipsub's
// mesh D = 6 fits inside it). Probing, push-pull and gossip stay on these links.
export const OVERLAY_DEGREE = 8
export const OVERLAY_RING_NEIGHBOURS = 1
/**
 * Hard cap on open connections with bounded degree: far above the ~16 a node holds on average (8 chosen + ~8
 * inbound, Poisson-distributed), so it only bites when something goes wrong.
 */
export const OVERLAY_MAX_CONNECTIONS = 64

/** Gossip envelopes above this are rejected by every validator (and lower the sender's score). */
export const MAX_GOSSIP_MESSAGE_BYTES = 64 * 1024
/**
 * Frames of our own stream protocols; a peer that sends more is cut off. 4 MiB holds the largest KV record
 * (a 1 MiB value whose JSON escaping may double inside its event) with room to spare.
 */
export const MAX_FRAME_BYTES = 4 * 1024 * 1024
/** Members we accept in one full-state exchange; bounds memory against a hostile peer. */
export const MAX_MEMBERS_PER_SYNC = 4096
export const MAX_ADDRS_PER_MEMBER = 16
export const MAX_CAPABILITIES = 64

// js-libp2p accepts 5 inbound connections per second per host and 10 pending by default. On a loopback or
// LAN swarm every peer is the same host (127.0.0.1), so a 5-10 node swarm forming at once trips the limit
// and sees ECONNRESET. We allow bursts of a few dozen; maxConnections stays at libp2p's 300.
export const INBOUND_CONNECTIONS_PER_SECOND_PER_HOST = 100
export const MAX_INCOMING_PENDING_CONNECTIONS = 64
export const MAX_CONNECTIONS = 300

/** Nothing on the network waits forever: default for a dial or request without its own signal. */
export const DEFAULT_NETWORK_TIMEOUT_MS = 10_000
/** Graceful stop: announce departure, then close; the daemon exits within 5 s. */
export const LEAVE_ANNOUNCE_TIMEOUT_MS = 1500

// Events (docs/protocols/events.md).
/** Largest event payload (`data`, UTF-8 bytes). Matches MAX_GOSSIP_MESSAGE_BYTES: one event, one gossip message. */
export const EVENT_MAX_PAYLOAD_BYTES = 64 * 1024
/** Room for an event's other fields when encoded: a whole event is at most payload + this. */
export const EVENT_MAX_OVERHEAD_BYTES = 4 * 1024
/**
 * A remote HLC wall time further ahead of ours than this is rejected ('future'), never adopted. Wall clocks on a
 * LAN are NTP-synced to well under a second; 30 s tolerates a bad NTP day yet stops a far-future clock from
 * poisoning every HLC in the swarm.
 */
export const EVENT_MAX_CLOCK_DRIFT_MS = 30_000
/** Anti-entropy: heads digest to one random live member this often. Bounds how long a gossip loss goes unrepaired. */
export const EVENT_DIGEST_INTERVAL_MS = 5000
/** Events a puller asks for at once: big enough to catch up quickly, well under the 512 a peer must serve. */
export const EVENT_PULL_BATCH = 256
/** Hard cap on `limit` in a pull and on events in one reply; bounds the work one request can demand. */
export const EVENT_MAX_PULL_LIMIT = 512
/**
 * Encoded events in one pull reply. Kept one event's overhead under MAX_FRAME_BYTES so the reply's own
 * fields always fit in a frame; the server stops adding events before passing it (but always sends at least one).
 */
export const EVENT_MAX_PULL_BYTES = MAX_FRAME_BYTES - EVENT_MAX_OVERHEAD_BYTES
/** Origins in one heads digest; bounds memory against a hostile peer (a swarm is a few dozen nodes). */
export const EVENT_MAX_DIGEST_ORIGINS = 10_000
/** Retention by age: a node offline for less than a week catches up on everything. */
export const EVENT_RETENTION_MS = 7 * 24 * 60 * 60 * 1000
/** Retention by count: with 64 KiB payloads at most ~6.4 GB, typically a few tens of MB. */
export const EVENT_RETENTION_MAX_EVENTS = 100_000
/** How often the event log enforces retention; compaction is cheap when nothing is due. */
export const EVENT_COMPACT_INTERVAL_MS = 60_000

// Key-value store (docs/protocols/kv.md).
/** Keys are ids and paths, not data: 512 bytes fits any sensible one and keeps Merkle leaf listings small. */
export const KV_MAX_KEY_BYTES = 512
/**
 * Largest value as JSON text. A record travels whole in one event and one anti-entropy frame (MAX_FRAME_BYTES),
 * so 1 MiB is the most a single record can be; bigger blobs belong in a file store, not the replicated KV.
 */
export const KV_MAX_VALUE_BYTES = 1024 * 1024
/**
 * Tombstones are garbage-collected this long after their version's wall time. Same as EVENT_RETENTION_MS: a node
 * away for less than a week never resurrects a deleted key; one away longer may (Cassandra's gc_grace trade-off).
 */
export const KV_TOMBSTONE_HORIZON_MS = 7 * 24 * 60 * 60 * 1000
/** One Merkle round with a random live member this often: in-sync nodes exchange one root hash, so it is cheap. */
export const KV_ANTI_ENTROPY_INTERVAL_MS = 10_000
/** Node ids, leaf ids or keys in one anti-entropy request: bounds a request's work and a walk's memory. */
export const KV_SYNC_BATCH = 256
/**
 * Leaf entries ({key, version}) in one `leaves` reply; the server sets `more` when it cuts. 16 per requested leaf
 * on average at the batch size; far above the ~1 record per leaf of a 65 536-record store.
 */
export const KV_SYNC_MAX_LEAF_ENTRIES = 16 * KV_SYNC_BATCH
/** An acknowledged write waits this long for its `stored` replies (DEFAULT_NETWORK_TIMEOUT_MS), then fails -32001. */
export const KV_ACK_TIMEOUT_MS = 10_000
/** Local change log entries kept for kv.watch cursors; the same count as EVENT_RETENTION_MAX_EVENTS. */
export const KV_CHANGES_RETENTION = 100_000

// Distributed jobs (docs/protocols/tasks.md).
/** Subtasks in one job (inputs or split): bounds the job record, a status scan and one decide() call. */
export const TASK_MAX_SUBTASKS = 10_000
/**
 * A subtask's lease lives this long unless renewed (at leaseMs / 3). It is the time a crashed worker's subtask
 * waits before it runs elsewhere when nobody saw the crash; SWIM declares a dead member within 10 s
 * (SUSPICION_TIMEOUT_MS and probing), and a dead holder's lease counts as expired at once, so 10 s keeps both
 * recovery paths equally bounded while costing one small KV write per running subtask every ~3.3 s.
 */
export const TASK_LEASE_MS = 10_000
/** Application errors allowed per subtask before it is poison and fails the job. */
export const TASK_DEFAULT_RETRIES = 3
/** A whole job's default deadline; past it the finisher fails the job ("timed out"). */
export const TASK_DEFAULT_TIMEOUT_MS = 10 * 60 * 1000
/**
 * Chunks per slot when a job's chunk size is chosen at submit (docs/decisions/0006-chunked-job-leases.md, 0009):
 * enough units that a slow member or a lost one costs about half a slot's share (the tail, and the re-run after a
 * kill -9, are at most one chunk), few enough that the per-unit cost (a lease and a done record, each a
 * replicated, signed, fsync'd KV write, measured at 15-25 ms of CPU swarm-wide on 3-5 daemons) is paid about
 * 2 x slots times per job. Was 4: halving it took 3 daemons from ~600 to ~1,500 trivial subtasks/s and 5 from
 * ~200 to ~550 on the 2-core bench box, where the writes' CPU is what bounds throughput.
 */
export const TASK_CHUNKS_PER_SLOT = 2
/**
 * Work a chunk should hold at least, in milliseconds of wall time on the submitting node (its measured cost per
 * subtask of the handler; scheduler.ts `chunkSize`). A chunk costs a lease record (a replicated, signed, fsync'd
 * write: about 3 ms of CPU on each node that applies it, measured on the 2-core bench box) plus its share of the
 * result flow, so a chunk of 50 ms keeps that below about a tenth of the work on 5 daemons, while a kill -9
 * re-runs at most that much. Dask's guidance is the same idea: tasks well above the scheduler's per-task overhead.
 */
export const TASK_CHUNK_TARGET_MS = 50
/** Retry backoff after a handler error: base x 2^(attempts-1), capped at TASK_BACKOFF_MAX_MS. */
export const TASK_BACKOFF_BASE_MS = 200
export const TASK_BACKOFF_MAX_MS = 30_000
/**
 * How long a finished job's records (job, leases, results, final state) stay before its finisher deletes them.
 * A day lets anyone who submitted a job fetch its result after a night away, while a busy swarm's store and
 * every node's in-memory views stay bounded by a day of jobs rather than growing forever (issue 9, kind 10).
 */
export const TASK_RETENTION_MS = 24 * 60 * 60 * 1000
/** A finisher whose final-state write failed tries again after this long (then again, until it sticks). */
export const TASK_FINAL_RETRY_MS = 1000
/**
 * A chunk result streamed to the finisher waits at most this long (plus one decision round, 250 ms) before the
 * finisher writes it into a checkpoint record (docs/decisions/0011-task-result-stream.md). Short against
 * SUSPICION_TIMEOUT_MS (3 s): a worker that dies right after its result was taken is declared dead after that
 * result is in a checkpoint, so nobody re-runs it; long against a short job (a few hundred ms on one box), which
 * then writes no checkpoint at all, only its final state.
 */
export const TASK_CHECKPOINT_MS = 500
/**
 * How long a candidate waits for one ranked before it that looks full (its live leases in the job fill its
 * slots) before claiming a chunk itself; a candidate that looks free is waited for leaseMs / 2. With results
 * streamed to the finisher, a member's finished chunks keep live leases in other nodes' views, so it looks full
 * while it is free; claiming at once made both run the chunk (measured: 17% of chunks on 3 daemons, 50% on 5).
 * 100 ms is a few replication delays on a loaded box and short against a chunk's run.
 */
export const TASK_PASS_OVER_MS = 100
/** Entries in one checkpoint record or one result-stream frame (the record also stays under ~256 KiB of JSON). */
export const TASK_CHECKPOINT_MAX_UNITS = 1024
/**
 * A worker sends a streamed result again when no checkpoint holding it has reached it this long after sending
 * (the finisher restarted with the same id and lost what it held in memory): four checkpoint intervals.
 */
export const TASK_RESULT_RESEND_MS = 4 * TASK_CHECKPOINT_MS
/** Handler error messages kept in fail/done/state records: enough for a stack's first lines, small in the KV. */
export const TASK_MAX_ERROR_CHARS = 4096
