"""reset() on what test writers leave behind: S3 Object Lock, and two resets at once."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from smlocal.emulator.account_reset import ResetIncomplete, reset_account
from tests.support import ROLE, XGBOOST_IMAGE, deploy

MODEL_DATA = "s3://reset-models/model/model.tar.gz"


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    from smlocal.emulator.pytest_plugin import SmlocalEmulator

    started = SmlocalEmulator(tmp_path_factory.mktemp("reset")).start()
    yield started
    started.stop()


def leftovers(emulator) -> dict[str, list]:
    sm, s3, logs = (emulator.client(s) for s in ("sagemaker", "s3", "logs"))
    return {
        "endpoints": sm.list_endpoints()["Endpoints"],
        "configs": sm.list_endpoint_configs()["EndpointConfigs"],
        "models": sm.list_models()["Models"],
        "groups": sm.list_model_package_groups()["ModelPackageGroupSummaryList"],
        "packages": sm.list_model_packages(ModelPackageType="Both")["ModelPackageSummaryList"],
        "buckets": [b["Name"] for b in s3.list_buckets()["Buckets"]],
        "log groups": logs.describe_log_groups()["logGroups"],
    }


EMPTY = {
    key: []
    for key in ("endpoints", "configs", "models", "groups", "packages", "buckets", "log groups")
}


def locked_bucket(s3, name: str, mode: str | None = None, hold: bool = False) -> None:
    """A bucket with Object Lock and one object, retained in `mode` for a day and/or held."""
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    lock: dict[str, Any] = {}
    if mode:
        lock["ObjectLockMode"] = mode
        lock["ObjectLockRetainUntilDate"] = datetime.now(UTC) + timedelta(days=1)
    if hold:
        lock["ObjectLockLegalHoldStatus"] = "ON"
    s3.put_object(Bucket=name, Key="locked.txt", Body=b"kept", **lock)
    s3.put_object(Bucket=name, Key="plain.txt", Body=b"not kept")


def test_reset_bypasses_governance_retention_and_lifts_legal_holds(emulator) -> None:
    s3 = emulator.client("s3")
    locked_bucket(s3, "a-governed", mode="GOVERNANCE")
    locked_bucket(s3, "b-held", hold=True)
    locked_bucket(s3, "c-both", mode="GOVERNANCE", hold=True)
    s3.create_bucket(Bucket="d-plain")
    s3.put_object(Bucket="d-plain", Key="k", Body=b"x")
    emulator.client("logs").create_log_group(logGroupName="/reset/after-the-buckets")

    emulator.reset()

    assert leftovers(emulator) == EMPTY


def test_compliance_retention_keeps_its_bucket_and_the_rest_is_reset(tmp_path) -> None:
    from smlocal.emulator.pytest_plugin import SmlocalEmulator

    emulator = SmlocalEmulator(tmp_path / "compliance").start()  # its bucket stays: our own
    try:
        s3 = emulator.client("s3")
        s3.create_bucket(Bucket="a-before")
        locked_bucket(s3, "b-compliant", mode="COMPLIANCE", hold=True)
        s3.create_bucket(Bucket="c-after")
        s3.put_object(Bucket="c-after", Key="k", Body=b"x")
        emulator.client("logs").create_log_group(logGroupName="/reset/after-the-buckets")

        with pytest.raises(ResetIncomplete) as caught:
            emulator.reset()

        message = str(caught.value)
        assert "s3://b-compliant: locked.txt (AccessDenied:" in message
        assert "COMPLIANCE retention cannot be bypassed" in message  # S3 named Object Lock
        assert "plain.txt" not in message  # deleted: only what the lock keeps is named
        assert list(caught.value.kept) == ["b-compliant"]
        assert leftovers(emulator) == {**EMPTY, "buckets": ["b-compliant"]}
        legal_hold = s3.get_object_legal_hold(Bucket="b-compliant", Key="locked.txt")
        assert legal_hold["LegalHold"]["Status"] == "OFF"  # lifted: only the retention stays
        # the next reset says the same, and still deletes everything else
        s3.create_bucket(Bucket="d-later")
        with pytest.raises(ResetIncomplete, match=r"b-compliant: locked\.txt"):
            emulator.reset()
        assert leftovers(emulator) == {**EMPTY, "buckets": ["b-compliant"]}
    finally:
        emulator.stop()


class LosingEveryRace:
    """A client whose every stop and delete finds the resource already stopped or deleted:
    each is made once for another reset that got there first, then once for ours."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def __getattr__(self, name: str) -> Any:
        call = getattr(self.client, name)
        if not name.startswith(("delete_", "stop_")):
            return call

        def twice(**params: Any) -> Any:
            call(**params)  # the other reset
            return call(**params)

        return twice


