"""Stage ``export``: the model in ONNX for serving, checked against scikit-learn on the test split.

Writes ``models/onnx/model.onnx`` and ``models/serving.json``, the record the service reads:
which runtime serves (``onnx`` or ``sklearn``), the SHA-256 of the ONNX file and of the
skops model it was made from, the features with their types, categories and whether the
data contract allows them empty (the service builds its request schema from them), and how
closely ONNX matched scikit-learn.

The graph has one input per kind of feature, each a matrix of one row per row and one column
per feature in training order (:func:`input_groups`): ``numbers``, the numeric and boolean
features as ``float64`` (NaN for an empty cell), and ``text``, the categorical ones, where an
empty cell is the empty string (ONNX text cannot be NaN). Two inputs cost onnxruntime far less
per call than one per feature (see :func:`_group_inputs`). ``serving.json`` records them
(``onnx_inputs``), and the service checks its graph against the record (:func:`onnx_inputs`).
:func:`feeds` builds these inputs from rows.

Three adapters make the whole pipeline convert:

- Imputation (:func:`_convert_imputer`): skl2onnx writes scikit-learn's ``SimpleImputer``
  as the ``Imputer`` operator, which onnxruntime runs only on ``float32`` and whose text form
  needs the missing marker to be a string. Numbers are imputed with ``IsNaN`` and ``Where``
  in ``float64``; text uses skl2onnx's own converter with the empty string as the marker.
- Forests (:func:`_add_forest`): scikit-learn's decision trees and forests compare
  ``float32`` features with their thresholds, but the preparation before them computes in
  ``float64``. A value next to a threshold would take the other branch if the preparation ran
  in ``float32`` (a whole tree's vote, 0.01). So the preparation runs in ``float64`` and a
  ``Cast`` to ``float32`` comes right before the forest, as in scikit-learn. skl2onnx converts
  the preparation; the forest's tree ensemble is written into the same graph from the trees'
  arrays, one tree at a time (skl2onnx's own forest converter holds about ten times the ONNX
  file in Python lists). Other tree models get the same ``Cast`` before skl2onnx's converter.
- HistGradientBoosting (:func:`_convert_hist_gradient_boosting`): it compares ``float64``
  features with ``float64`` thresholds. skl2onnx's converter builds the tree attributes right
  but hands onnx a mix of numpy and Python numbers that ``make_node`` refuses, and would round
  the thresholds to ``float32``; the adapter gives them as Python numbers and the thresholds
  and leaf values as ``float64`` tensors. Native categorical splits (``categorical_features``)
  have no ONNX form in skl2onnx: such a model is served by scikit-learn (the default pipeline
  gives HistGradientBoosting its categories as ordinal codes, split like numbers).

When ONNX differs from scikit-learn beyond :data:`PROBABILITY_TOLERANCE` (classification:
largest difference of a class probability, and every predicted label equal) or
:data:`RELATIVE_TOLERANCE` (regression), the stage fails. The check runs on the whole test
split, or on ``export.parity_rows`` of its rows drawn with the seed when it is larger. When
the converter cannot handle the estimator at all (a custom model without a converter,
HistGradientBoosting with native categorical splits), the model is served by scikit-learn
instead, and ``serving.json`` says so and why; ``models/onnx/`` is then empty.

A model larger than ``export.max_model_mb`` fails the stage, with its size and how to bound
it: a forest is refused before conversion from its node count, any model after it from its
size. The export holds one copy of the model at a time where it can: scikit-learn's outputs
for the parity check are computed first, the ONNX graph is built in one piece (no merge of
two graphs) and serialized once, and the scikit-learn model and the bytes are dropped before
onnxruntime reads the file (its session takes about 11 times a forest's file in memory).

skl2onnx and onnxruntime are imported on use: they take a second to load.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Mapping, Sequence
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..core import artifact, paths
from ..core.errors import ArtifactError
from ..core.records import ServingRecord

if TYPE_CHECKING:  # the service imports this module: it needs neither pandas nor scikit-learn to start
    import pandas as pd

    from ..core.params import Params

TEXT_TYPES = ("categorical",)  # features given to the graph as text; the others as float64
NUMBERS, TEXT = "numbers", "text"  # the graph's inputs: one (rows, features) matrix per kind (input_groups)

PROBABILITY_TOLERANCE = 1e-5  # classification: largest |ONNX - scikit-learn| of a probability
RELATIVE_TOLERANCE = 1e-5  # regression: |ONNX - scikit-learn| <= this * max(1, |scikit-learn|)
# Opsets that onnxruntime >= 1.17 runs and skl2onnx >= 1.16 writes.
TARGET_OPSET = {"": 17, "ai.onnx.ml": 3}
RECORDED_LIBRARIES = ["skl2onnx", "onnx", "onnxruntime"]


class ParityError(ArtifactError):
    """The ONNX model's predictions differ from scikit-learn's beyond the tolerance."""


class ModelSizeError(ArtifactError):
    """The model is larger than ``export.max_model_mb``."""


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


TREE_ENSEMBLES = ("TreeEnsembleClassifier", "TreeEnsembleRegressor")
# Tree-ensemble attributes that ai.onnx.ml 3 takes as float64 tensors (as plain attributes they are float32).
DOUBLE_ATTRIBUTES = ("nodes_values", "class_weights", "target_weights", "base_values")


def _python_value(value: Any) -> Any:
    """A numpy scalar as the Python int, float or str onnx.helper accepts (it refuses numpy integers and bools)."""
    if isinstance(value, (str, bytes)):
        return value
    if isinstance(value, (bool, np.bool_, int, np.integer)):
        return int(value)
    return float(value)


class _TreeEnsembleWriter:
    """skl2onnx's node container, writing the tree ensemble of one operator as onnx and onnxruntime need it.

    - Attribute lists as Python numbers: skl2onnx's HistGradientBoosting converter mixes in
      numpy integers and booleans, which ``onnx.helper.make_node`` refuses.
    - With ``float64``, thresholds and leaf values as float64 tensors (ai.onnx.ml 3), which
      skl2onnx would otherwise round to float32.
    - The scores, float32 in a tree ensemble whatever its input, cast to the type skl2onnx
      declared for the operator's output.

    Every other node goes to the container as it is.
    """

    def __init__(self, container: Any, scope: Any, operator: Any, float64: bool) -> None:
        self._container, self._scope, self._operator, self._float64 = container, scope, operator, float64

    def __getattr__(self, name: str) -> Any:
        return getattr(self._container, name)

    def add_node(self, op_type: str, inputs: Any, outputs: Any, op_domain: str = "", **attributes: Any) -> None:
        if op_type not in TREE_ENSEMBLES:
            self._container.add_node(op_type, inputs, outputs, op_domain=op_domain, **attributes)
            return
        from onnx import TensorProto, numpy_helper
        from skl2onnx.common.data_types import DoubleTensorType

        if self._float64:
            attributes.update(op_version=3)
            attributes.pop("nodes_hitrates", None)  # optional, and all 1.0
        plain: dict[str, Any] = {}
        for key, value in attributes.items():
            if self._float64 and key in DOUBLE_ATTRIBUTES:
                plain[f"{key}_as_tensor"] = numpy_helper.from_array(np.asarray(value, dtype=np.float64).ravel())
            elif isinstance(value, (list, tuple, np.ndarray)):
                plain[key] = [_python_value(item) for item in value]
            else:
                plain[key] = value
        outputs = [outputs] if isinstance(outputs, str) else list(outputs)
        if not isinstance(self._operator.outputs[-1].type, DoubleTensorType):
            self._container.add_node(op_type, inputs, outputs, op_domain=op_domain, **plain)
            return
        scores = self._scope.get_unique_variable_name("scores_float32")
        self._container.add_node(op_type, inputs, [*outputs[:-1], scores], op_domain=op_domain, **plain)
        cast = self._scope.get_unique_operator_name("Cast")
        self._container.add_node("Cast", [scores], [outputs[-1]], name=cast, to=TensorProto.DOUBLE)


def _forest_after_float32_cast(converter: Any) -> Any:
    """skl2onnx's converter of a tree model, after a Cast of its (float64) input to float32, as scikit-learn does."""

    def convert_after_cast(scope: Any, operator: Any, container: Any) -> None:
        from onnx import TensorProto
        from skl2onnx.common.data_types import FloatTensorType

        source = operator.inputs[0]
        if not isinstance(source.type, FloatTensorType):
            features = scope.declare_local_variable("features_float32", FloatTensorType(source.type.shape))
            cast = scope.get_unique_operator_name("Cast")
            container.add_node("Cast", [source.full_name], [features.full_name], name=cast, to=TensorProto.FLOAT)
            operator.inputs.set_element(0, features)
        converter(scope, operator, _TreeEnsembleWriter(container, scope, operator, float64=False))

    return convert_after_cast


