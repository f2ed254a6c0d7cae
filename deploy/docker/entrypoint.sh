#!/bin/sh
# Container entrypoint for Shoal (also usable on its own). POSIX sh.
#   entrypoint.sh [daemon] [daemon flags...]   run the daemon in the foreground (the default)
#   entrypoint.sh health                       exit 0 when GET /healthz answers 200 (the process is up)
#   entrypoint.sh ready                        exit 0 when GET /readyz answers 200 (joined, store open, not stopping)
#   entrypoint.sh COMMAND [args...]            any other shoal command, e.g. `status`, `kv get k`
# Environment: SHOAL_HOME (release dir, default /opt/shoal), SHOAL_DATA_DIR (default /var/lib/shoal),
# SHOAL_RPC (host:port of the RPC server, default 127.0.0.1:7701), SHOAL_SWARM_KEY (key file of a private
# swarm), SHOAL_BOOTSTRAP (comma-separated multiaddrs) and every other SHOAL_* setting the daemon reads.
set -eu
home="${SHOAL_HOME:-/opt/shoal}"
SHOAL_DATA_DIR="${SHOAL_DATA_DIR:-/var/lib/shoal}"
export SHOAL_DATA_DIR

probe() {
  # The release's own Node does the request: the image needs no curl. 2 s per probe.
  exec "$home/runtime/bin/node" -e '
    const [path, rpc] = process.argv.slice(1)
    fetch(`http://${rpc}${path}`, { signal: AbortSignal.timeout(2000) })
      .then(r => process.exit(r.status === 200 ? 0 : 1), () => process.exit(1))
  ' "$1" "${SHOAL_RPC:-127.0.0.1:7701}"
}

if [ -n "${SHOAL_SWARM_KEY:-}" ] && [ ! -r "$SHOAL_SWARM_KEY" ]; then
  echo "entrypoint: SHOAL_SWARM_KEY=$SHOAL_SWARM_KEY is not a readable file (mount the swarm key secret there)" >&2
  exit 2
fi

case "${1:-daemon}" in
  health) probe /healthz ;;
  ready)  probe /readyz ;;
  daemon) [ $# -gt 0 ] && shift; exec "$home/bin/shoal" daemon "$@" ;;
  -*)     exec "$home/bin/shoal" daemon "$@" ;;
  *)      exec "$home/bin/shoal" "$@" ;;
esac
