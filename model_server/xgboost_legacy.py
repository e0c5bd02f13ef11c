"""XGBoost's legacy binary model format (0.72-1.7), read without XGBoost and turned into JSON.

XGBoost 2 and later no longer read the binary format that SageMaker's 0.90-1 to 1.2-2
containers pickled and that 1.3-1 to 1.7-1 saved as `xgboost-model`. The format is a dump
of C structs (little-endian, as every x86/ARM build wrote it):

    ["binf"]                               4 bytes, written from 1.0 on, optional when read
    LearnerModelParam                      136 bytes
    objective name, booster name           dmlc strings (uint64 length + bytes)
    gbtree | dart:  GBTreeModelParam (160 bytes), per tree TreeParam (148 bytes),
                    nodes (20 bytes each), node stats (16 bytes each); tree_info (int32 per tree);
                    dart: weight_drop (uint64 count + float32s)
    gblinear:       GBLinearModelParam (136 bytes), weights (uint64 count + float32s)
    attributes                             if contain_extra_attrs: uint64 count + string pairs
    before 1.0: count:poisson's max_delta_step string, eval metric names; ignored here

Pickles from XGBoost 1.0-1.3 wrap it as "CONFIG-offset:" + int64 length + model + JSON config.
`to_json_model` answers the JSON document XGBoost 3's `Booster.load_model` reads, laid out
as XGBoost 1.7 wrote JSON, with the base score chosen so that XGBoost 3 adds up exactly the
float32 margin the old XGBoost did (`xgboost_objectives.start_margin`, `_add_constant_trees`).
"""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np

from smlocal.model_server.errors import ModelLoadError
from smlocal.model_server.xgboost_objectives import base_score_for, objective_config, start_margin

SERIALISATION_HEADER = b"CONFIG-offset:"
NOT_A_MODEL = "it is not an XGBoost model: neither JSON, UBJSON nor XGBoost's legacy binary format"
JSON_SCHEMA_VERSION = [1, 7, 6]  # the release whose JSON layout the converter writes

_NODE = np.dtype(
    [("parent", "<i4"), ("left", "<i4"), ("right", "<i4"), ("sindex", "<u4"), ("info", "<f4")]
)
_STAT = np.dtype(
    [("loss_chg", "<f4"), ("sum_hess", "<f4"), ("base_weight", "<f4"), ("leaf_child_cnt", "<i4")]
)
_LOW_31 = 0x7FFFFFFF
_LEARNER_FIELDS = (
    "base_score",
    "num_feature",
    "num_class",
    "contain_extra_attrs",
    "contain_eval_metrics",
    "major_version",
    "minor_version",
    "num_target",
    "boost_from_average",
)
# Attributes the old XGBoost kept for itself: read into the JSON's own fields, or obsolete.
_INTERNAL = frozenset({"objective", "metrics", "count_poisson_max_delta_step"})


class _Reader:
    """Little-endian reads over the model bytes; running out is a clear ModelLoadError."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, size: int, what: str) -> bytes:
        if size < 0 or self.pos + size > len(self.data):
            raise ModelLoadError(
                f"the legacy XGBoost model ends early: {what} needs {size} bytes at offset "
                f"{self.pos}, the file has {len(self.data)}"
            )
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk

    def unpack(self, fmt: str, what: str) -> tuple[Any, ...]:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt), what))

    def string(self, what: str) -> str:
        (size,) = self.unpack("Q", what)
        if size >= 0xFFFFFFFF:  # models written by 32-bit builds before 0.60: a 4-byte gap
            self.take(4, what)
            size >>= 32
        return self.take(size, what).decode("utf-8", errors="replace")

    def floats(self, what: str) -> np.ndarray:
        (count,) = self.unpack("Q", what)
        return np.frombuffer(self.take(4 * count, what), dtype="<f4")

    def records(self, dtype: np.dtype, count: int, what: str) -> np.ndarray:
        return np.frombuffer(self.take(dtype.itemsize * count, what), dtype=dtype)

    def remaining(self) -> int:
        return len(self.data) - self.pos


def is_legacy_binary(raw: bytes) -> bool:
    """True for bytes in the legacy binary format (JSON and UBJSON both open with '{')."""
    return not raw.startswith(b"{")


def unwrap_serialised(raw: bytes) -> bytes:
    """The binary model inside a 1.0-1.3 pickle's "CONFIG-offset:" snapshot, else the bytes."""
    if not raw.startswith(SERIALISATION_HEADER):
        return raw
    reader = _Reader(raw)
    reader.take(len(SERIALISATION_HEADER), "the snapshot header")
    (size,) = reader.unpack("q", "the snapshot's model length")
    return reader.take(size, "the snapshot's model")


