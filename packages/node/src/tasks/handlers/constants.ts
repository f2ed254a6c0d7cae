/** Defaults and bounds for task handlers; each number says what it trades off. */

/** Largest `to` for primes: 2^40 keeps the sieve's base primes (<= 2^20) small and every value a safe integer. */
export const PRIMES_MAX = 2 ** 40

/** Sieve segment length: 256 KiB of flags fits in L2 cache on common CPUs and keeps memory per worker small. */
export const PRIMES_SEGMENT = 1 << 18

/** Longest sleep: 10 minutes is plenty for tests and demos and bounds how long a stuck lease can look busy. */
export const SLEEP_MAX_MS = 600_000

/** A command's stdout past this is not a result anyone wants over gossip; the process is killed. */
export const EXEC_MAX_STDOUT_BYTES = 16 * 1024 * 1024

/** How much stderr an exec failure message quotes: enough for a stack trace's head, small enough to store. */
export const EXEC_STDERR_CHARS = 500

/** Default exec timeout: a minute covers scripts and short builds; longer work should say so in its allow entry. */
export const EXEC_DEFAULT_TIMEOUT_MS = 60_000
