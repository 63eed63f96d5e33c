#!/usr/bin/env bash
# First render and bytes of each page (issue 7), with the small demo city and the large
# one, in headless Chromium with an empty cache (examples/page_bench.rs).
#
#   bash scripts/page_bench.sh            # small and large
#   SIZES=small bash scripts/page_bench.sh
#
# Needs chromium and chromium-driver (apt-get install -y chromium chromium-driver). The
# large city takes about 8 minutes and 8 GiB to generate and load, and its first model
# a few minutes more; both are kept in $WORK for later runs.
set -euo pipefail
cd "$(dirname "$0")/.."

WORK="${WORK:-/tmp/upkeep-page-bench}"
RUNS="${RUNS:-5}"
SIZES="${SIZES:-small large}"
PORT="${PORT:-18484}"
mkdir -p "$WORK"
cargo build --release --quiet --bin upkeep --example page_bench
BIN=target/release/upkeep
export UPKEEP_LOG_LEVEL=warn UPKEEP_BIND="127.0.0.1:$PORT" UPKEEP_RISK_TRAIN_ON_START=false
BASE="http://127.0.0.1:$PORT"

for size in $SIZES; do
  export UPKEEP_DATABASE_URL="sqlite://$WORK/$size.db"
  if [ ! -f "$WORK/$size.db" ]; then
    "$BIN" demo --seed 42 --size "$size"
  fi
  if [ ! -f "$WORK/$size.trained" ]; then
    "$BIN" train --model logistic
    "$BIN" score
    touch "$WORK/$size.trained"
  fi
  "$BIN" serve --no-demo &
  SERVER=$!
  trap 'kill $SERVER 2>/dev/null || true' EXIT
  until curl -sf "$BASE/health" >/dev/null; do sleep 1; done
  # The index of report positions is loaded (a few seconds on the large city).
  until curl -sf "$BASE/health" | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin).get("indexed_reports") is not None else 1)'; do sleep 1; done
  # Orders exist and have priorities within a minute of start.
  until curl -sf "$BASE/api/v1/work-orders?status=new&page_size=1" | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if d["total"] and d["items"][0]["priority"] > 0 else 1)'; do sleep 2; done
  CREW=$(curl -sf "$BASE/api/v1/crews" | python3 -c 'import json,sys; print(next(c["id"] for c in json.load(sys.stdin) if "pothole" in c["service_codes"]))')
  KEY=$("$BIN" api-key create --name "page bench" --role crew --crew "$CREW" 2>/dev/null | tail -1)
  echo
  echo "$size city: $(curl -sf "$BASE/api/v1/segments?page_size=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])') segments"
  target/release/examples/page_bench "$BASE" "$KEY" "$RUNS"
  kill $SERVER
  wait $SERVER 2>/dev/null || true
done
