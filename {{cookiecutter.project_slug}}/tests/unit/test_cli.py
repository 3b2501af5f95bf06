import argparse
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from {{ cookiecutter.package_name }}.cli import build_parser, main
from {{ cookiecutter.package_name }}.serving.row_log import RowLogSettings

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def test_help_lists_the_stages_and_predict():
    text = build_parser().format_help()
    for command in ("data", "train", "evaluate", "predict"):
        assert command in text


def test_every_stage_in_dvc_yaml_is_a_command_of_the_same_name():
    stages = yaml.safe_load((PROJECT_ROOT / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    for name, stage in stages.items():
        program, command = stage["cmd"].split()
        assert (program, command) == ("{{ cookiecutter.package_name }}", name)
        with pytest.raises(SystemExit) as exited:
            main([command, "--help"])
        assert exited.value.code == 0


def test_the_readme_names_every_command():
    """The README's Commands table is short, but no command is missing from it."""
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Commands\n", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`(?:{{ cookiecutter.package_name }} )?([a-z][a-z-]*)", table))
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert set(commands) - named == set()


def test_a_problem_is_one_line_and_exit_status_2(workdir, capsys):
    (workdir / "params.yaml").write_text("model:\n  type: forest\n")
    assert main(["train"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1


def test_the_module_runs_as_a_program():
    command = [sys.executable, "-m", "{{ cookiecutter.package_name }}", "--help"]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "predict" in done.stdout


LOG_ROWS_VARIABLES = ("SERVE_LOG_ROWS", "SERVE_LOG_ROWS_TO", "SERVE_LOG_ROWS_EXCLUDE")


@pytest.fixture
def served(monkeypatch) -> list:
    """The settings `serve` would start the server with (it is not started)."""
    from {{ cookiecutter.package_name }}.serving import service

    started = []
    monkeypatch.setattr(service, "serve", lambda host, port, settings, log_level: started.append(settings))
    for name in ("SERVE_REQUEST_TIMEOUT", "SERVE_KEEP_ALIVE_TIMEOUT", "SERVE_MAX_CONNECTIONS", *LOG_ROWS_VARIABLES):
        monkeypatch.delenv(name, raising=False)
    return started


def test_serve_takes_its_slow_client_bounds_from_options_then_the_environment(served, monkeypatch):
    assert main(["serve"]) == 0
    assert (served[0].request_timeout, served[0].keep_alive_timeout, served[0].max_connections) == (10, 5, 100)
    monkeypatch.setenv("SERVE_REQUEST_TIMEOUT", "30")
    monkeypatch.setenv("SERVE_MAX_CONNECTIONS", "500")
    assert main(["serve", "--keep-alive-timeout", "75", "--max-connections", "20"]) == 0
    assert (served[1].request_timeout, served[1].keep_alive_timeout, served[1].max_connections) == (30, 75, 20)


@pytest.mark.parametrize(
    ("argv", "environment", "named"),
    [
        (["--request-timeout", "0"], {}, "--request-timeout is '0'"),
        (["--keep-alive-timeout", "soon"], {}, "--keep-alive-timeout is 'soon'"),
        (["--max-connections", "1.5"], {}, "--max-connections is '1.5'"),
        ([], {"SERVE_REQUEST_TIMEOUT": "inf"}, "$SERVE_REQUEST_TIMEOUT is 'inf'"),
        ([], {"SERVE_MAX_CONNECTIONS": "-3"}, "$SERVE_MAX_CONNECTIONS is '-3'"),
    ],
)
def test_a_bad_slow_client_bound_is_refused_naming_it(served, monkeypatch, capsys, argv, environment, named):
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert main(["serve", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {named}: it must be ") and err.count("\n") == 1
    assert served == []


def test_serve_takes_the_row_log_from_options_then_the_environment_and_keeps_it_off_by_default(served, monkeypatch):
    assert main(["serve"]) == 0
    assert served[0].row_log == RowLogSettings(share=0.0, destination="stdout", exclude=())
    monkeypatch.setenv("SERVE_LOG_ROWS", "0.25")
    monkeypatch.setenv("SERVE_LOG_ROWS_TO", "/var/log/rows")
    monkeypatch.setenv("SERVE_LOG_ROWS_EXCLUDE", "income, name")
    assert main(["serve"]) == 0
    assert served[1].row_log == RowLogSettings(share=0.25, destination="/var/log/rows", exclude=("income", "name"))
    options = ["--log-rows", "1", "--log-rows-to", "stdout", "--log-rows-exclude", "email", "--log-rows-exclude", "id"]
    assert main(["serve", *options]) == 0
    assert served[2].row_log == RowLogSettings(share=1.0, destination="stdout", exclude=("email", "id"))


@pytest.mark.parametrize(
    ("argv", "environment", "named"),
    [(["--log-rows", "2"], {}, "--log-rows is '2'"), ([], {"SERVE_LOG_ROWS": "some"}, "$SERVE_LOG_ROWS is 'some'")],
)
def test_a_bad_share_of_rows_to_log_is_refused_naming_it(served, monkeypatch, capsys, argv, environment, named):
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert main(["serve", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {named}: give the share of rows to log, from 0 (off) to 1") and err.count("\n") == 1
    assert served == []
