"""scikit-learn on the same rows as examples/risk_bench.rs (run by scripts/risk_bench.sh).

Reads DIR/train.csv and DIR/test.csv (features, empty = missing, then label), fits
scikit-learn's logistic regression, a random forest shaped like Upkeep's, and its best
tree model for this task (histogram gradient boosting), and prints fit time and
hold-out ROC-AUC for each, twice (the second run is the one to quote).
"""
import sys
import time

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler


def load(path):
    data = np.genfromtxt(path, delimiter=",", skip_header=1, filling_values=np.nan)
    return data[:, :-1], data[:, -1].astype(int)


def main(directory):
    x_train, y_train = load(f"{directory}/train.csv")
    x_test, y_test = load(f"{directory}/test.csv")
    # Columns no training row has (the demo city has no ratings): Upkeep's models see a
    # constant there; scikit-learn's imputer and binner refuse them, so they go.
    known = ~np.all(np.isnan(x_train), axis=0)
    x_train, x_test = x_train[:, known], x_test[:, known]
    imputer = SimpleImputer(strategy="mean").fit(x_train)
    scaler = StandardScaler().fit(imputer.transform(x_train))
    z_train = scaler.transform(imputer.transform(x_train))
    z_test = scaler.transform(imputer.transform(x_test))
    models = [
        ("scikit-learn logistic regression (lbfgs)", lambda: LogisticRegression(max_iter=1000), True),
        (
            "scikit-learn random forest (24 trees, depth 8, 24,000 rows each, √F features per split, 2 jobs)",
            lambda: RandomForestClassifier(
                n_estimators=24, max_depth=8, max_samples=24000, min_samples_leaf=40,
                max_features="sqrt", n_jobs=2, random_state=7,
            ),
            True,
        ),
        (
            "scikit-learn histogram gradient boosting (defaults)",
            lambda: HistGradientBoostingClassifier(random_state=7),
            False,
        ),
    ]
    print(f"rows: train {len(y_train)}, hold-out {len(y_test)}")
    for _ in range(2):
        for name, make, standardised in models:
            model = make()
            xa, xb = (z_train, z_test) if standardised else (x_train, x_test)
            started = time.perf_counter()
            model.fit(xa, y_train)
            seconds = time.perf_counter() - started
            auc = roc_auc_score(y_test, model.predict_proba(xb)[:, 1])
            print(f"{name}: fit {seconds:.2f} s, hold-out ROC-AUC {auc:.4f}")


if __name__ == "__main__":
    main(sys.argv[1])
