#!/usr/bin/env bash
# Spatial benchmarks at city scale (issue 4): the large demo city plus the real Syracuse
# centrelines (about 100,000 segments) and generated reports up to 1,000,000.
#
#   bash scripts/spatial_bench.sh                 # builds everything in $WORK
#   WORK=/tmp/bench N=2000 bash scripts/spatial_bench.sh
#
# Needs PostGIS for the comparison (apt-get install -y postgresql-15-postgis-3) and
# PostgreSQL on 127.0.0.1:5432. Loading the large city takes about 8 minutes and 8 GiB.
set -euo pipefail
cd "$(dirname "$0")/.."

WORK="${WORK:-/tmp/upkeep-spatial-bench}"
N="${N:-2000}"
PORT="${PORT:-18282}"
PG="${PG:-postgres://postgres@127.0.0.1:5432}"
STREETS=../shared/data/real/syracuse/roads-challenge/derived/streets_wgs84.geojson
mkdir -p "$WORK"
DB="sqlite://$WORK/large.db"
cargo build --release --quiet --bin upkeep --example spatial_bench
BIN=target/release/upkeep
BENCH=target/release/examples/spatial_bench
export UPKEEP_LOG_LEVEL=warn

if [ ! -f "$WORK/large.db" ]; then
  UPKEEP_DATABASE_URL="$DB" "$BIN" demo --seed 42 --size large
fi
if [ ! -f "$WORK/streets-imported" ]; then
  UPKEEP_DATABASE_URL="$DB" "$BIN" segments import "$STREETS" --id-field STREET_ID \
    --name-field STREET --class-field CART_CLASS \
    --class-map MAJOR=arterial,MINOR=local,INTERSTATE=arterial
  touch "$WORK/streets-imported"
fi
"$BENCH" fill "$DB" 1000000

# The same reports in PostGIS (geography points, GiST index), and in an Upkeep database
# on the same PostgreSQL server (its own grid-cell index).
"$BENCH" export "$DB" "$WORK/reports.csv"
psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS upkeep_postgis_bench" -c "CREATE DATABASE upkeep_postgis_bench" \
  -c "DROP DATABASE IF EXISTS upkeep_pg_bench" -c "CREATE DATABASE upkeep_pg_bench"
psql "$PG/upkeep_postgis_bench" -q <<SQL
CREATE EXTENSION postgis;
CREATE TABLE staging (id BIGINT, accepted_at TIMESTAMP, service_code TEXT, status TEXT,
  attributes TEXT, lat DOUBLE PRECISION, lon DOUBLE PRECISION, requested_at TIMESTAMP,
  updated_at TIMESTAMP, cell BIGINT);
\copy staging FROM '$WORK/reports.csv' WITH (FORMAT csv)
CREATE TABLE bench_reports AS
  SELECT id, ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography AS geog FROM staging;
ALTER TABLE bench_reports ADD PRIMARY KEY (id);
CREATE INDEX bench_reports_geog ON bench_reports USING GIST (geog);
DROP TABLE staging;
VACUUM ANALYZE bench_reports;
SQL
# An Upkeep schema with its catalogue: start a server once on the empty database.
UPKEEP_DATABASE_URL="$PG/upkeep_pg_bench" UPKEEP_DEMO=false "$BIN" serve --bind "127.0.0.1:$PORT" &
seeder=$!
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break; sleep 0.2; done
kill $seeder; wait $seeder || true
psql "$PG/upkeep_pg_bench" -q <<SQL
\copy requests (id, accepted_at, service_code, status, attributes, lat, lon, requested_at, updated_at, cell) FROM '$WORK/reports.csv' WITH (FORMAT csv)
VACUUM ANALYZE requests;
SQL

"$BENCH" queries "$DB" "$PG/upkeep_postgis_bench" "$N" "$PG/upkeep_pg_bench"

# Over HTTP, against a server on the same database.
UPKEEP_DATABASE_URL="$DB" UPKEEP_DEMO=false UPKEEP_MAX_PAGE_SIZE=10000 \
  "$BIN" serve --bind "127.0.0.1:$PORT" &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do
  curl -fs "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break
  sleep 0.2
done
# Searches by place are answered from the server's index of positions once it is loaded.
until curl -sf "http://127.0.0.1:$PORT/health" | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin).get("indexed_reports") is not None else 1)'; do sleep 1; done
grep -E 'VmRSS|VmHWM' "/proc/$server/status" | sed 's/^/server after start: /'
"$BENCH" http "http://127.0.0.1:$PORT" "$DB" "$N"
grep -E 'VmRSS|VmHWM' "/proc/$server/status" | sed 's/^/server after the queries: /'
echo "reports: $(curl -fs "http://127.0.0.1:$PORT/api/v1/reports?page_size=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')," \
     "segments: $(curl -fs "http://127.0.0.1:$PORT/api/v1/segments?page_size=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')"
