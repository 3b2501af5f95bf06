"""Run a generated project's whole local loop, as its README tells a new user to.

One configuration installs with uv, the other with plain pip, so both documented paths stay
true. Each step is a real command in the baked project; a failure shows its output.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from pathlib import Path

import pytest

from bakery import TOOLS_BIN, bake, remote_url, run

LOOPS = [
    pytest.param({"task": "classification", "dvc_remote": "none"}, "uv", id="classification-none-uv"),
    pytest.param({"task": "regression", "dvc_remote": "local"}, "pip", id="regression-local-pip"),
]


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()  # the hash DVC itself records


def create_environment(project: Path, installer: str) -> Path:
    """Install the project and its dev group as the README says; return the environment's bin folder."""
    if installer == "uv":
        run([str(TOOLS_BIN / "uv"), "sync", "--python", sys.executable], project)
    else:
        run([sys.executable, "-m", "venv", ".venv"], project)
        python = str(project / ".venv/bin/python")
        run([python, "-m", "pip", "install", "--quiet", "--upgrade", "pip>=25.1"], project)
        run([python, "-m", "pip", "install", "--quiet", "-e", ".", "--group", "dev"], project)
    return project / ".venv/bin"


@pytest.mark.loop
@pytest.mark.parametrize(("answers", "installer"), LOOPS)
def test_the_local_loop(tmp_path, answers, installer):
    storage = remote_url(answers["dvc_remote"], tmp_path)
    project = bake(tmp_path / "out", **answers, dvc_remote_url=storage)
    bin_dir = create_environment(project, installer)
    env = {**os.environ, "PATH": os.pathsep.join([str(bin_dir), os.environ["PATH"]])}
    env["PRE_COMMIT_HOME"] = str(tmp_path / "pre-commit-cache")

    def sh(*command: str, check: bool = True):
        return run(list(command), project, env=env, check=check)

    # Lint: the generated code passes its own linters, unchanged.
    sh("ruff", "check", ".")
    sh("ruff", "format", "--check", ".")
    sh("pre-commit", "run", "--all-files", "--show-diff-on-failure")
    # A template update's leftover .rej file is refused until it is dealt with.
    (project / "params.yaml.rej").write_text("@@ -1 +1 @@\n-a\n+b\n", encoding="utf-8")
    sh("git", "add", "params.yaml.rej")
    refused = sh("pre-commit", "run", "no-template-rejects", "--all-files", check=False)
    assert refused.returncode != 0 and "params.yaml.rej" in refused.stdout
    sh("git", "rm", "--quiet", "--force", "params.yaml.rej")

    # The model tests fail (never skip) before the pipeline has run, and say what to do.
    early = sh("pytest", "-q", "tests/model", check=False)
    assert early.returncode != 0 and "run `dvc repro` first" in early.stdout
    assert " skipped" not in early.stdout

    sh("dvc", "repro")
    tested = sh("pytest", "-q")
    assert " failed" not in tested.stdout and " skipped" not in tested.stdout

    # Nothing changed: nothing runs.
    model = project / "models/model.skops"
    first_md5, first_mtime = md5(model), model.stat().st_mtime_ns
    again = sh("dvc", "repro")
    assert "Data and pipelines are up to date." in again.stdout
    assert model.stat().st_mtime_ns == first_mtime

    # A forced rerun retrains from scratch and gives the same bytes.
    forced = sh("dvc", "repro", "--force")
    assert "Running stage 'train'" in forced.stdout
    assert md5(model) == first_md5
    sh("dvc", "status")

    # What reviewers and `dvc` users look at works on these outputs.
    assert "roc_auc" in sh("dvc", "metrics", "show").stdout or "r2" in sh("dvc", "metrics", "show").stdout
    sh("dvc", "params", "diff")
    sh("dvc", "plots", "show")
    assert (project / "dvc_plots/index.html").is_file()
    assert sorted(p.name for p in (project / "reports/figures").glob("*.png"))

    # Commit through the installed Git hooks and push; with a remote, the pre-push hook runs `dvc push`.
    sh("pre-commit", "install")
    sh("git", "add", "--all")
    sh("git", "commit", "--quiet", "-m", "Train the first model")
    assert sh("git", "status", "--porcelain").stdout == ""
    origin = tmp_path / "origin.git"
    run(["git", "init", "--quiet", "--bare", str(origin)], tmp_path)
    sh("git", "remote", "add", "origin", str(origin))
    sh("git", "push", "--quiet", "origin", "main")

    if answers["dvc_remote"] == "local":
        # The push sent the data: lose the cache and the outputs, and pull them back.
        shutil.rmtree(project / ".dvc/cache")
        model.unlink()
        shutil.rmtree(project / "data/processed")
        sh("dvc", "pull")
        assert md5(model) == first_md5
        assert (project / "data/processed/train.parquet").is_file()
        assert "Data and pipelines are up to date." in sh("dvc", "status").stdout

    bring_your_own_csv(project, answers["task"], sh)


def bring_your_own_csv(project: Path, task: str, sh) -> None:
    """The README's "Bring your own CSV" steps, then a malformed file that must be refused clearly."""
    dataset, target = {
        "classification": ("load_breast_cancer", "diagnosis"),
        "regression": ("load_diabetes", "progression"),
    }[task]
    export = (
        f"from sklearn.datasets import {dataset}; "
        f"frame = {dataset}(as_frame=True).frame.rename(columns={{'target': '{target}'}}); "
        "frame.to_csv('data/raw/data.csv', index=False)"
    )
    sh(str(project / ".venv/bin/python"), "-c", export)
    sh("dvc", "add", "data/raw/data.csv")
    params = project / "params.yaml"
    text = params.read_text(encoding="utf-8")
    for before, after in (("  source: sklearn", "  source: csv"), ("  target: target", f"  target: {target}")):
        assert before in text, f"params.yaml no longer has the line the README tells users to change: {before!r}"
        text = text.replace(before, after, 1)
    params.write_text(text, encoding="utf-8")
    assert "Running stage 'data'" in sh("dvc", "repro").stdout
    sh("pytest", "-q")
    assert "data.csv" in sh("git", "status", "--porcelain").stdout  # data/raw/data.csv.dvc to commit

    # A CSV with a hole in a feature column stops the data stage, names the problem, changes nothing.
    raw = project / "data/raw/data.csv"
    lines = raw.read_text(encoding="utf-8").splitlines()
    cells = lines[5].split(",")
    cells[1] = ""
    lines[5] = ",".join(cells)
    raw.write_text("\n".join(lines) + "\n", encoding="utf-8")
    before = raw.read_bytes()
    failed = sh("dvc", "repro", check=False)
    assert failed.returncode != 0
    column = lines[0].split(",")[1]
    assert f"data/raw/data.csv: column '{column}' has 1 row empty" in failed.stderr + failed.stdout
    assert raw.read_bytes() == before