def written_by(raw: bytes) -> str:
    """Which XGBoost wrote the legacy model, as far as its header says."""
    reader = _Reader(unwrap_serialised(raw))
    if reader.data[:4] == b"binf":
        reader.take(4, "the binf header")
    learner = _learner_param(reader)
    if learner["major_version"] == 0:
        return "XGBoost 0.90 or older"
    return f"XGBoost {learner['major_version']}.{learner['minor_version']}"


def to_json_model(
    raw: bytes,
    feature_names: list[str] | None = None,
    feature_types: list[str] | None = None,
    ntree_limit: int | None = None,
) -> dict[str, Any]:
    """The JSON model document XGBoost 3 loads, from a legacy binary model (or snapshot).

    SageMaker's containers up to 1.7-1 predict with `ntree_limit=booster.best_ntree_limit`:
    a pickled Booster's attribute (`ntree_limit` here), else the model's own
    "best_ntree_limit" attribute (set from 1.4 on). Only those first trees are kept.
    """
    reader = _Reader(unwrap_serialised(raw))
    head = reader.data[:4]
    if head == b"bs64":
        raise ModelLoadError("the model is in XGBoost's base64 text format, which is not supported")
    if head == b"binf":
        reader.take(4, "the binf header")
    learner = _learner_param(reader)
    objective = reader.string("the objective name")
    booster = reader.string("the booster name")
    if booster in ("gbtree", "dart"):
        gbm = _gbtree(reader, booster, learner["num_feature"])
    elif booster == "gblinear":
        gbm = _gblinear(reader, learner)
    else:
        raise ModelLoadError(f"the legacy model's booster {booster!r} is not supported")
    attributes = _attributes(reader) if learner["contain_extra_attrs"] else {}
    groups = max(learner["num_class"], 1)
    if booster != "gblinear":
        _check_groups(gbm, groups)
    if booster != "gblinear":
        _keep_first(gbm, _tree_limit(ntree_limit, attributes.get("best_ntree_limit")) * groups)
    version = (learner["major_version"], learner["minor_version"])
    margin = start_margin(objective, learner["base_score"], version)
    if booster != "gblinear" and version < (1, 3) and margin != 0:
        _add_constant_trees(gbm, margin, groups, learner["num_feature"])
        margin = np.float32(0.0)
    saved_objective = _saved_objective(attributes.get("objective"))
    names, types = _features(feature_names, feature_types, learner["num_feature"])
    return {
        "learner": {
            "attributes": {k: v for k, v in attributes.items() if not _internal(k)},
            "feature_names": names,
            "feature_types": types,
            "gradient_booster": gbm,
            "learner_model_param": {
                "base_score": base_score_for(objective, margin, learner["base_score"]),
                "boost_from_average": str(learner["boost_from_average"]),
                "num_class": str(learner["num_class"]),
                "num_feature": str(learner["num_feature"]),
                "num_target": "1",
            },
            "objective": objective_config(objective, learner["num_class"], saved_objective),
        },
        "version": JSON_SCHEMA_VERSION,
    }


