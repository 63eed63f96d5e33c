#!/usr/bin/env bash
# The honest synthetic test (issue 14): five seeds of the small demo city, in every
# generator variant and with every ablation; each line is one `upkeep evaluate --seeds`
# JSON object, and a table of means and 95 % intervals follows.
#
#   cargo build --release && bash scripts/synthetic_bench.sh [SEEDS] [END]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${BIN:-target/release/upkeep}"
SEEDS="${1:-5}"
END="${2:-2026-11-23}"
OUT="${OUT:-${TMPDIR:-/tmp}/upkeep-synthetic}"
mkdir -p "$OUT"
export UPKEEP_LOG_LEVEL=warn RUST_BACKTRACE=0

for variant in none hidden_durability vehicle_noise sparse_reports freeze_thaw_lag surveys; do
  "$BIN" evaluate --seeds "$SEEDS" --size small --end "$END" --variant "$variant" --json \
    > "$OUT/variant-$variant.json"
  echo "variant $variant: $(python3 -c "import json,sys; print(round(json.load(open(sys.argv[1]))['seconds'],1))" "$OUT/variant-$variant.json") s" >&2
done
for ablation in no_probe no_weather reports_and_ratings_only; do
  "$BIN" evaluate --seeds "$SEEDS" --size small --end "$END" --ablation "$ablation" --json \
    > "$OUT/ablation-$ablation.json"
  echo "ablation $ablation done" >&2
done

python3 - "$OUT" <<'PY'
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
keys = ["roc_auc", "mean_weekly_roc_auc", "precision_at_10pct", "precision_at_10pct_over_oracle",
        "precision_at_10pct_over_best_baseline", "tercile_recall_ratio_over_oracle", "ece"]
def row(name, path):
    f = json.load(open(path))["figures"]
    cells = []
    for k in keys:
        i = f.get(k)
        cells.append("–" if i is None else f"{i['mean']:.3f} ({i['low']:.3f}–{i['high']:.3f})")
    print(f"| {name} | " + " | ".join(cells) + " |")
print("| run | " + " | ".join(keys) + " |")
print("|" + " --- |" * (len(keys) + 1))
for p in sorted(out.glob("variant-*.json")):
    row("variant: " + p.stem[len("variant-"):], p)
for p in sorted(out.glob("ablation-*.json")):
    row("ablation: " + p.stem[len("ablation-"):], p)
PY
