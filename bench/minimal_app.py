"""The yardstick: a minimal hand-written Flask app calling the same model the same way.

gunicorn imports it as `bench.minimal_app:app`; MODEL_FILE names the xgboost-model to serve.
"""

from __future__ import annotations

import os

import numpy as np
import xgboost as xgb
from flask import Flask, Response, request

booster = xgb.Booster()
booster.load_model(bytearray(open(os.environ["MODEL_FILE"], "rb").read()))  # noqa: SIM115
booster.set_param({"nthread": 1})

app = Flask(__name__)


@app.get("/ping")
def ping() -> Response:
    return Response(status=200)


@app.post("/invocations")
def invocations() -> Response:
    text = request.get_data().decode()
    rows = np.array(
        [[float(v) for v in line.split(",")] for line in text.strip().splitlines()],
        dtype=np.float32,
    )
    predictions = booster.inplace_predict(rows).tolist()
    body = "".join(f"{p!r}\n" for p in predictions)
    return Response(body, content_type="text/csv; charset=utf-8")
