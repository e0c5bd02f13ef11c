"""The bundled iris example is trained in a child process (never in a server that forks)."""

from __future__ import annotations

from pathlib import Path

import pytest

from smlocal.model_server.example import train_iris_in_subprocess
from smlocal.model_server.predictors.xgboost_model import load_booster
from smlocal.model_server.xgboost_files import MODEL_FILE


def test_the_child_trains_a_model_this_process_can_load(tmp_path: Path) -> None:
    folder = train_iris_in_subprocess(tmp_path / "iris", rounds=2)
    assert folder == tmp_path / "iris"
    assert load_booster(folder / MODEL_FILE).num_boosted_rounds() == 2


def test_a_failing_child_raises_with_its_own_words(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(RuntimeError, match=r"failed \(1\): NotADirectoryError: "):
        train_iris_in_subprocess(tmp_path / "file" / "iris", rounds=1)
