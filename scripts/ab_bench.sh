#!/usr/bin/env bash
# A/B benchmark of two release builds of Upkeep on the same data, in one run: report
# intake, a 500 m radius search, a street-network import and training. Used to check
# that a refactor costs nothing measurable.
#
#   A=/path/to/old/target/release B=target/release bash scripts/ab_bench.sh
#
# Each build gets fresh copies of one prepared database (the small demo city, plus
# 300,000 generated reports for the radius search); runs alternate A, B, A, B so that
# drift on a shared machine falls on both. Needs wrk and hyperfine (Debian packages).
set -euo pipefail
cd "$(dirname "$0")/.."

A="${A:?A=directory of the first build (holding upkeep and examples/)}"
B="${B:?B=directory of the second build}"
WORK="${WORK:-/tmp/upkeep-ab}"
SECONDS_EACH="${SECONDS_EACH:-15}"
PORT="${PORT:-18391}"
STREETS=../shared/data/real/syracuse/roads-challenge/derived/streets_wgs84.geojson
export UPKEEP_LOG_LEVEL=warn
# Nothing else may run in the server while it is measured.
export UPKEEP_RISK_TRAIN_ON_START=false UPKEEP_RISK_RESCORE_HOURS=0 UPKEEP_DEMO=false

mkdir -p "$WORK"
if [ ! -f "$WORK/city.db" ]; then
  UPKEEP_DATABASE_URL="sqlite://$WORK/city.db" "$A/upkeep" demo --seed 42 --size small
fi
if [ ! -f "$WORK/dense.db" ]; then
  cp "$WORK/city.db" "$WORK/dense.db"
  # The second build's generator: the first may predate a fix to it.
  "$B/examples/spatial_bench" fill "sqlite://$WORK/dense.db" 300000
fi

serve() { # build database
  rm -f "$WORK/run.db" "$WORK/run.db-wal" "$WORK/run.db-shm"
  cp "$2" "$WORK/run.db"
  UPKEEP_DATABASE_URL="sqlite://$WORK/run.db" "$1/upkeep" serve --bind "127.0.0.1:$PORT" &
  SERVER=$!
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && return
    sleep 0.1
  done
  echo "the server did not start" >&2
  exit 1
}

stop() {
  kill "$SERVER"
  wait "$SERVER" 2>/dev/null || true
}

# The demo city's centre, where a 500 m circle holds the most reports.
CENTRE="lat=43.05&lon=-76.15"
for round in 1 2; do
  for build in A B; do
    dir="${!build}"
    serve "$dir" "$WORK/city.db"
    echo "== intake, build $build, round $round"
    wrk -t1 -c32 -d"${SECONDS_EACH}s" --latency -s scripts/post_report.lua \
      "http://127.0.0.1:$PORT/open311/v2/requests.json" | grep -E "Requests/sec|50%|99%"
    stop
    serve "$dir" "$WORK/dense.db"
    echo "== radius 500 m, build $build, round $round"
    wrk -t1 -c4 -d"${SECONDS_EACH}s" --latency \
      "http://127.0.0.1:$PORT/api/v1/reports?$CENTRE&radius_m=500" | grep -E "Requests/sec|50%|99%"
    stop
  done
done

echo "== import of the Syracuse centreline (7,488 segments)"
hyperfine --warmup 1 --runs 5 \
  --prepare "rm -f $WORK/import.db $WORK/import.db-wal $WORK/import.db-shm" \
  -n A "UPKEEP_DATABASE_URL=sqlite://$WORK/import.db $A/upkeep segments import $STREETS --id-field STREET_ID --name-field STREET --class-field CART_CLASS --class-map MAJOR=arterial,MINOR=local,INTERSTATE=arterial" \
  -n B "UPKEEP_DATABASE_URL=sqlite://$WORK/import.db $B/upkeep segments import $STREETS --id-field STREET_ID --name-field STREET --class-field CART_CLASS --class-map MAJOR=arterial,MINOR=local,INTERSTATE=arterial"

echo "== training the forest on the small demo city"
hyperfine --runs 3 \
  --prepare "cp $WORK/city.db $WORK/train.db; rm -f $WORK/train.db-wal $WORK/train.db-shm" \
  -n A "UPKEEP_DATABASE_URL=sqlite://$WORK/train.db $A/upkeep train --model forest" \
  -n B "UPKEEP_DATABASE_URL=sqlite://$WORK/train.db $B/upkeep train --model forest"
