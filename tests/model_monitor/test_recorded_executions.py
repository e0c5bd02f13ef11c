"""Monitoring executions recorded on real AWS, re-run through the analyzer: same violations.

* The seed workshop (aws-samples/amazon-sagemaker-from-idea-to-production@6bf15f9,
  06-monitoring.ipynb, run 2025-02-15/16): a baseline of 59 integer columns without a header
  (41,188 rows of the bank-marketing data, one-hot encoded), traffic of test rows through a
  record preprocessor that returns `{"_c0": float, "_c1": float, "_c2": float, "_c3": int,
  ...}`. Every execution, compliant traffic or traffic with -1 in the first column, reported
  exactly three violations: data_type_check on `_c0`, `_c12`, `_c1`, "Only 0.0% of data is
  Integral." (the preprocessor's keys are sorted, so `_c2`'s floats land at position 12).
  The bank data is not redistributable; the baseline here has its shape (same columns, value
  ranges and integer types), generated.
* The 2020 network-traffic execution (shared/reference/real-analyzer/dsaw-nw-traffic-
  monitoring-2020-02-04): 1000 copies of one row, one column drawn from N(1, 0.2), plus 9
  real rows. Three violations: data_type_check, completeness_check, and one
  baseline_drift_check, on the drawn column only, though the constant columns are far from
  the baseline's distributions too.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from pathlib import Path

from monitor_helpers import (
    WORKSHOP_PREPROCESSOR,
    Runner,
    bank_row,
    capture_record,
    violations,
    write_captures,
    write_csv,
)

from smlocal.model_monitor.jackson import java_double

NO_HEADER = json.dumps({"csv": {"header": False, "output_columns_position": "START"}})
NOT_INTEGRAL = (
    "Data type match requirement is not met. Expected data type: Integral, "
    "Expected match: 100.0%. Observed: Only 0.0% of data is Integral."
)


def _workshop_execution(
    folder: Path, monitor: Runner, rows: Sequence[Sequence[int]], script: Path
) -> list[dict[str, str]]:
    records = [capture_record(",".join(map(str, row)), "0.1255551427602768\n") for row in rows]
    write_captures(folder, records, "2025/02/15/21")
    result = monitor(folder, record_preprocessor_script=str(script))
    assert (
        result.message == "CompletedWithViolations: Job completed successfully with 3 violations."
    )
    return violations(folder.parent / "run")


def test_the_seed_workshop_reports_three_data_type_violations(
    tmp_path: Path, baseline: Runner, monitor: Runner
) -> None:
    rng = random.Random(1729)
    rows = [bank_row(rng) for _ in range(8000)]
    assert len(rows[0]) == 59
    write_csv(tmp_path / "baseline.csv", rows)
    assert baseline(tmp_path / "baseline.csv", NO_HEADER).status == "Completed"
    script = tmp_path / "record_preprocessor.py"
    script.write_text(WORKSHOP_PREPROCESSOR, encoding="utf-8")
    test_x = rng.sample(rows, 100)
    expected = [
        {"feature_name": name, "constraint_check_type": "data_type_check", "description": text}
        for name, text in (("_c0", NOT_INTEGRAL), ("_c1", NOT_INTEGRAL), ("_c12", NOT_INTEGRAL))
    ]
    # compliant traffic: 151 records, as the workshop's first manual execution processed
    assert _workshop_execution(tmp_path / "compliant", monitor, test_x + test_x[:51], script) == (
        expected
    )
    # non-compliant traffic: age -1 in every record (70 processed); no non-negativity check
    negative = [[-1, *row[1:]] for row in test_x[:70]]
    assert _workshop_execution(tmp_path / "negative", monitor, negative, script) == expected
    suggested = json.loads((tmp_path / "run" / "constraints.json").read_text(encoding="utf-8"))
    assert suggested["features"][0]["num_constraints"] == {"is_non_negative": False}


NETWORK_HEADER = ("Target", "Dst Port", "Flow Duration", "Tot Fwd Pkts", "Fwd Pkt Len Mean",
                  "Flow Pkts/s")  # fmt: skip


def _flow(rng: random.Random) -> tuple[object, ...]:
    """A varied flow: ports, durations, packet counts, lengths and rates all spread out."""
    return (
        rng.randrange(0, 8),
        rng.choice((21, 22, 53, 80, 443, 3389, 8080)) if rng.random() < 0.7 else rng.randrange(1024, 65535),
        rng.randrange(1, 120_000_000),
        rng.randrange(1, 200),
        round(rng.uniform(20.0, 900.0), 6),
        round(rng.lognormvariate(3.0, 2.0), 6),
    )  # fmt: skip


def test_constant_columns_do_not_drift_but_a_spread_one_does(
    tmp_path: Path, baseline: Runner, monitor: Runner
) -> None:
    rng = random.Random(2020)
    write_csv(tmp_path / "train.csv", [_flow(rng) for _ in range(3000)], NETWORK_HEADER)
    baseline(tmp_path / "train.csv")
    real = [_flow(rng) for _ in range(9)]
    records = [capture_record(",".join(map(str, f[1:])), str(f[0])) for f in real]
    records += [  # the notebook's artificial row: port 22, no duration, 40.3 packets
        capture_record(f"22,,40.3,{rng.gauss(1, 0.2)},0.0368169318", "0") for _ in range(1000)
    ]
    write_captures(tmp_path / "captures", records, "2020/02/04/20")
    result = monitor(tmp_path / "captures")
    found = violations(tmp_path / "run")
    assert [(v["feature_name"], v["constraint_check_type"]) for v in found] == [
        ("Tot Fwd Pkts", "data_type_check"),
        ("Flow Duration", "completeness_check"),
        ("Fwd Pkt Len Mean", "baseline_drift_check"),
    ]
    assert found[0]["description"].endswith("Only 0.8919722497522299% of data is Integral.")
    assert found[1]["description"].endswith("Observed: Only 0.8919722497522299%.")
    assert result.violation_count == 3
    # Dst Port and Flow Pkts/s are as far from the baseline, but near-constant: not compared
    drift = float(found[2]["description"].split()[3])
    assert drift > 0.9, java_double(drift)
