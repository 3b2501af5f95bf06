import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from {{ cookiecutter.package_name }}.cli import build_parser, main

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


def test_a_problem_is_one_line_and_exit_status_2(workdir, capsys):
    (workdir / "params.yaml").write_text("model:\n  type: forest\n")
    assert main(["train"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1


def test_the_module_runs_as_a_program():
    command = [sys.executable, "-m", "{{ cookiecutter.package_name }}", "--help"]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "predict" in done.stdout