def _convert_hist_gradient_boosting(scope: Any, operator: Any, container: Any) -> None:
    """HistGradientBoosting in ONNX: skl2onnx's tree attributes, in float64 (see :class:`_TreeEnsembleWriter`)."""
    from skl2onnx.operator_converters.random_forest import (
        convert_sklearn_random_forest_classifier,
        convert_sklearn_random_forest_regressor_converter,
    )
    from sklearn.base import is_classifier

    estimator = operator.raw_operator
    categorical = getattr(estimator, "is_categorical_", None)
    if categorical is not None and categorical.any():
        raise NotImplementedError(
            "HistGradientBoosting's native categorical splits (categorical_features) have no ONNX form in skl2onnx"
        )
    converter = (
        convert_sklearn_random_forest_classifier
        if is_classifier(estimator)
        else convert_sklearn_random_forest_regressor_converter
    )
    converter(scope, operator, _TreeEnsembleWriter(container, scope, operator, float64=True), op_version=3)


def _input_types(feature_types: dict[str, str]) -> list[tuple[str, Any]]:
    from skl2onnx.common.data_types import DoubleTensorType, StringTensorType

    return [
        (name, StringTensorType([None, 1]) if kind in TEXT_TYPES else DoubleTensorType([None, 1]))
        for name, kind in feature_types.items()
    ]


