#!/usr/bin/env bash
# Image delivery against /healthz, measured side by side in one run on loopback, and the R2 reads
# one isolate spends on repeated downloads of one image.
#
# Starts its own `wrangler dev` (release build, warn logging, DEBUG_COUNTERS on so image answers
# carry X-Debug-R2-Reads: the R2 reads their image has cost this isolate) with a temporary state
# dir, uploads a 150 KB image, downloads it 100 times from cold checking every body's sha256,
# then loads /healthz and /images/{sha256} with wrk (1 thread, 10 connections, DURATION seconds
# each, bounded). Prints the R2 reads per 100 downloads and the images/healthz ratio, each beside
# its goal; the last line is the ratio.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
DURATION=${DURATION:-10}
SIZE=${SIZE:-153600}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; } >/dev/null

source bench/lib.sh
start_edge bench-images --var DEBUG_COUNTERS:1 --var PUBLIC_IMAGES:true
fw=benchimg_LuatOS-SoC_Air780EHV
head -c "$SIZE" /dev/urandom >"$state/image.bin"
sha=$(sha256sum "$state/image.bin" | cut -d' ' -f1)
curl -sf -X PUT -H "$auth" "$base/admin/v1/projects/benchimg" -d '{"name":"benchimg"}' >/dev/null
curl -sf -X PUT -H "$auth" --data-binary @"$state/image.bin" "$base/admin/v1/projects/benchimg/firmware/$fw/1.0.0" >/dev/null
url="$base/images/$sha"

# 100 downloads from cold, one after another, each checked byte for byte.
reads=""
for i in $(seq 100); do
  got=$(curl -sf -D "$state/headers" "$url" | sha256sum | cut -d' ' -f1)
  [ "$got" = "$sha" ] || { echo "download $i: body does not hash to the image"; exit 1; }
  reads=$(awk -F': ' 'tolower($1) == "x-debug-r2-reads" { gsub("\r", "", $2); print $2 }' "$state/headers")
done
[ -n "$reads" ] || { echo "no X-Debug-R2-Reads header: is DEBUG_COUNTERS honoured?"; exit 1; }

rps() {
  wrk -t1 -c10 -d"${DURATION}s" --timeout 5s "$1" | awk '/Requests\/sec/ {print $2}'
}
rps "$base/healthz" >/dev/null   # warm-up
health=$(rps "$base/healthz")
images=$(rps "$url")
after=$(curl -sf -D - -o /dev/null "$url" | awk -F': ' 'tolower($1) == "x-debug-r2-reads" { gsub("\r", "", $2); print $2 }')
got=$(curl -sf "$url" | sha256sum | cut -d' ' -f1)
[ "$got" = "$sha" ] || { echo "after the load the body does not hash to the image"; exit 1; }

echo "healthz:                          $health req/s"
echo "image $SIZE bytes, /images/:     $images req/s"
echo "R2 reads, 100 downloads from cold: $reads (goal <= 1)"
echo "R2 reads after the wrk run:        $after (every download in this isolate)"
awk -v i="$images" -v h="$health" 'BEGIN { printf "ratio image/healthz: %.2f (goal >= 0.6)\n", i / h }'
