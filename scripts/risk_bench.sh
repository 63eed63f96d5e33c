#!/usr/bin/env bash
# Risk model benchmarks (issue 5) on the small demo city:
#   training time (upkeep train), scoring about 100,000 segments, and linfa against
#   scikit-learn on the same exported rows and split.
#
#   bash scripts/risk_bench.sh            # work in /tmp/upkeep-risk-bench
# scikit-learn is installed from PyPI into a virtual environment in $WORK.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK="${WORK:-/tmp/upkeep-risk-bench}"
mkdir -p "$WORK"
DB="sqlite://$WORK/small.db"
export UPKEEP_LOG_LEVEL=warn UPKEEP_DATABASE_URL="$DB"
cargo build --release --quiet --bin upkeep --example risk_bench
BIN=target/release/upkeep
[ -f "$WORK/small.db" ] || "$BIN" demo --seed 42 --size small

echo "== evaluation (upkeep evaluate)"
"$BIN" evaluate
echo "== training"
/usr/bin/time -f "upkeep train --model logistic: %e s wall, %M KB peak" "$BIN" train --model logistic
/usr/bin/time -f "upkeep train --model forest: %e s wall, %M KB peak" "$BIN" train --model forest
/usr/bin/time -f "upkeep train (auto: evaluate both, keep the better): %e s wall, %M KB peak" "$BIN" train
echo "== scoring"
/usr/bin/time -f "upkeep score: %e s wall" "$BIN" score
target/release/examples/risk_bench score "$DB" 52

echo "== linfa against scikit-learn on the same rows"
target/release/examples/risk_bench compare "$DB" "$WORK/split"
if [ ! -x "$WORK/venv/bin/python" ]; then
  python3 -m venv "$WORK/venv"
  "$WORK/venv/bin/pip" install --quiet scikit-learn numpy
fi
"$WORK/venv/bin/python" -c "import sklearn; print('scikit-learn', sklearn.__version__)"
"$WORK/venv/bin/python" scripts/risk_bench.py "$WORK/split"
