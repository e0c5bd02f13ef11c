"""`smlocal models convert`: an XGBoost artifact of any era as a current model.tar.gz.

The output's `xgboost-model` is the JSON that the installed XGBoost writes, so the artifact
serves as it is on any XGBoost from 1.0 on, and on SageMaker's current XGBoost images.
Other files of the artifact (code/, ...) are kept as they are.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smlocal.cli_common import cannot_write, local_path
from smlocal.model_server.errors import ModelLoadError


@dataclass(frozen=True)
class Conversion:
    """What `convert_artifact` read and wrote, for the command to print."""

    model_file: str
    source_format: str
    summary: str
    output: Path
    kept: list[str]


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `models convert` to the smlocal command line."""
    top = commands.add_parser(
        "models",
        help="convert model artifacts",
        description="Work with model artifacts before deploying them.",
    )
    sub = top.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = sub.add_parser(
        "convert",
        help="rewrite an XGBoost artifact (0.72-3.x, pickled or not) as a current model.tar.gz",
        description="Read a model.tar.gz, a model folder or a single XGBoost model file "
        "(legacy binary, pickled Booster, JSON or UBJSON) and write a model.tar.gz whose "
        "xgboost-model is XGBoost JSON; other files in the artifact are kept.",
    )
    p.add_argument("artifact", type=local_path, help="model.tar.gz, model folder or model file")
    p.add_argument(
        "--output",
        "-o",
        type=local_path,
        help="archive to write (default: ARTIFACT-converted.tar.gz)",
    )
    p.add_argument("--force", action="store_true", help="overwrite the output if it exists")
    p.set_defaults(handler=convert_command)


def convert_command(args: argparse.Namespace) -> int:
    """Run the conversion; exit 1 with one line saying why when it cannot be done."""
    from smlocal.model_server.xgboost_files import MODEL_FILE  # numpy: only when it runs

    output = args.output or default_output(args.artifact)
    try:
        done = convert_artifact(args.artifact, output, force=args.force)
    except ModelLoadError as exc:
        print(f"smlocal models convert: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # reading the artifact, or the scratch folder
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"smlocal models convert: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"read {args.artifact}: {done.model_file} is {done.source_format}")
    print(f"model: {done.summary}")
    kept = ", ".join(done.kept) if done.kept else "no other files"
    print(f"wrote {done.output}: {MODEL_FILE} as XGBoost JSON; kept {kept}")
    return 0


def default_output(artifact: Path) -> Path:
    """ARTIFACT-converted.tar.gz next to the artifact."""
    name = artifact.name.removesuffix(".gz").removesuffix(".tar").removesuffix(".tgz")
    return artifact.with_name(f"{name or 'model'}-converted.tar.gz")


def convert_artifact(artifact: Path, output: Path, *, force: bool = False) -> Conversion:
    """Write output as a model.tar.gz holding the artifact's model as XGBoost JSON.

    An existing output is replaced only with force, and only once the new archive is whole.
    """
    from smlocal.model_server.artifacts import extract_archive, pack_archive
    from smlocal.model_server.predictors.xgboost_model import load_booster, model_file
    from smlocal.model_server.xgboost_files import MODEL_FILE

    if not artifact.exists():
        raise ModelLoadError(f"{artifact} does not exist")
    if output.resolve() == artifact.resolve():
        raise ModelLoadError(f"the output {output} would overwrite the artifact; choose another")
    if output.exists() and not output.is_file():  # a rename would replace a folder or device
        raise ModelLoadError(f"cannot write {output}: it is not a regular file")
    if output.exists() and not force:
        raise ModelLoadError(f"{output} exists; pass --force to overwrite it")
    with tempfile.TemporaryDirectory(prefix="smlocal-convert-") as scratch:
        work = Path(scratch)
        folder: Path | None = artifact
        if artifact.is_file() and tarfile.is_tarfile(artifact):
            folder = work / "in"
            extract_archive(artifact, folder, source=str(artifact))
        elif artifact.is_file():
            folder = None  # a model file alone
        source = model_file(folder) if folder is not None else artifact
        booster = load_booster(source)
        source_format = describe(source)
        staged = work / "out"
        kept = _copy_others(folder, staged, skip=source) if folder is not None else []
        staged.mkdir(exist_ok=True)
        (staged / MODEL_FILE).write_bytes(bytes(booster.save_raw("json")))
        _write_archive(staged, output, pack_archive)
    return Conversion(source.name, source_format, summarise(booster), output, kept)


def _write_archive(staged: Path, output: Path, pack: Callable[[Path, Path], Path]) -> None:
    """Pack into a partial file next to the output, then rename it into place."""
    partial = output.with_name(f".{output.name}.{os.getpid()}.partial")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        pack(staged, partial)
        os.replace(partial, output)
    except OSError as exc:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
        raise ModelLoadError(cannot_write(output, exc)) from None


def _copy_others(folder: Path, staged: Path, skip: Path) -> list[str]:
    """Copy the artifact's other files and folders; their names, relative to the root."""
    shutil.copytree(folder, staged, symlinks=True, ignore=lambda d, names: _ignored(d, names, skip))
    return sorted(p.relative_to(staged).as_posix() for p in staged.rglob("*") if not p.is_dir())


def _ignored(directory: str, names: list[str], skip: Path) -> list[str]:
    return [n for n in names if Path(directory, n).resolve() == skip.resolve()]


def describe(path: Path) -> str:
    """The model file's format, in words."""
    from smlocal.model_server.predictors.xgboost_model import pickled_state
    from smlocal.model_server.xgboost_legacy import SERIALISATION_HEADER, written_by

    state = pickled_state(path)
    raw = bytes(state["handle"]) if state is not None else path.read_bytes()
    wrapper = "a pickled XGBoost Booster holding " if state is not None else ""
    if raw.startswith(b"{"):
        kind = "XGBoost JSON" if raw[1:2] in (b'"', b" ", b"\n") else "XGBoost UBJSON"
        return f"{wrapper}{kind}"
    snapshot = (
        " (in XGBoost 1.0-1.3's serialisation snapshot)"
        if raw.startswith(SERIALISATION_HEADER)
        else ""
    )
    return f"{wrapper}XGBoost's legacy binary format{snapshot}, written by {written_by(raw)}"


def summarise(booster: Any) -> str:
    """Booster kind, objective, rounds and features of a loaded model."""
    config = json.loads(booster.save_config())["learner"]
    gbm = config["gradient_booster"]["name"]
    objective = config["objective"]["name"]
    return (
        f"{gbm}, objective {objective}, {booster.num_boosted_rounds()} rounds, "
        f"{booster.num_features()} features"
    )
