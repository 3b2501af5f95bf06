"""The pipeline's two records, typed: ``models/metadata.json`` and ``models/serving.json``.

- :class:`ModelRecord` (``metadata.json``, written by ``evaluate``): which model file this is
  (its SHA-256), what it was trained on and with, and how well it scored. The gate, the
  report, the model card, provenance, monitoring and the service read it.
- :class:`ServingRecord` (``serving.json``, written by ``export``): how the model is served
  (the ONNX file and its SHA-256, or scikit-learn and why), the features a request carries,
  and the parity check of ONNX against scikit-learn. The runtimes and the service read it.

Readers get attributes, not dictionary lookups: a record that lacks a field or holds a value
of the wrong type is refused where it is read, naming the field and the fix, rather than
failing later as a ``KeyError``. Fields a record of an older project may lack have defaults:
the gate reads main's record, which a template update can leave a field short until main
retrains. Both files are JSON with sorted keys, reviewed in Git beside the code that made them.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

from . import paths
from .errors import ArtifactError, MissingOutputError

Task = Literal["classification", "regression"]
Record = TypeVar("Record", bound="_JsonRecord")


class _JsonRecord:
    """Reading and writing shared by the records: a JSON object whose keys are the fields."""

    @classmethod
    def from_json(cls: type[Record], raw: Any, source: Path) -> Record:
        """The record in ``raw`` (parsed JSON from ``source``), each field checked against its type."""
        if not isinstance(raw, dict):
            raise ArtifactError(f"{source}: expected a JSON object, found {type(raw).__name__}; {_FIX}")
        hints = typing.get_type_hints(cls)
        values = {}
        for spec in dataclasses.fields(cls):  # type: ignore[arg-type]  # every subclass is a dataclass
            if spec.name not in raw:
                if spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
                    raise ArtifactError(f"{source}: no field {spec.name!r}; it predates this code: {_FIX}")
                continue
            values[spec.name] = _checked(raw[spec.name], hints[spec.name], spec.name, source)
        return cls(**values)

    @classmethod
    def read(cls: type[Record], path: Path) -> Record:
        if not path.is_file():
            raise MissingOutputError(f"{path} not found; run `dvc repro` (or `dvc pull`) first")
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ArtifactError(f"{path}: not valid JSON ({exc}); {_FIX}") from None
        return cls.from_json(raw, path)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]  # every subclass is a dataclass

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n", encoding="utf-8")


_FIX = "write it again with `dvc repro` (or restore it with `git checkout` and `dvc pull`)"


def _checked(value: Any, hint: Any, name: str, source: Path) -> Any:
    """``value`` if it has the type ``hint`` names (a nested record is built from its object)."""
    if isinstance(hint, type) and issubclass(hint, _JsonRecord):
        return hint.from_json(value, source)
    if not _matches(value, hint):
        raise ArtifactError(f"{source}: {name} is {value!r:.80}, not {_describe(hint)}; {_FIX}")
    return value


def _matches(value: Any, hint: Any) -> bool:
    """Whether a JSON value fits a field's annotation (containers by their kind, not each item)."""
    origin = get_origin(hint)
    if hint is Any:
        return True
    if hint is type(None):
        return value is None
    if origin in (Union, types.UnionType):
        return any(_matches(value, option) for option in get_args(hint))
    if origin is Literal:
        return value in get_args(hint)
    if origin in (list, dict):
        return isinstance(value, origin)
    if hint is float:  # JSON writes 1.0 as 1.0, but a hand-written 1 is a number too
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def _describe(hint: Any) -> str:
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(option) for option in get_args(hint))
    if origin is Literal:
        return " or ".join(repr(option) for option in get_args(hint))
    if hint is type(None):
        return "null"
    return {list: "a list", dict: "an object", str: "text", int: "an integer", float: "a number"}.get(
        origin or hint, str(hint)
    )


@dataclass(frozen=True)
class TrainingData(_JsonRecord):
    """The table the model learnt from, as the data stage found it (``metadata.json`` ``data``)."""

    source: str  # sklearn:<name> or the raw file
    sha256: str  # of the table the data stage read
    rows: int
    train_rows: int
    test_rows: int
    split: str = "random"  # random | stratified | group | time
    duplicates: dict[str, int] = field(default_factory=dict)  # rows dropped, by reason
    inputs: dict[str, str] = field(default_factory=dict)  # the data stage's fingerprint of its inputs


@dataclass(frozen=True)
class ModelRecord(_JsonRecord):
    """``models/metadata.json``: the model file, what made it and how it scored (written by ``evaluate``)."""

    model_sha256: str  # every later load of the model file checks this
    task: Task
    data: TrainingData
    model_version: str = ""  # <package version>+<first 12 hex digits of the SHA-256>
    model_file: str = paths.MODEL_PATH.name
    trained_at: str = ""  # ISO 8601, UTC
    git_commit: str | None = None  # the commit the model was trained from; None outside Git
    target: str = ""
    features: list[str] = field(default_factory=list)
    feature_types: dict[str, str] = field(default_factory=dict)
    categories: dict[str, list[Any]] = field(default_factory=dict)
    labels: list[Any] = field(default_factory=list)  # the classes; empty for regression
    params: dict[str, Any] = field(default_factory=dict)  # params.yaml as the model depends on it
    metrics: dict[str, float] = field(default_factory=dict)  # on the whole test split
    libraries: dict[str, str] = field(default_factory=dict)  # versions that decide what the artifact holds

    @property
    def extra_trusted_types(self) -> list[str]:
        """The types a custom model declared (params.yaml ``model.custom.trusted_types``) for skops to load."""
        custom = (self.params.get("model") or {}).get("custom") or {}
        return list(custom.get("trusted_types") or [])

    @classmethod
    def read(cls, path: Path = paths.METADATA_PATH) -> ModelRecord:
        return super().read(path)


@dataclass(frozen=True)
class ServingRecord(_JsonRecord):
    """``models/serving.json``: how the model is served and what a request carries (written by ``export``)."""

    model_sha256: str  # the model file the ONNX file was converted from
    task: Task
    features: list[str]  # in training order
    feature_types: dict[str, str]  # numeric | categorical | boolean, per feature
    nullable: dict[str, bool]  # the data contract allows the feature empty
    runtime: Literal["onnx", "sklearn"]
    categories: dict[str, list[Any]] = field(default_factory=dict)  # per categorical feature
    classes: list[Any] = field(default_factory=list)  # in the order of the probability columns
    example: dict[str, Any] = field(default_factory=dict)  # a test row, shown in the API docs
    prediction_deciles: list[float] = field(default_factory=list)  # regression: the answers' histogram buckets
    onnx_file: str | None = None
    onnx_sha256: str | None = None  # the service loads the ONNX file only if it matches
    onnx_inputs: dict[str, list[str]] | None = None  # the graph's inputs by kind (numbers, text): their features
    parity: dict[str, Any] | None = None  # ONNX against scikit-learn: rows, largest difference, tolerance
    fallback_reason: str | None = None  # why scikit-learn serves, when ONNX cannot
    libraries: dict[str, str] = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path = paths.SERVING_PATH) -> ServingRecord:
        return super().read(path)
