"""The seed workshop's data and scripts, for the end-to-end tests of its notebooks 02 and 03.

aws-samples/amazon-sagemaker-from-idea-to-production (SDK v2 notebooks, e301a6f; the
script-mode training of 02 from 9ac866d). The data is a synthetic stand-in for the UCI
bank-marketing `bank-additional-full.csv`: the same 21 columns, types, category values and
`;`-separated quoted layout, with a label that depends on a few columns so that a model can
learn it. The scripts are written here afresh with the behaviour of the workshop's
preprocessing.py, evaluation.py and train.py (same paths, arguments, files and formats).
"""

from __future__ import annotations

import math
import random
import textwrap

CATEGORIES = {
    "job": ["admin.", "blue-collar", "entrepreneur", "housemaid", "management", "retired",
            "self-employed", "services", "student", "technician", "unemployed", "unknown"],
    "marital": ["divorced", "married", "single", "unknown"],
    "education": ["basic.4y", "basic.6y", "basic.9y", "high.school", "illiterate",
                  "professional.course", "university.degree", "unknown"],
    "default": ["no", "unknown", "yes"],
    "housing": ["no", "unknown", "yes"],
    "loan": ["no", "unknown", "yes"],
    "contact": ["cellular", "telephone"],
    "month": ["apr", "aug", "dec", "jul", "jun", "mar", "may", "nov", "oct", "sep"],
    "day_of_week": ["fri", "mon", "thu", "tue", "wed"],
    "poutcome": ["failure", "nonexistent", "success"],
}  # fmt: skip
COLUMNS = ["age", "job", "marital", "education", "default", "housing", "loan", "contact",
           "month", "day_of_week", "duration", "campaign", "pdays", "previous", "poutcome",
           "emp.var.rate", "cons.price.idx", "cons.conf.idx", "euribor3m", "nr.employed", "y"]  # fmt: skip
# After the preprocessing: 6 numeric columns and one indicator per category value.
FEATURES = 6 + sum(len(values) for values in CATEGORIES.values())


def _row(rng: random.Random) -> list[object]:
    """One customer: the raw columns, the label last."""
    picked = {name: rng.choice(values) for name, values in CATEGORIES.items()}
    contacted = picked["poutcome"] != "nonexistent"
    pdays = rng.randrange(0, 27) if contacted and rng.random() < 0.6 else 999
    age = min(95, max(17, round(rng.gauss(40, 11))))
    score = (-2.2 + 2.5 * (picked["poutcome"] == "success") + 1.2 * (pdays != 999)
             + 1.0 * (picked["month"] in ("mar", "oct", "sep", "dec"))
             + 0.8 * (picked["job"] in ("student", "retired")) + 0.6 * (age > 60)
             - 0.5 * (picked["contact"] == "telephone"))  # fmt: skip
    label = rng.random() < 1 / (1 + math.exp(-score))
    economy = rng.choice([(1.4, 93.994, -36.4, 4.857, 5191.0), (-1.8, 92.893, -46.2, 1.313, 5099.1),
                          (1.1, 93.2, -42.0, 4.021, 5195.8)])  # fmt: skip
    return [age, picked["job"], picked["marital"], picked["education"], picked["default"],
            picked["housing"], picked["loan"], picked["contact"], picked["month"],
            picked["day_of_week"], rng.randrange(0, 1500), 1 + int(rng.expovariate(0.5)), pdays,
            rng.randrange(1, 5) if contacted else 0, picked["poutcome"], *economy,
            "yes" if label else "no"]  # fmt: skip


def _cell(value: object) -> str:
    return f'"{value}"' if isinstance(value, str) else str(value)


def bank_marketing_csv(rows: int = 3000, seed: int = 1729) -> str:
    """The CSV text, header first, `;`-separated with quoted strings as UCI's file."""
    rng = random.Random(seed)
    lines = [";".join(f'"{name}"' for name in COLUMNS)]
    lines += [";".join(_cell(v) for v in _row(rng)) for _ in range(rows)]
    return "\n".join(lines) + "\n"


# preprocessing.py: indicator columns, dropped columns, one-hot categories, the label first;
# 70/20/10 split of the shuffled rows; CSVs without a header into the output folders
# SageMaker makes (train, validation, test x and y, and the baseline without the label).
PREPROCESSING = textwrap.dedent(
    """\
    import argparse
    import os

    import numpy as np
    import pandas as pd

    DROPPED = ["duration", "emp.var.rate", "cons.price.idx", "cons.conf.idx", "euribor3m",
               "nr.employed"]


    def arguments():
        parser = argparse.ArgumentParser()
        parser.add_argument("--filepath", default="/opt/ml/processing/input/")
        parser.add_argument("--filename", default="bank-additional-full.csv")
        parser.add_argument("--outputpath", default="/opt/ml/processing/output/")
        return parser.parse_known_args()[0]


    def features(raw):
        raw["no_previous_contact"] = (raw["pdays"] == 999).astype(int)
        raw["not_working"] = raw["job"].isin(["student", "retired", "unemployed"]).astype(int)
        encoded = pd.get_dummies(raw.drop(columns=DROPPED), dtype=int)
        label = encoded.pop("y_yes").rename("y")
        return pd.concat([label, encoded.drop(columns=["y_no"])], axis=1)


    def write(frame, *parts):
        frame.to_csv(os.path.join(ARGS.outputpath, *parts), index=False, header=False)


    if __name__ == "__main__":
        ARGS = arguments()
        data = features(pd.read_csv(os.path.join(ARGS.filepath, ARGS.filename), sep=";"))
        shuffled = data.sample(frac=1, random_state=1729)
        first, second = int(0.7 * len(data)), int(0.9 * len(data))
        train, validation, test = shuffled[:first], shuffled[first:second], shuffled[second:]
        print(f"Data split > train:{train.shape} | validation:{validation.shape} | "
              f"test:{test.shape}")
        write(train, "train", "train.csv")
        write(validation, "validation", "validation.csv")
        write(test["y"], "test", "test_y.csv")
        write(test.drop(columns=["y"]), "test", "test_x.csv")
        write(data.drop(columns=["y"]), "baseline", "baseline.csv")
        print("## Processing complete. Exiting.")
    """
)

