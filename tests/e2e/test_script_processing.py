"""Processing jobs running user scripts in the scikit-learn and XGBoost images, through the
unmodified SDK's SKLearnProcessor, FrameworkProcessor, ScriptProcessor and Processor."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

BUCKET = "script-processing"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"

# Hard-coded container paths, as the workshop's scripts have them.
PREPROCESS = textwrap.dedent(
    """\
    import argparse, os, sys
    import pandas as pd
    parser = argparse.ArgumentParser()
    parser.add_argument("--test-ratio", type=float, default=0.5)
    args = parser.parse_args()
    frame = pd.read_csv("/opt/ml/processing/input/data.csv")
    cut = int(len(frame) * (1 - args.test_ratio))
    os.makedirs("/opt/ml/processing/train", exist_ok=True)
    frame[:cut].to_csv("/opt/ml/processing/train/train.csv", index=False)
    frame[cut:].to_csv("/opt/ml/processing/test/test.csv", index=False)
    print("split", len(frame), "rows at", cut, "from", os.getcwd())
    """
)
FAILING = "import sys\nprint('about to fail')\nraise ValueError('no such column: age')\n"


def _upload(session: Any, key: str, body: bytes) -> str:
    session.boto_session.client("s3").put_object(Bucket=BUCKET, Key=key, Body=body)
    return f"s3://{BUCKET}/{key}"


@pytest.fixture
def data_uri(smlocal_sagemaker_session: Any) -> str:
    session = smlocal_sagemaker_session
    session.boto_session.client("s3").create_bucket(Bucket=BUCKET)
    rows = "a,b\n" + "".join(f"{i},{i * 2}\n" for i in range(10))
    return _upload(session, "raw/data.csv", rows.encode())


def _io(data_uri: str) -> tuple[list[Any], list[Any]]:
    from sagemaker.processing import ProcessingInput, ProcessingOutput

    inputs = [ProcessingInput(source=data_uri, destination="/opt/ml/processing/input")]
    outputs = [
        ProcessingOutput(output_name="train", source="/opt/ml/processing/train",
                         destination=f"s3://{BUCKET}/out/train"),
        ProcessingOutput(output_name="test", source="/opt/ml/processing/test",
                         destination=f"s3://{BUCKET}/out/test", s3_upload_mode="Continuous"),
    ]  # fmt: skip
    return inputs, outputs


def _outputs(session: Any) -> dict[str, str]:
    s3 = session.boto_session.client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="out/")["Contents"]]
    return {k: s3.get_object(Bucket=BUCKET, Key=k)["Body"].read().decode() for k in keys}


def _script(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_sklearn_processor_runs_the_script_on_container_paths(
    smlocal_sagemaker_session: Any, data_uri: str, tmp_path: Path, capsys: Any
) -> None:
    from sagemaker.sklearn.processing import SKLearnProcessor

    session = smlocal_sagemaker_session
    processor = SKLearnProcessor(framework_version="1.2-1", role=ROLE, instance_count=1,
                                 instance_type="ml.m5.large", sagemaker_session=session)  # fmt: skip
    inputs, outputs = _io(data_uri)
    processor.run(code=_script(tmp_path, "preprocess.py", PREPROCESS), inputs=inputs,
                  outputs=outputs, arguments=["--test-ratio", "0.3"], logs=True)  # fmt: skip
    assert "split 10 rows at 7 from /opt/ml/processing" in capsys.readouterr().out
    described = processor.latest_job.describe()
    assert described["ProcessingJobStatus"] == "Completed"
    assert described["AppSpecification"]["ContainerEntrypoint"] == [
        "python3", "/opt/ml/processing/input/code/preprocess.py"]  # fmt: skip
    found = _outputs(session)
    assert found["out/train/train.csv"].splitlines()[1:] == [f"{i},{i * 2}" for i in range(7)]
    assert found["out/test/test.csv"].splitlines()[1:] == [f"{i},{i * 2}" for i in range(7, 10)]
    logs = session.boto_session.client("logs")
    streams = logs.describe_log_streams(
        logGroupName="/aws/sagemaker/ProcessingJobs",
        logStreamNamePrefix=described["ProcessingJobName"],
    )
    events = logs.get_log_events(logGroupName="/aws/sagemaker/ProcessingJobs",
                                 logStreamName=streams["logStreams"][0]["logStreamName"])  # fmt: skip
    assert any("split 10 rows at 7 from /opt/ml/processing" in e["message"]
               for e in events["events"])  # fmt: skip


def test_framework_processor_untars_source_dir_and_installs_requirements(
    smlocal_sagemaker_session: Any, data_uri: str, tmp_path: Path
) -> None:
    from sagemaker.processing import FrameworkProcessor
    from sagemaker.sklearn.estimator import SKLearn

    session = smlocal_sagemaker_session
    source = tmp_path / "src"
    source.mkdir()
    (source / "preprocess.py").write_text("import helper\n" + PREPROCESS)
    (source / "helper.py").write_text("print('helper imported')\n")
    (source / "requirements.txt").write_text("pandas\nscikit-learn\n")  # already satisfied
    processor = FrameworkProcessor(estimator_cls=SKLearn, framework_version="1.2-1", role=ROLE,
                                   instance_count=1, instance_type="ml.m5.large",
                                   sagemaker_session=session)  # fmt: skip
    inputs, outputs = _io(data_uri)
    processor.run(code="preprocess.py", source_dir=str(source), inputs=inputs,
                  outputs=outputs, logs=False)  # fmt: skip
    described = processor.latest_job.describe()
    assert described["ProcessingJobStatus"] == "Completed", described.get("FailureReason")
    assert described["AppSpecification"]["ContainerEntrypoint"][0] == "/bin/bash"
    assert len(_outputs(session)["out/train/train.csv"].splitlines()) == 6


def test_script_and_plain_processors_in_the_xgboost_image(
    smlocal_sagemaker_session: Any, data_uri: str, tmp_path: Path
) -> None:
    import sagemaker
    from sagemaker.processing import Processor, ScriptProcessor

    session = smlocal_sagemaker_session
    image = sagemaker.image_uris.retrieve("xgboost", session.boto_region_name, "1.7-1")
    script = ScriptProcessor(image_uri=image, command=["python3"], role=ROLE, instance_count=1,
                             instance_type="ml.m5.large", sagemaker_session=session)  # fmt: skip
    inputs, outputs = _io(data_uri)
    script.run(code=_script(tmp_path, "preprocess.py", PREPROCESS), inputs=inputs,
               outputs=outputs, logs=False)  # fmt: skip
    assert script.latest_job.describe()["ProcessingJobStatus"] == "Completed"

    code = _upload(session, "code/split.py", PREPROCESS.encode())
    from sagemaker.processing import ProcessingInput

    plain = Processor(image_uri=image, role=ROLE, instance_count=1, instance_type="ml.m5.large",
                      entrypoint=["python3", "/opt/ml/processing/code/split.py", "--test-ratio"],
                      sagemaker_session=session)  # fmt: skip
    plain_inputs = [*inputs, ProcessingInput(source=code, destination="/opt/ml/processing/code")]
    plain.run(inputs=plain_inputs, outputs=outputs, arguments=["0.2"], logs=False)
    assert plain.latest_job.describe()["ProcessingJobStatus"] == "Completed"
    assert len(_outputs(session)["out/test/test.csv"].splitlines()) == 3


def test_a_failing_script_fails_the_job_as_sagemaker_words_it(
    smlocal_sagemaker_session: Any, data_uri: str, tmp_path: Path
) -> None:
    from sagemaker.exceptions import UnexpectedStatusException
    from sagemaker.sklearn.processing import SKLearnProcessor

    session = smlocal_sagemaker_session
    processor = SKLearnProcessor(framework_version="1.2-1", role=ROLE, instance_count=1,
                                 instance_type="ml.m5.large", sagemaker_session=session)  # fmt: skip
    with pytest.raises(UnexpectedStatusException, match="AlgorithmError: See job logs"):
        processor.run(code=_script(tmp_path, "fail.py", FAILING), logs=False)
    described = processor.latest_job.describe()
    assert described["ProcessingJobStatus"] == "Failed"
    assert described["FailureReason"] == "AlgorithmError: See job logs for more information"
    assert "ValueError: no such column: age" in described["ExitMessage"]
    assert "about to fail" in described["ExitMessage"]


def test_requirements_pip_cannot_install_fail_the_job_in_the_log(
    smlocal_sagemaker_session: Any, tmp_path: Path
) -> None:
    from sagemaker.exceptions import UnexpectedStatusException
    from sagemaker.processing import FrameworkProcessor
    from sagemaker.sklearn.estimator import SKLearn

    session = smlocal_sagemaker_session
    session.boto_session.client("s3").create_bucket(Bucket=BUCKET)
    source = tmp_path / "src"
    source.mkdir()
    (source / "noop.py").write_text("print('never runs')\n")
    (source / "requirements.txt").write_text("smlocal-no-such-package==0.0.1\n")
    processor = FrameworkProcessor(estimator_cls=SKLearn, framework_version="1.2-1", role=ROLE,
                                   instance_count=1, instance_type="ml.m5.large",
                                   sagemaker_session=session)  # fmt: skip
    with pytest.raises(UnexpectedStatusException, match="AlgorithmError"):
        processor.run(code="noop.py", source_dir=str(source), logs=False)
    described = processor.latest_job.describe()
    assert described["FailureReason"] == "AlgorithmError: See job logs for more information"
    assert "smlocal-no-such-package" in described["ExitMessage"]
    assert "never runs" not in described["ExitMessage"]
