"""Asynchronous inference through the SageMaker Python SDK v2: `Model.deploy` with an
`AsyncInferenceConfig`, `AsyncPredictor.predict_async` / `predict`, `get_result` with a
WaiterConfig, and a model error surfacing as `AsyncInferenceModelError`."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tests.support import ROLE, XGBOOST_IMAGE, unique

CSV = {"ContentType": "text/csv"}
WAITER_THREADS = ("check_output_file", "check_failure_file")


def waiter() -> Any:
    """Poll S3 every 0.2 s, for at most 30 s."""
    from sagemaker.async_inference import WaiterConfig

    return WaiterConfig(max_attempts=150, delay=0.2)


@pytest.fixture(autouse=True)
def sdk_waiters_end() -> Any:
    """The SDK waits for the output and the failure file in two threads and leaves the one
    that lost polling until its attempts run out; let them end before the next test (or the
    emulator's stop) so none polls a stopped emulator."""
    yield
    for thread in threading.enumerate():
        if any(name in thread.name for name in WAITER_THREADS):
            thread.join(90)


@pytest.fixture
def predictor(smlocal_sagemaker_session: Any, iris_model_data: str) -> Any:
    from sagemaker.async_inference import AsyncInferenceConfig
    from sagemaker.deserializers import StringDeserializer
    from sagemaker.model import Model
    from sagemaker.predictor import Predictor
    from sagemaker.serializers import CSVSerializer

    session = smlocal_sagemaker_session
    bucket = session.default_bucket()
    name = unique("sdk-async")
    model = Model(
        image_uri=XGBOOST_IMAGE,
        model_data=iris_model_data,
        role=ROLE,
        sagemaker_session=session,
        predictor_cls=Predictor,
    )
    predictor = model.deploy(
        initial_instance_count=1,
        instance_type="ml.m5.large",
        endpoint_name=name,
        serializer=CSVSerializer(),
        deserializer=StringDeserializer(),
        async_inference_config=AsyncInferenceConfig(
            output_path=f"s3://{bucket}/async/{name}/out",
            failure_path=f"s3://{bucket}/async/{name}/failed",
            max_concurrent_invocations_per_instance=2,
        ),
    )
    yield predictor
    predictor.delete_endpoint()


def test_deploy_returns_an_async_predictor_that_predicts(predictor: Any) -> None:
    from sagemaker.predictor_async import AsyncPredictor

    assert isinstance(predictor, AsyncPredictor)
    answer = predictor.predict([7.7, 3.0, 6.1, 2.3], initial_args=CSV, waiter_config=waiter())
    assert answer == '{"predictions": [{"score": 2.0}]}'  # StringDeserializer accepts JSON
    response = predictor.predict_async([5.1, 3.5, 1.4, 0.2], initial_args=CSV)
    assert response.output_path.endswith(".out")
    assert response.get_result(waiter()) == '{"predictions": [{"score": 0.0}]}'


def test_a_model_error_raises_async_inference_model_error(predictor: Any) -> None:
    from sagemaker.exceptions import AsyncInferenceModelError

    response = predictor.predict_async([1, 2], initial_args=CSV)
    with pytest.raises(AsyncInferenceModelError) as caught:
        response.get_result(waiter())
    assert "Feature size of csv inference data 2" in str(caught.value)
