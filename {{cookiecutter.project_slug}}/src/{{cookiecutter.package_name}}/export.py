"""Stage ``export``: the model in ONNX for serving, checked against scikit-learn on the test split.

Writes ``models/onnx/model.onnx`` and ``models/serving.json``, the record the service reads:
which runtime serves (``onnx`` or ``sklearn``), the SHA-256 of the ONNX file and of the
skops model it was made from, the features with their types, categories and whether the
data contract allows them empty (the service builds its request schema from them), and how
closely ONNX matched scikit-learn.

The graph has one input per feature, named after it: numeric and boolean columns as
``float64`` (NaN for an empty cell), categorical ones as text, where an empty cell is the
empty string (ONNX text cannot be NaN). :func:`feeds` builds these inputs from rows.

Two adapters make the whole pipeline convert:

- Imputation (:func:`_convert_imputer`): skl2onnx writes scikit-learn's ``SimpleImputer``
  as the ``Imputer`` operator, which onnxruntime runs only on ``float32`` and whose text form
  needs the missing marker to be a string. Numbers are imputed with ``IsNaN`` and ``Where``
  in ``float64``; text uses skl2onnx's own converter with the empty string as the marker.
- Parity: scikit-learn's decision trees and forests compare ``float32`` features with their
  thresholds, but the preparation before them computes in ``float64``. A value next to a
  threshold would take the other branch if the preparation ran in ``float32`` (a whole
  tree's vote, 0.01). So the preparation is converted on its own in ``float64`` and cast to
  ``float32`` right before a forest, as scikit-learn does. Other estimators run in
  ``float64`` throughout.

When ONNX differs from scikit-learn beyond :data:`PROBABILITY_TOLERANCE` (classification:
largest difference of a class probability, and every predicted label equal) or
:data:`RELATIVE_TOLERANCE` (regression), the stage fails. When the converter cannot handle
the estimator at all (HistGradientBoosting with skl2onnx 1.20 and onnx 1.23; a custom model
without a converter), the model is served by scikit-learn instead, and ``serving.json``
says so and why; ``models/onnx/`` is then empty.

skl2onnx and onnxruntime are imported on use: they take a second to load.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import artifact
from .errors import ArtifactError, MissingOutputError

if TYPE_CHECKING:  # the service imports this module: it needs neither pandas nor scikit-learn to start
    import pandas as pd

ONNX_DIR = Path("models/onnx")
ONNX_PATH = ONNX_DIR / "model.onnx"
SERVING_PATH = Path("models/serving.json")
TEXT_TYPES = ("categorical",)  # features given to the graph as text; the others as float64

PROBABILITY_TOLERANCE = 1e-5  # classification: largest |ONNX - scikit-learn| of a probability
RELATIVE_TOLERANCE = 1e-5  # regression: |ONNX - scikit-learn| <= this * max(1, |scikit-learn|)
# Opsets that onnxruntime >= 1.17 runs and skl2onnx >= 1.16 writes.
TARGET_OPSET = {"": 17, "ai.onnx.ml": 3}
RECORDED_LIBRARIES = ["skl2onnx", "onnx", "onnxruntime"]


class ParityError(ArtifactError):
    """The ONNX model's predictions differ from scikit-learn's beyond the tolerance."""


def _casts_to_float32(estimator: Any) -> bool:
    """scikit-learn's decision trees and forests cast their input to float32 before comparing."""
    return hasattr(estimator, "tree_") or hasattr(getattr(estimator, "estimators_", None), "__len__")


def _convert_imputer(scope: Any, operator: Any, container: Any) -> None:
    """SimpleImputer in ONNX: IsNaN and Where for float64 numbers; skl2onnx's own converter for text."""
    from onnx import TensorProto
    from skl2onnx.common.data_types import StringTensorType
    from skl2onnx.operator_converters.common import concatenate_variables
    from skl2onnx.operator_converters.imputer_op import convert_sklearn_imputer

    imputer = operator.raw_operator
    if isinstance(operator.inputs[0].type, StringTensorType):
        text_imputer = copy.copy(imputer)
        text_imputer.missing_values = ""  # an empty text cell reaches the graph as "" (see feeds)
        operator.raw_operator = text_imputer
        convert_sklearn_imputer(scope, operator, container)
        return
    values = concatenate_variables(scope, operator.inputs, container)
    fill = scope.get_unique_variable_name("fill")
    container.add_initializer(fill, TensorProto.DOUBLE, [1, imputer.statistics_.size], imputer.statistics_.tolist())
    missing = scope.get_unique_variable_name("missing")
    container.add_node("IsNaN", [values], [missing], name=scope.get_unique_operator_name("IsNaN"))
    container.add_node(
        "Where", [missing, fill, values], [operator.outputs[0].full_name], name=scope.get_unique_operator_name("Where")
    )