def _is_forest(estimator: Any) -> bool:
    """A single-output forest of scikit-learn decision trees (random forest, extra trees)."""
    from sklearn.ensemble import (
        ExtraTreesClassifier,
        ExtraTreesRegressor,
        RandomForestClassifier,
        RandomForestRegressor,
    )

    forests = (RandomForestClassifier, RandomForestRegressor, ExtraTreesClassifier, ExtraTreesRegressor)
    return isinstance(estimator, forests) and getattr(estimator, "n_outputs_", 1) == 1


def _attribute(node: Any, name: str, kind: int) -> Any:
    """A new attribute of the node, filled in place: no copy of a large list is made."""
    attribute = node.attribute.add()
    attribute.name, attribute.type = name, kind
    return attribute


def _add_forest(graph: Any, source: str, estimator: Any) -> list[Any]:
    """Append a forest's tree ensemble to the graph, reading ``source`` (float64 features); return its outputs.

    skl2onnx builds a forest's attributes as Python lists, about ten times the ONNX file in
    memory; here each tree's public arrays (``tree_``) go into the node one tree at a time.
    The features are cast to float32 and each threshold rounded down to the float32 at or
    below it, so that a float32 feature takes the branch it takes in scikit-learn.
    """
    from onnx import AttributeProto, TensorProto, helper
    from sklearn.base import is_classifier

    taken = {name for node in graph.node for name in node.output} | {value.name for value in graph.input}
    taken |= {tensor.name for tensor in graph.initializer}

    def unused(name: str) -> str:
        candidate, number = name, 1
        while candidate in taken:
            candidate, number = f"{name}{number}", number + 1
        taken.add(candidate)
        return candidate

    features = unused("features_float32")
    graph.node.append(helper.make_node("Cast", [source], [features], to=TensorProto.FLOAT, name=unused("to_float32")))
    classifier = is_classifier(estimator)
    node = graph.node.add()
    node.op_type, node.domain = ("TreeEnsembleClassifier" if classifier else "TreeEnsembleRegressor"), "ai.onnx.ml"
    node.name = unused(node.op_type)
    node.input.append(features)
    ints, floats = AttributeProto.INTS, AttributeProto.FLOATS
    nodes = {
        name: _attribute(node, f"nodes_{name}", floats if name == "values" else ints)
        for name in ("treeids", "nodeids", "featureids", "values", "truenodeids", "falsenodeids")
    }
    missing_tracks_true = _attribute(node, "nodes_missing_value_tracks_true", ints)
    modes = _attribute(node, "nodes_modes", AttributeProto.STRINGS)
    leaf_prefix = "class" if classifier else "target"
    leaves = {name: _attribute(node, f"{leaf_prefix}_{name}", ints) for name in ("treeids", "nodeids", "ids")}
    weights = _attribute(node, f"{leaf_prefix}_weights", floats)
    trees = [tree.tree_ for tree in estimator.estimators_]
    classes = estimator.classes_ if classifier else ()  # a regressor has none
    for number, tree in enumerate(trees):
        leaf = tree.children_left == -1  # scikit-learn marks a leaf by no left child
        count = tree.node_count
        threshold = tree.threshold.astype(np.float32)
        above = threshold.astype(np.float64) > tree.threshold
        threshold[above] = np.nextafter(threshold[above], np.float32(-np.inf))
        threshold[leaf] = 0.0
        nodes["treeids"].ints.extend(np.full(count, number))
        nodes["nodeids"].ints.extend(np.arange(count))
        nodes["featureids"].ints.extend(np.where(leaf, 0, tree.feature))
        nodes["values"].floats.extend(threshold)
        nodes["truenodeids"].ints.extend(np.where(leaf, 0, tree.children_left))
        nodes["falsenodeids"].ints.extend(np.where(leaf, 0, tree.children_right))
        missing = getattr(tree, "missing_go_to_left", None)  # trees fitted on empty cells send them one way
        missing_tracks_true.ints.extend(np.zeros(count, np.int64) if missing is None else np.where(leaf, 0, missing))
        modes.strings.extend([b"LEAF" if is_leaf else b"BRANCH_LEQ" for is_leaf in leaf])
        at = np.flatnonzero(leaf)
        values = tree.value[at, 0, :]
        if classifier:
            values = values / np.maximum(values.sum(axis=1, keepdims=True), np.finfo(np.float64).tiny)
            if len(classes) == 2:  # one score per leaf, the second class's; onnxruntime gives the first 1 - score
                values = values[:, 1:]
        per_leaf = values.shape[1]
        leaves["treeids"].ints.extend(np.full(at.size * per_leaf, number))
        leaves["nodeids"].ints.extend(np.repeat(at, per_leaf))
        leaves["ids"].ints.extend(np.tile(np.arange(per_leaf), at.size))
        weights.floats.extend((values / len(trees)).astype(np.float32).ravel())
    if classifier:
        numeric = all(isinstance(label, (int, np.integer, bool, np.bool_)) for label in classes)
        kind = ints if numeric else AttributeProto.STRINGS
        labels = _attribute(node, "classlabels_int64s" if numeric else "classlabels_strings", kind)
        if numeric:
            labels.ints.extend(int(label) for label in classes)
        else:
            labels.strings.extend(str(label).encode() for label in classes)
        label_type = TensorProto.INT64 if numeric else TensorProto.STRING
        outputs = [
            helper.make_tensor_value_info(unused("label"), label_type, [None]),
            helper.make_tensor_value_info(unused("probabilities"), TensorProto.FLOAT, [None, len(classes)]),
        ]
    else:
        node.attribute.append(helper.make_attribute("n_targets", 1))
        outputs = [helper.make_tensor_value_info(unused("variable"), TensorProto.FLOAT, [None, 1])]
    node.attribute.append(helper.make_attribute("post_transform", "NONE"))
    node.output.extend(output.name for output in outputs)
    return outputs


