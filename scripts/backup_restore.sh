#!/usr/bin/env bash
# Backup and restore, tested (docs/deploy.md): a server takes reports under load while a
# backup is made, the backup is restored into a fresh database, a server starts on it,
# and every report acknowledged before the backup began must be there, with the copy
# consistent (SQLite's integrity check; PostgreSQL's restore without error).
#
#   bash scripts/backup_restore.sh            # SQLite, then PostgreSQL if one answers
#   PG_URL=postgres://postgres@127.0.0.1:5432/postgres bash scripts/backup_restore.sh
#
# Exits non-zero if anything acknowledged before a backup is missing from its restore.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT="${PORT:-18281}"
PG_URL="${PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
cargo build --release --quiet --bin upkeep --example intake_load
BIN=target/release/upkeep
LOAD=target/release/examples/intake_load

work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
export UPKEEP_LOG_LEVEL=warn UPKEEP_DEMO=false UPKEEP_WRITE_RATE_PER_MINUTE=0 \
  UPKEEP_RISK_TRAIN_ON_START=false

serve() {
  UPKEEP_DATABASE_URL="$1" "$BIN" serve --bind "127.0.0.1:$PORT" &
  server=$!
  for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "server did not start on $1" >&2
  exit 1
}

stop() {
  kill "$server"
  wait "$server" 2>/dev/null || true
}

# Starts the load, waits a second, runs "$@" (the backup), and notes how many reports
# were acknowledged just before it began.
under_load() {
  : > "$work/acked.txt"
  "$LOAD" --url "http://127.0.0.1:$PORT" --seconds 6 --connections 8 \
    --acked "$work/acked.txt" > "$work/load.txt" &
  load=$!
  sleep 1
  sort -n "$work/acked.txt" > "$work/acked-before.txt"
  local started=$SECONDS
  "$@"
  echo "backup took $((SECONDS - started)) s; $(wc -l < "$work/acked-before.txt") reports acknowledged before it began"
  wait "$load" || true
}

# Compares the ids acknowledged before the backup with those in the restored database
# (read through the restored server's native API, page by page).
check_restored() {
  python3 - "$work/acked-before.txt" "http://127.0.0.1:$PORT" <<'PY'
import json, sys, urllib.request
acked = {int(line) for line in open(sys.argv[1]) if line.strip()}
base = sys.argv[2]
stored, page = set(), 1
while True:
    with urllib.request.urlopen(f"{base}/api/v1/reports?page_size=1000&page={page}") as r:
        items = json.load(r)["items"]
    stored |= {item["id"] for item in items}
    if len(items) < 1000:
        break
    page += 1
missing = acked - stored
print(f"restored: {len(stored)} reports; acknowledged before the backup: {len(acked)}; missing: {len(missing)}")
sys.exit(1 if missing or not acked else 0)
PY
}

echo "== SQLite: upkeep backup (VACUUM INTO) while the server takes reports"
serve "sqlite://$work/live.db"
under_load env UPKEEP_DATABASE_URL="sqlite://$work/live.db" "$BIN" backup "$work/backup.db"
stop
python3 -c "import sqlite3,sys; r=sqlite3.connect(sys.argv[1]).execute('PRAGMA integrity_check').fetchone()[0]; print('integrity:', r); sys.exit(r != 'ok')" "$work/backup.db"
# Restore: the copy becomes the database file of a fresh installation.
cp "$work/backup.db" "$work/restored.db"
serve "sqlite://$work/restored.db"
check_restored
stop

if pg_isready -d "$PG_URL" -q 2>/dev/null; then
  echo "== PostgreSQL: pg_dump --format=custom while the server takes reports"
  live="upkeep_backup_live_$$" restored="upkeep_backup_restored_$$"
  psql "$PG_URL" -qc "CREATE DATABASE $live" -c "CREATE DATABASE $restored"
  trap 'kill $(jobs -p) 2>/dev/null || true; psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $live" -c "DROP DATABASE IF EXISTS $restored" || true; rm -rf "$work"' EXIT
  live_url="${PG_URL%/*}/$live" restored_url="${PG_URL%/*}/$restored"
  serve "$live_url"
  under_load pg_dump --format=custom --file "$work/backup.dump" "$live_url"
  stop
  pg_restore --exit-on-error --no-owner --dbname "$restored_url" "$work/backup.dump"
  serve "$restored_url"
  check_restored
  stop
else
  echo "== PostgreSQL: none answers at $PG_URL; skipped"
fi
echo "every report acknowledged before each backup was restored"
