import typing
from pathlib import Path

import pytest

from {{ cookiecutter.package_name }}.core.errors import ConfigError
from {{ cookiecutter.package_name }}.core.params import DataParams, load_params
from {{ cookiecutter.package_name }}.pipeline.data import SKLEARN_DATASETS


def write(tmp_path, text):
    path = tmp_path / "params.yaml"
    path.write_text(text)
    return path


def test_the_project_params_are_valid():
    params = load_params(Path(__file__).resolve().parents[2] / "params.yaml")
    assert params.task in {"classification", "regression"}


def test_a_misspelt_key_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"data\.traget: Extra inputs are not permitted"):
        load_params(write(tmp_path, "data:\n  traget: y\n"))


def test_a_wrong_type_is_named_with_its_value(tmp_path):
    with pytest.raises(ConfigError, match=r"data\.test_size: .*got 'half'"):
        load_params(write(tmp_path, "data:\n  test_size: half\n"))


def test_an_out_of_range_value_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"data\.test_size"):
        load_params(write(tmp_path, "data:\n  test_size: 1.5\n"))


def test_malformed_yaml_names_the_file(tmp_path):
    with pytest.raises(ConfigError, match=r"params\.yaml: not valid YAML"):
        load_params(write(tmp_path, "data: [unclosed\n"))


def test_a_missing_file_says_where_to_run(tmp_path):
    with pytest.raises(ConfigError, match="not found; run the command from the project folder"):
        load_params(tmp_path / "params.yaml")


def test_task_specific_settings_cannot_be_mixed(tmp_path):
    with pytest.raises(ConfigError, match=r"data\.split: stratified is for classification"):
        load_params(write(tmp_path, "task: regression\ndata:\n  split: stratified\n"))


def test_a_group_or_time_split_needs_its_column(tmp_path):
    with pytest.raises(ConfigError, match=r"data\.split: time needs data\.split_column"):
        load_params(write(tmp_path, "data:\n  split: time\n"))


def test_a_custom_model_needs_a_factory(tmp_path):
    with pytest.raises(ConfigError, match=r"model\.type custom needs model\.custom\.factory"):
        load_params(write(tmp_path, "model:\n  type: custom\n"))
    with pytest.raises(ConfigError, match=r"model\.custom\.factory"):
        load_params(write(tmp_path, "model:\n  type: custom\n  custom:\n    factory: not a path\n"))


def test_the_sample_tables_params_accept_are_the_ones_the_data_stage_loads():
    accepted = typing.get_args(DataParams.model_fields["sklearn_dataset"].annotation)
    assert set(accepted) == set(SKLEARN_DATASETS)
