#!/usr/bin/env bash
# Intake on a loaded city, against the rate the same server answers /health at, in one
# run (issue 16, part 6).
#
#   DB=/tmp/big/large.db bash scripts/intake_bench.sh
#
# DB is a SQLite city (for example `upkeep demo --size large`); it is copied first, so it
# is never changed. The server is started on the copy with nothing else to do (no
# training or scoring, no write limit) and measured once its index of report positions
# is loaded, and has taken reports for WARMUP_SECONDS (its caches filled, the copy flushed
# to disk: a server that has run a while, not one just started). Then ROUNDS times: wrk on GET /health, then wrk POSTing pothole reports at
# points spread over the city's streets (scripts/post_spread.lua), each SECONDS_EACH
# seconds with the same client settings. Prints each round, the means and the ratio.
# Needs wrk (Debian package) and python3.
set -euo pipefail
cd "$(dirname "$0")/.."

DB="${DB:?DB=path of a SQLite city database}"
BIN="${BIN:-target/release}"
WORK="${WORK:-/tmp/upkeep-intake-bench}"
SECONDS_EACH="${SECONDS_EACH:-20}"
ROUNDS="${ROUNDS:-3}"
WARMUP_SECONDS="${WARMUP_SECONDS:-20}"
THREADS="${THREADS:-1}"
CONNECTIONS="${CONNECTIONS:-32}"
PORT="${PORT:-18493}"
export UPKEEP_LOG_LEVEL=warn UPKEEP_DEMO=false
export UPKEEP_RISK_TRAIN_ON_START=false UPKEEP_RISK_RESCORE_HOURS=0
export UPKEEP_WRITE_RATE_PER_MINUTE=0

mkdir -p "$WORK"
rm -f "$WORK/run.db" "$WORK/run.db-wal" "$WORK/run.db-shm"
cp "$DB" "$WORK/run.db"
sync
# The copy leaves both files in the page cache; the source is not the server's, so it is
# dropped from it: on a machine whose memory holds one city but not two, the server would
# otherwise read its own pages from the disk while the source's stay cached.
python3 -c 'import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)' "$DB"
BOX=$(python3 - "$WORK/run.db" <<'EOF'
import sqlite3, sys
row = sqlite3.connect(sys.argv[1]).execute(
    "SELECT MIN(min_lon), MIN(min_lat), MAX(max_lon), MAX(max_lat) FROM segments").fetchone()
print(",".join(f"{v:.6f}" for v in row))
EOF
)
export BOX
echo "city box (west,south,east,north): $BOX"

UPKEEP_DATABASE_URL="sqlite://$WORK/run.db" "$BIN/upkeep" serve --bind "127.0.0.1:$PORT" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do
  if curl -sf "http://127.0.0.1:$PORT/health" | grep -q '"indexed_reports":[0-9]'; then
    break
  fi
  sleep 0.5
done
curl -sf "http://127.0.0.1:$PORT/health"
echo

echo "warming up: $WARMUP_SECONDS s of reports"
wrk -t"$THREADS" -c"$CONNECTIONS" -d"${WARMUP_SECONDS}s" -s scripts/post_spread.lua \
  "http://127.0.0.1:$PORT/open311/v2/requests.json" | grep "Requests/sec"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$SERVER/stat"; }
TICKS=$(getconf CLK_TCK)
rate() { grep "Requests/sec" | awk '{print $2}'; }

health_sum=0
intake_sum=0
for round in $(seq 1 "$ROUNDS"); do
  health=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${SECONDS_EACH}s" \
    "http://127.0.0.1:$PORT/health" | rate)
  before=$(cpu_ticks)
  out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${SECONDS_EACH}s" --latency \
    -s scripts/post_spread.lua "http://127.0.0.1:$PORT/open311/v2/requests.json")
  after=$(cpu_ticks)
  intake=$(echo "$out" | rate)
  errors=$(echo "$out" | grep -E "Non-2xx|Socket errors" || true)
  requests=$(echo "$out" | grep "requests in" | awk '{print $1}')
  p99=$(echo "$out" | grep -E "^ +99%" | awk '{print $2}')
  cpu_us=$(python3 -c "print(round(($after - $before) / $TICKS * 1e6 / $requests, 1))")
  echo "round $round: /health $health/s; intake $intake reports/s (p99 $p99," \
    "server CPU $cpu_us µs a report) ${errors:-no errors}"
  health_sum=$(python3 -c "print($health_sum + $health)")
  intake_sum=$(python3 -c "print($intake_sum + $intake)")
done
python3 - "$health_sum" "$intake_sum" "$ROUNDS" <<'EOF'
import sys
health, intake, rounds = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
print(f"mean: /health {health / rounds:,.0f}/s; intake {intake / rounds:,.0f} reports/s; "
      f"intake / health = {intake / health:.1%}")
EOF
