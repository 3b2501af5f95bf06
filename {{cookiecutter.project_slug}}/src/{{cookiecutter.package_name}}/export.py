"""Stage ``export``: the model in ONNX for serving, checked against scikit-learn on the test split.

Writes ``models/onnx/model.onnx`` and ``models/serving.json``, the record the service reads:
which runtime serves (``onnx`` or ``sklearn``), the SHA-256 of the ONNX file and of the
skops model it was made from, and how closely ONNX matched scikit-learn on the test split.

Parity: scikit-learn's forests compare ``float32`` features with their thresholds, but the
scaler before them computes in ``float64``. A plain conversion runs the scaler in ``float32``
too, and a value next to a threshold then takes the other branch (probabilities off by a
whole tree's vote, 0.01). So the graph takes ``float64`` input, runs the preprocessing in
``float64`` and casts to ``float32`` where scikit-learn does: right before a forest. Other
estimators run in ``float64`` throughout.

When ONNX differs from scikit-learn beyond :data:`PROBABILITY_TOLERANCE` (classification:
largest difference of a class probability, and every predicted label equal) or
:data:`RELATIVE_TOLERANCE` (regression), the stage fails. When the converter cannot handle
the estimator at all (e.g. HistGradientBoosting with skl2onnx 1.20 and onnx 1.23), the
model is served by scikit-learn instead, and ``serving.json`` says so and why;
``models/onnx/`` is then empty.

skl2onnx and onnxruntime are imported on use: they take a second to load.
"""

from __future__ import annotations

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
INPUT_NAME = "input"  # one float64 tensor, features in training order

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


def convert(model: Any, n_features: int) -> bytes:
    """The fitted pipeline as ONNX bytes; the same model gives the same bytes.

    Raises whatever skl2onnx raises for an estimator it cannot convert.
    """
    from onnx import TensorProto, compose, helper
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType
    from sklearn.base import is_classifier
    from sklearn.pipeline import Pipeline

    steps = model.steps if isinstance(model, Pipeline) else [("model", model)]
    estimator = steps[-1][1]
    options = {id(estimator): {"zipmap": False}} if is_classifier(estimator) else None  # probabilities as a tensor
    if not _casts_to_float32(estimator):
        whole = to_onnx(
            model,
            initial_types=[(INPUT_NAME, DoubleTensorType([None, n_features]))],
            options=options,
            target_opset=TARGET_OPSET,
        )
        return whole.SerializeToString()

    final = to_onnx(
        estimator,
        initial_types=[("features", FloatTensorType([None, n_features]))],
        options=options,
        target_opset=TARGET_OPSET,
    )
    nodes, source = [], INPUT_NAME
    if len(steps) > 1:
        before = to_onnx(
            Pipeline(steps[:-1]),
            initial_types=[(INPUT_NAME, DoubleTensorType([None, n_features]))],
            target_opset=TARGET_OPSET,
        )
        before = compose.add_prefix(before, "pre_", rename_inputs=False)
        nodes, source = list(before.graph.node), before.graph.output[0].name
        initializers = list(before.graph.initializer)
    else:
        initializers = []
    nodes.append(helper.make_node("Cast", [source], ["features"], to=TensorProto.FLOAT, name="to_float32"))
    preprocess = helper.make_model(
        helper.make_graph(
            nodes,
            "preprocess",
            [helper.make_tensor_value_info(INPUT_NAME, TensorProto.DOUBLE, [None, n_features])],
            [helper.make_tensor_value_info("features", TensorProto.FLOAT, [None, n_features])],
            initializer=initializers,
        ),
        opset_imports=list(final.opset_import),
        ir_version=final.ir_version,
    )
    merged = compose.merge_models(preprocess, final, io_map=[("features", "features")])
    merged.producer_name, merged.producer_version = final.producer_name, final.producer_version
    return merged.SerializeToString()


def session(content: bytes) -> Any:
    """An onnxruntime session on one thread: the service runs it on the event loop, no thread hop."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3  # warnings about unused initialisers are noise here
    return ort.InferenceSession(content, options, providers=["CPUExecutionProvider"])


def onnx_outputs(onnx_session: Any, features: np.ndarray, task: str) -> np.ndarray:
    """Class probabilities (classification) or predictions (regression) for float64 rows."""
    outputs = onnx_session.run(None, {INPUT_NAME: features})
    return outputs[1] if task == "classification" else outputs[0].reshape(-1)


def parity(model: Any, onnx_session: Any, features: pd.DataFrame, task: str) -> dict[str, Any]:
    """Compare ONNX with scikit-learn on these rows; raise ParityError beyond the tolerance."""
    matrix = features.to_numpy(dtype=np.float64)
    actual = onnx_outputs(onnx_session, matrix, task)
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


def run(
    data_dir: Path | None = None,
    model_path: Path = artifact.MODEL_PATH,
    onnx_path: Path = ONNX_PATH,
    serving_path: Path = SERVING_PATH,
) -> dict[str, Any]:
    """The ``export`` stage; returns the serving record it wrote."""
    from .data import PROCESSED_DIR, load_split  # imported on use: see TYPE_CHECKING above

    _, test, schema = load_split(data_dir or PROCESSED_DIR)
    model = artifact.load_model(model_path)
    features = test[schema.features]
    onnx_path.parent.mkdir(parents=True, exist_ok=True)
    onnx_path.unlink(missing_ok=True)  # no stale file from an earlier export
    record: dict[str, Any] = {
        "model_sha256": artifact.sha256(model_path.read_bytes()),  # what the ONNX file was made from
        "task": schema.task,
        "features": schema.features,
        "classes": model.classes_.tolist() if schema.task == "classification" else [],
        "example": {name: float(value) for name, value in features.iloc[0].items()},  # shown in the API docs
        "libraries": artifact.installed_versions(RECORDED_LIBRARIES),
    }
    try:
        onnx_bytes = convert(model, len(schema.features))
        onnx_session = session(onnx_bytes)
    except Exception as exc:  # skl2onnx and onnxruntime raise many types for an estimator they cannot handle
        reason = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}".rstrip(": ")
        record.update(runtime="sklearn", onnx_file=None, onnx_sha256=None, parity=None, fallback_reason=reason)
    else:
        record["parity"] = parity(model, onnx_session, features, schema.task)
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
