"""params.yaml's search section: the space as Optuna sees it, and the errors that name the fix."""

import re
from pathlib import Path

import optuna
import pytest

from {{ cookiecutter.package_name }}.core.errors import ConfigError, ProjectError
from {{ cookiecutter.package_name }}.core.params import load_params, with_model
from {{ cookiecutter.package_name }}.search import space as spaces
from {{ cookiecutter.package_name }}.search.experiments import check_name, experiment_name
from {{ cookiecutter.package_name }}.search.trials import Shard, configured, estimators

PROJECT_PARAMS = Path(__file__).resolve().parents[2] / "params.yaml"


def test_lists_are_choices_and_ranges_are_whole_when_both_bounds_are():
    space = spaces.parse(
        {
            "random_forest": {"max_depth": [None, 8], "n_estimators": {"low": 50, "high": 300}},
            "hist_gradient_boosting": {"learning_rate": {"low": 0.01, "high": 0.3, "log": True}},
        }
    )
    forest, boosting = space.types["random_forest"], space.types["hist_gradient_boosting"]
    assert forest["max_depth"] == spaces.Choices((None, 8))
    assert forest["n_estimators"] == spaces.Range(50, 300, log=False, whole=True)
    assert boosting["learning_rate"] == spaces.Range(0.01, 0.3, log=True, whole=False)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([], "an empty list; give at least one choice"),
        ([1, 1], "lists a choice twice"),
        ([[1, 2]], "a choice must be a number, text, true/false or null"),
        ({"low": 1}, "a range has low, high and optionally log"),
        ({"low": 5, "high": 1}, r"low \(5\) must be below high \(1\); swap them"),
        ({"low": 0, "high": 1, "log": True}, "a log range needs low above 0"),
        ({"low": "a", "high": 1}, "low and high must be numbers"),
        ("fast", "is neither; write a list of choices"),
    ],
)
def test_a_bad_entry_is_named_with_the_fix(value, message):
    with pytest.raises(ConfigError, match=rf"search\.space\.random_forest\.max_depth: .*{message}"):
        spaces.parse({"random_forest": {"max_depth": value}})


def test_the_project_space_holds_the_current_model():
    params = load_params(PROJECT_PARAMS)
    space = spaces.from_params(params, estimators(params))
    assert params.model.type in space.types


def test_the_space_is_widened_to_hold_the_current_model():
    params = load_params(PROJECT_PARAMS)
    known = estimators(params)
    elsewhere = {name: {} for name in known if name != params.model.type}
    widened = spaces.including_current(spaces.parse(elsewhere), params.model.type, {})
    assert widened.types[params.model.type] == {}  # the current type joins, its settings as they are
    narrow = spaces.parse({params.model.type: {"max_iter": {"low": 1000, "high": 2000}, "l2": [0.0, 1.0]}})
    widened = spaces.including_current(narrow, params.model.type, {"max_iter": 100, "l2": 0.5})
    assert widened.types[params.model.type] == {
        "max_iter": spaces.Range(100.0, 2000.0, log=False, whole=True),
        "l2": spaces.Choices((0.0, 1.0, 0.5)),
    }
    with pytest.raises(ConfigError, match=r"max_iter is a range but the current value is 'auto'; write the choices"):
        spaces.including_current(narrow, params.model.type, {"max_iter": "auto", "l2": 0.0})


def test_an_unknown_model_type_or_hyperparameter_is_refused():
    params = load_params(PROJECT_PARAMS)
    raw = params.as_dict()
    raw["search"]["space"] = {params.model.type: None, "gradient_descent": {}}
    with pytest.raises(ConfigError, match=r"search\.space\.gradient_descent: not a .* model type; choose among"):
        spaces.from_params(type(params).model_validate(raw), estimators(params))
    raw["search"]["space"] = {params.model.type: None, "random_forest": {"trees": [10, 20]}}
    with pytest.raises(ConfigError, match=r"search\.space\.random_forest: \['trees'\] are not its hyperparameters"):
        spaces.from_params(type(params).model_validate(raw), estimators(params))


def test_a_metric_of_another_task_is_refused(tmp_path):
    text = PROJECT_PARAMS.read_text(encoding="utf-8")
    metric = load_params(PROJECT_PARAMS).search.metric
    other = "rmse" if metric != "rmse" else "roc_auc"
    (tmp_path / "params.yaml").write_text(text.replace(f"metric: {metric}", f"metric: {other}"), encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"search.metric: '{other}' is not a .* metric; choose one of"):
        load_params(tmp_path / "params.yaml")


def test_the_first_trial_is_the_current_model_exactly():
    params = load_params(PROJECT_PARAMS)
    space = spaces.from_params(params, estimators(params))
    known = estimators(params)[params.model.type]
    current = {**known.defaults, **params.model.hyperparameters}
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=1))
    study.enqueue_trial(
        space.fixed(params.model.type, {name: current[name] for name in space.types[params.model.type]})
    )
    model_type, values = space.suggest(study.ask())
    # The current model, with the defaults of the hyperparameters the space names written out.
    spelled_out = {**{name: current[name] for name in space.types[params.model.type]}, **params.model.hyperparameters}
    assert configured(params, model_type, values).model == params.model.model_copy(
        update={"hyperparameters": spelled_out}
    )


def test_the_same_seed_proposes_the_same_configurations():
    params = load_params(PROJECT_PARAMS)
    space = spaces.from_params(params, estimators(params))

    def proposals(seed: int) -> list:
        study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed))
        return [space.suggest(study.ask()) for _ in range(5)]

    assert proposals(3) == proposals(3)
    assert proposals(3) != proposals(4)


def test_the_model_section_is_rewritten_with_its_comments():
    text = PROJECT_PARAMS.read_text(encoding="utf-8")
    params = load_params(PROJECT_PARAMS)
    written = with_model(text, "random_forest", {"n_estimators": 120, "max_depth": None})
    assert re.search(r"\n  type: random_forest +# hist_gradient_boosting \| random_forest", written)  # comment kept
    assert "    n_estimators: 120\n    max_depth: null\n" in written
    assert "hyperparameters:      # passed to the scikit-learn estimator as they are" in written
    assert load_params_text(written).model.type == "random_forest"
    if params.model.type == "hist_gradient_boosting" and "max_iter" in params.model.hyperparameters:  # as baked
        tuned = with_model(text, params.model.type, {**params.model.hyperparameters, "max_iter": 7})
        assert re.search(r"\n    max_iter: 7 +# boosting rounds", tuned)  # a kept hyperparameter keeps its comment


def load_params_text(text: str):
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "params.yaml")
        path.write_text(text, encoding="utf-8")
        return load_params(path)


def test_shards_share_the_budget_and_each_has_its_seed():
    shards = [Shard(index, 3) for index in (1, 2, 3)]
    assert [shard.trials(10) for shard in shards] == [4, 3, 3]
    assert len({shard.seed(42) for shard in shards}) == 3
    assert Shard().seed(42) == 42
    assert Shard.parse("2/4") == Shard(2, 4)
    for bad in ("0/2", "3/2", "two", "1"):
        with pytest.raises(ProjectError, match="write I/N"):
            Shard.parse(bad)


def test_experiment_names():
    assert experiment_name("lr", 7, "1/1") == "lr-t007"
    assert experiment_name("lr", 7, "2/4") == "lr-s2-t007"
    with pytest.raises(ProjectError, match="use letters, digits"):
        check_name("my search")
