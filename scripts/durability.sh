#!/usr/bin/env bash
# Durability under load: POST reports as fast as the server takes them, SIGKILL the
# server mid-stream, restart it, and check that every report acknowledged with 2xx is
# stored. Prints the counts; exits non-zero if any acknowledged report is missing.
#
#   bash scripts/durability.sh            # defaults: kill after 5 s of load
#   KILL_AFTER=10 ROUNDS=3 bash scripts/durability.sh
set -euo pipefail
cd "$(dirname "$0")/.."

KILL_AFTER="${KILL_AFTER:-5}"
ROUNDS="${ROUNDS:-1}"
PORT="${PORT:-18181}"
cargo build --release --quiet --bin upkeep --example intake_load
BIN=target/release/upkeep
LOAD=target/release/examples/intake_load

work=$(mktemp -d)
trap 'kill -9 $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
export UPKEEP_DATABASE_URL="sqlite://$work/durability.db" UPKEEP_LOG_LEVEL=warn

start_server() {
  "$BIN" serve --bind "127.0.0.1:$PORT" &
  server=$!
  for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "server did not start" >&2
  exit 1
}

total_missing=0
for round in $(seq 1 "$ROUNDS"); do
  start_server
  "$LOAD" --url "http://127.0.0.1:$PORT" --seconds $((KILL_AFTER + 2)) --connections 32 \
    --acked "$work/acked-$round.txt" > "$work/load-$round.txt" &
  load=$!
  sleep "$KILL_AFTER"
  kill -9 "$server"
  wait "$server" 2>/dev/null || true
  wait "$load" || true
  start_server
  python3 - "$work/durability.db" "$work/acked-$round.txt" "$round" <<'PY'
import sqlite3, sys
db, acked_path, round_ = sys.argv[1:]
acked = {int(line) for line in open(acked_path) if line.strip()}
stored = {row[0] for row in sqlite3.connect(db).execute("SELECT id FROM requests")}
missing = acked - stored
print(f"round {round_}: acknowledged={len(acked)} stored_total={len(stored)} missing={len(missing)}")
open(acked_path + ".missing", "w").write(str(len(missing)))
PY
  missing=$(cat "$work/acked-$round.txt.missing")
  total_missing=$((total_missing + missing))
  cat "$work/load-$round.txt"
  kill "$server"
  wait "$server" 2>/dev/null || true
done
echo "acknowledged reports missing after SIGKILL: $total_missing"
[ "$total_missing" -eq 0 ]