def _skl2onnx(model: Any, feature_types: dict[str, str], adapters: dict[type, Any], options: dict | None) -> Any:
    from skl2onnx import convert_sklearn

    return convert_sklearn(
        model,
        initial_types=_input_types(feature_types),
        options=options,
        target_opset=TARGET_OPSET,
        custom_conversion_functions=adapters,
        name="model",  # skl2onnx's default is random: the same model must give the same bytes
    )


def convert(model: Any, feature_types: dict[str, str]) -> bytes:
    """The fitted pipeline as ONNX bytes, one input per feature; the same model gives the same bytes.

    Raises whatever skl2onnx raises for an estimator it cannot convert.
    """
    from onnx import helper
    from skl2onnx import get_model_alias
    from skl2onnx.common._registration import get_converter
    from sklearn.base import is_classifier
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline

    steps = model.steps if isinstance(model, Pipeline) else [("model", model)]
    estimator = steps[-1][1]
    if len(steps) == 1 and any(kind in TEXT_TYPES for kind in feature_types.values()):
        raise ValueError("the estimator takes text columns without a preparation step")
    adapters: dict[type, Any] = {
        SimpleImputer: _convert_imputer,
        HistGradientBoostingClassifier: _convert_hist_gradient_boosting,
        HistGradientBoostingRegressor: _convert_hist_gradient_boosting,
    }
    if _is_forest(estimator) and len(steps) > 1:
        # The preparation by skl2onnx, the forest added to the same graph (see _add_forest).
        graph = _skl2onnx(Pipeline(steps[:-1]), feature_types, adapters, None)
        (prepared,) = graph.graph.output
        outputs = _add_forest(graph.graph, prepared.name, estimator)
        del graph.graph.output[:]
        graph.graph.output.extend(outputs)
        if not any(imported.domain == "ai.onnx.ml" for imported in graph.opset_import):
            graph.opset_import.append(helper.make_opsetid("ai.onnx.ml", TARGET_OPSET["ai.onnx.ml"]))
    else:
        if _casts_to_float32(estimator):
            adapters[type(estimator)] = _forest_after_float32_cast(get_converter(get_model_alias(type(estimator))))
        # Probabilities as a tensor, not a list of dictionaries.
        options = {id(estimator): {"zipmap": False}} if is_classifier(estimator) else None
        graph = _skl2onnx(model, feature_types, adapters, options)
    _group_inputs(graph.graph, feature_types)
    return graph.SerializeToString()