def _input_types(feature_types: dict[str, str]) -> list[tuple[str, Any]]:
    from skl2onnx.common.data_types import DoubleTensorType, StringTensorType

    return [
        (name, StringTensorType([None, 1]) if kind in TEXT_TYPES else DoubleTensorType([None, 1]))
        for name, kind in feature_types.items()
    ]


def _to_onnx(model: Any, inputs: list[tuple[str, Any]], options: dict | None = None) -> Any:
    from skl2onnx import convert_sklearn
    from sklearn.impute import SimpleImputer

    return convert_sklearn(
        model,
        initial_types=inputs,
        options=options,
        target_opset=TARGET_OPSET,
        custom_conversion_functions={SimpleImputer: _convert_imputer},
    )


def convert(model: Any, feature_types: dict[str, str]) -> bytes:
    """The fitted pipeline as ONNX bytes, one input per feature; the same model gives the same bytes.

    Raises whatever skl2onnx raises for an estimator it cannot convert.
    """
    from onnx import TensorProto, compose, helper
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.base import is_classifier
    from sklearn.pipeline import Pipeline

    steps = model.steps if isinstance(model, Pipeline) else [("model", model)]
    estimator = steps[-1][1]
    options = {id(estimator): {"zipmap": False}} if is_classifier(estimator) else None  # probabilities as a tensor
    inputs = _input_types(feature_types)
    if not _casts_to_float32(estimator) or len(steps) == 1:
        if len(steps) == 1 and any(kind in TEXT_TYPES for kind in feature_types.values()):
            raise ValueError("the estimator takes text columns without a preparation step")
        whole = _to_onnx(model, inputs, options)
        whole.graph.doc_string = ""
        return whole.SerializeToString()

    before = _to_onnx(Pipeline(steps[:-1]), inputs)
    width = len(Pipeline(steps[:-1]).get_feature_names_out())
    final = _to_onnx(estimator, [("features", FloatTensorType([None, width]))], options)
    before = compose.add_prefix(before, "pre_", rename_inputs=False)
    # One set of opsets for both halves: the preparation may need a newer ai.onnx.ml (LabelEncoder) than the forest.
    opsets: dict[str, int] = {}
    for imported in [*before.opset_import, *final.opset_import]:
        opsets[imported.domain] = max(opsets.get(imported.domain, 0), imported.version)
    del final.opset_import[:]
    final.opset_import.extend(helper.make_opsetid(domain, version) for domain, version in sorted(opsets.items()))
    prepared = before.graph.output[0].name
    cast = helper.make_node("Cast", [prepared], ["features"], to=TensorProto.FLOAT, name="to_float32")
    preprocess = helper.make_model(
        helper.make_graph(
            [*before.graph.node, cast],
            "prepare",
            list(before.graph.input),
            [helper.make_tensor_value_info("features", TensorProto.FLOAT, [None, width])],
            initializer=list(before.graph.initializer),
        ),
        opset_imports=list(final.opset_import),
        ir_version=final.ir_version,
    )
    merged = compose.merge_models(preprocess, final, io_map=[("features", "features")])
    # merge_models adds a random suffix to the name and a note to the doc string:
    # the same model must give the same bytes.
    merged.graph.name, merged.graph.doc_string = "model", ""
    merged.producer_name, merged.producer_version = final.producer_name, final.producer_version
    return merged.SerializeToString()


def input_names(onnx_session: Any) -> list[str]:
    """The graph's input names, in feature order (skl2onnx may have replaced characters such as spaces)."""
    return [node.name for node in onnx_session.get_inputs()]


