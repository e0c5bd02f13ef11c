"""The bundled example: SageMaker's classic iris XGBoost model, trained in a second."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from smlocal.model_server.xgboost_files import save_booster


def train_iris_in_subprocess(dest: Path, rounds: int = 10) -> Path:
    """train_iris in a fresh process, so this one never starts XGBoost's OpenMP threads.

    A process that forks workers (the gunicorn master) must not have used OpenMP: a child
    forked from it would deadlock on XGBoost's first call. The child's stderr is kept, and
    shown only if it fails: a terminal's Ctrl-C reaches the whole process group, and this
    process answers it (the child is killed and waited for), so no traceback of a child cut
    short mid-start reaches the terminal.
    """
    command = [sys.executable, "-P", "-m", __name__, str(dest), str(rounds)]
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _, errors = child.communicate()
    except BaseException:
        child.kill()
        child.communicate()
        raise
    if child.returncode != 0:
        lines = errors.decode(errors="replace").strip().splitlines() or ["no error printed"]
        raise RuntimeError(f"training the example model failed ({child.returncode}): {lines[-1]}")
    return dest


def train_iris(dest: Path, rounds: int = 10) -> Path:
    """Train a multi:softmax iris model and save it as dest/xgboost-model; return dest."""
    import xgboost as xgb
    from sklearn.datasets import load_iris

    features, labels = load_iris(return_X_y=True)
    booster = xgb.train(
        {"objective": "multi:softmax", "num_class": 3, "max_depth": 3, "nthread": 1, "seed": 0},
        xgb.DMatrix(features, label=labels),
        num_boost_round=rounds,
    )
    save_booster(booster, dest)
    return dest


if __name__ == "__main__":  # train_iris_in_subprocess's child: DEST ROUNDS
    train_iris(Path(sys.argv[1]), int(sys.argv[2]))
