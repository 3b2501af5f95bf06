"""Model artifacts: skops files that are byte-identical for the same model, loaded safely.

``skops.io.dumps`` names the arrays inside its zip archive after ``id()`` of each object
and stamps every entry with the current time, so the same model gives different bytes on
every run and DVC would see a "changed" model after each retrain. :func:`save_model`
renumbers those ids in order of appearance and writes the archive with fixed timestamps.

Loading never trusts every type: only :data:`TRUSTED_TYPES`, the types of the estimators
that :mod:`..pipeline.train` builds beyond what skops trusts by default. The model's record
(:class:`.records.ModelRecord`) holds its SHA-256; :func:`load_verified` refuses a model that does not match it.

skops is imported inside the functions that use it: it loads scikit-learn, which takes
seconds, and the CLI imports this module for its default paths (`--help` stays instant).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from collections.abc import Sequence
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

from . import paths
from .errors import ArtifactError, MissingOutputError
from .records import ModelRecord

# Types skops does not trust by default and that the supported estimators contain.
# tests/unit/test_artifact.py checks this list against every estimator train.py can build.
TRUSTED_TYPES = [
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn._loss.link.IdentityLink",
    "sklearn._loss.link.LogitLink",
    "sklearn._loss.link.MultinomialLogit",
    "sklearn._loss.link.Interval",
    "sklearn._loss.loss.HalfSquaredError",
    "sklearn._loss.loss.HalfBinomialLoss",
    "sklearn._loss.loss.HalfMultinomialLoss",
    "numpy.dtype",  # the output dtype of the encoders that prepare categorical columns
    # HistGradientBoosting with categorical features keeps a partial of check_array; skops loads a
    # partial only when the function inside it is trusted too, and check_array is the only one listed.
    "functools.partial",
    "sklearn.utils.validation.check_array",
]

_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can hold
_ARRAY_FILE = re.compile(r"^(\d+)(\.npy)$")


def dumps(model: Any) -> bytes:
    """Serialize a fitted model to skops bytes that depend only on the model."""
    import skops.io as sio  # imported on use: see the module docstring

    raw = zipfile.ZipFile(io.BytesIO(sio.dumps(model)))
    schema = json.loads(raw.read("schema.json"))
    ids: dict[int, int] = {}

    def renumber(node: Any) -> Any:
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                if key == "__id__" and isinstance(value, int):
                    value = ids.setdefault(value, len(ids) + 1)
                elif key == "file" and isinstance(value, str) and (array := _ARRAY_FILE.match(value)):
                    number, suffix = array.groups()
                    value = f"{ids.setdefault(int(number), len(ids) + 1)}{suffix}"
                out[key] = renumber(value)
            return out
        if isinstance(node, list):
            return [renumber(item) for item in node]
        return node

    canonical_schema = renumber(schema)
    entries = {"schema.json": json.dumps(canonical_schema, indent=2).encode()}
    for info in raw.infolist():
        match = _ARRAY_FILE.match(info.filename)
        if match:
            number, suffix = match.groups()
            if int(number) not in ids:
                raise ArtifactError(f"skops archive has an array {info.filename} the schema never names")
            entries[f"{ids[int(number)]}{suffix}"] = raw.read(info)
        elif info.filename != "schema.json":
            entries[info.filename] = raw.read(info)

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=_ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, entries[name])
    return buffer.getvalue()


def save_model(model: Any, path: Path = paths.MODEL_PATH, trusted: list[str] | None = None) -> str:
    """Write the model deterministically; return the SHA-256 of the file.

    A model that could not be loaded again (a type outside ``trusted``) is refused now, at
    training time, with the types to review, rather than by every later stage.
    """
    content = dumps(model)
    _refuse_untrusted(content, path, TRUSTED_TYPES if trusted is None else trusted)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return sha256(content)


def _refuse_untrusted(content: bytes, path: Path, trusted: list[str]) -> None:
    import skops.io as sio  # imported on use: see the module docstring

    try:
        untrusted = sorted(set(sio.get_untrusted_types(data=content)) - set(trusted))
    except Exception as exc:  # skops raises many types on a corrupt archive
        raise ArtifactError(f"{path}: not a readable skops model ({exc})") from None
    if untrusted:
        raise ArtifactError(
            f"{path}: refuses to load types that are not trusted: {untrusted}; review them, then list them "
            "in params.yaml model.custom.trusted_types (a custom model) or TRUSTED_TYPES in artifact.py"
        )


def load_model(path: Path = paths.MODEL_PATH, extra_trusted: Sequence[str] = ()) -> Any:
    """Load a model trusting only :data:`TRUSTED_TYPES` and ``extra_trusted`` (what a custom model
    declares in params.yaml); no integrity check (see load_verified)."""
    if not path.is_file():
        raise MissingOutputError(f"{path} not found; run `dvc repro` (or `dvc pull`) first")
    import skops.io as sio  # imported on use: see the module docstring

    content = path.read_bytes()
    trusted = [*TRUSTED_TYPES, *extra_trusted]
    _refuse_untrusted(content, path, trusted)
    return sio.loads(content, trusted=trusted)


def load_verified(
    model_path: Path = paths.MODEL_PATH, metadata_path: Path = paths.METADATA_PATH
) -> tuple[Any, ModelRecord]:
    """Load a model only if its SHA-256 equals the one its record (``metadata.json``) holds."""
    record = ModelRecord.read(metadata_path)
    verified_bytes(model_path, record.model_sha256, metadata_path)
    return load_model(model_path, record.extra_trusted_types), record


def verified_bytes(path: Path, expected: str | None, recorded_in: Path) -> bytes:
    """The content of ``path``, only if its SHA-256 is ``expected`` (as recorded in ``recorded_in``)."""
    if not path.is_file():
        raise MissingOutputError(f"{path} not found; run `dvc repro` (or `dvc pull`) first")
    content = path.read_bytes()
    actual = sha256(content)
    if actual != expected:
        raise ArtifactError(
            f"{path}: SHA-256 {actual} differs from {expected} recorded in {recorded_in}; "
            "the file was changed after training: restore it with `dvc checkout` or retrain with `dvc repro`"
        )
    return content


def installed_versions(names: list[str]) -> dict[str, str]:
    """The installed version of each named distribution (those not installed are left out), for a record."""
    versions = {}
    for name in names:
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            continue
    return versions


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()