def to_json_bytes(raw: bytes, **features: Any) -> bytes:
    """`to_json_model` serialised; non-finite floats as XGBoost writes them."""
    return json.dumps(to_json_model(raw, **features), separators=(",", ":")).encode()


def _learner_param(reader: _Reader) -> dict[str, Any]:
    if reader.remaining() < 136 + 16:
        raise ModelLoadError(NOT_A_MODEL + f" (it has only {reader.remaining()} bytes)")
    fields = reader.unpack("fIiiiIIIi", "LearnerModelParam")
    reader.take(136 - 36, "LearnerModelParam's reserved space")
    param = dict(zip(_LEARNER_FIELDS, fields, strict=True))
    if param["major_version"] > 1 or param["num_target"] > 1 or param["num_class"] < 0:
        raise ModelLoadError(NOT_A_MODEL + " (its header is not one XGBoost 0.72-1.7 wrote)")
    return param


def _gbtree(reader: _Reader, name: str, num_feature: int) -> dict[str, Any]:
    num_trees, num_roots = reader.unpack("ii", "GBTreeModelParam")
    reader.take(160 - 8, "GBTreeModelParam")
    if num_trees < 0:
        raise ModelLoadError(f"the legacy model says it has {num_trees} trees")
    trees = [_tree(reader, i, num_feature) for i in range(num_trees)]
    tree_info = reader.records(np.dtype("<i4"), num_trees, "tree_info").tolist()
    model = {
        # Before 1.0 this slot was num_roots (always 1); from 1.0 on, num_parallel_tree.
        "gbtree_model_param": {
            "num_parallel_tree": str(max(num_roots, 1)),
            "num_trees": str(num_trees),
        },
        "tree_info": tree_info,
        "trees": trees,
    }
    if name == "gbtree":
        return {"model": model, "name": "gbtree"}
    weight_drop = reader.floats("dart's weight_drop").tolist() if num_trees else []
    if num_trees and len(weight_drop) != num_trees:  # XGBoost 3 would fail every prediction
        raise ModelLoadError(
            f"the legacy dart model has {len(weight_drop)} tree weights for {num_trees} trees"
        )
    return {
        "gbtree": {"model": model, "name": "gbtree"},
        "name": "dart",
        "weight_drop": weight_drop,
    }


def _tree(reader: _Reader, index: int, model_features: int) -> dict[str, Any]:
    what = f"tree {index}"
    num_roots, num_nodes, num_deleted, _depth, num_feature, size_leaf_vector = reader.unpack(
        "6i", what
    )
    reader.take(148 - 24, what)
    if num_roots != 1 or not 0 <= size_leaf_vector <= 1 or num_nodes < 1:
        raise ModelLoadError(
            f"tree {index} of the legacy model has {num_roots} roots, {num_nodes} nodes and "
            f"leaf vectors of {size_leaf_vector}; only single-root trees with scalar leaves "
            "are supported"
        )
    if not 0 <= num_feature <= model_features:  # fewer: trees from before wider data came
        raise ModelLoadError(
            f"tree {index} of the legacy model has {num_feature} features; "
            f"the model has {model_features}"
        )
    nodes = reader.records(_NODE, num_nodes, what)
    stats = reader.records(_STAT, num_nodes, what)
    deleted = int(np.count_nonzero(nodes["sindex"][1:] == 0xFFFFFFFF))
    if deleted != num_deleted:
        raise ModelLoadError(f"tree {index} of the legacy model is inconsistent (deleted nodes)")
    if not _is_tree(nodes, model_features):
        raise ModelLoadError(
            f"tree {index} of the legacy model is inconsistent "
            "(child or feature indices out of range, or not a tree)"
        )
    return {
        "base_weights": _floats(stats["base_weight"]),
        "categories": [],
        "categories_nodes": [],
        "categories_segments": [],
        "categories_sizes": [],
        "default_left": (nodes["sindex"] >> 31).astype(int).tolist(),
        "id": index,
        "left_children": nodes["left"].tolist(),
        "loss_changes": _floats(stats["loss_chg"]),
        "parents": (nodes["parent"].astype("<u4") & _LOW_31).astype(int).tolist(),
        "right_children": nodes["right"].tolist(),
        "split_conditions": _floats(nodes["info"]),
        "split_indices": (nodes["sindex"] & _LOW_31).astype(int).tolist(),
        "split_type": [0] * num_nodes,
        "sum_hessian": _floats(stats["sum_hess"]),
        "tree_param": {
            "num_deleted": str(num_deleted),
            "num_feature": str(num_feature),
            "num_nodes": str(num_nodes),
            "size_leaf_vector": str(size_leaf_vector),
        },
    }


