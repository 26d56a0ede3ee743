# Sourced by the bench scripts: one local edge per script, started the same way.
#
# start_edge TAG [extra wrangler dev arguments...]
#   Starts scripts/serve.sh (migrations + wrangler dev) on free loopback ports with a temporary
#   state dir and a fresh random ADMIN_TOKEN (the edge refuses one under 32 characters), stops it
#   when the calling script exits (MAX_SECONDS bounds it in any case), and waits for /healthz.
#   Sets: port, state, token, base, auth.

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

start_edge() {
  local tag=$1
  shift
  port=$(free_port)
  local inspector
  inspector=$(free_port)
  state=$(mktemp -d "${TMPDIR:-/tmp}/fota-$tag.XXXXXX")
  token=$(node -e "process.stdout.write(require('crypto').randomBytes(24).toString('hex'))")
  MAX_SECONDS=${MAX_SECONDS:-900} scripts/serve.sh "$port" "$state" --inspector-port "$inspector" \
    --var "ADMIN_TOKEN:$token" "$@" >"$state/serve.log" 2>&1 &
  serve=$!
  trap 'kill $serve 2>/dev/null; wait $serve 2>/dev/null; rm -rf "$state"' EXIT
  base="http://127.0.0.1:$port"
  for _ in $(seq 240); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.25; done
  curl -sf "$base/healthz" >/dev/null || { cat "$state/serve.log"; exit 1; }
  auth="Authorization: Bearer $token"
}
