#!/usr/bin/env bash
# A crew's day on the small demo city (issue 6): for every road crew, the route Upkeep
# plans from its depot (GET /api/v1/crews/{id}/day) against visiting the same orders in
# plain priority order. Starts `upkeep serve` on a fresh database, waits until the first
# model has scored the city and the week's inspections are planned, then asks.
#
#   bash scripts/crew_day_bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."

WORK="${WORK:-$(mktemp -d)}"
PORT="${PORT:-18383}"
export UPKEEP_DATABASE_URL="sqlite://$WORK/upkeep.db"
export UPKEEP_BIND="127.0.0.1:$PORT"
export UPKEEP_LOG_LEVEL=warn
cargo build --release --quiet --bin upkeep
BIN=target/release/upkeep
"$BIN" serve &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
BASE="http://127.0.0.1:$PORT/api/v1"
until curl -sf "$BASE/work-orders?kind=inspection" | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["total"] > 0 else 1)' 2>/dev/null; do
  sleep 2
done
KEY=$("$BIN" api-key create --name bench --role planner 2>/dev/null | tail -1)
python3 - "$BASE" "$KEY" <<'PY'
import json, sys, urllib.request
base, key = sys.argv[1], sys.argv[2]
def get(path):
    req = urllib.request.Request(base + path, headers={"Authorization": "Bearer " + key})
    return json.load(urllib.request.urlopen(req))
routed = by_priority = stops = 0
rows = []
for crew in get("/crews"):
    if "pothole" not in crew["service_codes"]:
        continue
    day = get(f"/crews/{crew['id']}/day")
    n = len(day["orders"])
    kinds = sorted({o["kind"] for o in day["orders"]})
    rows.append((crew["name"], n, ",".join(kinds), day["route_length_m"], day["priority_order_length_m"]))
    routed += day["route_length_m"]; by_priority += day["priority_order_length_m"]; stops += n
print("| crew | orders | kinds | route (m) | plain priority order (m) |")
print("|---|---|---|---|---|")
for name, n, kinds, r, p in rows:
    print(f"| {name} | {n} | {kinds} | {r:.0f} | {p:.0f} |")
print(f"| all road crews | {stops} | | {routed:.0f} | {by_priority:.0f} ({by_priority / max(routed, 1):.2f}x) |")
PY