def input_groups(feature_types: dict[str, str]) -> dict[str, list[str]]:
    """The graph's inputs by kind, each with its features in training order: ``numbers`` (numeric and
    boolean features, float64) and ``text`` (categorical ones); a kind the table lacks has no input."""
    groups = {
        NUMBERS: [name for name, kind in feature_types.items() if kind not in TEXT_TYPES],
        TEXT: [name for name, kind in feature_types.items() if kind in TEXT_TYPES],
    }
    return {group: features for group, features in groups.items() if features}


def _group_inputs(graph: Any, feature_types: dict[str, str]) -> None:
    """Replace skl2onnx's inputs, one per feature, by one input per kind (:func:`input_groups`), in place.

    Measured on 2 cores (HistGradientBoosting, 30 features): onnxruntime answers 100 rows in about 120 us
    from one (n, 30) input against 210 us from 30 (n, 1) inputs and their Concat, and one row in 13 us
    against 37 us: each input costs a check and a copy per call. Where the graph concatenates every
    feature of a kind in order (a table of numbers only), the grouped input replaces that Concat; otherwise
    a Split gives each per-feature name back its column, and the rest of the graph is unchanged.
    """
    from onnx import TensorProto, helper

    per_feature = dict(zip(feature_types, (value.name for value in graph.input), strict=True))
    taken = {name for node in graph.node for name in (*node.input, *node.output)} | set(per_feature.values())
    taken |= {tensor.name for tensor in graph.initializer}
    for feature, name in per_feature.items():
        if name in (NUMBERS, TEXT):  # a feature named so: its column takes another name inside the graph
            renamed, number = f"{name}_column", 1
            while renamed in taken:
                renamed, number = f"{name}_column{number}", number + 1
            taken.add(renamed)
            per_feature[feature] = renamed
            for node in graph.node:
                node.input[:] = [renamed if value == name else value for value in node.input]
    inner = {name for node in graph.node for name in node.output} | {tensor.name for tensor in graph.initializer}
    if inner & {NUMBERS, TEXT}:
        raise ValueError(f"the graph already names an inner value {NUMBERS!r} or {TEXT!r}")
    readers: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            readers.setdefault(name, []).append(node)
    added = []
    for group, features in input_groups(feature_types).items():
        names = [per_feature[feature] for feature in features]
        concat = readers.get(names[0], [None])[0]
        whole = (
            concat is not None
            and concat.op_type == "Concat"
            and list(concat.input) == names
            and all(readers[name] == [concat] for name in names)
            and any(attribute.name == "axis" and attribute.i in (1, -1) for attribute in concat.attribute)
        )
        if whole:  # the Concat of every feature of the kind: the grouped input is its output already
            concat.op_type, concat.name = "Identity", f"{group}_whole"
            del concat.input[:], concat.attribute[:]
            concat.input.append(group)
        elif len(names) == 1:
            added.append(helper.make_node("Identity", [group], names, name=f"{group}_column"))
        else:
            added.append(helper.make_node("Split", [group], names, axis=1, name=f"{group}_columns"))
        kind = TensorProto.STRING if group == TEXT else TensorProto.DOUBLE
        added_input = helper.make_tensor_value_info(group, kind, [None, len(features)])
        graph.input.append(added_input)
    del graph.input[: len(per_feature)]
    for position, node in enumerate(added):  # before every node that reads them
        graph.node.insert(position, node)