def _is_tree(nodes: np.ndarray, num_feature: int) -> bool:
    """True when XGBoost can walk the nodes down from node 0, and up from any node, safely.

    A node is a leaf when both children are -1; any other node splits on a feature below
    num_feature and has two children in range whose parent it is. No node but the root may be
    nobody's child, and none may be a child twice: then every walk down ends at a leaf. Every
    parent chain must end at the root (XGBoost walks them for depths), and leaves still name
    a feature in range (deleted nodes aside, as XGBoost wrote them).
    """
    count = len(nodes)
    left, right = nodes["left"].astype(np.int64), nodes["right"].astype(np.int64)
    parent = (nodes["parent"].astype("<u4") & _LOW_31).astype(np.int64)
    leaf = left == -1
    if np.any(leaf != (right == -1)) or parent[0] != _LOW_31 or np.any(parent[1:] >= count):
        return False
    inner = np.flatnonzero(~leaf)
    children = np.concatenate([left[inner], right[inner]])
    if np.any((children < 1) | (children >= count)) or len(np.unique(children)) != len(children):
        return False
    if np.any(parent[children] != np.concatenate([inner, inner])):
        return False
    up = parent.copy()
    up[0] = 0
    for _ in range(count.bit_length()):  # pointer jumping: 2**k-th ancestors
        up = up[up]
    features = nodes["sindex"] & _LOW_31
    live_leaf = leaf & (nodes["sindex"] != 0xFFFFFFFF)
    return bool(
        np.all(up == 0)
        and np.all(features[~leaf] < num_feature)
        and np.all(features[live_leaf] < max(num_feature, 1))
    )


def _tree_limit(pickled: int | None, attribute: str | None) -> int:
    if pickled is not None:
        return pickled
    return int(attribute) if attribute is not None and attribute.isdigit() else 0


def _check_groups(gbm: dict[str, Any], groups: int) -> None:
    """Every tree is for one of the output groups, and there are no more groups than trees
    (each would get a constant tree below)."""
    model = gbm["gbtree"]["model"] if gbm["name"] == "dart" else gbm["model"]
    trees = len(model["trees"])
    if groups > max(trees, 1):
        raise ModelLoadError(f"the legacy model claims {groups} output groups for {trees} trees")
    for index, group in enumerate(model["tree_info"]):
        if not 0 <= group < groups:
            raise ModelLoadError(
                f"the legacy model's tree {index} is for output group {group} of {groups}"
            )


def _keep_first(gbm: dict[str, Any], count: int) -> None:
    """Drop the trees after the first `count` (0 keeps all), as ntree_limit did."""
    model = gbm["gbtree"]["model"] if gbm["name"] == "dart" else gbm["model"]
    if not 0 < count < len(model["trees"]):
        return
    del model["trees"][count:]
    del model["tree_info"][count:]
    model["gbtree_model_param"]["num_trees"] = str(count)
    if gbm["name"] == "dart":
        del gbm["weight_drop"][count:]


