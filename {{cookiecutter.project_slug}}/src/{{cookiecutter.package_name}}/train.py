"""Stage ``train``: fit a seeded scikit-learn ``Pipeline`` built from ``params.yaml``."""

from __future__ import annotations

import inspect
from pathlib import Path

from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from . import artifact
from .config import Params
from .data import PROCESSED_DIR, load_split
from .errors import ConfigError

# model.type in params.yaml -> estimator class, per task.
ESTIMATORS = {
    "classification": {
        "random_forest": RandomForestClassifier,
        "logistic_regression": LogisticRegression,
        "hist_gradient_boosting": HistGradientBoostingClassifier,
    },
    "regression": {
        "random_forest": RandomForestRegressor,
        "ridge": Ridge,
        "hist_gradient_boosting": HistGradientBoostingRegressor,
    },
}


def build_pipeline(params: Params) -> Pipeline:
    """The unfitted pipeline that params describe; unknown names fail with the valid ones."""
    choices = ESTIMATORS[params.task]
    estimator_class = choices.get(params.model.type)
    if estimator_class is None:
        raise ConfigError(
            f"params.yaml: model.type {params.model.type!r} is not a {params.task} model; "
            f"choose one of {sorted(choices)}"
        )
    accepted = set(inspect.signature(estimator_class).parameters)
    unknown = sorted(set(params.model.hyperparameters) - accepted)
    if unknown:
        raise ConfigError(
            f"params.yaml: model.hyperparameters {unknown} are not parameters of "
            f"{estimator_class.__name__}; valid ones are {sorted(accepted)}"
        )
    settings = dict(params.model.hyperparameters)
    if "random_state" in accepted:
        settings["random_state"] = params.seed  # the one seed in params.yaml drives everything
    try:
        estimator = estimator_class(**settings)
        steps = [("scale", StandardScaler())] if params.model.scale else []
        pipeline = Pipeline([*steps, ("model", estimator)])
        estimator._validate_params()  # a bad value fails now, with its name, not halfway through fit
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"params.yaml: model.hyperparameters: {exc}") from None
    return pipeline


def run(params: Params, data_dir: Path = PROCESSED_DIR, model_path: Path = artifact.MODEL_PATH) -> str:
    """The ``train`` stage: fit on the training split and save; return the model's SHA-256."""
    train, _, schema = load_split(data_dir)
    pipeline = build_pipeline(params)
    pipeline.fit(train[schema.features], train[schema.target])
    return artifact.save_model(pipeline, model_path)
