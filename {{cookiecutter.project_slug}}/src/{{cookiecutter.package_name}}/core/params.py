"""The pipeline's settings: ``params.yaml`` loaded once into typed, validated objects.

No other module reads ``params.yaml``: each stage receives a :class:`Params` from the
command line, so a typo in a key or a value of the wrong type fails before any work starts,
with the key's path in the message.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import ErrorDetails

from . import paths
from .errors import ConfigError
from .metric_goals import TASK_METRICS
from .records import Task  # the two tasks: one definition, in the light module the records need

if TYPE_CHECKING:
    from ruamel.yaml import YAML


class _Strict(BaseModel):
    # A misspelt key is an error, not a silently ignored setting.
    model_config = ConfigDict(extra="forbid", frozen=True)


class DataParams(_Strict):
    # "file": a CSV or Parquet file at `path`; "csv" is the older name of the same thing.
    source: Literal["sklearn", "file", "csv"] = "sklearn"
    sklearn_dataset: Literal["breast_cancer", "diabetes", "wine", "iris"] = "breast_cancer"
    path: Path = paths.RAW_TABLE_PATH
    target: str = "target"
    features: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)
    test_size: float = Field(0.2, gt=0.0, lt=1.0)
    split: Literal["random", "stratified", "group", "time"] = "random"
    split_column: str | None = None
    duplicates: Literal["drop", "keep"] = "drop"

    @model_validator(mode="after")
    def _split_column_when_needed(self) -> DataParams:
        if self.split in ("group", "time") and not self.split_column:
            raise ValueError(f"data.split: {self.split} needs data.split_column, the {self.split} column")
        if self.split in ("random", "stratified") and self.split_column:
            raise ValueError(f"data.split_column is for the group and time splits; set it to null for {self.split}")
        return self


class PreprocessingParams(_Strict):
    impute: Literal["median", "mean", "zero"] = "median"
    scale: bool = True
    rare_category_rows: int = Field(5, ge=1)


class CustomModelParams(_Strict):
    factory: str = Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
    prepare: bool = True
    trusted_types: list[str] = Field(default_factory=list)


class ModelParams(_Strict):
    type: str = "hist_gradient_boosting"
    hyperparameters: dict[str, object] = Field(default_factory=dict)
    preprocessing: PreprocessingParams = Field(default_factory=PreprocessingParams)
    custom: CustomModelParams | None = None

    @property
    def extra_trusted_types(self) -> list[str]:
        """The types a custom model's file may hold beyond the built-in trust list (none for the others)."""
        return list(self.custom.trusted_types) if self.custom else []

    @model_validator(mode="after")
    def _custom_needs_a_factory(self) -> ModelParams:
        if self.type == "custom" and self.custom is None:
            raise ValueError('model.type custom needs model.custom.factory: "your_module:function"')
        if self.type != "custom" and self.custom is not None:
            raise ValueError("model.custom is for model.type custom; remove it or set the type")
        return self


class EvaluateParams(_Strict):
    # Permutation importance and the plots of single rows draw a seeded sample of the test split
    # at most this long, so evaluation takes seconds at any size; the metrics use every row.
    sample_rows: int = Field(5_000, ge=100)
    importance_repeats: int = Field(5, ge=1, le=100)


class DirectionCheck(_Strict):
    feature: str
    expect: Literal["increase", "decrease"]
    # Classification with more than two classes: the class whose probability must move.
    label: int | str | None = None


class QualityParams(_Strict):
    minimum: dict[str, float] = Field(default_factory=dict)
    maximum: dict[str, float] = Field(default_factory=dict)
    # How much worse than the base model (main) a metric may get before the pull-request gate fails.
    tolerance: dict[str, float] = Field(default_factory=dict)
    direction: DirectionCheck | None = None


class MonitoringParams(_Strict):
    """Thresholds of the ``monitor`` command (see monitor.py): when a batch of production rows raises an alarm."""

    drift: float = Field(0.1, gt=0.0)  # effect size: Wasserstein distance in standard deviations, or Jensen-Shannon
    significance: float = Field(0.01, gt=0.0, lt=1.0)  # and the shift this unlikely by chance (over all columns)
    new_categories: float = Field(0.05, ge=0.0, le=1.0)  # share of a column's cells in categories never seen
    empty_margin: float = Field(0.05, ge=0.0, le=1.0)  # empty cells beyond the contract's share by this much
    confidence: float = Field(0.99, gt=0.0, lt=1.0)  # of the interval of each metric's change from release
    bootstrap: int = Field(200, ge=20)  # resamples behind that interval
    max_rows: int = Field(200_000, ge=100)  # seeded sample of each side for the tests


