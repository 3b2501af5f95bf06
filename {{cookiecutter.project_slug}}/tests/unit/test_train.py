import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.core import artifact, paths
from {{ cookiecutter.package_name }}.core.errors import ArtifactError, ConfigError
from {{ cookiecutter.package_name }}.core.params import Params
from {{ cookiecutter.package_name }}.pipeline import data, train


def test_training_is_seeded_and_byte_identical(classification_csv, csv_params):
    params = csv_params(classification_csv, "label")
    data.run(params)
    first = train.run(params, model_path=paths.MODEL_PATH)
    second = train.run(params, model_path=paths.MODEL_PATH.with_name("again.skops"))
    assert first == second


def test_every_estimator_trains_for_its_task(classification_csv, csv_params):
    for model_type in train.ESTIMATORS["classification"]:
        small = {"random_forest": {"n_estimators": 5}, "hist_gradient_boosting": {"max_iter": 5}}
        params = csv_params(classification_csv, "label", type=model_type, hyperparameters=small.get(model_type, {}))
        data.run(params)
        train.run(params)
        assert artifact.load_model().predict(data.load_split()[1][["x0", "x1", "x2", "x3", "x4"]]).shape == (24,)


def test_an_unknown_model_type_lists_the_choices(classification_csv, csv_params):
    with pytest.raises(ConfigError, match=r"model.type 'forest' is not a classification model; choose one of"):
        train.build_pipeline(csv_params(classification_csv, "label", type="forest"))


def test_an_unknown_hyperparameter_is_named(classification_csv, csv_params):
    params = csv_params(classification_csv, "label", hyperparameters={"n_trees": 5})
    with pytest.raises(ConfigError, match=r"\['n_trees'\] are not parameters of RandomForestClassifier"):
        train.build_pipeline(params)


def test_a_bad_hyperparameter_value_is_named_and_no_model_is_written(classification_csv, csv_params, workdir):
    params = csv_params(classification_csv, "label", hyperparameters={"n_estimators": -3})
    data.run(params)
    with pytest.raises(ConfigError, match=r"hyperparameters: The 'n_estimators' parameter of RandomForest\w+ must"):
        train.run(params)
    assert not (workdir / paths.MODEL_PATH).exists()


# --- raw tables and custom models ---------------------------------------------------------------


def mixed_params(path, **model):
    settings = {"type": "random_forest", "hyperparameters": {"n_estimators": 10}, **model}
    return Params.model_validate(
        {"data": {"source": "file", "path": str(path), "target": "grade", "split": "stratified"}, "model": settings}
    )


@pytest.mark.parametrize("model_type", sorted(train.ESTIMATORS["classification"]))
def test_every_estimator_takes_raw_rows(mixed_table, model_type):
    small = {"random_forest": {"n_estimators": 5}, "hist_gradient_boosting": {"max_iter": 5}}
    params = mixed_params(mixed_table, type=model_type, hyperparameters=small.get(model_type, {}))
    data.run(params)
    train.run(params)
    model = artifact.load_model()
    rows = pd.DataFrame({"colour": ["green", "violet", None], "size": [9.5, None, 12.0], "weight": [50.0, 41.0, None]})
    proba = model.predict_proba(data.model_input(rows, data.load_split()[2]))
    assert proba.shape == (3, 2) and np.isfinite(proba).all(), "unknown categories and empty cells are scored"
    assert set(model.classes_) == {"high", "low"}


def test_the_preparation_is_inside_the_pipeline(mixed_table):
    params = mixed_params(mixed_table)
    schema = data.run(params)
    train.run(params)
    model = artifact.load_model()
    prepare = model.named_steps["prepare"]
    encoder = prepare.named_transformers_["categorical"].named_steps["encode"]
    assert [list(c) for c in encoder.categories_] == [["(missing)", "blue", "green", "red"]], "'rare' has no column"
    assert schema.feature_types == {"colour": "categorical", "size": "numeric", "weight": "numeric"}


CUSTOM_MODULE = """
import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder


def neighbours(n_neighbors=5):
    return KNeighborsClassifier(n_neighbors=n_neighbors)


def whole_pipeline():
    numbers = make_pipeline(SimpleImputer(), FunctionTransformer(np.log1p))
    text = make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore"))
    prepare = ColumnTransformer([("n", numbers, ["size", "weight"]), ("t", text, ["colour"])])
    return make_pipeline(prepare, LogisticRegression())


def not_a_model():
    return "forest"
"""


@pytest.fixture
def custom_module(workdir, monkeypatch):
    (workdir / "my_models.py").write_text(CUSTOM_MODULE)
    monkeypatch.syspath_prepend(str(workdir))


KD_TREE = ["sklearn.metrics._dist_metrics.EuclideanDistance64", "sklearn.neighbors._kd_tree.KDTree"]


def test_a_custom_estimator_gets_the_preparation_and_declares_its_types(mixed_table, custom_module):
    custom = {"factory": "my_models:neighbours"}
    params = mixed_params(mixed_table, type="custom", hyperparameters={"n_neighbors": 3}, custom=custom)
    data.run(params)
    with pytest.raises(ArtifactError, match=r"not trusted: .*KDTree'\]; review them, then list them in params.yaml"):
        train.run(params)  # refused when trained, not later by every stage that loads it
    trusted = mixed_params(
        mixed_table, type="custom", hyperparameters={"n_neighbors": 3}, custom={**custom, "trusted_types": KD_TREE}
    )
    train.run(trusted)
    model = artifact.load_model(extra_trusted=KD_TREE)
    assert list(model.named_steps) == ["prepare", "model"]
    assert model.named_steps["model"].n_neighbors == 3


def test_a_custom_pipeline_can_prepare_rows_itself(mixed_table, custom_module):
    custom = {"factory": "my_models:whole_pipeline", "prepare": False}
    params = mixed_params(mixed_table, type="custom", hyperparameters={}, custom=custom)
    data.run(params)
    train.run(params)
    _, test, schema = data.load_split()
    model = artifact.load_model()
    assert list(model.named_steps) == ["model"] and hasattr(model.named_steps["model"], "steps")
    assert model.predict(data.model_input(test, schema)).size == schema.test_rows


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        ("my_models:missing", r"model.custom.factory 'my_models:missing' cannot be imported"),
        ("nowhere:build", r"cannot be imported: No module named 'nowhere'"),
        ("my_models:not_a_model", r"returned str, not a scikit-learn estimator"),
    ],
)
def test_a_bad_factory_is_named(mixed_table, custom_module, factory, message):
    with pytest.raises(ConfigError, match=message):
        train.build_pipeline(mixed_params(mixed_table, type="custom", hyperparameters={}, custom={"factory": factory}))
