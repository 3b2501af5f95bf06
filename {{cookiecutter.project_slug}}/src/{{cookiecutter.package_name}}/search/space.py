"""params.yaml's ``search.space``, checked, as Optuna distributions.

Each model type maps its hyperparameters to a list of choices (``[null, 8, 16]``) or a range
(``{low: 0.01, high: 0.3, log: true}``; whole numbers when both bounds are). A trial picks a
model type among the keys of the space (when there are several), then a value of each of its
hyperparameters. Optuna's parameter names are ``<type>.<hyperparameter>``, so two types may
share a hyperparameter's name with different ranges.

The current ``model:`` section is the first trial: its type must be in the space, and each
value it gives (or its estimator's default, when it gives none) must lie in the space, so that
the search starts from it exactly and can only improve on it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..core.errors import ConfigError

if TYPE_CHECKING:
    from optuna.trial import Trial

    from ..core.params import Params

MODEL_TYPE = "model_type"  # Optuna's name for the choice of model type
SCALARS = (str, int, float, bool, type(None))  # what a choice may be (Optuna's categorical values)


@dataclass(frozen=True)
class Range:
    low: float
    high: float
    log: bool
    whole: bool  # integers: both bounds are whole numbers


@dataclass(frozen=True)
class Choices:
    values: tuple[Any, ...]


Dimension = Range | Choices


@dataclass(frozen=True)
class Space:
    """The checked space: model type -> hyperparameter -> its range or choices."""

    types: dict[str, dict[str, Dimension]]

    def suggest(self, trial: Trial) -> tuple[str, dict[str, Any]]:
        """Ask the trial for a model type and its hyperparameters' values."""
        types = list(self.types)
        model_type = str(trial.suggest_categorical(MODEL_TYPE, types)) if len(types) > 1 else types[0]
        values: dict[str, Any] = {}
        for name, dimension_ in self.types[model_type].items():
            key = f"{model_type}.{name}"
            if isinstance(dimension_, Choices):
                values[name] = trial.suggest_categorical(key, dimension_.values)
            elif dimension_.whole:
                values[name] = trial.suggest_int(key, int(dimension_.low), int(dimension_.high), log=dimension_.log)
            else:  # four significant digits: params.yaml reads 0.0123, not 0.012345678901234
                value = trial.suggest_float(key, dimension_.low, dimension_.high, log=dimension_.log)
                values[name] = float(f"{value:.4g}")
        return model_type, values

    def fixed(self, model_type: str, values: dict[str, Any]) -> dict[str, Any]:
        """Optuna's parameters for a given configuration (to enqueue it as a trial)."""
        fixed: dict[str, Any] = {MODEL_TYPE: model_type} if len(self.types) > 1 else {}
        fixed.update({f"{model_type}.{name}": value for name, value in values.items()})
        return fixed


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def dimension(value: object, where: str) -> Dimension:
    """One hyperparameter's entry of the space; a ConfigError names it and shows a valid one."""
    example = "a list of choices, e.g. [10, 20, 50], or a range, e.g. {low: 0.01, high: 0.3, log: true}"
    if isinstance(value, list):
        if not value:
            raise ConfigError(f"params.yaml: {where}: an empty list; give at least one choice")
        odd = [choice for choice in value if not isinstance(choice, SCALARS)]
        if odd:
            raise ConfigError(f"params.yaml: {where}: a choice must be a number, text, true/false or null: {odd[0]!r}")
        if len({repr(choice) for choice in value}) < len(value):
            raise ConfigError(f"params.yaml: {where}: {value!r} lists a choice twice; list each once")
        return Choices(tuple(value))
    if not isinstance(value, dict):
        raise ConfigError(f"params.yaml: {where}: {value!r} is neither; write {example}")
    unknown = sorted(set(value) - {"low", "high", "log"})
    if unknown or "low" not in value or "high" not in value:
        raise ConfigError(f"params.yaml: {where}: a range has low, high and optionally log; got {value!r}")
    low, high, log = value["low"], value["high"], value.get("log", False)
    if not (_number(low) and _number(high)):
        raise ConfigError(f"params.yaml: {where}: low and high must be numbers; got {low!r} and {high!r}")
    if low >= high:
        raise ConfigError(f"params.yaml: {where}: low ({low}) must be below high ({high}); swap them")
    if not isinstance(log, bool):
        raise ConfigError(f"params.yaml: {where}.log: {log!r}; write true or false")
    if log and low <= 0:
        raise ConfigError(f"params.yaml: {where}: a log range needs low above 0 (got {low}); raise low or drop log")
    return Range(float(low), float(high), log, whole=isinstance(low, int) and isinstance(high, int))


