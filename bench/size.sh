#!/usr/bin/env bash
# The release Worker's wasm: raw and gzip sizes beside the goal (every cold start loads it).
# Reads what `make build` left in edge/build/; the last line is the gzip size against the goal.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
GOAL_GZIP_KB=${GOAL_GZIP_KB:-400}
wasm=$(find edge/build -name '*.wasm' -type f -printf '%s %p\n' 2>/dev/null | sort -n | tail -1 | cut -d' ' -f2-)
[ -n "$wasm" ] || { echo "no wasm under edge/build: run \`make build\` first" >&2; exit 1; }
raw=$(stat -c %s "$wasm")
gz=$(gzip -9 -c "$wasm" | wc -c)
echo "wasm: $wasm"
awk -v r="$raw" 'BEGIN { printf "wasm raw:  %7.1f KB (%d bytes)\n", r / 1000, r }'
awk -v g="$gz" -v goal="$GOAL_GZIP_KB" 'BEGIN { printf "wasm gzip: %7.1f KB (goal <= %d KB)\n", g / 1000, goal }'