def _add_constant_trees(
    gbm: dict[str, Any], margin: np.float32, groups: int, num_feature: int
) -> None:
    """Move the start margin into one single-leaf tree per output group, after the others.

    XGBoost before 1.3 summed a row's trees first and added the start margin last; XGBoost 3
    starts from the margin and adds tree by tree. Float32 sums in another order differ in
    the last bits, so the margin becomes a last tree and the start becomes zero: XGBoost 3
    then computes exactly (t1 + ... + tn) + margin, as the old version did.
    """
    model = gbm["gbtree"]["model"] if gbm["name"] == "dart" else gbm["model"]
    trees: list[dict[str, Any]] = model["trees"]
    for group in range(groups):
        trees.append(_leaf_tree(len(trees), float(margin), num_feature))
        model["tree_info"].append(group)
    model["gbtree_model_param"] = {"num_parallel_tree": "1", "num_trees": str(len(trees))}
    if gbm["name"] == "dart":
        gbm["weight_drop"] += [1.0] * groups


def _leaf_tree(index: int, value: float, num_feature: int) -> dict[str, Any]:
    return {
        "base_weights": [value],
        "categories": [],
        "categories_nodes": [],
        "categories_segments": [],
        "categories_sizes": [],
        "default_left": [0],
        "id": index,
        "left_children": [-1],
        "loss_changes": [0.0],
        "parents": [_LOW_31],
        "right_children": [-1],
        "split_conditions": [value],
        "split_indices": [0],
        "split_type": [0],
        "sum_hessian": [0.0],
        "tree_param": {
            "num_deleted": "0",
            "num_feature": str(num_feature),
            "num_nodes": "1",
            "size_leaf_vector": "0",
        },
    }


def _gblinear(reader: _Reader, learner: dict[str, Any]) -> dict[str, Any]:
    num_feature, num_group = reader.unpack("Ii", "GBLinearModelParam")
    reader.take(136 - 8, "GBLinearModelParam")
    weights = reader.floats("gblinear's weights")
    expected = (learner["num_feature"] + 1) * max(learner["num_class"], 1)
    if len(weights) != expected:
        raise ModelLoadError(
            f"the legacy gblinear model has {len(weights)} weights for {num_feature} features "
            f"and {num_group} outputs; expected {expected}"
        )
    return {"model": {"weights": _floats(weights)}, "name": "gblinear"}


def _attributes(reader: _Reader) -> dict[str, str]:
    (count,) = reader.unpack("Q", "the attribute count")
    if count > reader.remaining():
        raise ModelLoadError(f"the legacy model claims {count} attributes; the file is too short")
    pairs = [(reader.string("an attribute"), reader.string("an attribute")) for _ in range(count)]
    return dict(pairs)


def _internal(key: str) -> bool:
    return key in _INTERNAL or key.startswith("SAVED_PARAM_")


def _saved_objective(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        saved = json.loads(text)
    except ValueError:
        return {}
    return saved if isinstance(saved, dict) else {}


def _features(
    names: list[str] | None, types: list[str] | None, num_feature: int
) -> tuple[list[str], list[str]]:
    """Feature names kept from a pickle, except the f0, f1, ... that XGBoost < 1.0 made up.

    XGBoost 0.90 named every unnamed DMatrix column fN and pickled those names; kept, they
    would make XGBoost 3 refuse a DMatrix without names that 0.90 accepted.
    """
    if not names:
        return [], []
    if len(names) != num_feature:
        raise ModelLoadError(f"the pickle names {len(names)} features; the model has {num_feature}")
    if names == [f"f{i}" for i in range(num_feature)]:
        return [], []
    return list(names), list(types) if types and len(types) == len(names) else []


def _floats(values: np.ndarray) -> list[float]:
    """float32 values as Python floats: each converts back to the same float32."""
    with np.errstate(invalid="ignore"):  # a signalling NaN stays a NaN, without a warning
        floats: list[float] = values.astype(np.float64).tolist()
    return floats
