#!/usr/bin/env bash
# The soak (issue 15): mixed reads and writes at about 200 requests a second for 30
# minutes against a release build on the small demo city, with the server's resident
# memory sampled every minute. Not in CI.
#
#   BIN=target/release MINUTES=30 bash scripts/soak.sh
#
# Needs wrk (Debian package). Three connections, each pausing 12 ms between requests
# (CONNECTIONS, SOAK_PAUSE_MS): a little over 200 requests a second on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN="${BIN:-target/release}"
WORK="${WORK:-/tmp/upkeep-soak}"
PORT="${PORT:-18395}"
MINUTES="${MINUTES:-30}"
export UPKEEP_LOG_LEVEL=warn UPKEEP_RISK_TRAIN_ON_START=false UPKEEP_RISK_RESCORE_HOURS=0
export UPKEEP_DEMO=false UPKEEP_WRITE_RATE_PER_MINUTE=0

mkdir -p "$WORK"
if [ ! -f "$WORK/city.db" ]; then
  UPKEEP_DATABASE_URL="sqlite://$WORK/city.db" "$BIN/upkeep" demo --seed 42 --size small
fi
rm -f "$WORK/run.db" "$WORK/run.db-wal" "$WORK/run.db-shm"
cp "$WORK/city.db" "$WORK/run.db"
UPKEEP_DATABASE_URL="sqlite://$WORK/run.db" "$BIN/upkeep" serve --bind "127.0.0.1:$PORT" \
  2> "$WORK/server.log" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break
  sleep 0.2
done

# Resident memory in all, and the anonymous part of it (the heap and SQLite's caches;
# the rest is the binary and mapped files).
rss() { awk '/VmRSS/ {all=$2} /RssAnon/ {anon=$2} END {print all "," anon}' "/proc/$SERVER/status"; }
echo "== machine: $(nproc) cores; build $BIN ($(git rev-parse --short HEAD)); $MINUTES min"
echo "minute,rss_kib,anonymous_kib" > "$WORK/memory.csv"
echo "0,$(rss)" >> "$WORK/memory.csv"
CONNECTIONS="${CONNECTIONS:-3}"
SOAK_PAUSE_MS="${SOAK_PAUSE_MS:-12}" wrk -t"$CONNECTIONS" -c"$CONNECTIONS" -d"${MINUTES}m" --timeout 5s --latency -s scripts/soak.lua \
  "http://127.0.0.1:$PORT" > "$WORK/wrk.txt" &
LOAD=$!
for minute in $(seq 1 "$MINUTES"); do
  sleep 60
  echo "$minute,$(rss)" >> "$WORK/memory.csv"
done
wait "$LOAD" || true
cat "$WORK/wrk.txt"
echo "-- resident memory (KiB), every minute"
tr '\n' ' ' < "$WORK/memory.csv"; echo
echo "-- server log lines at warn or above: $(grep -c -E 'WARN|ERROR' "$WORK/server.log" || true)"