# evaluation.py (run by a ScriptProcessor in the XGBoost image): the trained model's AUC on
# the test rows into evaluation.json, and a prediction baseline (prediction, probability,
# label with a header) for model-quality checks.
EVALUATION = textwrap.dedent(
    """\
    import json
    import os
    import tarfile

    import numpy as np
    import pandas as pd
    import xgboost as xgb
    from sklearn.metrics import auc, roc_curve

    BASE = "/opt/ml/processing"

    if __name__ == "__main__":
        with tarfile.open(f"{BASE}/model/model.tar.gz", "r:gz") as archive:
            archive.extractall(path=".")
        booster = xgb.Booster()
        booster.load_model("xgboost-model")
        test_x = pd.read_csv(f"{BASE}/test/test_x.csv", header=None).values
        labels = pd.read_csv(f"{BASE}/test/test_y.csv", header=None).to_numpy().squeeze()
        probability = booster.predict(xgb.DMatrix(test_x))
        false_positives, true_positives, _ = roc_curve(labels, probability)
        report = {"classification_metrics": {"auc_score": {
            "value": auc(false_positives, true_positives)}}}
        os.makedirs(f"{BASE}/evaluation", exist_ok=True)
        with open(f"{BASE}/evaluation/evaluation.json", "w") as out:
            json.dump(report, out)
        pd.DataFrame({"prediction": np.round(probability).astype(int),
                      "probability": probability, "label": labels}).to_csv(
            f"{BASE}/output/prediction_baseline/prediction_baseline.csv", index=False)
    """
)

# train.py (script mode in the XGBoost framework image): the hyperparameters as arguments,
# channels and model folder from SM_*; prints its AUCs in the built-in algorithm's log form
# (`#011` for the tab, as CloudWatch shows it) so the algorithm's metric definitions find
# them; the model as `xgboost-model` (pickled), with the `model_fn` serving loads it with.
TRAIN = textwrap.dedent(
    """\
    import argparse
    import json
    import os
    import pickle

    import pandas as pd
    import xgboost as xgb
    from sklearn.metrics import roc_auc_score


    def matrix(channel):
        files = sorted(os.path.join(channel, f) for f in os.listdir(channel))
        frame = pd.concat([pd.read_csv(f, header=None) for f in files], ignore_index=True)
        return xgb.DMatrix(frame.iloc[:, 1:].values, label=frame.iloc[:, 0].values)


    def model_fn(model_dir):
        with open(os.path.join(model_dir, "xgboost-model"), "rb") as handle:
            return pickle.load(handle)


    if __name__ == "__main__":
        parser = argparse.ArgumentParser()
        for name in ("max_depth", "num_round", "verbosity", "early_stopping_rounds"):
            parser.add_argument(f"--{name}", type=int)
        for name in ("eta", "alpha", "min_child_weight", "subsample", "colsample_bytree"):
            parser.add_argument(f"--{name}", type=float)
        parser.add_argument("--objective", type=str)
        parser.add_argument("--eval_metric", type=str)
        parser.add_argument("--model_dir", default=os.environ.get("SM_MODEL_DIR"))
        parser.add_argument("--train", default=os.environ.get("SM_CHANNEL_TRAIN"))
        parser.add_argument("--validation", default=os.environ.get("SM_CHANNEL_VALIDATION"))
        parser.add_argument("--sm_hosts", default=os.environ.get("SM_HOSTS"))
        args, _ = parser.parse_known_args()
        assert len(json.loads(args.sm_hosts)) == 1, "single-host training only"
        train, validation = matrix(args.train), matrix(args.validation)
        params = {"max_depth": args.max_depth, "eta": args.eta, "alpha": args.alpha,
                  "min_child_weight": args.min_child_weight, "subsample": args.subsample,
                  "verbosity": args.verbosity, "objective": args.objective}
        booster = xgb.train(params, train, num_boost_round=args.num_round,
                            evals=[(train, "train"), (validation, "validation")])
        train_auc = roc_auc_score(train.get_label(), booster.predict(train))
        validation_auc = roc_auc_score(validation.get_label(), booster.predict(validation))
        print(f"[0]#011train-auc:{train_auc}#011validation-auc:{validation_auc}")
        with open(os.path.join(args.model_dir, "xgboost-model"), "wb") as handle:
            pickle.dump(booster, handle)
        print("Stored trained model at", args.model_dir)
    """
)

# The workshop's hyperparameters of the XGBoost algorithm (notebook 02; 03 has max_depth 5).
HYPERPARAMETERS = {
    "num_round": 150, "max_depth": 3, "eta": 0.5, "alpha": 2.5, "objective": "binary:logistic",
    "eval_metric": "auc", "subsample": 0.8, "colsample_bytree": 0.8, "min_child_weight": 3,
    "early_stopping_rounds": 10, "verbosity": 1,
}  # fmt: skip
