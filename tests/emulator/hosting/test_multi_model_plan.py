"""What a multi-model variant's servers are told, and what a single model's are not."""

from __future__ import annotations

from smlocal.emulator.hosting.endpoint_records import PlannedVariant
from smlocal.emulator.hosting.multi_model import served_model


def variant(url: str, *, multi: bool, cache: bool = True) -> PlannedVariant:
    return PlannedVariant(
        name="AllTraffic",
        model_name="m",
        image="sagemaker-xgboost:1.7-1",
        model_data_url=url,
        environment={},
        instance_count=1,
        serverless=False,
        weight=1.0,
        startup_timeout=None,
        multi_model=multi,
        model_cache=cache,
    )


def test_a_multi_model_variant_fetches_nothing_and_names_its_prefix() -> None:
    url = "https://bucket.s3.us-east-1.amazonaws.com/models/"
    fetched, env = served_model(variant(url, multi=True, cache=False), {"A": "1"})
    assert fetched is None
    assert env == {
        "A": "1",
        "SAGEMAKER_MULTI_MODEL": "true",
        "SMLOCAL_MODEL_PREFIX": "s3://bucket/models/",
        "SMLOCAL_MODEL_CACHE": "0",
    }


def test_a_single_model_cannot_make_itself_multi_model() -> None:
    url = "s3://bucket/model.tar.gz"
    fetched, env = served_model(variant(url, multi=False), {"SAGEMAKER_MULTI_MODEL": "true"})
    assert (fetched, env) == (url, {})


def test_the_plan_keeps_the_mode_across_its_stored_form() -> None:
    planned = variant("s3://b/p/", multi=True, cache=False)
    again = PlannedVariant.from_document(planned.to_document())
    assert (again.multi_model, again.model_cache) == (True, False)
    single = PlannedVariant.from_document(variant("s3://b/m.tar.gz", multi=False).to_document())
    assert (single.multi_model, single.model_cache) == (False, True)
    assert "MultiModel" not in variant("s3://b/m.tar.gz", multi=False).to_document()
