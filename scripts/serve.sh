#!/usr/bin/env bash
# Applies the D1 migrations to STATE_DIR, then runs `wrangler dev` on 127.0.0.1:PORT in the
# foreground of this script. It stops wrangler when this script's parent is gone, or after
# MAX_SECONDS when set (tests and benchmarks set it), so no server outlives its user.
#
# usage: scripts/serve.sh PORT STATE_DIR [extra wrangler dev arguments]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
port=$1 state=$2
shift 2
wrangler=${WRANGLER:-$root/node_modules/.bin/wrangler}
export WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false CI=true
export WRANGLER_LOG_PATH=${WRANGLER_LOG_PATH:-$state/logs}
cd "$root"
mkdir -p "$state"
"$wrangler" d1 migrations apply DB --local --persist-to "$state" >"$state/migrate.log" 2>&1 \
  || { cat "$state/migrate.log" >&2; exit 1; }

parent=$PPID
setsid "$wrangler" dev --ip 127.0.0.1 --port "$port" --persist-to "$state" \
  --show-interactive-dev-session=false --log-level "${LOG_LEVEL:-warn}" "$@" &
wpid=$!
stop() {
  kill -INT -- "-$wpid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$wpid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL -- "-$wpid" 2>/dev/null || true
}
trap 'stop; exit 0' INT TERM
trap stop EXIT
started=$SECONDS
while kill -0 "$wpid" 2>/dev/null && kill -0 "$parent" 2>/dev/null; do
  if [ -n "${MAX_SECONDS:-}" ] && [ $((SECONDS - started)) -ge "$MAX_SECONDS" ]; then
    echo "serve.sh: stopping after MAX_SECONDS=$MAX_SECONDS" >&2
    break
  fi
  sleep 0.5
done