def onnx_inputs(onnx_session: Any, feature_types: dict[str, str]) -> dict[str, list[str]]:
    """The graph's inputs and the features each holds (:func:`input_groups`), once the session is seen to
    take exactly them; a graph with other inputs (one per feature: exported before they were grouped, or
    for other features) is refused with the fix."""
    expected = input_groups(feature_types)
    wanted = {name: (_ONNX_TYPES[name], len(features)) for name, features in expected.items()}
    found = {value.name: (value.type, (value.shape or [None])[-1]) for value in onnx_session.get_inputs()}
    if found != wanted:
        shown = ", ".join(f"{name} {kind} x {width}" for name, (kind, width) in found.items())
        raise ArtifactError(
            f"the ONNX graph takes {len(found)} inputs ({shown[:200]}), not one matrix per kind of feature "
            f"({', '.join(f'{name} x {len(features)}' for name, features in expected.items())}): it was "
            "exported by an older version of this code or for other features; run `dvc repro`"
        )
    return expected


_ONNX_TYPES = {NUMBERS: "tensor(double)", TEXT: "tensor(string)"}


def feeds(columns: Mapping[str, Sequence], inputs: dict[str, list[str]]) -> dict[str, np.ndarray]:
    """The graph's inputs (:func:`onnx_inputs`) for rows given column by column as JSON-like values: numbers
    and booleans as one float64 matrix (None -> NaN), text as one matrix of text (None or blank -> "")."""
    fed = {}
    for name, features in inputs.items():
        if name == TEXT:
            cells = [
                ["" if value is None or not str(value).strip() else str(value) for value in columns[feature]]
                for feature in features
            ]
            fed[name] = np.array(cells, dtype=object).T.copy()
        else:
            fed[name] = _matrix([columns[feature] for feature in features])
    return fed


def _matrix(columns: list[Sequence]) -> np.ndarray:
    """Columns of numbers (None for an empty cell) as one float64 matrix of rows, in C order: onnxruntime
    copies a transposed view cell by cell (200 us against 120 us for 100 rows of 30 features)."""
    rows = len(columns[0])
    if any(len(values) != rows for values in columns):
        raise ValueError("the columns hold different numbers of rows")
    try:  # one pass over every cell: 50 us for 100 rows of 30 features, where np.array takes 80
        flat = np.fromiter(chain.from_iterable(columns), np.float64, len(columns) * rows)
    except TypeError:  # an empty cell (None), which np.array reads as NaN
        return np.array(columns, dtype=np.float64).T.copy()
    return flat.reshape(len(columns), rows).T.copy()


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def frame_feeds(frame: pd.DataFrame, inputs: dict[str, list[str]]) -> dict[str, np.ndarray]:
    """:func:`feeds` for a frame already prepared by ``data.model_input`` (text cells, NaN when empty)."""
    fed = {}
    for name, features in inputs.items():
        values = frame[features]
        if name == TEXT:
            fed[name] = np.ascontiguousarray(values.where(values.notna(), "").to_numpy(dtype=object))
        else:
            fed[name] = np.ascontiguousarray(values.to_numpy(dtype=np.float64, na_value=np.nan))
    return fed


def request_rows(frame: pd.DataFrame, feature_types: dict[str, str]) -> list[dict[str, Any]]:
    """Rows of a frame as ``POST /predict`` takes them: numbers, text for categorical features, true/false
    for boolean ones, null for an empty cell. ``frame`` holds raw or typed columns (``data.model_input`` is
    applied here)."""
    from .data import model_input

    prepared = model_input(frame, feature_types)
    columns: dict[str, list[bool | str | float | None]] = {}
    for name, kind in feature_types.items():
        values = prepared[name].tolist()
        if kind == "boolean":
            columns[name] = [None if _empty(value) else bool(value) for value in values]
        elif kind in TEXT_TYPES:
            columns[name] = [None if _empty(value) else str(value) for value in values]
        else:
            columns[name] = [None if _empty(value) else float(value) for value in values]
    return [dict(zip(columns, row, strict=True)) for row in zip(*columns.values(), strict=True)]


def session(content: bytes | Path) -> Any:
    """An onnxruntime session on one thread (the service runs it on the event loop, no thread hop), from
    the model's bytes or its file."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3  # warnings about unused initialisers are noise here
    source = str(content) if isinstance(content, Path) else content
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def onnx_outputs(onnx_session: Any, inputs: dict[str, np.ndarray], task: str) -> np.ndarray:
    """Class probabilities (classification) or predictions (regression) for the graph's inputs."""
    outputs = onnx_session.run(None, inputs)
    return outputs[1] if task == "classification" else outputs[0].reshape(-1)


