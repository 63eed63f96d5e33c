#!/usr/bin/env bash
# Schemathesis (from PyPI, in a virtual environment of its own) against the native API's
# OpenAPI document, once anonymously and once with a key of every role, so that no
# operation is tested only as anonymous. Fails on any failed check.
#
#   bash scripts/schemathesis.sh [MAX_EXAMPLES]
#
# Uses target/debug/upkeep (cargo test builds it; under CARGO_TARGET_DIR if set) on the
# tiny demo city; the write limit is off, since every generated write would otherwise
# soon be refused.
set -euo pipefail
cd "$(dirname "$0")/.."

MAX_EXAMPLES="${1:-${MAX_EXAMPLES:-10}}"
VENV="${SCHEMATHESIS_VENV:-target/schemathesis-venv}"
WORK="$(mktemp -d)"
PORT="${PORT:-18396}"
BIN="${BIN:-${CARGO_TARGET_DIR:-target}/debug/upkeep}"
VERSION=4.32.5

if [ ! -x "$VENV/bin/schemathesis" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "schemathesis==$VERSION"
fi
[ -x "$BIN" ] || cargo build --bin upkeep

export UPKEEP_DATABASE_URL="sqlite://$WORK/api.db" UPKEEP_LOG_LEVEL=error
export UPKEEP_RISK_TRAIN_ON_START=false UPKEEP_RISK_RESCORE_HOURS=0 UPKEEP_DEMO=false
export UPKEEP_WRITE_RATE_PER_MINUTE=0
"$BIN" demo --seed 7 --size tiny >/dev/null
key() { "$BIN" api-key create --name "schemathesis $1" --role "$1" "${@:2}" 2>/dev/null | tail -n 1; }
CREW_ID=$(python3 - "$WORK/api.db" <<'PY'
import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute("SELECT MIN(id) FROM crews").fetchone()[0])
PY
)
declare -A KEYS=(
  [client]=$(key client)
  [crew]=$(key crew --crew "$CREW_ID")
  [planner]=$(key planner)
  [admin]=$(key admin)
)

"$BIN" serve --bind "127.0.0.1:$PORT" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break
  sleep 0.2
done

failed=0
for role in anonymous client crew planner admin; do
  echo "-- schemathesis as $role"
  headers=()
  if [ "$role" != anonymous ]; then
    headers=(-H "Authorization: Bearer ${KEYS[$role]}")
  fi
  # One worker: several at once trip a CPython 3.11 fault (concurrent ast.parse in
  # Hypothesis) that Schemathesis reports as a runtime error.
  "$VENV/bin/schemathesis" --config-file tests/schemathesis/schemathesis.toml run \
    "http://127.0.0.1:$PORT/api/v1/openapi.json" "${headers[@]}" \
    --max-examples "$MAX_EXAMPLES" --workers 1 \
    --phases examples,coverage,fuzzing --seed 1 \
    --suppress-health-check all --warnings off \
    > "$WORK/$role.txt" 2>&1 && status=0 || status=$?
  if [ "$status" -eq 0 ]; then
    grep -E "generated" "$WORK/$role.txt" || true
  else
    failed=1
    # Failures and errors in full, with how to reproduce each.
    sed -n '/FAILURES\|ERRORS/,$p' "$WORK/$role.txt"
  fi
done
exit "$failed"
