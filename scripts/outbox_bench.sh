#!/usr/bin/env bash
# Outbox delivery rate (issue 17): N subscriptions from N addresses put N confirmation
# messages in the outbox; the rate is how fast the server holding the `alerts` lease
# sends them, from the first sent to the last (sent_at in the outbox), to files
# (no smtp_url) and to a local SMTP server (Python's smtpd, which takes and drops).
#
#   N=3000 bash scripts/outbox_bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."

N="${N:-3000}"
WORK="${WORK:-$(mktemp -d)}"
PORT="${PORT:-18484}"
SMTP_PORT="${SMTP_PORT:-18525}"
export UPKEEP_BIND="127.0.0.1:$PORT"
export UPKEEP_LOG_LEVEL=warn
export UPKEEP_DEMO=false
export UPKEEP_RISK_TRAIN_ON_START=false
export UPKEEP_WRITE_RATE_PER_MINUTE=0
cargo build --release --quiet --bin upkeep
BIN="$PWD/target/release/upkeep"

python3 - "$SMTP_PORT" <<'PY' &
import asyncore, smtpd, sys, warnings
warnings.simplefilter("ignore")
class Sink(smtpd.SMTPServer):
    def process_message(self, *args, **kwargs):
        return None
Sink(("127.0.0.1", int(sys.argv[1])), None)
asyncore.loop()
PY
SINK=$!
trap 'kill $SINK 2>/dev/null || true; kill $SERVER 2>/dev/null || true' EXIT

run() {
  local name="$1"; shift
  rm -rf "$WORK/$name"; mkdir -p "$WORK/$name"
  env UPKEEP_DATABASE_URL="sqlite://$WORK/$name/upkeep.db" UPKEEP_OUTBOX_DIR="$WORK/$name/outbox" "$@" "$BIN" serve &
  SERVER=$!
  until curl -sf "http://127.0.0.1:$PORT/health" >/dev/null; do sleep 0.5; done
  python3 - "http://127.0.0.1:$PORT" "$N" <<'PY'
import json, sys, urllib.request
from concurrent.futures import ThreadPoolExecutor
base, n = sys.argv[1], int(sys.argv[2])
def subscribe(i):
    body = json.dumps({"email": f"resident{i}@city.example", "lat": 43.05, "lon": -76.15}).encode()
    req = urllib.request.Request(base + "/api/v1/subscriptions", body, {"Content-Type": "application/json"})
    return urllib.request.urlopen(req).status
with ThreadPoolExecutor(8) as pool:
    statuses = list(pool.map(subscribe, range(n)))
assert all(s == 202 for s in statuses), set(statuses)
PY
  until [ "$(sqlite3 "$WORK/$name/upkeep.db" 'SELECT COUNT(*) FROM outbox WHERE sent_at IS NOT NULL')" -ge "$N" ]; do sleep 1; done
  sqlite3 "$WORK/$name/upkeep.db" "SELECT '$name', COUNT(*), ROUND((julianday(MAX(sent_at)) - julianday(MIN(sent_at))) * 86400, 2), ROUND(COUNT(*) / ((julianday(MAX(sent_at)) - julianday(MIN(sent_at))) * 86400), 0) FROM outbox WHERE sent_at IS NOT NULL"
  kill $SERVER; wait $SERVER 2>/dev/null || true
}

echo "transport|messages|seconds from first to last sent|messages per second"
run files
run smtp UPKEEP_SMTP_URL="smtp://127.0.0.1:$SMTP_PORT"
