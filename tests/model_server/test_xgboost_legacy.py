"""Legacy XGBoost models (0.90-1.7, plain or pickled) serve with exactly the old predictions."""

from __future__ import annotations

import io
import json
import pickle
import re
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
import requests

from smlocal.model_server.errors import ModelLoadError
from smlocal.model_server.predictors.xgboost_model import (
    load_booster,
    load_model,
    pickled_state,
    predict_fn,
)
from smlocal.model_server.xgboost_legacy import to_json_bytes, to_json_model
from tests.model_server.conftest import running
from tests.support import ROOT

FIXTURES = ROOT / "tests" / "data" / "legacy-xgboost"
EXPECTED = json.loads((FIXTURES / "predictions.json").read_text())
INPUTS = np.array([[np.nan if v is None else v for v in row] for row in EXPECTED["inputs"]])
CAPTURES = sorted((FIXTURES / "captures").glob("*.jsonl"))


def captured() -> list[tuple[str, str]]:
    """(CSV rows sent, CSV answer) of every record the real 0.90-1 churn endpoint captured."""
    pairs = []
    for path in CAPTURES:
        for line in path.read_text().splitlines():
            data = json.loads(line)["captureData"]
            pairs.append((data["endpointInput"]["data"], data["endpointOutput"]["data"]))
    return pairs


def numbers(text: str) -> np.ndarray:
    """The float32 values in a CSV answer, whatever its line and list layout."""
    return np.array([float(v) for v in re.split(r"[,\s\[\]]+", text) if v], dtype=np.float32)


def csv_rows(text: str) -> np.ndarray:
    return np.loadtxt(io.StringIO(text), delimiter=",", ndmin=2)


def test_the_captures_hold_six_records() -> None:
    assert len(CAPTURES) == 2
    assert len(captured()) == 6


def test_the_real_090_churn_model_predicts_what_its_endpoint_answered(
    legacy_xgboost: Path,
) -> None:
    booster = load_model(legacy_xgboost)
    for sent, answered in captured():
        predicted = predict_fn(csv_rows(sent), booster)
        assert predicted.dtype == np.float32
        assert predicted.tolist() == numbers(answered).tolist()


@pytest.mark.parametrize("name", sorted(EXPECTED["models"]))
def test_conversion_predicts_exactly_what_the_old_xgboost_did(name: str) -> None:
    booster = load_booster(FIXTURES / name)
    expected = np.array(EXPECTED["models"][name]["predictions"], dtype=np.float32)
    predicted = predict_fn(INPUTS.copy(), booster)
    assert predicted.shape == expected.shape
    assert predicted.tolist() == expected.tolist()


def test_every_version_and_model_kind_is_covered() -> None:
    names = set(EXPECTED["models"])
    for version in ("0.72.1", "0.82", "0.90", "1.0.2", "1.2.1", "1.3.3", "1.7.6"):
        for model in (
            "dart",
            "gblinear",
            "multi-softprob",
            "binary-logitraw-base",
            "early-stopped",
        ):
            assert {f"{version}/{model}.pkl", f"{version}/{model}.bin"} <= names


def test_the_json_document_keeps_what_the_binary_says() -> None:
    document = to_json_model((FIXTURES / "1.7.6" / "multi-softprob.bin").read_bytes())
    learner = document["learner"]
    assert learner["learner_model_param"]["num_class"] == "3"
    assert learner["learner_model_param"]["num_feature"] == "5"
    assert learner["objective"] == {
        "name": "multi:softprob",
        "softmax_multiclass_param": {"num_class": "3"},
    }
    model = learner["gradient_booster"]["model"]
    assert model["tree_info"] == [0, 1, 2] * 4
    assert len(model["trees"]) == 12


def test_models_before_13_start_from_their_margin_as_a_last_tree() -> None:
    """0.90-1.2 added the base margin after summing the trees; the JSON keeps that order."""
    document = to_json_model((FIXTURES / "0.90" / "regression-base.bin").read_bytes())
    learner = document["learner"]
    model = learner["gradient_booster"]["model"]
    assert learner["learner_model_param"]["base_score"] == "0.0"
    assert model["trees"][-1]["split_conditions"] == [2.5]
    assert model["trees"][-1]["left_children"] == [-1]
    assert model["gbtree_model_param"] == {"num_parallel_tree": "1", "num_trees": "5"}


def test_made_up_feature_names_of_090_are_dropped_real_ones_kept() -> None:
    raw = (FIXTURES / "0.90" / "regression.bin").read_bytes()
    made_up = [f"f{i}" for i in range(5)]
    assert to_json_model(raw, feature_names=made_up)["learner"]["feature_names"] == []
    named = to_json_model(raw, feature_names=list("abcde"), feature_types=["q"] * 5)
    assert named["learner"]["feature_names"] == list("abcde")
    assert named["learner"]["feature_types"] == ["q"] * 5


