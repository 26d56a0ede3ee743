# Sourced by the bench scripts: one local edge per script, started the same way.
#
# start_edge TAG [extra wrangler dev arguments...]
#   Starts scripts/serve.sh (migrations + wrangler dev) on free loopback ports with a temporary
#   state dir and a fresh random ADMIN_TOKEN (the edge refuses one under 32 characters), stops it
#   when the calling script exits (MAX_SECONDS bounds it in any case), and waits for /healthz.
#   Sets: port, state, token, base, auth.
#
# restart_edge [extra wrangler dev arguments...]
#   Stops that edge and starts it again on the same state dir and token (new free ports), so the
#   next request meets a fresh isolate while KV, R2 and D1 persist. The arguments replace the
#   extra arguments given to start_edge; without any, the same ones are used again. The exit trap
#   of start_edge still stops the newest edge and removes the state dir.

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

start_edge() {
  local tag=$1
  shift
  state=$(mktemp -d "${TMPDIR:-/tmp}/fota-$tag.XXXXXX")
  token=$(node -e "process.stdout.write(require('crypto').randomBytes(24).toString('hex'))")
  # Registering devices issues secrets, which derive from a master key.
  master=$(node -e "process.stdout.write(require('crypto').randomBytes(32).toString('hex'))")
  auth="Authorization: Bearer $token"
  edge_args=("$@")
  trap 'kill $serve 2>/dev/null; wait $serve 2>/dev/null; rm -rf "$state"' EXIT
  launch_edge
}

restart_edge() {
  [ $# -gt 0 ] && edge_args=("$@")
  # serve.sh stops wrangler and workerd on TERM; wait so the state files are closed.
  kill "$serve" 2>/dev/null || true
  wait "$serve" 2>/dev/null || true
  launch_edge
}

# Runs serve.sh on fresh loopback ports with $state, $token and ${edge_args[@]}; waits for /healthz.
launch_edge() {
  port=$(free_port)
  local inspector
  inspector=$(free_port)
  MAX_SECONDS=${MAX_SECONDS:-900} scripts/serve.sh "$port" "$state" --inspector-port "$inspector" \
    --var "ADMIN_TOKEN:$token" --var "DEVICE_MASTER_KEYS:1:$master" "${edge_args[@]}" >>"$state/serve.log" 2>&1 &
  serve=$!
  base="http://127.0.0.1:$port"
  for _ in $(seq 240); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.25; done
  curl -sf "$base/healthz" >/dev/null || { cat "$state/serve.log"; exit 1; }
}