class ExportParams(_Strict):
    # The ONNX model is checked against scikit-learn on at most this many rows of the test split (seeded).
    parity_rows: int = Field(10_000, ge=1)
    # A larger ONNX file fails the export stage: onnxruntime holds about 11 times the file in memory
    # (a forest's tree ensemble), in every replica of the service.
    max_model_mb: float = Field(40.0, gt=0)


class SearchParams(_Strict):
    """The ``search`` command's settings (search/): what to try, how to score it, how long.

    ``space`` maps each model type to its hyperparameters, each a list of choices or a range
    ``{low, high, log}``; search/space.py checks them and names the fix for a bad one.
    """

    metric: str = "roc_auc"  # one of the task's metrics (TASK_METRICS); its direction is METRIC_GOALS'
    trials: int = Field(30, ge=1)  # the budget, the current model section included
    timeout_minutes: float = Field(60.0, gt=0)  # no new trials after this long
    cv_folds: int = Field(5, ge=2, le=50)  # folds of the training split
    workers: int = Field(2, ge=0)  # trials at once on this machine; 0: one per core
    space: dict[str, dict[str, Any] | None] = Field(default_factory=dict)  # None: the type as it is


class Params(_Strict):
    task: Task = "classification"
    seed: int = 42
    data: DataParams = Field(default_factory=DataParams)
    model: ModelParams = Field(default_factory=ModelParams)
    export: ExportParams = Field(default_factory=ExportParams)
    evaluate: EvaluateParams = Field(default_factory=EvaluateParams)
    quality: QualityParams = Field(default_factory=QualityParams)
    monitoring: MonitoringParams = Field(default_factory=MonitoringParams)
    search: SearchParams | None = None

    @model_validator(mode="after")
    def _task_specific_fields(self) -> Params:
        if self.task == "regression" and self.data.split == "stratified":
            raise ValueError("data.split: stratified is for classification; use random, group or time")
        if self.search is not None and self.search.metric not in TASK_METRICS[self.task]:
            raise ValueError(
                f"search.metric: {self.search.metric!r} is not a {self.task} metric; "
                f"choose one of {list(TASK_METRICS[self.task])}"
            )
        return self

    def as_dict(self, exclude: set[str] | None = None, include: set[str] | None = None) -> dict[str, Any]:
        """Plain, JSON-ready values (paths as strings), for metadata and reports."""
        return self.model_dump(mode="json", exclude=exclude, include=include)


def load_params(path: Path = paths.PARAMS_PATH) -> Params:
    """Read and validate ``params.yaml``; raise :class:`ConfigError` naming the bad key."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: not found; run the command from the project folder") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of settings, got {type(raw).__name__}")
    try:
        return Params.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(_describe(error) for error in exc.errors())
        raise ConfigError(f"{path}: {problems}") from None


def _describe(error: ErrorDetails) -> str:
    where = ".".join(str(part) for part in error["loc"])
    if not where:  # a rule across several keys: the message names them
        return error["msg"].removeprefix("Value error, ")
    if error["type"] == "missing":
        return f"{where}: missing"
    return f"{where}: {error['msg']} (got {error['input']!r})"


def round_trip_yaml() -> YAML:
    """A YAML reader and writer that keeps params.yaml's comments, order and layout (ruamel.yaml).

    For the commands that edit the file (``adopt``, the search's trials and ``leaderboard --apply``):
    its comments are its documentation.
    """
    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.width = 4096  # never rewrap a long comment or value
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.representer.add_representer(
        type(None), lambda representer, _: representer.represent_scalar("tag:yaml.org,2002:null", "null")
    )
    return yaml


def with_model(text: str, model_type: str, hyperparameters: dict[str, Any]) -> str:
    """params.yaml's text with ``model.type`` and ``model.hyperparameters`` set, every comment kept.

    A hyperparameter that stays keeps the comment beside it; one the new configuration lacks goes.
    """
    import io

    from ruamel.yaml.comments import CommentedMap

    yaml = round_trip_yaml()
    document = yaml.load(text)
    model = document.get("model")
    if not isinstance(model, dict):
        model = document["model"] = CommentedMap()
    model["type"] = model_type
    settings = model.get("hyperparameters")
    if not isinstance(settings, dict):
        settings = model["hyperparameters"] = CommentedMap()
    for name in [name for name in settings if name not in hyperparameters]:
        del settings[name]
    for name, value in hyperparameters.items():
        settings[name] = value
    if hyperparameters:
        settings.fa.set_block_style()
    else:
        settings.fa.set_flow_style()
    buffer = io.StringIO()
    yaml.dump(document, buffer)
    return buffer.getvalue()
