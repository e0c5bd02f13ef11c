"""Write small legacy XGBoost models and the writing XGBoost's own predictions for them.

Run with the Python of a throwaway environment holding the old XGBoost, e.g.

    python -m venv /tmp/xgb090 && /tmp/xgb090/bin/pip install 'xgboost==0.90' 'numpy<1.24'
    /tmp/xgb090/bin/python tests/data/legacy-xgboost/make_fixtures.py

It writes `<version>/<model>.pkl` (a pickled Booster, as SageMaker's 0.90-1 to 1.3-1
containers saved `xgboost-model`), `<version>/<model>.bin` (the binary `save_model`, as the
1.2-1 to 1.7-1 containers saved it) and merges the predictions into predictions.json.
"""

from __future__ import annotations

import collections
import collections.abc
import json
import pickle
import sys
from pathlib import Path

import numpy as np

# XGBoost 0.72 still imports these from `collections`, where Python 3.10 removed them.
for _name in ("Mapping", "MutableMapping", "Sequence", "Iterable", "Callable"):
    if not hasattr(collections, _name):
        setattr(collections, _name, getattr(collections.abc, _name))

import xgboost as xgb  # noqa: E402

HERE = Path(__file__).resolve().parent
OLD = xgb.__version__.startswith("0.")
SQUARED = "reg:linear" if OLD else "reg:squarederror"


def data() -> tuple[np.ndarray, np.ndarray, np.ndarray, xgb.DMatrix]:
    """200 rows of 5 features with about 10% missing, labels 0-2, 12 test rows, and
    a noisy validation set for early stopping."""
    rng = np.random.RandomState(7)
    features = rng.normal(size=(212, 5)).round(3)
    labels = (features[:, 0] + features[:, 1] > 0).astype(int) + (features[:, 2] > 0.8)
    features[rng.uniform(size=features.shape) < 0.1] = np.nan
    valid = rng.normal(size=(40, 5)).round(3)
    valid_labels = (valid[:, 0] + rng.normal(size=40) > 0).astype(float)
    validation = xgb.DMatrix(valid, label=valid_labels)
    return features[:200], labels[:200].astype(float), features[200:], validation


MODELS = {
    "binary-logistic": {"objective": "binary:logistic"},
    "binary-logistic-base": {"objective": "binary:logistic", "base_score": 0.3},
    "binary-logitraw-base": {"objective": "binary:logitraw", "base_score": 0.3},
    "multi-softprob": {"objective": "multi:softprob", "num_class": 3},
    "multi-softmax": {"objective": "multi:softmax", "num_class": 3},
    "regression": {"objective": SQUARED},
    "regression-base": {"objective": SQUARED, "base_score": 2.5},
    "poisson-base": {"objective": "count:poisson", "base_score": 1.7},
    "dart": {"objective": "binary:logistic", "booster": "dart", "rate_drop": 0.3, "seed": 3},
    "gblinear": {"objective": SQUARED, "booster": "gblinear"},
    "early-stopped": {"objective": "binary:logistic", "eta": 0.6, "max_depth": 5},
}
ROUNDS = 4


def main() -> None:
    features, labels, test, validation = data()
    folder = HERE / xgb.__version__
    folder.mkdir(exist_ok=True)
    out_path = HERE / "predictions.json"
    document = json.loads(out_path.read_text()) if out_path.exists() else {"models": {}}
    document["inputs"] = [[None if np.isnan(v) else v for v in row] for row in test.tolist()]
    for name, params in MODELS.items():
        target = labels if "multi" in name else (labels > 0).astype(float)
        if name.startswith(("regression", "poisson", "gblinear")):
            target = labels + features[:, 3].round()
            target = np.nan_to_num(np.abs(target))
        stopping = {}
        if name == "early-stopped":
            stopping = {"evals": [(validation, "valid")], "early_stopping_rounds": 3}
        booster = xgb.train(
            {"max_depth": 3, "eta": 0.3, "nthread": 1, **params},
            xgb.DMatrix(features, label=target),
            num_boost_round=30 if stopping else ROUNDS,
            verbose_eval=False,
            **stopping,
        )
        (folder / f"{name}.pkl").write_bytes(pickle.dumps(booster))
        booster.save_model(str(folder / f"{name}.bin"))
        for suffix in ("pkl", "bin"):
            document["models"][f"{xgb.__version__}/{name}.{suffix}"] = {
                "params": params,
                "predictions": served(folder / f"{name}.{suffix}", test).astype(float).tolist(),
            }
    document["models"] = dict(sorted(document["models"].items()))
    out_path.write_text(json.dumps(document, indent=1) + "\n")
    print(
        f"wrote {len(MODELS) * 2} models with XGBoost {xgb.__version__} on Python {sys.version.split()[0]}"
    )


def served(path: Path, test: np.ndarray) -> np.ndarray:
    """What SageMaker's container of this XGBoost predicts: the file loaded back as it loads
    it, predicted with ntree_limit=best_ntree_limit (serve_utils.py, 0.90-1 to 1.7-1)."""
    if path.suffix == ".pkl":
        booster = pickle.loads(path.read_bytes())
    else:
        booster = xgb.Booster(model_file=str(path))
    limit = getattr(booster, "best_ntree_limit", 0)
    if "gblinear" in path.name:
        # XGBoost < 1.3 refuses any ntree_limit for gblinear ("ntrees is only valid for
        # gbtree predictor"), so those containers fail on a pickled gblinear model; the
        # fixture holds what the model itself predicts.
        limit = 0
    if OLD and not limit and "dart" in path.name:
        # Without ntree_limit, XGBoost < 1.0 drops dart trees at random on every prediction.
        limit = ROUNDS
    return booster.predict(xgb.DMatrix(test), ntree_limit=limit).astype(np.float32)


if __name__ == "__main__":
    main()
