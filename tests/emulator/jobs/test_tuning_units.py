"""The tuner's pure parts: ranges and their scalings, the strategies' points, and the
training job request a tuning job's definition makes."""

from __future__ import annotations

import math
import statistics

import pytest

from smlocal.emulator.errors import ValidationException
from smlocal.emulator.jobs.tuning.ranges import Range, parse_ranges
from smlocal.emulator.jobs.tuning.records import TuningJob
from smlocal.emulator.jobs.tuning.strategies import (
    Observation,
    Sampler,
    grid,
    grid_size,
    seed_of,
)
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
        ({"ContinuousParameterRanges": [{"Name": "e", "MinValue": "NaN", "MaxValue": "1"}]},
         "The MinValue of hyperparameter range e must be less than or equal to its MaxValue "
         "(MinValue NaN, MaxValue 1)."),
        ({"ContinuousParameterRanges": [{"Name": "e", "MinValue": "nan", "MaxValue": "1"}]},
         "The value 'nan' of hyperparameter range e is not a number."),  # Java spells NaN
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


def test_a_huge_grid_is_counted_not_listed() -> None:
    ranges = [Range(f"p{i}", "Categorical", values=tuple(map(str, range(30)))) for i in range(30)]
    assert grid_size(ranges) == 30**30  # listing them would never end
    assert grid_size(ranges[:2]) == len(grid(ranges[:2])) == 900
    job = _job("Grid")
    job.config["ResourceLimits"]["MaxNumberOfTrainingJobs"] = 5
    assert job_count(job, ranges) == 5


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


def test_a_stop_that_lands_as_the_tuner_ends_the_job_wins(tmp_path) -> None:
    """StopHyperParameterTuningJob moved the job to Stopping after the tuner looked and
    decided Completed: the job ends Stopped (Stopping cannot become Completed)."""
    from smlocal.emulator.jobs.tuning.records import KIND
    from smlocal.emulator.jobs.tuning.tuner import Tuner, load
    from smlocal.emulator.settings import EmulatorSettings
    from smlocal.emulator.support.state import State
    from smlocal.emulator.support.store import Store

    state = State(Store(), EmulatorSettings(data_dir=tmp_path))
    job = _job()
    job.status = "Stopping"
    state.store.put(KIND, job.key, job.to_document())
    tuner = Tuner(state, _Calls())
    assert tuner.end(job.name, "Completed") is True
    ended = load(state, job.name)
    assert (ended.status, ended.failure_reason) == ("Stopped", None)
    assert tuner.end(job.name, "Completed") is False  # already ended


def test_a_training_job_created_just_before_a_kill_is_adopted_at_restart(tmp_path) -> None:
    """smlocal was killed after CreateTrainingJob answered and before the tuning job listed
    the training job: at the next start the tuning job lists it and counts it."""
    from smlocal.emulator.jobs.training.records import KIND as TRAINING
    from smlocal.emulator.jobs.training.records import TrainingJob
    from smlocal.emulator.jobs.tuning.records import KIND
    from smlocal.emulator.jobs.tuning.tuner import Tuner, child_request, load
    from smlocal.emulator.settings import EmulatorSettings
    from smlocal.emulator.support.state import State
    from smlocal.emulator.support.store import Store

    state = State(Store(), EmulatorSettings(data_dir=tmp_path))
    job = _job()
    job.config["ParameterRanges"] = {"CategoricalParameterRanges": [
        {"Name": "eta", "Values": ["0.1", "0.3"]}]}  # fmt: skip
    state.store.put(KIND, job.key, job.to_document())
    for name in ("t-001-0123abcd", "t-002-0123abcd", "other-001-0123abcd"):
        request = child_request(job, name, {"eta": "0.3"})
        trained = TrainingJob.requested(request, arn=f"arn:{name}", now=1.0, artifacts="s3://b/m")
        trained.status, trained.failure_reason = "Failed", "InternalServerError: stopped"
        state.store.put(TRAINING, trained.key, trained.to_document())

    Tuner(state, _Calls()).abandon_unfinished()
    ended = load(state, job.name)
    assert ended.status == "Failed"
    [child] = ended.children  # the next one only: t-002 and other-001 are not its
    assert child["TrainingJobName"] == "t-001-0123abcd"
    assert child["TunedHyperParameters"] == {"eta": "0.3"}
    assert child["Point"] == [0.75]
    assert ended.status_counters["RetryableError"] == 1
    assert sum(ended.status_counters.values()) == 1
    adopted = TrainingJob.from_document(state.store.get(TRAINING, "t-001-0123abcd"))
    assert adopted.tuning_job_arn == ended.arn


def test_a_nan_objective_is_never_the_best(tmp_path) -> None:
    """A metric regex can capture 'nan' or 'inf' (float() reads both): such a training job
    reported no usable objective, and a later real value is the best."""
    from types import SimpleNamespace

    from smlocal.emulator.jobs.tuning.records import objective_status
    from smlocal.emulator.jobs.tuning.tuner import _best

    job = _job()
    job.config["HyperParameterTuningJobObjective"] = {"Type": "Maximize", "MetricName": "m"}
    results = []
    for i, value in enumerate((float("nan"), float("inf"), 0.5)):
        record = SimpleNamespace(status="Completed", training_start_time=None,
                                 training_end_time=None, failure_reason=None,
                                 final_metric_data_list=[{"MetricName": "m", "Value": value}])  # fmt: skip
        child = {"TrainingJobName": f"t-00{i}", "TrainingJobArn": "arn", "CreationTime": 0.0,
                 "TunedHyperParameters": {}, "Point": []}  # fmt: skip
        results.append((job, child, record))
    best = _best(job, results)  # type: ignore[arg-type]
    assert best["TrainingJobName"] == "t-002"
    assert objective_status(results[0][2], "m") == "Failed"  # type: ignore[arg-type]
