"""The QualityCheck step: a data-quality or model-quality baseline through the local Model
Monitor.

Its Arguments are the analyzer's baselining processing job (for MODEL_QUALITY with the
`analysis_type`, `problem_type` and attribute variables the SDK's ModelQualityCheckConfig
sets). With SkipCheck false the job also checks the data against a baseline: the step's
SuppliedBaselineConstraints (and statistics), else the DriftCheckBaselines (ModelDataQuality
or ModelQuality) of the latest Approved model package of its ModelPackageGroupName;
violations fail the step when FailOnViolation is true.
"""

from __future__ import annotations

from typing import Any

from smlocal.emulator.jobs.pipelines.expressions import StepFailed, resolve
from smlocal.emulator.jobs.pipelines.steps import PROCESSING, StepResult, StepWork, run_job
from smlocal.emulator.support.records import Nested
from smlocal.model_monitor.contract import WITH_VIOLATIONS

BASELINE_DIR = "/opt/ml/processing/baseline"
# CheckType -> the model package's DriftCheckBaselines member holding its baseline.
DRIFT_MEMBERS = {"DATA_QUALITY": "ModelDataQuality", "MODEL_QUALITY": "ModelQuality"}


def quality_check(work: StepWork, arguments: Any) -> StepResult:
    """Run the baselining job (checking against a baseline unless SkipCheck)."""
    step = {k: resolve(v, work.scope) for k, v in work.spec.definition.items()
            if k not in ("Arguments", "Steps")}  # fmt: skip
    check_type = step.get("CheckType")
    if check_type not in DRIFT_MEMBERS:
        raise StepFailed(
            f"QualityCheck step {work.spec.name} has CheckType {check_type}: smlocal's Model "
            "Monitor computes data-quality and model-quality baselines only (DATA_QUALITY, "
            "MODEL_QUALITY)."
        )
    skip = bool(step.get("SkipCheck", False))
    group = step.get("ModelPackageGroupName")
    supplied = (step.get("SuppliedBaselineStatistics"), step.get("SuppliedBaselineConstraints"))
    baseline = supplied if supplied[1] else _registered_baseline(work, group, check_type)
    if not skip and not baseline[1]:
        raise StepFailed(
            f"QualityCheck step {work.spec.name} has no baseline to check against: give "
            "SuppliedBaselineConstraints, register a model package with DriftCheckBaselines "
            f"in group {group}, or set SkipCheck."
        )
    job = arguments if skip else _with_baseline(arguments, baseline)
    described = run_job(work, PROCESSING, job)
    shown = _metadata(step, described, baseline)
    work.note({"QualityCheck": shown})
    exit_message = str(described.get("ExitMessage", ""))
    if exit_message.startswith(WITH_VIOLATIONS) and step.get("FailOnViolation", True):
        raise StepFailed(f"ClientError: Quality check failed: {exit_message} See the violation "
                         f"report {shown['ViolationReport']}.")  # fmt: skip
    return StepResult({"QualityCheck": shown}, shown)


def _metadata(step: dict[str, Any], described: dict[str, Any], baseline: tuple[Any, Any]) -> Nested:
    """The step's QualityCheck metadata (also its properties)."""
    skip = bool(step.get("SkipCheck", False))
    output = str(described["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]).rstrip("/")
    calculated = (f"{output}/statistics.json", f"{output}/constraints.json")
    used = calculated if step.get("RegisterNewBaseline") else baseline
    metadata = {
        "CheckType": step["CheckType"],
        "BaselineUsedForDriftCheckStatistics": used[0],
        "BaselineUsedForDriftCheckConstraints": used[1],
        "CalculatedBaselineStatistics": calculated[0],
        "CalculatedBaselineConstraints": calculated[1],
        "ModelPackageGroupName": step.get("ModelPackageGroupName"),
        "ViolationReport": None if skip else f"{output}/constraint_violations.json",
        "CheckJobArn": described["ProcessingJobArn"],
        "SkipCheck": skip,
        "RegisterNewBaseline": bool(step.get("RegisterNewBaseline", False)),
    }
    return {k: v for k, v in metadata.items() if v is not None}


def _registered_baseline(work: StepWork, group: Any, check_type: str) -> tuple[Any, Any]:
    """The DriftCheckBaselines of this check type of the group's latest Approved package."""
    if not group:
        return None, None
    try:
        listed = work.call(
            "ListModelPackages",
            {"ModelPackageGroupName": group, "SortOrder": "Descending", "MaxResults": 100},
        )
    except Exception:
        return None, None  # fmt: skip
    for item in listed.get("ModelPackageSummaryList", []):
        if item.get("ModelApprovalStatus") != "Approved":
            continue
        package = work.call("DescribeModelPackage", {"ModelPackageName": item["ModelPackageArn"]})
        quality = package.get("DriftCheckBaselines", {}).get(DRIFT_MEMBERS[check_type], {})
        return (quality.get("Statistics", {}).get("S3Uri"),
                quality.get("Constraints", {}).get("S3Uri"))  # fmt: skip
    return None, None


def _with_baseline(arguments: dict[str, Any], baseline: tuple[Any, Any]) -> dict[str, Any]:
    """The baselining job, also given the baseline's files to check the data against."""
    inputs = list(arguments.get("ProcessingInputs", []))
    environment = dict(arguments.get("Environment", {}))
    for member, uri in (("statistics", baseline[0]), ("constraints", baseline[1])):
        if not uri:
            continue
        folder = f"{BASELINE_DIR}/{member}"
        inputs.append({"InputName": f"baseline_{member}", "S3Input": {
            "S3Uri": uri, "LocalPath": folder, "S3DataType": "S3Prefix",
            "S3InputMode": "File", "S3DataDistributionType": "FullyReplicated"}})  # fmt: skip
        environment[f"baseline_{member}"] = f"{folder}/{str(uri).rsplit('/', 1)[-1]}"
    return {**arguments, "ProcessingInputs": inputs, "Environment": environment}
