/**
 * Every default of the RPC layer, with the reason for its value.
 */

/** Largest request body read. A batch of 100 small calls is a few KB; 1 MiB leaves room for bulk puts without
 * letting one client make the daemon buffer unbounded input. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024

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
