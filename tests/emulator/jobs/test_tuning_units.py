"""The tuner's pure parts: ranges and their scalings, the strategies' points, and the
training job request a tuning job's definition makes."""

from __future__ import annotations

import math
import statistics

import pytest

from smlocal.emulator.errors import ValidationException
from smlocal.emulator.jobs.tuning.ranges import Range, parse_ranges
from smlocal.emulator.jobs.tuning.records import TuningJob
from smlocal.emulator.jobs.tuning.strategies import Observation, Sampler, grid, seed_of
from smlocal.emulator.jobs.tuning.tuner import child_request, job_count


def test_linear_log_and_reverse_log_scalings_reach_both_ends() -> None:
    linear = Range("a", "Continuous", 1, 3, "Linear")
    log = Range("b", "Continuous", 0.001, 10, "Logarithmic")
    reverse = Range("c", "Continuous", 0.5, 0.999, "ReverseLogarithmic")
    for scaled in (linear, log, reverse):
        assert float(scaled.value(0)) == pytest.approx(scaled.low)
        assert float(scaled.value(1)) == pytest.approx(scaled.high)
    assert float(log.value(0.5)) == pytest.approx(math.sqrt(0.001 * 10))  # the log midpoint
    assert float(reverse.value(0.5)) == pytest.approx(1 - math.sqrt(0.5 * 0.001))
    assert float(linear.value(0.5)) == 2.0


def test_integers_and_categories_are_drawn_evenly() -> None:
    integer = Range("depth", "Integer", 1, 4)
    drawn = [integer.value(i / 1000) for i in range(1000)]
    assert sorted(set(drawn)) == ["1", "2", "3", "4"]
    assert max(drawn.count(v) for v in set(drawn)) - min(drawn.count(v) for v in set(drawn)) <= 1
    assert integer.value(1.0) == "4"
    log_integer = Range("trees", "Integer", 1, 1000, "Logarithmic")
    assert statistics.median(int(log_integer.value(i / 100)) for i in range(101)) < 100
    category = Range("kind", "Categorical", values=("x", "y", "z"))
    assert [category.value(u) for u in (0, 0.34, 0.99, 1)] == ["x", "y", "z", "z"]


@pytest.mark.parametrize(
    ("ranges", "message"),
    [
        ({"ContinuousParameterRanges": [{"Name": "e", "MinValue": "0.2", "MaxValue": "2",
                                         "ScalingType": "ReverseLogarithmic"}]},
         "Hyperparameter range e uses ReverseLogarithmic scaling, which is only valid for "
         "continuous ranges within 0 <= MinValue <= MaxValue < 1."),
        ({"CategoricalParameterRanges": [{"Name": "k", "Values": ["a", "a"]}]},
         "Categorical hyperparameter range k must list between 1 and 30 distinct values."),
        ({"IntegerParameterRanges": [{"Name": "d", "MinValue": "1", "MaxValue": "2"}],
          "CategoricalParameterRanges": [{"Name": "d", "Values": ["1"]}]},
         "The hyperparameter d is given more than one range in ParameterRanges."),
        ({"ContinuousParameterRanges": [{"Name": "e", "MinValue": "nan", "MaxValue": "1"}]},
         "The MinValue of hyperparameter range e must be less than or equal to its MaxValue "
         "(MinValue nan, MaxValue 1)."),
        ({"AutoParameters": [{"Name": "e", "ValueHint": "0.1"}]},
         "AutoParameters (Autotune) are not emulated: smlocal searches the Integer, Continuous "
         "and Categorical ranges it is given."),
    ],
)  # fmt: skip
def test_bad_ranges_are_refused(ranges: dict, message: str) -> None:
    with pytest.raises(ValidationException) as caught:
        parse_ranges(ranges)
    assert caught.value.message == message


def test_too_many_ranges_are_refused() -> None:
    ranges = [{"Name": f"p{i}", "Values": ["1"]} for i in range(31)]
    with pytest.raises(ValidationException, match="maximum number of hyperparameters"):
        parse_ranges({"CategoricalParameterRanges": ranges})


def test_the_same_seed_and_history_give_the_same_points() -> None:
    ranges = [Range("a", "Continuous", 0, 1), Range("b", "Integer", 1, 10)]
    seed = seed_of("my-tuning-job", None)
    assert seed == seed_of("MY-TUNING-JOB", None)
    assert seed_of("my-tuning-job", 3) == 3
    first, second = Sampler("Random", ranges, seed, True), Sampler("Random", ranges, seed, True)
    assert [first.propose(i, []) for i in range(5)] == [second.propose(i, []) for i in range(5)]
    other = Sampler("Random", ranges, seed + 1, True)
    assert other.propose(0, []) != Sampler("Random", ranges, seed, True).propose(0, [])


