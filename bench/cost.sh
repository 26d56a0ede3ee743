#!/usr/bin/env bash
# What a device check costs in billed Cloudflare operations, and the monthly bill it makes at
# 10 M devices (docs/scale.md is generated from this run).
#
# COUNT distinct devices (default 20,000), CLIENTS at a time (32, a new TCP connection per
# request), go through the rounds of a device's life against one local edge, restarted before
# each round so every round meets a fresh isolate (KV, R2 and D1 persist in the same state dir):
#   1. first sight: never seen, running 1.0.0, which the plan targets (404, code 60);
#   2. up to date within the last_seen window (SEEN_GRANULARITY_S, G below);
#   3. up to date after the window passed (last_seen rewritten); the rounds after it run with
#      wrangler.toml's granularity, so that no last_seen is due again;
#   4. a staged rollout of 2.0.0 (stages 1%, 100%): ~1% offered, the rest held back (code 61),
#      checked twice ("first pass", "again");
#   5. advanced to 100%: every device offered the image;
#   6. every device reporting the target.
# After each round, fota-cost reads the isolate's counters once background work settled.
# Prints the per-round table and the bills; the last line is
# `10M devices hourly: $N/month (floor $F)`. Results: target/cost-results.json; with WRITE_DOC=1
# (the default) docs/scale.md is regenerated from them.
#
# Environment: COUNT, CLIENTS, SEEN_G (the bench's G, default 300 s, raised when round 1 is too
# slow for round 2 to finish inside it), WRITE_DOC, MAX_SECONDS (the whole run, default 5400).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
COUNT=${COUNT:-20000}
CLIENTS=${CLIENTS:-32}
G=${SEEN_G:-300}
WRITE_DOC=${WRITE_DOC:-1}
total=${MAX_SECONDS:-5400}
deadline=$((SECONDS + total))
# Sets remain to the seconds left, or stops the bench when they are nearly gone.
budget() {
  remain=$((deadline - SECONDS))
  [ "$remain" -gt 30 ] || { echo "cost.sh: out of time (MAX_SECONDS=$total)" >&2; exit 1; }
}

cargo build -q --release -p fota-tests --bin fota-cost
cost=target/release/fota-cost
rounds=target/cost-rounds.jsonl
results=target/cost-results.json
: >"$rounds"
source bench/lib.sh

# A private copy of the built Worker and its config: wrangler dev reloads when its script
# changes, so a `make build` elsewhere during the run would otherwise start a new isolate (and
# zero the counters) in the middle of a round.
config=$root/target/cost-config
rm -rf "$config" && mkdir -p "$config"
cp -r edge/build "$config/build"
sed -e "s|^main = \"edge/build/|main = \"$config/build/|" \
  -e "s|^directory = \"edge/build/|directory = \"$config/build/|" \
  -e "s|^migrations_dir = \"|migrations_dir = \"$root/|" wrangler.toml >"$config/wrangler.toml"
[ "$(grep -c "$config/build/" "$config/wrangler.toml")" = 2 ] \
  || { echo "cost.sh: wrangler.toml's main or assets directory moved; update the copy" >&2; exit 1; }

