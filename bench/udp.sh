#!/usr/bin/env bash
# UDP bridge throughput: `Get` datagrams fota-udp serves per second on loopback with 8 concurrent
# simulated devices (one datagram in flight each, as the guide's devices do), beside a minimal
# tokio UDP echo of 1024-byte datagrams measured in the same run. Bounded: two measurements of
# DURATION seconds (default 5) after one second of warm-up each. The last line is the ratio.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
DURATION=${DURATION:-5}
DEVICES=${DEVICES:-8}
cargo build --release --quiet -p fota-gateway --bin fota-udp-bench
timeout $((DURATION * 2 + 60)) target/release/fota-udp-bench --seconds "$DURATION" --devices "$DEVICES"
