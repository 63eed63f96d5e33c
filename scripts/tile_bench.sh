#!/usr/bin/env bash
# Vector tiles on the large demo city (issue 16, part 2): how many segments the risk
# tiles colour at city zoom, and tile latency cold and warm (examples/tile_bench.rs),
# with the server's resident memory after.
#
#   N=1000 bash scripts/tile_bench.sh
#
# Reuses the large city, trained and scored, that scripts/page_bench.sh keeps in $WORK
# (about 8 minutes and 11 GiB to generate, a few more to train).
set -euo pipefail
cd "$(dirname "$0")/.."

WORK="${WORK:-/tmp/upkeep-page-bench}"
N="${N:-1000}"
PORT="${PORT:-18485}"
cargo build --release --quiet --bin upkeep --example tile_bench
BIN=target/release/upkeep
export UPKEEP_LOG_LEVEL=warn UPKEEP_BIND="127.0.0.1:$PORT" UPKEEP_RISK_TRAIN_ON_START=false
export UPKEEP_DATABASE_URL="sqlite://$WORK/large.db"
BASE="http://127.0.0.1:$PORT"
if [ ! -f "$WORK/large.db" ]; then
  "$BIN" demo --seed 42 --size large
fi
if [ ! -f "$WORK/large.trained" ]; then
  "$BIN" train --model logistic
  "$BIN" score
  touch "$WORK/large.trained"
fi
"$BIN" serve --no-demo &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
until curl -sf "$BASE/health" >/dev/null; do sleep 1; done
# The index of report positions is loaded (a few seconds on the large city).
until curl -sf "$BASE/health" | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin).get("indexed_reports") is not None else 1)'; do sleep 1; done
target/release/examples/tile_bench "$BASE" "$UPKEEP_DATABASE_URL" "$N"
echo
echo "server resident memory: $(awk '/VmRSS/ {printf "%.0f MB", $2 / 1024}' /proc/$SERVER/status)"