def test_early_stopped_models_keep_the_trees_the_container_predicted_with() -> None:
    """The containers predict with ntree_limit=best_ntree_limit: a pickle's attribute, or the
    model's "best_ntree_limit" attribute (XGBoost 1.4 on); a 0.90 binary has neither."""
    for name, kept in [("0.90/early-stopped.pkl", 1), ("1.7.6/early-stopped.bin", 1)]:
        state = pickled_state(FIXTURES / name)
        limit = state["best_ntree_limit"] if state is not None else None
        raw = bytes(state["handle"]) if state is not None else (FIXTURES / name).read_bytes()
        model = to_json_model(raw, ntree_limit=limit)["learner"]["gradient_booster"]["model"]
        assert model["gbtree_model_param"]["num_trees"] == str(kept), name
    whole = to_json_model((FIXTURES / "0.90" / "early-stopped.bin").read_bytes())
    assert whole["learner"]["gradient_booster"]["model"]["gbtree_model_param"]["num_trees"] == "4"
    pkl = EXPECTED["models"]["0.90/early-stopped.pkl"]["predictions"]
    assert pkl != EXPECTED["models"]["0.90/early-stopped.bin"]["predictions"]


def _string(text: str) -> bytes:
    return struct.pack("<Q", len(text)) + text.encode()


def _refused(tmp_path: Path, raw: bytes) -> str:
    path = tmp_path / "xgboost-model"
    path.write_bytes(raw)
    with pytest.raises(ModelLoadError) as caught:
        load_booster(path)
    return str(caught.value)


def test_unsupported_or_broken_legacy_models_are_refused_by_name(tmp_path: Path) -> None:
    raw = (FIXTURES / "1.7.6" / "regression.bin").read_bytes()
    message = _refused(tmp_path, raw.replace(_string("reg:squarederror"), _string("survival:aft")))
    assert message.startswith(
        "cannot load xgboost-model: the legacy model's objective 'survival:aft' is not "
        "supported (supported: binary:hinge, binary:logistic, "
    )
    assert _refused(tmp_path, raw.replace(_string("gbtree"), _string("gbfast"))) == (
        "cannot load xgboost-model: the legacy model's booster 'gbfast' is not supported"
    )
    assert _refused(tmp_path, raw[:700]) == (
        "cannot load xgboost-model: the legacy XGBoost model ends early: tree 0 needs 260 "
        "bytes at offset 486, the file has 700"
    )
    tree = raw.index(_string("gbtree")) + 14 + 160  # first TreeParam: num_roots comes first
    two_roots = raw[:tree] + struct.pack("<i", 2) + raw[tree + 4 :]
    assert _refused(tmp_path, two_roots) == (
        "cannot load xgboost-model: tree 0 of the legacy model has 2 roots, 13 nodes and leaf "
        "vectors of 0; only single-root trees with scalar leaves are supported"
    )
    assert _refused(tmp_path, b"bs64" + raw[4:]) == (
        "cannot load xgboost-model: the model is in XGBoost's base64 text format, which is "
        "not supported"
    )
    assert _refused(tmp_path, b"label,feature\n1,2\n" * 20) == (
        "cannot load xgboost-model: it is not an XGBoost model: neither JSON, UBJSON nor "
        "XGBoost's legacy binary format (its header is not one XGBoost 0.72-1.7 wrote)"
    )


def test_a_pickle_of_anything_but_a_booster_runs_no_code(tmp_path: Path) -> None:
    class Sneaky:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (print, ("owned",))

    assert _refused(tmp_path, pickle.dumps(Sneaky())) == (
        "cannot load xgboost-model: it is a pickle of builtins.print, not of an xgboost Booster"
    )


SERVED = [
    "0.90/multi-softprob.pkl",  # 0.90-1, 0.90-2
    "1.0.2/binary-logistic-base.pkl",  # 1.0-1
    "1.2.1/dart.pkl",  # 1.2-1
    "1.3.3/regression-base.bin",  # 1.3-1
    "1.3.3/early-stopped.pkl",  # a JSON snapshot cut to its best_ntree_limit
    "1.7.6/gblinear.bin",  # 1.5-1, 1.7-1
]


