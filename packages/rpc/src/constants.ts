/**
 * Every default of the RPC layer, with the reason for its value.
 */

/** Largest request body read. A batch of 100 small calls is a few KB; 1 MiB leaves room for bulk puts without
 * letting one client make the daemon buffer unbounded input. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024

/**
 * Deepest nesting accepted in a call's params (objects and arrays; `params` itself is level 1). Real params are
 * a few levels deep; JSON values published or stored rarely pass 10. A bound keeps every method (and every
 * recursive walk behind it: validation, stringify, codecs) far from the stack limit, which a 5,000-deep body
 * otherwise reaches as an Internal error.
 */
export const DEFAULT_MAX_PARAMS_DEPTH = 64

/** Most calls in one batch. Batch members run concurrently, so this also caps one request's parallelism. */
export const DEFAULT_MAX_BATCH = 100

/** Default deadline for one method call on the server. Long enough for a DHT lookup or a replication round
 * trip, short enough that a stuck handler frees its slot and tells the caller instead of hanging. */
export const DEFAULT_CALL_TIMEOUT_MS = 30_000

/** Default deadline for a client call: a little above the server's, so the server's timeout error (with its
 * code) normally arrives before the client gives up on its own. */
export const DEFAULT_CLIENT_TIMEOUT_MS = 35_000

/** Time allowed to receive request headers. Loopback clients send them at once; this only stops slowloris. */
export const HEADERS_TIMEOUT_MS = 10_000

/** Time allowed to receive a whole request (headers and body). 1 MiB over loopback takes milliseconds. */
export const REQUEST_TIMEOUT_MS = 30_000

/** Idle keep-alive sockets are closed after this. Node's default (5 s) is fine for a CLI making a few calls. */
export const KEEP_ALIVE_TIMEOUT_MS = 5_000

/** Characters of a bad input echoed back in a validation error: enough to recognise it, never the whole body. */
export const PREVIEW_CHARS = 64

/** On stop, how long answers already in progress may take before their sockets are cut. RPC calls answer at
 * once (their signal aborts); this only bounds a custom route handler that ignores its signal. */
export const STOP_GRACE_MS = 2_000

/** Most WebSocket connections at once. Each holds subscriptions and their producers; a local CLI, a dashboard
 * and a few scripts use a handful. A 65th gets HTTP 503 before the upgrade. */
export const DEFAULT_WS_MAX_SOCKETS = 64

/** Most live subscriptions per WebSocket. A client needs a few (one per topic it follows); the cap stops a loop
 * from starting producers without end. */
export const DEFAULT_WS_MAX_SUBSCRIPTIONS = 32

/** Bytes a WebSocket may have queued (not yet taken by the OS) before its client counts as a slow consumer and
 * is dropped. Several large notifications of headroom for a burst, yet 64 sockets at the cap stay at 512 MiB
 * worst case; the kernel's own socket buffers absorb some more before this queue grows at all. */
export const DEFAULT_WS_MAX_BUFFERED_BYTES = 8 * 1024 * 1024

/** Requests from one WebSocket being handled at once; past it the socket is not read until some finish. */
export const WS_MAX_INFLIGHT = 64

/** Bytes of request text from one WebSocket being handled at once; past it the socket is not read until some
 * finish. Without it 64 requests of the largest accepted size (2 MiB with 1 MiB KV values) could be held per
 * socket; 8 MiB still lets a client pipeline many ordinary calls or several bulk puts. */
export const WS_MAX_INFLIGHT_BYTES = 8 * 1024 * 1024

/** A client that takes nothing for this long while data waits for it is dropped as a slow consumer (no write to
 * its socket completed: the kernel's buffers on both ends are full, so it has not read megabytes). A busy but
 * live reader takes something every few milliseconds; 15 s also rides out a long GC pause or a debugger stop on
 * the client, and frees a stuck reader's backlog well before the ping heartbeat (30-60 s) would. */
export const WS_STALL_MS = 15_000

/** Ping interval. A socket that has not answered the previous ping (nor sent anything) is cut: two intervals
 * find a dead peer (sleeping laptop, killed process behind a proxy) without chatter on a loopback link. */
export const WS_HEARTBEAT_MS = 30_000

/** After the close frame, how long a peer has to finish the closing handshake before its socket is cut. On
 * loopback it takes milliseconds; a stuck reader never does, and its queued bytes are held until then. */
export const WS_CLOSE_GRACE_MS = 1_000

/** A slow consumer gets longer: its close frame sits behind up to DEFAULT_WS_MAX_BUFFERED_BYTES of queued data,
 * which it may still drain to learn why it was dropped. Memory stays capped meanwhile (nothing more is queued). */
export const WS_SLOW_CONSUMER_CLOSE_MS = 5_000