def scikit_learn_outputs(model: Any, features: pd.DataFrame, task: str) -> np.ndarray:
    """Class probabilities (classification) or predictions (regression) of the scikit-learn model."""
    return model.predict_proba(features) if task == "classification" else model.predict(features)


def parity(
    model: Any,
    onnx_session: Any,
    features: pd.DataFrame,
    task: str,
    feature_types: dict[str, str] | None = None,
    where: str = "the test split",
    expected: np.ndarray | None = None,
) -> dict[str, Any]:
    """Compare ONNX with scikit-learn on these rows (as ``data.model_input`` prepares them), which are
    ``where``; raise ParityError beyond the tolerance. ``expected``: scikit-learn's outputs for the
    rows (:func:`scikit_learn_outputs`), when computed already (then ``model`` is not used)."""
    feature_types = feature_types or dict.fromkeys(features.columns, "numeric")
    matrix = features
    inputs = frame_feeds(features, onnx_inputs(onnx_session, feature_types))
    actual = onnx_outputs(onnx_session, inputs, task)
    if expected is None:
        expected = scikit_learn_outputs(model, features, task)
    if task == "classification":
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
                f"on {where}; the model cannot be served as ONNX"
            )
        return record
    relative = float((np.abs(actual - expected) / np.maximum(1.0, np.abs(expected))).max())
    record = {"rows": len(matrix), "max_relative_difference": relative, "tolerance": RELATIVE_TOLERANCE}
    if relative > RELATIVE_TOLERANCE:
        raise ParityError(
            f"ONNX predictions differ from scikit-learn's by up to {relative:.3g} relative "
            f"(tolerance {RELATIVE_TOLERANCE}) on {where}; the model cannot be served as ONNX"
        )
    return record


def prediction_deciles(predictions: np.ndarray) -> list[float]:
    """The 10th to 90th percentiles of a regression model's predictions, each once (a model that answers
    few distinct values has fewer), as the buckets of the service's prediction histogram."""
    deciles = np.quantile(np.asarray(predictions, dtype=np.float64).reshape(-1), np.linspace(0.1, 0.9, 9))
    return sorted({float(value) for value in deciles if np.isfinite(value)})


def _plain_labels(classes: np.ndarray) -> list:
    """Class labels as JSON values: numpy integers become ints, anything else stays as it is."""
    return [label.item() if hasattr(label, "item") else label for label in classes]


def example_row(features: pd.DataFrame, feature_types: dict[str, str]) -> dict[str, Any]:
    """The first row as the service takes it (empty cells as null): the example of its request schema."""
    return request_rows(features.head(1), feature_types)[0]


