#!/usr/bin/env bash
# `make dev`: local secrets, migrations, wrangler dev on 127.0.0.1:$PORT, then a demo project
# seeded through the admin API. Runs until Ctrl-C.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
PORT=${PORT:-8787}
STATE_DIR=${STATE_DIR:-.wrangler/state}
random_hex() { node -e "process.stdout.write(require('crypto').randomBytes($1).toString('hex'))"; }
if [ ! -f .dev.vars ]; then
  sed -e "s/^ADMIN_TOKEN=.*/ADMIN_TOKEN=$(random_hex 24)/" -e "s/^DEVICE_MASTER_KEYS=.*/DEVICE_MASTER_KEYS=1:$(random_hex 32)/" \
    .dev.vars.example > .dev.vars
  echo "created .dev.vars with a new ADMIN_TOKEN and DEVICE_MASTER_KEYS"
elif ! grep -q '^DEVICE_MASTER_KEYS=' .dev.vars; then
  echo "DEVICE_MASTER_KEYS=1:$(random_hex 32)" >> .dev.vars
  echo "added DEVICE_MASTER_KEYS to .dev.vars"
fi
# Redirects and notices name the edge by PUBLIC_URL: update.lua sends Host without the port.
scripts/serve.sh "$PORT" "$STATE_DIR" --var "PUBLIC_URL:http://127.0.0.1:$PORT" &
serve=$!
trap 'kill $serve 2>/dev/null; wait $serve 2>/dev/null' INT TERM EXIT
FOTA_URL="http://127.0.0.1:$PORT" node scripts/seed.mjs
wait $serve