project=cost
fw=cost_LuatOS-SoC_Air780EHV
prefix=8690
# The edge's arguments, again after G changes; with window=off the edge keeps last_seen to
# wrangler.toml's default granularity instead of G.
window=on
edge_vars() {
  vars=(--config "$config/wrangler.toml" --var EXPOSE_METRICS:true
    --var NEW_DEVICES_PER_MINUTE:100000000)
  if [ "$window" = on ]; then vars+=(--var "SEEN_GRANULARITY_S:$G"); fi
}
budget
edge_vars
MAX_SECONDS=$remain start_edge cost "${vars[@]}"
# As start_edge's, keeping the wrangler log of every round for a look afterwards.
trap 'kill $serve 2>/dev/null; wait $serve 2>/dev/null; cp "$state/serve.log" target/cost-serve.log; rm -rf "$state"' EXIT
admin() { # METHOD PATH [curl arguments...]
  local method=$1 path=$2
  shift 2
  curl -sf -X "$method" -H "$auth" "$base/admin/v1/$path" "$@" >/dev/null
}
head -c 4096 /dev/urandom >"$state/v1.bin"
head -c 4096 /dev/urandom >"$state/v2.bin"
admin PUT "projects/$project" -d '{"name":"cost"}'
admin PUT "projects/$project/firmware/$fw/1.0.0" --data-binary @"$state/v1.bin"
admin PUT "projects/$project/plans/$fw" -d '{"target_version":"1.0.0"}'
# The operator registers the fleet (its IMEI list) before the devices come online, so that the
# release's rollout trusts them (issue 15). Copies of bindings read within a minute of a binding
# change are read again, so the rounds start a minute after it.
FOTA_TOKEN=$token "$cost" register "$port" "$project" "$COUNT" "$prefix"
sleep 61

# round NAME VERSION: a fresh isolate, every device checks once, one JSON line to $rounds.
round() {
  budget
  MAX_SECONDS=$remain restart_edge "${vars[@]}"
  budget
  timeout "$remain" "$cost" round "$port" "$1" "$project" "$fw" "$2" "$COUNT" "$CLIENTS" "$prefix" >>"$rounds"
}
started=$SECONDS
round first_sight 1.0.0
first_end=$(date +%s)
first_took=$((SECONDS - started))
# Round 2 must reach each device within G of its first sight: the first device waits about
# round 1's length (plus a restart) for its second check. Leave half as much again as margin.
need=$(( (first_took + 20) * 3 / 2 ))
if [ "$need" -gt "$G" ]; then
  G=$(( (need + 59) / 60 * 60 ))
  edge_vars
  echo "round 1 took ${first_took} s: SEEN_GRANULARITY_S raised to $G s from round 2 on" >&2
fi
round within 1.0.0
# Round 3 only after G has passed since the end of round 1, so every last_seen is stale.
wait_s=$((first_end + G + 5 - $(date +%s)))
if [ "$wait_s" -gt 0 ]; then
  budget
  [ "$wait_s" -lt "$remain" ] || { echo "cost.sh: no time left to wait out the window" >&2; exit 1; }
  echo "waiting ${wait_s} s for the ${G} s window to pass" >&2
  sleep "$wait_s"
fi
round crossing 1.0.0
# The release's rounds price the release, not last_seen: with G they would come after the window
# again and each check would refresh last_seen (the steady mix above prices refreshes already).
window=off
edge_vars

# The release: the devices are registered, so the rollout trusts them.
admin PUT "projects/$project/firmware/$fw/2.0.0" --data-binary @"$state/v2.bin"
# The release is planned for the fleet the bills are for (10 M devices): its rollout is spread
# over as many coordinator objects as that fleet needs (rules::rollout::shards_for).
admin PUT "projects/$project/plans/$fw" -d '{"target_version":"2.0.0","expected_devices":10000000,"rollout":{"stages":[1,100]}}'
round held_first 1.0.0
round held_again 1.0.0
admin POST "projects/$project/plans/$fw/advance"
round offered 1.0.0
round reporting 2.0.0
status=$(curl -sf -H "$auth" "$base/admin/v1/projects/$project/plans/$fw/status")
echo "rollout totals: $(echo "$status" | sed -n 's/.*"totals":\({[^}]*}\).*/\1/p') (expected offered and succeeded $COUNT)" >&2
errors=$(grep -ci 'error' "$state/serve.log" || true)
echo "error lines in the wrangler logs: $errors; wall time $((SECONDS - started)) s" >&2

"$cost" results "$rounds" "$G" "$config/wrangler.toml" >"$results"
if [ "$WRITE_DOC" = 1 ]; then
  "$cost" doc "$results" >docs/scale.md
fi
"$cost" report "$results"
