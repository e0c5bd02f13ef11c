"""The bundled example: SageMaker's classic iris XGBoost model, trained in a second."""

from __future__ import annotations

from pathlib import Path

from smlocal.model_server.xgboost_files import save_booster


def train_iris_in_subprocess(dest: Path, rounds: int = 10) -> Path:
    """train_iris in a fresh process, so this one never starts XGBoost's OpenMP threads.

    A process that forks workers (the gunicorn master) must not have used OpenMP: a child
    forked from it would deadlock on XGBoost's first call.
    """
    import signal
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        # The worker is born with SIGINT blocked (as multiprocessing's resource tracker is): a
        # terminal's Ctrl-C reaches the whole process group, and this process answers it; a
        # worker still importing would print a KeyboardInterrupt traceback of its own.
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            future = pool.submit(train_iris, dest, rounds)  # starts the worker
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        return future.result()


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