def populate(emulator, iris_tar, tag: str) -> None:
    """One of everything reset deletes: an endpoint, its config and model, a registered
    package, buckets with objects, a log group."""
    s3, sm = emulator.client("s3"), emulator.client("sagemaker")
    s3.create_bucket(Bucket="reset-models")
    s3.upload_file(str(iris_tar), "reset-models", "model/model.tar.gz")
    s3.create_bucket(Bucket=f"reset-{tag}")
    s3.put_object(Bucket=f"reset-{tag}", Key="a", Body=b"a")
    deploy(sm, f"reset-{tag}", [{"name": "A", "model_data": MODEL_DATA}])
    sm.create_model(ModelName=f"loose-{tag}", ExecutionRoleArn=ROLE,
                    PrimaryContainer={"Image": XGBOOST_IMAGE, "ModelDataUrl": MODEL_DATA})  # fmt: skip
    sm.create_model_package_group(ModelPackageGroupName=f"group-{tag}")
    sm.create_model_package(
        ModelPackageGroupName=f"group-{tag}",
        InferenceSpecification={
            "Containers": [{"Image": XGBOOST_IMAGE, "ModelDataUrl": MODEL_DATA}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )
    emulator.client("logs").create_log_group(logGroupName=f"/reset/{tag}")
    assert all(leftovers(emulator).values())


def test_a_delete_of_what_is_already_gone_counts_as_done(emulator, iris_tar) -> None:
    populate(emulator, iris_tar, "race")

    reset_account(lambda service: LosingEveryRace(emulator.client(service)))

    assert leftovers(emulator) == EMPTY


def test_two_resets_at_once_both_succeed(emulator, iris_tar) -> None:
    populate(emulator, iris_tar, "twins")
    failures: list[BaseException] = []

    def reset() -> None:
        try:
            emulator.reset()
        except BaseException as exc:  # reported by the assertion below
            failures.append(exc)

    threads = [threading.Thread(target=reset) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert leftovers(emulator) == EMPTY


class RegisteringLate:
    """A SageMaker client whose DeleteModelPackageGroup finds a package registered into the
    group after reset listed it (another test thread still at work)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def __getattr__(self, name: str) -> Any:
        call = getattr(self.client, name)
        if name != "delete_model_package_group":
            return call

        def after_a_registration(**params: Any) -> Any:
            self.client.create_model_package(
                ModelPackageGroupName=params["ModelPackageGroupName"],
                InferenceSpecification={
                    "Containers": [{"Image": XGBOOST_IMAGE, "ModelDataUrl": MODEL_DATA}],
                    "SupportedContentTypes": ["text/csv"],
                    "SupportedResponseMIMETypes": ["text/csv"],
                },
            )
            return call(**params)

        return after_a_registration


def test_a_validation_exception_for_a_real_reason_is_raised(emulator) -> None:
    """ValidationException is "already gone" only by its message: a group that still holds
    a model package is refused, and reset says so instead of claiming success."""
    emulator.client("sagemaker").create_model_package_group(ModelPackageGroupName="late")

    def client(service: str) -> Any:
        made = emulator.client(service)
        return RegisteringLate(made) if service == "sagemaker" else made

    with pytest.raises(ClientError) as caught:
        reset_account(client)

    assert caught.value.response["Error"] == {
        "Code": "ValidationException",
        "Message": "Model package group late still holds model packages; delete them first.",
    }
    emulator.reset()  # nothing registers late now
    assert leftovers(emulator) == EMPTY


def test_objects_kept_by_a_bucket_policy_are_named_with_s3s_reason(emulator) -> None:
    """Not only Object Lock keeps objects: a policy denying s3:DeleteObject does too, and
    ResetIncomplete says what S3 said (AccessDenied), not that Object Lock keeps them."""
    s3 = emulator.client("s3")
    s3.create_bucket(Bucket="policy-kept")
    s3.put_object(Bucket="policy-kept", Key="k", Body=b"x")
    deny = {"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject",
            "Resource": "arn:aws:s3:::policy-kept/*"}  # fmt: skip
    s3.put_bucket_policy(
        Bucket="policy-kept", Policy=json.dumps({"Version": "2012-10-17", "Statement": [deny]})
    )
    try:
        with pytest.raises(ResetIncomplete) as caught:
            emulator.reset()
        assert caught.value.kept == {"policy-kept": ["k (AccessDenied: Access Denied)"]}
        assert "Object Lock" not in str(caught.value)
        assert "s3://policy-kept: k (AccessDenied: Access Denied)" in str(caught.value)
    finally:
        s3.delete_bucket_policy(Bucket="policy-kept")
    emulator.reset()
    assert leftovers(emulator) == EMPTY