def parse(raw: dict[str, Any], where: str = "search.space") -> Space:
    """The space as params.yaml writes it, checked value by value."""
    if not raw:
        raise ConfigError(f"params.yaml: {where} is empty; list at least the current model.type under it")
    types: dict[str, dict[str, Dimension]] = {}
    for model_type, hyperparameters in raw.items():
        if hyperparameters is None:  # `random_forest:` alone: that type with its settings as they are
            hyperparameters = {}
        if not isinstance(hyperparameters, dict):
            raise ConfigError(
                f"params.yaml: {where}.{model_type}: expected its hyperparameters (name: choices or range), "
                f"got {hyperparameters!r}"
            )
        types[str(model_type)] = {
            str(name): dimension(value, f"{where}.{model_type}.{name}") for name, value in hyperparameters.items()
        }
    return Space(types)


def contains(dimension_: Dimension, value: object) -> bool:
    if isinstance(dimension_, Choices):
        return any(type(value) is type(choice) and value == choice for choice in dimension_.values)
    if not _number(value):
        return False
    number = float(value)  # type: ignore[arg-type]
    return dimension_.low <= number <= dimension_.high and (not dimension_.whole or number == int(number))


def including_current(space: Space, model_type: str, current: dict[str, Any], where: str = "search.space") -> Space:
    """The space, widened where needed to hold the current configuration, the search's first trial.

    A model tuned by hand beyond the ranges (a small forest for quick tests, a type the space
    does not list) is still where the search starts: its type joins the space with its settings
    as they are, a range is stretched to its value, a list of choices gains it.
    """
    types = dict(space.types)
    dimensions = dict(types.get(model_type, {}))
    for name, dimension_ in dimensions.items():
        if name not in current:
            raise ConfigError(
                f"params.yaml: {where}.{model_type}.{name}: model.hyperparameters does not set it and its default "
                f"is unknown; set {name} in model.hyperparameters"
            )
        value = current[name]
        if contains(dimension_, value):
            continue
        if isinstance(dimension_, Choices):
            dimensions[name] = Choices((*dimension_.values, value))
        elif _number(value) and not (dimension_.log and float(value) <= 0):
            number = float(value)
            whole = dimension_.whole and number == int(number)
            dimensions[name] = Range(min(dimension_.low, number), max(dimension_.high, number), dimension_.log, whole)
        else:  # text or null where the space has a range: the range cannot hold it
            raise ConfigError(
                f"params.yaml: {where}.{model_type}.{name} is a range but the current value is {value!r}; "
                "write the choices as a list that holds it"
            )
    types[model_type] = dimensions
    return Space(types)


@dataclass(frozen=True)
class Estimator:
    """What the search knows of a model type: its parameters' names and defaults (None: not known)."""

    names: frozenset[str] | None
    defaults: dict[str, Any]


def from_params(params: Params, estimators: dict[str, Estimator]) -> Space:
    """The checked space of params.yaml. ``estimators``: the task's model types; every type and
    hyperparameter of the space must be one of theirs, and the current model a point of the space."""
    if params.search is None:
        raise ConfigError("params.yaml has no search section; add one (README: Search many configurations)")
    space = parse(params.search.space)
    for model_type, dimensions in space.types.items():
        if model_type not in estimators:
            raise ConfigError(
                f"params.yaml: search.space.{model_type}: not a {params.task} model type; "
                f"choose among {sorted(estimators)}"
            )
        names = estimators[model_type].names
        unknown = sorted(set(dimensions) - names) if names is not None else []
        if unknown:
            raise ConfigError(
                f"params.yaml: search.space.{model_type}: {unknown} are not its hyperparameters; "
                f"valid ones are {sorted(names or ())}"
            )
    known = estimators.get(params.model.type, Estimator(None, {}))
    return including_current(space, params.model.type, {**known.defaults, **params.model.hyperparameters})
