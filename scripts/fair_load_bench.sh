#!/usr/bin/env bash
# Fairness under load (issue 15): 128 clients hammer the expensive reads (statistics,
# wards, whole-city GeoJSON, long lists) while one client reads a single report, and
# another /health; wrk reports the single report's latency percentiles. Then the cost of
# the write rate limit on intake: the same POST load with the limit off and with a limit
# too high to refuse anything, alternated, in one run.
#
#   BIN=target/release bash scripts/fair_load_bench.sh
#
# Needs wrk (Debian package). The small demo city is generated once into $WORK.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN="${BIN:-target/release}"
WORK="${WORK:-/tmp/upkeep-fair}"
PORT="${PORT:-18392}"
SECONDS_EACH="${SECONDS_EACH:-30}"
HEAVY_CLIENTS="${HEAVY_CLIENTS:-128}"
export UPKEEP_LOG_LEVEL=warn
export UPKEEP_RISK_TRAIN_ON_START=false UPKEEP_RISK_RESCORE_HOURS=0 UPKEEP_DEMO=false

mkdir -p "$WORK"
if [ ! -f "$WORK/city.db" ]; then
  UPKEEP_DATABASE_URL="sqlite://$WORK/city.db" "$BIN/upkeep" demo --seed 42 --size small
fi

serve() { # extra environment assignments...
  rm -f "$WORK/run.db" "$WORK/run.db-wal" "$WORK/run.db-shm"
  cp "$WORK/city.db" "$WORK/run.db"
  env "$@" UPKEEP_DATABASE_URL="sqlite://$WORK/run.db" "$BIN/upkeep" serve --bind "127.0.0.1:$PORT" &
  SERVER=$!
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && return
    sleep 0.2
  done
  echo "the server did not start" >&2
  exit 1
}
stop() { kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; }
trap 'kill $SERVER 2>/dev/null || true' EXIT

echo "== machine: $(nproc) cores, $(grep 'model name' /proc/cpuinfo | head -1 | cut -d: -f2 | xargs)"
echo "== build: $BIN ($(git rev-parse --short HEAD))"

echo "== fairness: $HEAVY_CLIENTS heavy readers against one single-report reader"
serve UPKEEP_WRITE_RATE_PER_MINUTE=0
ID=$(curl -sf "http://127.0.0.1:$PORT/open311/v2/requests.json?page_size=1" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["service_request_id"])')
echo "-- alone (no heavy load): /open311/v2/requests/$ID.json"
wrk -t1 -c1 -d10s --latency "http://127.0.0.1:$PORT/open311/v2/requests/$ID.json" \
  | grep -E "Latency|50%|90%|99%|Requests/sec"
wrk -t2 -c"$HEAVY_CLIENTS" -d"$((SECONDS_EACH + 10))s" -s scripts/heavy_reads.lua \
  "http://127.0.0.1:$PORT" > "$WORK/heavy.txt" &
HEAVY=$!
sleep 5
echo "-- under load: /open311/v2/requests/$ID.json"
wrk -t1 -c1 -d"${SECONDS_EACH}s" --latency "http://127.0.0.1:$PORT/open311/v2/requests/$ID.json" \
  | grep -E "Latency|50%|90%|99%|Requests/sec|Non-2xx"
wait "$HEAVY" || true
echo "-- the heavy readers themselves"
grep -E "Latency|requests in|Non-2xx|Requests/sec|Socket errors" "$WORK/heavy.txt"
stop
serve UPKEEP_WRITE_RATE_PER_MINUTE=0
wrk -t2 -c"$HEAVY_CLIENTS" -d"$((SECONDS_EACH + 10))s" -s scripts/heavy_reads.lua \
  "http://127.0.0.1:$PORT" > /dev/null &
HEAVY=$!
sleep 5
echo "-- under load: /health"
wrk -t1 -c1 -d"${SECONDS_EACH}s" --latency "http://127.0.0.1:$PORT/health" \
  | grep -E "Latency|50%|90%|99%|Requests/sec|Non-2xx"
wait "$HEAVY" || true
stop

echo "== the write limit's cost on intake (32 clients POSTing reports), alternated"
for round in 1 2; do
  for rate in 0 100000000; do
    serve UPKEEP_WRITE_RATE_PER_MINUTE="$rate"
    printf -- "-- round %s, write_rate_per_minute=%s: " "$round" "$rate"
    wrk -t1 -c32 -d15s -s scripts/post_report.lua \
      "http://127.0.0.1:$PORT/open311/v2/requests.json" | grep -E "Requests/sec" | xargs
    stop
  done
done
