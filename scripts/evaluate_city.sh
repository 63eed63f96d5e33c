#!/usr/bin/env bash
# Imports a real city's shared data into a fresh SQLite database and evaluates the risk
# model on it (issue 14). The last line printed is the object of `upkeep evaluate --json`.
#
#   bash scripts/evaluate_city.sh syracuse
#   bash scripts/evaluate_city.sh houston
#
# BIN picks the binary (release by default; built if missing), WORK the scratch folder.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN="${BIN:-target/release/upkeep}"
WORK="${WORK:-${TMPDIR:-/tmp}/upkeep-evaluate-city}"
REAL=../shared/data/real
export UPKEEP_LOG_LEVEL=warn RUST_BACKTRACE=0
[ -x "$BIN" ] || cargo build --release --quiet
mkdir -p "$WORK"

# Runs one step quietly; on failure shows what it said.
step() {
  local what="$1"; shift
  echo "$what" >&2
  "$@" > "$WORK/out" 2>&1 || { cat "$WORK/out" >&2; exit 1; }
  tail -n 1 "$WORK/out" >&2
}

fresh() {
  rm -f "$WORK/$1.db"*
  export UPKEEP_DATABASE_URL="sqlite://$WORK/$1.db"
  step "migrating a fresh database" "$BIN" migrate
}

syracuse() {
  fresh syracuse
  local s=$REAL/syracuse
  step "streets (the city's STREET_ID centreline)" "$BIN" segments import \
    $s/roads-challenge/derived/streets_wgs84.geojson --id-field STREET_ID --name-field STREET \
    --class-field CART_CLASS --class-map MAJOR=arterial,MINOR=local,INTERSTATE=arterial
  step "road ratings 2000-2015" "$BIN" import ratings \
    $s/roads-challenge/road_ratings/RoadRatings20*.csv --mapping data/mappings/syracuse-ratings.toml
  step "potholes filled in 2016" "$BIN" import repairs \
    $s/roads-challenge/derived/potholes_filled_2016_clean.csv --mapping data/mappings/syracuse-repairs.toml
  step "water-main breaks 2004-2019" "$BIN" import repairs \
    $s/water-main-breaks/Water_Main_Breaks.csv --mapping data/mappings/syracuse-water-main-breaks.toml
  step "street attributes (last overlay)" "$BIN" import segment-attributes \
    $s/roads-challenge/roads.csv --mapping data/mappings/syracuse-segment-attributes.toml
  # Features as of 1 April 2016 (ratings to 2015, overlays, breaks); the label is at
  # least one pothole filled on the street (STREET_ID) from April to September
  # (182 days on). The hold-out is read once, by this one run.
  "$BIN" evaluate --as-of 2016-04-01 --horizon-days 182 --unit street --json
}

houston() {
  fresh houston
  local h=$REAL/houston-311-potholes
  # No centreline is among Houston's shared data: the unit is a grid cell of 1 km.
  step "311 pothole requests 2011-2019" "$BIN" import reports \
    $h/potholePiped201*.csv --mapping data/mappings/houston-reports.toml
  # Weekly as-of dates, 28 days ahead; rolling-origin folds, then the hold-out year
  # (2019), read once by this one run. The label is a new pothole issue in the cell.
  "$BIN" evaluate --unit cell --cell-m 1000 --json
}

case "${1:-}" in
  syracuse) syracuse ;;
  houston) houston ;;
  *) echo "usage: bash scripts/evaluate_city.sh syracuse|houston" >&2; exit 2 ;;
esac
