#!/usr/bin/env bash
# Check throughput against /healthz, measured side by side in one run on loopback.
#
# Starts its own `wrangler dev` (release build, warn logging) with a temporary state dir, seeds a
# project with a plain plan and a staged rollout (stages 1% -> 100%), then loads with wrk (1 thread,
# 10 connections, DURATION seconds each, bounded): /healthz, an "up to date" check on the plain
# plan, and a check from a device the staged rollout holds back (due, its stage not open yet:
# the common answer during a staged release). Prints each ratio to /healthz; the last line is
# the plain plan's ratio.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
DURATION=${DURATION:-10}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; } >/dev/null

cargo build -q --release -p fota-tests --bin fota-burst
source bench/lib.sh
# wrk repeats one device's check thousands of times a second: the bench's copy of the config
# lifts the per-device check limit (30 a minute in wrangler.toml), which a fleet of distinct
# devices never meets, and names absolute paths since it lives in its own folder.
config=$(mktemp -d "${TMPDIR:-/tmp}/fota-bench-config.XXXXXX")
sed -e "s|^main = \"|main = \"$root/|" -e "s|^migrations_dir = \"|migrations_dir = \"$root/|" \
  -e "s|^directory = \"|directory = \"$root/|" \
  -e 's|simple = { limit = 30, period = 60 }|simple = { limit = 100000000, period = 60 }|' wrangler.toml >"$config/wrangler.toml"
start_edge bench --config "$config/wrangler.toml" --var EXPOSE_METRICS:true --var NEW_DEVICES_PER_MINUTE:1000000
trap 'kill $serve 2>/dev/null; wait $serve 2>/dev/null; rm -rf "$state" "$config"' EXIT
fw=bench_LuatOS-SoC_Air780EHV
head -c 65536 /dev/zero | tr '\0' 'x' >"$state/image.bin"
curl -sf -X PUT -H "$auth" "$base/admin/v1/projects/bench" -d '{"name":"bench"}' >/dev/null
curl -sf -X PUT -H "$auth" --data-binary @"$state/image.bin" "$base/admin/v1/projects/bench/firmware/$fw/2018.1.10" >/dev/null
curl -sf -X PUT -H "$auth" "$base/admin/v1/projects/bench/plans/$fw" -d '{"target_version":"2018.1.10"}' >/dev/null
check="$base/api/site/firmware_upgrade?imei=862419074072389&project_key=bench&firmware_name=$fw&version=2018.1.10"
status=$(curl -s -o /dev/null -w '%{http_code}' "$check")
[ "$status" = 404 ] || { echo "the up-to-date check answered $status, not 404"; exit 1; }

staged=bench2_LuatOS-SoC_Air780EHV
curl -sf -X PUT -H "$auth" --data-binary @"$state/image.bin" "$base/admin/v1/projects/bench/firmware/$staged/2018.1.10" >/dev/null
curl -sf -X PUT -H "$auth" "$base/admin/v1/projects/bench/plans/$staged" \
  -d '{"target_version":"2018.1.10","rollout":{"stages":[1,100]}}' >/dev/null
# Find a device the 1% stage does not reach (code 61), and let its first check count it.
held=""
for i in $(seq 100 160); do
  url="$base/api/site/firmware_upgrade?imei=8624190740$(printf %05d "$i")&project_key=bench&firmware_name=$staged&version=2018.1.3"
  if curl -s "$url" | grep -q '"code":61'; then held=$url; break; fi
done
[ -n "$held" ] || { echo "no held-back device found"; exit 1; }

rps() {
  wrk -t1 -c10 -d"${DURATION}s" --timeout 5s "$1" | awk '/Requests\/sec/ {print $2}'
}
# The isolate's D1 calls so far (the server runs with EXPOSE_METRICS).
d1_calls() { curl -sf "$base/healthz" | sed -n 's/.*"d1_calls":\([0-9]*\).*/\1/p'; }
rps "$base/healthz" >/dev/null   # warm-up
health=$(rps "$base/healthz")
calls_before=$(d1_calls)
uptodate=$(rps "$check")
calls_after=$(d1_calls)
heldback=$(rps "$held")
for url in "$check" "$held"; do
  status=$(curl -s -o /dev/null -w '%{http_code}' "$url")
  [ "$status" = 404 ] || { echo "after the load $url answered $status, not 404"; exit 1; }
done
echo "healthz:                      $health req/s"
echo "check, plain plan, up to date: $uptodate req/s"
echo "check, staged rollout, held:   $heldback req/s"
awk -v s="$heldback" -v h="$health" 'BEGIN { printf "ratio staged-held/healthz: %.2f\n", s / h }'
awk -v s="$heldback" -v c="$uptodate" 'BEGIN { printf "ratio staged-held/plain: %.2f (goal >= 0.8)\n", s / c }'
awk -v a="$calls_before" -v b="$calls_after" -v r="$uptodate" -v d="$DURATION" \
  'BEGIN { printf "D1 calls per steady-state check: %.4f (goal <= 0.02; %d calls in %d checks)\n", (b - a) / (r * d), b - a, r * d }'

# A release: 2,000 devices of the fleet (registered, and checked in before the release, so the
# rollout trusts them) make their first check of a fresh 100% rollout, 32 at a time, then check again
# running the target. (Binding 2,000 ids in seconds is past the default NEW_DEVICES_PER_MINUTE,
# lifted above for this server.)
burst=bench3_LuatOS-SoC_Air780EHV
curl -sf -X PUT -H "$auth" --data-binary @"$state/image.bin" "$base/admin/v1/projects/bench/firmware/$burst/2018.1.10" >/dev/null
FOTA_TOKEN=$token target/release/fota-burst bind "$port" bench "$burst" 2018.1.3 2000 86300
curl -sf -X PUT -H "$auth" "$base/admin/v1/projects/bench/plans/$burst" -d '{"target_version":"2018.1.10","rollout":{"stages":[100]}}' >/dev/null
target/release/fota-burst "$port" bench "$burst" 2018.1.3 2018.1.10 2000 32 86300
sleep 2  # successes are recorded in the background
counts=$(curl -sf -H "$auth" "$base/admin/v1/projects/bench/plans/$burst/status")
echo "burst rollout totals: $(echo "$counts" | sed -n 's/.*"totals":\({[^}]*}\).*/\1/p') (goal: offered 2000, succeeded 2000)"
errors=$(grep -ci 'error' "$state/serve.log" || true)
echo "error lines in the wrangler log after every load: $errors"
start=$(date +%s%N); curl -sf "$base/healthz" >/dev/null; curl -sf -H "$auth" "$base/admin/v1/projects" >/dev/null
echo "healthz + an admin read right after: $(( ($(date +%s%N) - start) / 1000000 )) ms (goal < 1000)"
awk -v c="$uptodate" -v h="$health" 'BEGIN { printf "ratio check/healthz: %.2f\n", c / h }'
