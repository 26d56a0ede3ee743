#!/usr/bin/env bash
# wasm-opt as worker-build calls it (WASM_OPT_BIN), minus the wasm name section: worker-build
# always passes `--debuginfo` to keep function names (185 KB raw, 50 KB gzip of a 450 KB gzip
# Worker). Without them a panic's stack trace shows wasm function indices instead of Rust names;
# KEEP_WASM_NAMES=1 keeps them for a debugging build. The names are dropped at the end of the
# run, after the passes (edge/Cargo.toml orders functions by name, which needs them).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
args=()
for a in "$@"; do
  if [ "$a" = "--debuginfo" ] && [ -z "${KEEP_WASM_NAMES:-}" ]; then
    continue
  fi
  args+=("$a")
done
[ -n "${KEEP_WASM_NAMES:-}" ] || args+=(--strip-debug --strip-producers)
exec "$root/node_modules/.bin/wasm-opt" "${args[@]}"