@pytest.mark.parametrize("name", SERVED)
def test_legacy_models_serve_through_gunicorn(name: str, tmp_path: Path) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    shutil.copy(FIXTURES / name, folder / "xgboost-model")
    complete = ~np.isnan(INPUTS).any(axis=1)
    body = "\n".join(",".join(repr(v) for v in row) for row in INPUTS[complete].tolist())
    expected = np.array(EXPECTED["models"][name]["predictions"], dtype=np.float32)[complete]
    for server in running(folder, tmp_path):
        response = requests.post(
            server.url + "/invocations",
            data=body,
            headers={"Content-Type": "text/csv", "Accept": "text/csv"},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        assert numbers(response.text).tolist() == expected.ravel().tolist()


def test_the_real_090_churn_artifact_serves_its_captured_answers(
    legacy_xgboost: Path, tmp_path: Path
) -> None:
    for server in running(legacy_xgboost, tmp_path):
        assert requests.get(server.url + "/ping", timeout=5).status_code == 200
        for sent, answered in captured():
            response = requests.post(
                server.url + "/invocations",
                data=sent,
                headers={"Content-Type": "text/csv"},
                timeout=10,
            )
            assert response.status_code == 200, response.text
            assert numbers(response.text).tolist() == numbers(answered).tolist()


def test_a_gblinear_model_with_feature_names_predicts_unnamed_rows(tmp_path: Path) -> None:
    """gblinear goes through a DMatrix (no in-place prediction), without the names check."""
    state = pickled_state(FIXTURES / "1.2.1" / "gblinear.pkl")
    assert state is not None
    path = tmp_path / "xgboost-model"
    path.write_bytes(to_json_bytes(bytes(state["handle"]), feature_names=list("abcde")))
    booster = load_booster(path)
    assert booster.feature_names == list("abcde")
    expected = EXPECTED["models"]["1.2.1/gblinear.pkl"]["predictions"]
    assert predict_fn(INPUTS.copy(), booster).tolist() == np.float32(expected).tolist()


def _tree_nodes_at(raw: bytes) -> int:
    """Offset of the first tree's nodes (20 bytes each: parent, left, right, sindex, info)."""
    return raw.index(_string("gbtree")) + 14 + 160 + 148


def _with(raw: bytes, offset: int, fmt: str, value: int) -> bytes:
    out = bytearray(raw)
    struct.pack_into(fmt, out, offset, value)
    return bytes(out)


# One int32 of a node changed: each once loaded, and most then segfaulted XGBoost's predict.
CORRUPT_NODES = {
    "left-child-1e6": (0, 4, "<i", 1_000_000),
    "right-child--5": (0, 8, "<i", -5),
    "left-child-self-loop": (0, 4, "<i", 0),
    "right-child-shared": (0, 8, "<i", 1),
    "leaf-with-one-child": (0, 8, "<i", -1),
    "split-index-2**31-1": (0, 12, "<I", 0x7FFFFFFF),
    "split-index-1e6": (0, 12, "<I", 1_000_000),
    "parent-out-of-range": (8, 0, "<i", 234881027),  # XGBoost 3 walks parents: SIGSEGV
    "parent-not-the-splitting-node": (8, 0, "<i", 2),
    "root-with-a-parent": (0, 0, "<i", 1),
    "leaf-split-index-1e6": (4, 12, "<I", 1_000_000),
}


@pytest.mark.parametrize(
    ("node", "field", "fmt", "value"), CORRUPT_NODES.values(), ids=CORRUPT_NODES
)
def test_trees_with_children_or_features_out_of_range_are_refused(
    tmp_path: Path, node: int, field: int, fmt: str, value: int
) -> None:
    raw = (FIXTURES / "1.7.6" / "regression.bin").read_bytes()
    corrupt = _with(raw, _tree_nodes_at(raw) + 20 * node + field, fmt, value)
    assert _refused(tmp_path, corrupt) == (
        "cannot load xgboost-model: tree 0 of the legacy model is inconsistent "
        "(child or feature indices out of range, or not a tree)"
    )


def _learner_int(raw: bytes, offset: int, value: int) -> bytes:
    start = 4 if raw[:4] == b"binf" else 0
    return _with(raw, start + offset, "<i", value)


def test_more_output_groups_than_trees_are_refused_before_building_them(tmp_path: Path) -> None:
    """A 0.90 model's num_class once made one constant tree per class: 2e6 took 67 s, 5 GB."""
    raw = (FIXTURES / "0.90" / "regression-base.bin").read_bytes()
    assert _refused(tmp_path, _learner_int(raw, 8, 100_000)) == (
        "cannot load xgboost-model: the legacy model claims 100000 output groups for 4 trees"
    )
    assert _refused(tmp_path, _learner_int(raw, 8, 2**31 - 1)).endswith(
        "claims 2147483647 output groups for 4 trees"
    )
    softmax = (FIXTURES / "0.90" / "multi-softmax.bin").read_bytes()
    tree_info = softmax.index(struct.pack("<3i", 0, 1, 2))
    assert _refused(tmp_path, _with(softmax, tree_info, "<i", 7)) == (
        "cannot load xgboost-model: the legacy model's tree 0 is for output group 7 of 3"
    )


def test_feature_names_must_match_the_feature_count(tmp_path: Path) -> None:
    """Checked before any list is built: num_feature 2**32-1 once grew past 12 GB."""
    raw = (FIXTURES / "0.90" / "regression.bin").read_bytes()
    with pytest.raises(ModelLoadError, match=r"^the pickle names 1 features; the model has 5$"):
        to_json_model(raw, feature_names=["f0"])
    huge = _learner_int(raw, 4, -1)  # num_feature is a uint32
    with pytest.raises(ModelLoadError, match=r"names 1 features; the model has 4294967295$"):
        to_json_model(huge, feature_names=["f0"])


def _pickle_with(state: dict[str, object]) -> bytes:
    """A pickled xgboost.core.Booster with the given state, as pickle protocol 4 writes it."""
    class_ref = b"\x8c\x0cxgboost.core\x94\x8c\x07Booster\x94\x93\x94)\x81\x94"
    return b"\x80\x04" + class_ref + pickle.dumps(state, protocol=4)[2:-1] + b"b."


def test_malformed_pickles_are_refused_without_allocating(tmp_path: Path) -> None:
    handle = (FIXTURES / "0.90" / "regression.bin").read_bytes()
    assert _refused(tmp_path, b"\x80\x04cbuiltins\nbytearray\nJ\x00\x00\x00\x01\x85R.") == (
        "cannot load xgboost-model: the pickle calls bytearray with something other than bytes"
    )
    reconstruct = b"\x80\x02ccopyreg\n_reconstructor\n."
    assert _refused(tmp_path, reconstruct) == (
        "cannot load xgboost-model: it is a pickle of copyreg._reconstructor, not of an "
        "xgboost Booster"
    )
    assert _refused(tmp_path, b"\x80\x09.") == (
        "cannot load xgboost-model: not a readable pickle (unsupported pickle protocol: 9)"
    )
    bad_utf8 = b"\x80\x04\x8c\x02\xff\xfe."
    assert _refused(tmp_path, bad_utf8).startswith(
        "cannot load xgboost-model: not a readable pickle ('utf-8' codec can't decode"
    )
    assert _refused(tmp_path, _pickle_with({"handle": handle, "feature_names": 7})) == (
        "cannot load xgboost-model: the pickled feature_names are not strings"
    )
    listed = _pickle_with({"handle": handle, "feature_names": list("abcde")})
    assert pickled_state(_write(tmp_path, listed)) == {
        "handle": handle,
        "feature_names": list("abcde"),
    }


def _write(tmp_path: Path, raw: bytes) -> Path:
    path = tmp_path / "xgboost-model"
    path.write_bytes(raw)
    return path


def test_a_signalling_nan_leaf_converts_without_a_warning() -> None:
    raw = (FIXTURES / "1.7.6" / "regression.bin").read_bytes()
    at = _tree_nodes_at(raw)
    left = [struct.unpack_from("<i", raw, at + 20 * i + 4)[0] for i in range(13)]
    leaf = left.index(-1)
    snan = _with(raw, at + 20 * leaf + 16, "<I", 0x7FA00000)
    tree = to_json_model(snan)["learner"]["gradient_booster"]["model"]["trees"][0]
    assert np.isnan(tree["split_conditions"][leaf])


def test_a_dart_model_needs_a_weight_per_tree(tmp_path: Path) -> None:
    raw = (FIXTURES / "1.7.6" / "dart.bin").read_bytes()
    count = raw.index(struct.pack("<Q", 4) + struct.pack("<4f", *_dart_weights(raw)))
    assert _refused(tmp_path, _with(raw, count, "<Q", 3)) == (
        "cannot load xgboost-model: the legacy dart model has 3 tree weights for 4 trees"
    )


def _dart_weights(raw: bytes) -> list[float]:
    weights: list[float] = to_json_model(raw)["learner"]["gradient_booster"]["weight_drop"]
    return weights


def test_tree_params_out_of_range_are_refused(tmp_path: Path) -> None:
    raw = (FIXTURES / "1.7.6" / "regression.bin").read_bytes()
    param = _tree_nodes_at(raw) - 148  # num_roots, num_nodes, num_deleted, depth, features, leaf
    assert _refused(tmp_path, _with(raw, param + 20, "<i", -452984832)) == (
        "cannot load xgboost-model: tree 0 of the legacy model has 1 roots, 13 nodes and leaf "
        "vectors of -452984832; only single-root trees with scalar leaves are supported"
    )
    assert _refused(tmp_path, _with(raw, param + 16, "<i", 6)) == (
        "cannot load xgboost-model: tree 0 of the legacy model has 6 features; the model has 5"
    )