def parity_sample(frame: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    """At most ``rows`` rows of ``frame``, drawn with ``seed`` (the same rows on every run), in their order;
    the whole frame when it is no larger."""
    if len(frame) <= rows:
        return frame
    return frame.sample(n=rows, random_state=seed).sort_index()


MEGABYTE = 1_000_000
# Fewest bytes a node of a forest takes in ONNX (ids, feature, mode, threshold, children; more for a leaf):
# a forest whose nodes alone would be over the budget is refused before its conversion takes the memory.
ONNX_BYTES_PER_TREE_NODE = 24


def _too_large(megabytes: float, budget: float, what: str) -> ModelSizeError:
    return ModelSizeError(
        f"{what} {megabytes:,.1f} MB, over export.max_model_mb {budget:g}: bound the model in params.yaml "
        "model.hyperparameters (trees: max_depth, max_leaf_nodes, min_samples_leaf; fewer n_estimators "
        "or max_iter) or raise export.max_model_mb, and the service's memory with it (onnxruntime holds "
        "about 11 times the file)"
    )


def check_forest_size(model: Any, budget: float, onnx_path: Path = paths.ONNX_PATH) -> None:
    """Refuse, before converting it, a forest whose ONNX file would surely be over ``budget`` MB.

    Only forests are counted here (their trees are public: ``estimators_``, ``tree_.node_count``);
    any model's real size is checked after conversion.
    """
    from sklearn.pipeline import Pipeline

    estimator = model.steps[-1][1] if isinstance(model, Pipeline) else model
    trees = getattr(estimator, "estimators_", None)
    if not isinstance(trees, list) or not all(hasattr(tree, "tree_") for tree in trees):
        return
    least = sum(tree.tree_.node_count for tree in trees) * ONNX_BYTES_PER_TREE_NODE / MEGABYTE
    if least > budget:
        raise _too_large(least, budget, f"{onnx_path} would be at least")


def run(
    params: Params | None = None,
    data_dir: Path | None = None,
    model_path: Path = paths.MODEL_PATH,
    onnx_path: Path = paths.ONNX_PATH,
    serving_path: Path = paths.SERVING_PATH,
    contract_path: Path | None = None,
) -> ServingRecord:
    """The ``export`` stage; returns the serving record it wrote."""
    from ..core import contract as contracts  # imported on use, like data: see TYPE_CHECKING above
    from ..core.params import Params
    from .data import file_sha256, load_part, model_input

    params = params or Params()
    settings = params.export
    test, schema = load_part("test", data_dir or paths.PROCESSED_DIR)
    contract = contracts.load(contract_path or paths.CONTRACT_PATH)
    model = artifact.load_model(model_path, params.model.extra_trusted_types)
    features = model_input(parity_sample(test, settings.parity_rows, params.seed), schema)
    expected = scikit_learn_outputs(model, features, schema.task)  # now: the model goes once converted
    onnx_path.parent.mkdir(parents=True, exist_ok=True)
    onnx_path.unlink(missing_ok=True)  # no stale file from an earlier export
    record = ServingRecord(
        model_sha256=file_sha256(model_path),  # what the ONNX file was made from
        task=schema.task,
        features=schema.features,
        feature_types=schema.feature_types,
        categories=schema.categories,
        # Whether a request may leave the feature empty (null): the contract allows empty cells in it.
        nullable={name: contract[name].empty > 0 for name in schema.features},
        classes=_plain_labels(model.classes_) if schema.task == "classification" else [],
        example=example_row(test[schema.features], schema.feature_types),  # shown in the API docs
        # The service's model_prediction histogram: a tenth of the answers in each bucket while production
        # looks like the test split, so a shift of the answers shows in its metrics (monitoring/alerts.yml).
        prediction_deciles=prediction_deciles(expected) if schema.task == "regression" else [],
        libraries=artifact.installed_versions(RECORDED_LIBRARIES),
        runtime="sklearn",  # until the ONNX file below passes its parity check
    )
    test_rows = len(test)
    del test  # only the parity sample is needed from here on
    check_forest_size(model, settings.max_model_mb, onnx_path)
    try:
        onnx_bytes = convert(model, schema.feature_types)
    except Exception as exc:  # skl2onnx raises many types for an estimator it cannot handle
        return _served_by_scikit_learn(record, exc, serving_path)
    if len(onnx_bytes) > settings.max_model_mb * MEGABYTE:
        raise _too_large(len(onnx_bytes) / MEGABYTE, settings.max_model_mb, f"{onnx_path} is")
    # One copy of the model at a time: scikit-learn's, the bytes, then onnxruntime's read from the file.
    del model
    onnx_path.write_bytes(onnx_bytes)
    onnx_sha256 = artifact.sha256(onnx_bytes)
    del onnx_bytes
    try:
        onnx_session = session(onnx_path)
    except Exception as exc:  # onnxruntime refuses some graphs that skl2onnx writes
        onnx_path.unlink()
        return _served_by_scikit_learn(record, exc, serving_path)
    where = "the test split" if len(features) == test_rows else f"{len(features)} rows drawn from the test split"
    try:
        checked = parity(None, onnx_session, features, schema.task, schema.feature_types, where, expected)
    except ParityError:
        onnx_path.unlink()
        raise
    record = dataclasses.replace(
        record,
        runtime="onnx",
        onnx_file=onnx_path.name,
        onnx_sha256=onnx_sha256,
        parity={**checked, "test_rows": test_rows},
        onnx_inputs=onnx_inputs(onnx_session, schema.feature_types),  # the service checks its graph against it
    )
    record.write(serving_path)
    return record


def _served_by_scikit_learn(record: ServingRecord, exc: Exception, serving_path: Path) -> ServingRecord:
    """Record that scikit-learn serves the model, and why ONNX cannot; return the record."""
    reason = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}".rstrip(": ")
    record = dataclasses.replace(record, runtime="sklearn", fallback_reason=reason)
    record.write(serving_path)
    return record