def test_bayesian_search_moves_towards_the_better_region() -> None:
    """With results that improve towards x = 1, expected improvement proposes a point on
    that side; before three results it draws at random."""
    ranges = [Range("x", "Continuous", 0, 1)]
    history = [Observation((x,), x) for x in (0.05, 0.2, 0.35, 0.5, 0.65)]
    maximize = Sampler("Bayesian", ranges, 1, maximize=True)
    assert maximize.propose(5, history)[0] > 0.5
    minimize = Sampler("Bayesian", ranges, 1, maximize=False)
    assert minimize.propose(5, history)[0] < 0.35
    pending = [Observation((0.5,), None), Observation((0.6,), 0.6)]
    assert 0 <= Sampler("Bayesian", ranges, 1, True).propose(2, pending)[0] <= 1


def test_grid_walks_every_combination_once() -> None:
    ranges = [Range("a", "Categorical", values=("1", "2")),
              Range("b", "Categorical", values=("x", "y", "z"))]  # fmt: skip
    sampler = Sampler("Grid", ranges, 0, True)
    points = [sampler.propose(i, []) for i in range(6)]
    values = {tuple(r.value(p) for r, p in zip(ranges, point, strict=True)) for point in points}
    assert len(values) == 6 == len(grid(ranges))


def _job(strategy: str = "Random", **definition: object) -> TuningJob:
    config = {"Strategy": strategy, "ResourceLimits": {"MaxParallelTrainingJobs": 1}}
    base = {"AlgorithmSpecification": {"TrainingImage": "img", "TrainingInputMode": "File",
                                       "MetricDefinitions": [{"Name": "m", "Regex": "m=(.*)"}]},
            "RoleArn": "arn:aws:iam::123456789012:role/r", "StaticHyperParameters": {"s": "1"},
            "OutputDataConfig": {"S3OutputPath": "s3://b/o"},
            "StoppingCondition": {"MaxRuntimeInSeconds": 60}}  # fmt: skip
    return TuningJob("t", "arn", config, "InProgress", 0.0, 0.0, {**base, **definition})


def test_a_training_job_request_carries_the_definition_and_the_point() -> None:
    job = _job(HyperParameterTuningResourceConfig={"InstanceType": "ml.m5.large",
               "InstanceCount": 1, "VolumeSizeInGB": 5, "AllocationStrategy": "Prioritized"},
               Environment={"A": "b"}, EnableNetworkIsolation=True)  # fmt: skip
    request = child_request(job, "t-001-abcdef12", {"eta": "0.3"})
    assert request["HyperParameters"] == {"s": "1", "eta": "0.3"}
    assert request["ResourceConfig"] == {"InstanceType": "ml.m5.large", "InstanceCount": 1,
                                         "VolumeSizeInGB": 5}  # fmt: skip
    assert request["Environment"] == {"A": "b"}
    assert request["EnableNetworkIsolation"] is True
    assert request["AlgorithmSpecification"]["MetricDefinitions"] == [
        {"Name": "m", "Regex": "m=(.*)"}
    ]


def test_grid_runs_at_most_its_combinations() -> None:
    ranges = [Range("a", "Categorical", values=("1", "2", "3"))]
    job = _job("Grid")
    assert job_count(job, ranges) == 3
    job.config["ResourceLimits"]["MaxNumberOfTrainingJobs"] = 2
    assert job_count(job, ranges) == 2


class _Calls:
    def __init__(self) -> None:
        self.made: list[str] = []

    def __call__(self, operation: str, params: dict) -> dict:
        self.made.append(operation)
        return {"TrainingJobArn": "arn"}


def _failed(name: str, status: str = "Failed") -> object:
    from types import SimpleNamespace

    return SimpleNamespace(name=name, status=status, failure_reason="ClientError: x",
                           final_metric_data_list=None)  # fmt: skip


def test_five_failures_stop_the_launches_while_one_still_runs(tmp_path) -> None:
    """With five failed and one running, no sixth job starts; the tuning job waits."""
    from smlocal.emulator.jobs.tuning.tuner import Tuner, TuningRun

    job = _job()
    job.config["ResourceLimits"] = {"MaxNumberOfTrainingJobs": 10, "MaxParallelTrainingJobs": 2}
    job.config["ParameterRanges"] = {}
    run = TuningRun.__new__(TuningRun)
    run.tuner, run.total, run.parallel, run.deadline, run.target = (
        Tuner.__new__(Tuner), 10, 2, None, None)  # fmt: skip
    run.tuner.call = _Calls()
    records = [_failed(f"f{i}") for i in range(5)] + [_failed("r", "InProgress")]
    assert run._step(job, records) == "wait"  # type: ignore[arg-type]
    assert run.tuner.call.made == []


@pytest.mark.parametrize(
    "scaled",
    [Range("a", "Continuous", 1, 3), Range("b", "Continuous", 0.001, 10, "Logarithmic"),
     Range("c", "Continuous", 0.5, 0.999, "ReverseLogarithmic"), Range("d", "Integer", 1, 9),
     Range("e", "Integer", 1, 1000, "Logarithmic"), Range("f", "Categorical", values=("x", "y"))],
)  # fmt: skip
def test_a_value_maps_back_to_its_point(scaled: Range) -> None:
    for unit in (0.0, 0.13, 0.5, 0.77, 0.99):
        value = scaled.value(unit)
        assert scaled.value(scaled.unit(value)) == value  # type: ignore[arg-type]
    assert scaled.unit("999999") is None
    assert scaled.unit("not a value") is None
