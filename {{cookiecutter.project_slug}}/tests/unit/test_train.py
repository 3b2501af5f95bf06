import pytest

from {{ cookiecutter.package_name }} import artifact, data, train
from {{ cookiecutter.package_name }}.errors import ConfigError


def test_training_is_seeded_and_byte_identical(classification_csv, csv_params):
    params = csv_params(classification_csv, "label")
    data.run(params)
    first = train.run(params, model_path=artifact.MODEL_PATH)
    second = train.run(params, model_path=artifact.MODEL_PATH.with_name("again.skops"))
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


def test_a_bad_hyperparameter_value_fails_before_training(classification_csv, csv_params):
    params = csv_params(classification_csv, "label", hyperparameters={"n_estimators": -3})
    with pytest.raises(ConfigError, match="n_estimators"):
        train.build_pipeline(params)