def feeds(columns: dict[str, Sequence], feature_types: dict[str, str], names: list[str]) -> dict[str, np.ndarray]:
    """The graph's inputs (``names``, in feature order) for rows given column by column as JSON-like
    values: numbers and booleans as float64 (None -> NaN), text as it is (None or blank -> "")."""
    inputs, numeric = {}, []
    for name, (feature, kind) in zip(names, feature_types.items(), strict=True):
        if kind in TEXT_TYPES:
            cells = ["" if value is None or not str(value).strip() else str(value) for value in columns[feature]]
            inputs[name] = np.array(cells, dtype=object).reshape(-1, 1)
        else:
            numeric.append((name, feature))
    if numeric:  # one conversion for all of them (numpy reads None as NaN), then a view per input
        matrix = np.array([columns[feature] for _, feature in numeric], dtype=np.float64)
        inputs.update((name, values.reshape(-1, 1)) for (name, _), values in zip(numeric, matrix, strict=True))
    return inputs


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def frame_feeds(frame: pd.DataFrame, feature_types: dict[str, str], names: list[str]) -> dict[str, np.ndarray]:
    """:func:`feeds` for a frame already prepared by ``data.model_input`` (text cells, NaN when empty)."""
    inputs = {}
    for name, (feature, kind) in zip(names, feature_types.items(), strict=True):
        values = frame[feature]
        if kind in TEXT_TYPES:
            inputs[name] = values.where(values.notna(), "").to_numpy(dtype=object).reshape(-1, 1)
        else:
            inputs[name] = np.ascontiguousarray(values.to_numpy(dtype=np.float64).reshape(-1, 1))
    return inputs


def request_rows(frame: pd.DataFrame, feature_types: dict[str, str]) -> list[dict[str, Any]]:
    """Rows of a frame as ``POST /predict`` takes them: numbers, text for categorical features, true/false
    for boolean ones, null for an empty cell. ``frame`` holds raw or typed columns (``data.model_input`` is
    applied here)."""
    from .data import model_input

    prepared = model_input(frame, feature_types)
    columns = {}
    for name, kind in feature_types.items():
        values = prepared[name].tolist()
        if kind == "boolean":
            columns[name] = [None if _empty(value) else bool(value) for value in values]
        elif kind in TEXT_TYPES:
            columns[name] = [None if _empty(value) else str(value) for value in values]
        else:
            columns[name] = [None if _empty(value) else float(value) for value in values]
    return [dict(zip(columns, row, strict=True)) for row in zip(*columns.values(), strict=True)]


def session(content: bytes) -> Any:
    """An onnxruntime session on one thread: the service runs it on the event loop, no thread hop."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3  # warnings about unused initialisers are noise here
    return ort.InferenceSession(content, options, providers=["CPUExecutionProvider"])


def onnx_outputs(onnx_session: Any, inputs: dict[str, np.ndarray], task: str) -> np.ndarray:
    """Class probabilities (classification) or predictions (regression) for the graph's inputs."""
    outputs = onnx_session.run(None, inputs)
    return outputs[1] if task == "classification" else outputs[0].reshape(-1)


