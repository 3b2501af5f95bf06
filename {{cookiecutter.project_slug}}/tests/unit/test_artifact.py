import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.datasets import make_classification, make_regression

from {{ cookiecutter.package_name }}.core import artifact, paths
from {{ cookiecutter.package_name }}.core.errors import ArtifactError, MissingOutputError
from {{ cookiecutter.package_name }}.core.params import Params
from {{ cookiecutter.package_name }}.pipeline.data import Schema
from {{ cookiecutter.package_name }}.pipeline.train import ESTIMATORS, build_pipeline

# Small ensembles: the tests are about files, not about quality.
SMALL = {"random_forest": {"n_estimators": 5}, "hist_gradient_boosting": {"max_iter": 5}}


def fitted(task="classification", model_type="random_forest"):
    """A fitted pipeline with its preparation step: numbers with gaps and a text category."""
    make = make_classification if task == "classification" else make_regression
    values, target = make(n_samples=80, n_features=4, random_state=0)
    features = pd.DataFrame(values, columns=["a", "b", "c", "d"])
    features.loc[[1, 5], "a"] = np.nan
    features["kind"] = pd.Series(["x", "y", None, "z"] * 20, dtype=object)
    types = {"a": "numeric", "b": "numeric", "c": "numeric", "d": "boolean", "kind": "categorical"}
    features["d"] = (features["d"] > 0).astype(float)
    schema = Schema(task, "t", list(types), types, {"kind": ["x", "y", "z"]}, [], "test", "0", 80, 64, 16)
    model = {"type": model_type, "hyperparameters": SMALL.get(model_type, {})}
    params = Params.model_validate({"task": task, "model": model})
    return build_pipeline(params, schema, features).fit(features, target), features


def test_equal_models_give_identical_bytes():
    # Two fits are two sets of objects with different id()s: the bytes must not depend on them.
    (first, _), (second, _) = fitted(), fitted()
    assert artifact.dumps(first) == artifact.dumps(second)


def test_the_archive_round_trips(workdir):
    model, features = fitted()
    artifact.save_model(model)
    np.testing.assert_array_equal(artifact.load_model().predict_proba(features), model.predict_proba(features))


@pytest.mark.parametrize(("task", "model_type"), [(task, name) for task, names in ESTIMATORS.items() for name in names])
def test_trusted_types_cover_every_supported_estimator(task, model_type):
    model, _ = fitted(task, model_type)
    untrusted = set(sio.get_untrusted_types(data=artifact.dumps(model)))
    assert untrusted <= set(artifact.TRUSTED_TYPES), f"add to TRUSTED_TYPES: {untrusted - set(artifact.TRUSTED_TYPES)}"


def test_an_untrusted_type_is_refused(workdir):
    model, _ = fitted()
    artifact.save_model(model)
    trusted = [name for name in artifact.TRUSTED_TYPES if name != "sklearn.tree._tree.Tree"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(artifact, "TRUSTED_TYPES", trusted)
        with pytest.raises(ArtifactError, match=r"types that are not trusted: \['sklearn.tree._tree.Tree'\]"):
            artifact.load_model()


@pytest.fixture
def saved_with_metadata(workdir, model_record):
    model, _ = fitted()
    digest = artifact.save_model(model)
    model_record(digest).write(paths.METADATA_PATH)
    return model


def test_a_verified_model_loads(workdir, saved_with_metadata):
    _, metadata = artifact.load_verified()
    assert metadata.model_sha256 == artifact.sha256(paths.MODEL_PATH.read_bytes())


def test_a_tampered_model_is_refused(workdir, saved_with_metadata):
    content = bytearray(paths.MODEL_PATH.read_bytes())
    content[len(content) // 2] ^= 0xFF
    paths.MODEL_PATH.write_bytes(bytes(content))
    with pytest.raises(ArtifactError, match=r"differs from .* recorded in models/metadata.json; .*dvc checkout"):
        artifact.load_verified()


def test_a_corrupt_archive_is_refused_clearly(workdir):
    paths.MODEL_PATH.parent.mkdir(parents=True)
    paths.MODEL_PATH.write_bytes(b"not a zip file")
    with pytest.raises(ArtifactError, match="not a readable skops model"):
        artifact.load_model()


def test_missing_metadata_says_to_run_the_pipeline(workdir):
    with pytest.raises(MissingOutputError, match="run `dvc repro`"):
        artifact.load_verified()


def test_unreadable_metadata_is_named(workdir, saved_with_metadata):
    paths.METADATA_PATH.write_text("{broken")
    with pytest.raises(ArtifactError, match=r"metadata.json: not valid JSON"):
        artifact.load_verified()
    assert paths.METADATA_PATH.read_text() == "{broken"  # left as it was, for inspection
