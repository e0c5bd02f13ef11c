"""Arrow arrays to numpy and back through their buffers, without importing pandas."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from monitor_helpers import CSV_WITH_HEADER
from varied_data import write_varied_csv

from smlocal.model_monitor import arrays


def test_floats_keep_values_and_turn_nulls_into_nan() -> None:
    source = pa.array([None, -0.0, 3.0, 2.0], pa.float64())
    values = arrays.floats(source.slice(1))
    assert values.tobytes() == np.array([-0.0, 3.0, 2.0]).tobytes()
    with_nulls = arrays.floats(source)
    assert np.isnan(with_nulls[0])
    assert with_nulls[1:].tolist() == [0.0, 3.0, 2.0]


def test_masks_read_bits_at_any_offset_nulls_false() -> None:
    flags = pa.array([True, None, False, True, True, None, False, True, True, True])
    assert arrays.mask(flags).tolist() == [v is True for v in flags.to_pylist()]
    assert arrays.mask(flags.slice(3)).tolist() == [v is True for v in flags.to_pylist()[3:]]


def test_indices_pick_values_like_filter() -> None:
    values = pa.array(["a", "b", "c", "d", "e"]).slice(1)
    where = np.array([True, False, True, True])
    assert arrays.picked(values, where) == values.filter(pa.array(where))
    assert arrays.picked(values, np.zeros(4, dtype=bool)).to_pylist() == []


def test_strings_round_trip_with_nulls_and_any_text() -> None:
    texts = ["", "héllo", None, "٣", "a,b", None, "x" * 300]
    assert arrays.strings(texts).to_pylist() == texts
    assert arrays.strings(texts) == pa.array(texts, pa.string())
    assert arrays.strings([]).to_pylist() == []
    assert arrays.int32s(pc.find_substring(arrays.strings(["ab", "b"]), "b")).tolist() == [1, 0]


def test_a_baseline_job_does_not_import_pandas(tmp_path: Path) -> None:
    data = write_varied_csv(tmp_path / "varied.csv", 3000)
    environment = {
        "dataset_source": str(data),
        "dataset_format": CSV_WITH_HEADER,
        "output_path": str(tmp_path / "out"),
    }
    program = (
        "import json, sys, warnings\n"
        "warnings.simplefilter('ignore', RuntimeWarning)\n"
        "from smlocal.model_monitor.job import run_analysis\n"
        f"result = run_analysis(json.loads({json.dumps(json.dumps(environment))}))\n"
        "print(result.status, 'pandas' in sys.modules)\n"
    )
    command = [sys.executable, "-c", program]
    answer = subprocess.run(command, check=False, capture_output=True, text=True, timeout=120)
    assert answer.stdout.split() == ["Completed", "False"], answer.stderr