def parity(
    model: Any, onnx_session: Any, features: pd.DataFrame, task: str, feature_types: dict[str, str] | None = None
) -> dict[str, Any]:
    """Compare ONNX with scikit-learn on these rows (as ``data.model_input`` prepares them); raise
    ParityError beyond the tolerance."""
    feature_types = feature_types or dict.fromkeys(features.columns, "numeric")
    matrix = features
    actual = onnx_outputs(onnx_session, frame_feeds(features, feature_types, input_names(onnx_session)), task)
    if task == "classification":
        expected = model.predict_proba(features)
        difference = float(np.abs(actual - expected).max())
        # A label may differ only where scikit-learn itself has a tie within the tolerance (an
        # even number of trees splitting 50/50): there argmax picks by float rounding alone.
        top_two = np.sort(expected, axis=1)[:, -2:]
        decided = (top_two[:, 1] - top_two[:, 0]) > PROBABILITY_TOLERANCE
        labels_differ = int(((actual.argmax(axis=1) != expected.argmax(axis=1)) & decided).sum())
        record = {"rows": len(matrix), "max_abs_difference": difference, "tolerance": PROBABILITY_TOLERANCE}
        record["labels_differ"] = labels_differ
        if difference > PROBABILITY_TOLERANCE or labels_differ:
            raise ParityError(
                f"ONNX probabilities differ from scikit-learn's by up to {difference:.3g} "
                f"(tolerance {PROBABILITY_TOLERANCE}) and {labels_differ} of {len(matrix)} predicted labels differ "
                "on the test split; the model cannot be served as ONNX"
            )
        return record
    expected = model.predict(features)
    relative = float((np.abs(actual - expected) / np.maximum(1.0, np.abs(expected))).max())
    record = {"rows": len(matrix), "max_relative_difference": relative, "tolerance": RELATIVE_TOLERANCE}
    if relative > RELATIVE_TOLERANCE:
        raise ParityError(
            f"ONNX predictions differ from scikit-learn's by up to {relative:.3g} relative "
            f"(tolerance {RELATIVE_TOLERANCE}) on the test split; the model cannot be served as ONNX"
        )
    return record


def _plain_labels(classes: np.ndarray) -> list:
    """Class labels as JSON values: numpy integers become ints, anything else stays as it is."""
    return [label.item() if hasattr(label, "item") else label for label in classes]


def example_row(features: pd.DataFrame, feature_types: dict[str, str]) -> dict[str, Any]:
    """The first row as the service takes it (empty cells as null): the example of its request schema."""
    return request_rows(features.head(1), feature_types)[0]


def run(
    data_dir: Path | None = None,
    model_path: Path = artifact.MODEL_PATH,
    onnx_path: Path = ONNX_PATH,
    serving_path: Path = SERVING_PATH,
    trusted_extra: list[str] | None = None,
    contract_path: Path | None = None,
) -> dict[str, Any]:
    """The ``export`` stage; returns the serving record it wrote."""
    from . import contract as contracts  # imported on use, like data: see TYPE_CHECKING above
    from .data import PROCESSED_DIR, load_part, model_input

    test, schema = load_part("test", data_dir or PROCESSED_DIR)
    contract = contracts.load(contract_path or contracts.CONTRACT_PATH)
    model = artifact.load_model(model_path, trusted_extra or ())
    features = model_input(test, schema)
    onnx_path.parent.mkdir(parents=True, exist_ok=True)
    onnx_path.unlink(missing_ok=True)  # no stale file from an earlier export
    record: dict[str, Any] = {
        "model_sha256": artifact.sha256(model_path.read_bytes()),  # what the ONNX file was made from
        "task": schema.task,
        "features": schema.features,
        "feature_types": schema.feature_types,
        "categories": schema.categories,
        # Whether a request may leave the feature empty (null): the contract allows empty cells in it.
        "nullable": {name: contract[name].empty > 0 for name in schema.features},
        "classes": _plain_labels(model.classes_) if schema.task == "classification" else [],
        "example": example_row(test[schema.features], schema.feature_types),  # shown in the API docs
        "libraries": artifact.installed_versions(RECORDED_LIBRARIES),
    }
    try:
        onnx_bytes = convert(model, schema.feature_types)
        onnx_session = session(onnx_bytes)
    except Exception as exc:  # skl2onnx and onnxruntime raise many types for an estimator they cannot handle
        reason = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}".rstrip(": ")
        record.update(runtime="sklearn", onnx_file=None, onnx_sha256=None, parity=None, fallback_reason=reason)
    else:
        record["parity"] = parity(model, onnx_session, features, schema.task, schema.feature_types)
        onnx_path.write_bytes(onnx_bytes)
        record.update(
            runtime="onnx",
            onnx_file=onnx_path.name,
            onnx_sha256=artifact.sha256(onnx_bytes),
            fallback_reason=None,
        )
    artifact.write_metadata(record, serving_path)
    return record


def read_record(path: Path = SERVING_PATH) -> dict[str, Any]:
    """The serving record; a clear error when the ``export`` stage has not run."""
    if not path.is_file():
        raise MissingOutputError(f"{path} not found; run `dvc repro` (or `dvc pull`) first")
    return artifact.read_metadata(path)
