#!/usr/bin/env bash
# Import benchmarks (issue 13): wall time and peak memory of each shared data set with its
# shipped mapping, into a fresh SQLite database, with the release build.
#
#   cargo build --release && bash scripts/import_bench.sh [syracuse|kitchener|houston|big]...
#
# `big` writes a generated 1 GB CSV in Houston's layout (scripts/big_reports_csv.py) and
# imports it twice: a dry run (reading and checking only), then for real.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN="${BIN:-target/release/upkeep}"
WORK="${WORK:-/tmp/upkeep-import-bench}"
REAL=../shared/data/real
export UPKEEP_LOG_LEVEL=warn RUST_BACKTRACE=0
mkdir -p "$WORK"

# Runs one command; prints its wall seconds, peak memory and last line of output.
measure() {
  local label="$1"; shift
  /usr/bin/time -f "%e %M" -o "$WORK/time" "$@" > "$WORK/out" 2> "$WORK/err" || {
    cat "$WORK/err"; return 1; }
  read -r wall kib < "$WORK/time"
  printf '%-44s %7.1f s %6d MiB  %s\n' "$label" "$wall" $((kib / 1024)) "$(tail -n1 "$WORK/out")"
}

fresh() {
  rm -f "$WORK/$1.db"*
  export UPKEEP_DATABASE_URL="sqlite://$WORK/$1.db"
  "$BIN" migrate > /dev/null
}

syracuse() {
  fresh syracuse
  local s=$REAL/syracuse
  local started=$SECONDS
  measure "syracuse streets (6,825 features)" "$BIN" segments import \
    $s/roads-challenge/derived/streets_wgs84.geojson --id-field STREET_ID --name-field STREET \
    --class-field CART_CLASS --class-map MAJOR=arterial,MINOR=local,INTERSTATE=arterial
  measure "syracuse ratings 2000-2015 (77,821 rows)" "$BIN" import ratings \
    $s/roads-challenge/road_ratings/RoadRatings20*.csv --mapping data/mappings/syracuse-ratings.toml
  measure "syracuse filled potholes 2016 (7,538 rows)" "$BIN" import repairs \
    $s/roads-challenge/derived/potholes_filled_2016_clean.csv --mapping data/mappings/syracuse-repairs.toml
  echo "syracuse streets + ratings + fills: $((SECONDS - started)) s (whole seconds, bash)"
  measure "syracuse water-main breaks (3,042 rows)" "$BIN" import repairs \
    $s/water-main-breaks/Water_Main_Breaks.csv --mapping data/mappings/syracuse-water-main-breaks.toml
  measure "syracuse street attributes (4,836 rows)" "$BIN" import segment-attributes \
    $s/roads-challenge/roads.csv --mapping data/mappings/syracuse-segment-attributes.toml
  measure "syracuse ratings again" "$BIN" import ratings \
    $s/roads-challenge/road_ratings/RoadRatings20*.csv --mapping data/mappings/syracuse-ratings.toml
}

kitchener() {
  fresh kitchener
  local k=$REAL/kitchener-water/derived
  measure "kitchener segments (6,066 rows)" "$BIN" import segment-attributes \
    $k/road_segments_lonlat.csv --mapping data/mappings/kitchener-segment-attributes.toml
  measure "kitchener water-main breaks (2,845 rows)" "$BIN" import repairs \
    $k/water_main_breaks_lonlat.csv --mapping data/mappings/kitchener-water-main-breaks.toml
}

houston() {
  # Houston's centreline is not among the shared data: a generated street network
  # centred on downtown Houston gives the reports something to snap to. First the
  # network alone, then the whole generated city (whose own reports meet Houston's
  # in de-duplication).
  rm -rf "$WORK/houston-network"
  "$BIN" demo --seed 7 --size small --centre=-95.37,29.76 --end 2019-12-31 \
    --out "$WORK/houston-network" --no-load > /dev/null 2>&1
  fresh houston
  "$BIN" segments import "$WORK/houston-network/segments.geojson" --id-field id \
    --class-field road_class > /dev/null 2>&1
  measure "houston 2011-2019 (58,572 rows), snapping" "$BIN" import reports \
    $REAL/houston-311-potholes/potholePiped201*.csv --mapping data/mappings/houston-reports.toml
  measure "houston again" "$BIN" import reports \
    $REAL/houston-311-potholes/potholePiped201*.csv --mapping data/mappings/houston-reports.toml
  fresh houston
  "$BIN" demo --seed 7 --size small --centre=-95.37,29.76 --end 2019-12-31 > /dev/null 2>&1
  measure "houston into the whole generated city" "$BIN" import reports \
    $REAL/houston-311-potholes/potholePiped201*.csv --mapping data/mappings/houston-reports.toml
}

big() {
  [ -f "$WORK/big.csv" ] || python3 scripts/big_reports_csv.py "$WORK/big.csv" 1024
  ls -l "$WORK/big.csv"
  fresh big
  measure "1 GB generated CSV, dry run" "$BIN" import reports "$WORK/big.csv" \
    --mapping data/mappings/houston-reports.toml --dry-run
  measure "1 GB generated CSV, stored" "$BIN" import reports "$WORK/big.csv" \
    --mapping data/mappings/houston-reports.toml
}

for what in "${@:-syracuse kitchener houston}"; do
  for one in $what; do "$one"; done
done
