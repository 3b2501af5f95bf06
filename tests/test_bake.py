"""Bake the option matrix from cookiecutter.json: exact file tree, nothing left unrendered, every file parses.

The bakes cover every pair of choices (bakery.pairwise): each value of every option meets
each value of every other in at least one bake. A new choice in cookiecutter.json joins
the matrix by itself.
"""

from __future__ import annotations

import ast
import itertools
import json
import re
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from bakery import CHOICES, PAIRWISE, TEMPLATE, TOOLS_BIN, bake, load_hook, pairs_in, pairwise, run
from tasks import PROMTOOL_FIX

COMBINATIONS = PAIRWISE
UNRENDERED = re.compile(r"(?<!\$)\{\{|\{%|%\}|\{#")
# Prometheus's alert templates ({{ $value }}, {{ $labels.feature }}) are the rules' own syntax, written on
# purpose in the files that hold rules; anywhere else they would be leftover Jinja too.
ALERT_RULE_FILES = {"monitoring/alerts.yml", "k8s/monitoring/prometheus-rule.yaml"}
PROMETHEUS_TEMPLATE = re.compile(r"\{\{ \$(value|labels\.\w+)\b[^{}]*\}\}")


def test_the_bakes_cover_every_pair_of_choices():
    baked = set().union(*map(pairs_in, COMBINATIONS))
    for a, b in itertools.combinations(CHOICES, 2):
        for x, y in itertools.product(CHOICES[a], CHOICES[b]):
            assert frozenset([(a, x), (b, y)]) in baked, f"no bake has {a}={x} with {b}={y}"
    assert COMBINATIONS[0] == {name: values[0] for name, values in CHOICES.items()}, "the defaults are baked"
    product = len(list(itertools.product(*CHOICES.values())))
    assert len(COMBINATIONS) <= 30 < product, "a handful of bakes, not the product"


def test_pairwise_covers_the_pairs_a_rotation_misses():
    # A rotation (value i % n in bake i, as the matrix was before) leaves pairs out; pairwise does not.
    choices = {"remote": ["none", "local", "s3", "gcs"], "comment": ["cml", "gh"], "target": ["ghcr", "none"]}
    every_pair = set().union(
        *(pairs_in(dict(zip(choices, values, strict=True))) for values in itertools.product(*choices.values()))
    )
    rotation = [{name: values[i % len(values)] for name, values in choices.items()} for i in range(4)]
    assert frozenset([("comment", "cml"), ("target", "none")]) in every_pair - set().union(*map(pairs_in, rotation))
    sets = pairwise(choices)
    assert set().union(*map(pairs_in, sets)) == every_pair
    assert len(sets) == 8, "4 remotes x 2 comment tools: 8 bakes, the fewest possible"


def expected_files(package: str, deploy_target: str = "ghcr") -> set[str]:
    modules = [  # grouped by the loop: the shared core, the pipeline, the review, serving, monitoring
        "__init__",
        "__main__",
        "cli",
        *(
            f"core/{name}"
            for name in ("__init__", "artifact", "contract", "errors", "metric_goals", "params", "paths", "records")
        ),
        *(
            f"pipeline/{name}"
            for name in ("__init__", "adopt", "data", "evaluate", "export", "labelled", "plots", "train")
        ),
        *(f"review/{name}" for name in ("__init__", "gate", "model_card", "provenance", "report")),
        *(
            f"serving/{name}"
            for name in (
                "__init__",
                "benchmark",
                "connections",
                "predict",
                "row_log",
                "runtime",
                "service",
                "settings",
                "smoke",
                "traffic",
            )
        ),
        *(f"monitoring/{name}" for name in ("__init__", "monitor", "resampled")),
        *(f"search/{name}" for name in ("__init__", "experiments", "leaderboard", "session", "space", "trials")),
    ]
    unit = [
        "conftest",
        "test_adopt",
        "test_alerts",
        "test_artifact",
        "test_cli",
        "test_contract",
        "test_data",
        "test_evaluate",
        "test_export",
        "test_gate",
        "test_labelled",
        "test_model_card",
        "test_monitor",
        "test_params",
        "test_paths",
        "test_predict",
        "test_provenance",
        "test_records",
        "test_report",
        "test_row_log",
        "test_search_space",
        "test_service",
        "test_smoke",
        "test_traffic",
        "test_train",
    ]
    return {
        ".cruft.json",
        ".dockerignore",
        ".dvc/.gitignore",
        ".dvc/config",
        ".dvcignore",
        ".github/actions/dvc-remote/action.yml",
        ".github/dependabot.yml",
        ".github/workflows/ci.yml",
        ".github/scripts/template_update.py",
        ".github/scripts/verify_dvc_cache.py",
        ".github/workflows/deploy.yml",
        ".github/workflows/model-health.yml",
        ".github/workflows/pr-report.yml",
        ".github/workflows/search.yml",
        ".github/workflows/template-update.yml",
        ".gitignore",
        ".pre-commit-config.yaml",
        "Dockerfile",
        "LICENSE",
        "MODEL_CARD.md",
        "README.md",
        "data-contract.yaml",
        "data/labelled/README.md",
        "data/production/README.md",
        "data/raw/README.md",
        "dvc.yaml",
        "monitoring/alerts.test.yml",  # Prometheus rules and their promtool unit tests
        "monitoring/alerts.yml",
        "params.yaml",
        "pyproject.toml",
        "reports/search.json",  # {} until `leaderboard --apply` writes the record of the trial it took
        "uv.lock",  # written by the post-generation hook, with its export for pip:
        "requirements.lock.txt",
        *(f"src/{package}/{name}.py" for name in modules),
        "tests/api/conftest.py",
        "tests/api/test_service.py",
        "tests/api/test_slow_clients.py",
        "tests/conftest.py",
        "tests/data/test_split.py",
        *(
            f"tests/model/{name}.py"
            for name in ["conftest", "test_against_main", "test_behaviour", "test_monitoring", "test_quality"]
        ),
        *(f"tests/unit/{name}.py" for name in unit),
        *(
            f"k8s/{name}.yaml"
            for name in ["deployment", "service", "hpa", "monitoring/prometheus-rule"]
            if deploy_target == "kubernetes"
        ),
    }


def files_in(project: Path) -> set[str]:
    return {
        path.relative_to(project).as_posix()
        for path in project.rglob("*")
        if path.is_file() and ".git" not in path.relative_to(project).parts[:1] and "tmp" not in path.parts[-2:-1]
    }


@pytest.fixture
def baked(pairwise_bake) -> tuple[dict, Path]:
    return pairwise_bake  # conftest.py: one bake per combination, shared with test_workflows


def test_the_file_tree_is_exact(baked):
    answers, project = baked
    assert files_in(project) == expected_files("tumour_classifier", answers["deploy_target"])


def test_nothing_is_left_unrendered(baked):
    _, project = baked
    for name in files_in(project):
        text = (project / name).read_text(encoding="utf-8")
        if name in ALERT_RULE_FILES:
            text = PROMETHEUS_TEMPLATE.sub("", text)
        assert not UNRENDERED.search(text), f"{name} has Jinja syntax left: {UNRENDERED.search(text).group()}"


def test_every_structured_file_parses(baked):
    _, project = baked
    for name in files_in(project):
        path = project / name
        if path.suffix in {".yaml", ".yml"}:
            yaml.safe_load(path.read_text(encoding="utf-8"))
        elif path.suffix == ".toml":
            tomllib.loads(path.read_text(encoding="utf-8"))
        elif path.suffix == ".py":
            ast.parse(path.read_text(encoding="utf-8"), filename=name)
        elif path.suffix == ".json":
            json.loads(path.read_text(encoding="utf-8"))


def test_adopt_knows_the_sample_model_card(baked):
    # `adopt` replaces a MODEL_CARD.md section only while it still reads as the template ships it:
    # its copy of the sample text (SAMPLE_NOTES) must match the card of each task.
    _, project = baked
    module = ast.parse((project / "src/tumour_classifier/pipeline/adopt.py").read_text(encoding="utf-8"))
    notes = next(
        ast.literal_eval(node.value)
        for node in module.body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "SAMPLE_NOTES"
    )
    parts = re.split(r"(?m)^## (.*)$", (project / "MODEL_CARD.md").read_text(encoding="utf-8"))[1:]
    sections = dict(zip(parts[::2], parts[1::2], strict=True))
    assert set(notes) <= set(sections)
    for heading in notes:
        assert " ".join(sections[heading].split()) in notes[heading], heading


def test_the_origin_is_recorded_for_cruft(baked):
    answers, project = baked
    state = json.loads((project / ".cruft.json").read_text(encoding="utf-8"))
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=TEMPLATE, capture_output=True, text=True, check=True)
    assert (state["template"], state["commit"]) == (str(TEMPLATE), head.stdout.strip())
    recorded = state["context"]["cookiecutter"]
    assert {name: recorded[name] for name in answers} == answers
    assert (recorded["_template"], recorded["_commit"]) == (state["template"], state["commit"])
    assert not {"_output_dir", "_repo_dir", "_checkout"} & set(recorded), "machine-local keys stay out"


def test_the_answers_land_where_they_belong(baked):
    answers, project = baked
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    params = yaml.safe_load((project / "params.yaml").read_text(encoding="utf-8"))
    assert params["task"] == answers["task"]
    assert f'PYTHON_VERSION: "{answers["python_version"]}"' in (project / ".github/workflows/ci.yml").read_text()
    license_text = (project / "LICENSE").read_text()
    expected_license = {"MIT": "MIT", "Apache-2.0": "Apache-2.0", "BSD-3-Clause": "BSD-3-Clause"}
    assert pyproject["project"]["license"] == expected_license.get(answers["license"], "LicenseRef-Proprietary")
    assert {"MIT": "MIT License", "Apache-2.0": "Apache License", "BSD-3-Clause": "BSD 3-Clause"}.get(
        answers["license"], "All rights reserved"
    ) in license_text
    dvc_requirement = next(dep for dep in pyproject["dependency-groups"]["dev"] if dep.startswith("dvc"))
    extra = {"s3": "[s3]", "gcs": "[gs]", "azure": "[azure]", "ssh": "[ssh]"}.get(answers["dvc_remote"], "")
    assert dvc_requirement.startswith(f"dvc{extra}>=")


def test_git_and_dvc_are_set_up_with_a_first_commit(baked):
    answers, project = baked
    git = lambda *args: subprocess.run(["git", *args], cwd=project, capture_output=True, text=True, check=True).stdout  # noqa: E731
    assert git("branch", "--show-current").strip() == "main"
    assert git("status", "--porcelain") == "", "everything baked is committed"
    assert git("log", "--format=%s").strip() == "Start the model repository from cookiecutter-model-repo"
    assert "uv.lock" in git("ls-files").split(), "the first commit holds the lock file"
    lock = tomllib.loads((project / "uv.lock").read_text())
    pinned = {package["name"] for package in lock["package"] if "sdist" in package or "wheels" in package}
    assert {"scikit-learn", "dvc", "onnxruntime"} <= pinned
    assert all("hash" in wheel for package in lock["package"] for wheel in package.get("wheels", []))
    config = (project / ".dvc/config").read_text()
    if answers["dvc_remote"] == "none":
        assert "remote" not in config
    else:
        assert "remote = storage" in config
        assert f"url = {answers['dvc_remote_url']}" in config


def test_answers_with_quotes_backslashes_and_code_stay_data(tmp_path):
    # STYLE: user input is data. These strings break naive TOML, YAML or Python templating.
    hostile = {
        "project_name": 'O\'Brien "Risk" Model \\ v2',
        "description": 'Says """hi""" \\n and {"json": true}; import os; os.remove("x")',
        "author_name": 'Zoë "Ace" O\'Brien',
        "github_owner": "acme-ml",
    }
    project = bake(tmp_path, **hostile)
    assert project.name == "o-brien-risk-model-v2"
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["description"] == hostile["description"]
    assert pyproject["project"]["authors"][0]["name"] == hostile["author_name"]
    dvc = yaml.safe_load((project / "dvc.yaml").read_text(encoding="utf-8"))
    assert dvc["artifacts"]["model"]["desc"] == hostile["description"]
    for path in project.rglob("*.py"):
        ast.parse(path.read_text(encoding="utf-8"))
    assert hostile["author_name"] in (project / "LICENSE").read_text(encoding="utf-8")


def test_answers_in_any_script_come_out_readable_and_valid(tmp_path):
    # Accents, an emoji (outside the Basic Multilingual Plane), a line separator and DEL: TOML
    # refuses JSON's surrogate pairs and raw DEL, YAML folds a raw line separator.
    answers = {
        "project_name": "Prévision des départs 🚀",
        "description": "Modèle ✨ de churn\u2028pour l'équipe « CRM »\x7f",
        "author_name": "Zoë Ørsted-Núñez 山田",
    }
    project = bake(tmp_path, **answers)
    assert project.name == "prevision-des-departs"
    text = (project / "pyproject.toml").read_text(encoding="utf-8")
    assert "Zoë Ørsted-Núñez 山田" in text and "\\u00eb" not in text, "names stay readable"
    pyproject = tomllib.loads(text)
    assert pyproject["project"]["description"] == answers["description"]
    assert pyproject["project"]["authors"][0]["name"] == answers["author_name"]
    dvc = yaml.safe_load((project / "dvc.yaml").read_text(encoding="utf-8"))
    assert dvc["artifacts"]["model"]["desc"] == answers["description"]
    package = project.name.replace("-", "_")
    card = ast.parse((project / f"src/{package}/review/model_card.py").read_text(encoding="utf-8"))
    constants = {
        node.targets[0].id: ast.literal_eval(node.value)
        for node in card.body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") in {"PROJECT", "DESCRIPTION"}
    }
    assert constants["PROJECT"] == answers["project_name"]
    assert constants["DESCRIPTION"] == answers["description"]


@pytest.mark.parametrize("package_name", ["m", "a_rather_long_package_name_for_a_churn_model"])
def test_the_generated_code_passes_its_linters_whatever_the_package_name(tmp_path, package_name):
    # Lines that hold the package name change length with it: ruff must accept short and long names.
    project = bake(tmp_path, package_name=package_name)
    run([str(TOOLS_BIN / "ruff"), "check", "."], project)
    run([str(TOOLS_BIN / "ruff"), "format", "--check", "."], project)


def test_hadolint_finds_nothing_in_the_dockerfile(baked):
    _, project = baked
    done = run([str(TOOLS_BIN / "hadolint"), "--no-color", "Dockerfile"], project, check=False)
    assert done.returncode == 0 and done.stdout == "", done.stdout


def repo_review(project: Path, *options: str) -> dict[str, dict]:
    """Scientific Python's repo-review on a project: each check's result (None when skipped or ignored)."""
    done = run([str(TOOLS_BIN / "repo-review"), "--format", "json", *options, str(project)], TEMPLATE, check=False)
    return json.loads(done.stdout)["checks"]


def test_repo_review_fails_nothing_and_each_ignore_has_its_reason(baked):
    _, project = baked
    checks = repo_review(project)
    assert [name for name, check in checks.items() if check["result"] is False] == []
    ignored = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["repo-review"]["ignore"]
    assert all(checks[name]["skip_reason"] == reason and reason for name, reason in ignored.items())
    # The list holds nothing more than it must: without it, exactly the ignored checks fail.
    unignored = repo_review(project, "--ignore", "NONE")  # a name no check has: replaces the list
    assert sorted(name for name, check in unignored.items() if check["result"] is False) == sorted(ignored)


def test_typos_finds_nothing(baked):
    # The project's own allow-list applies ([tool.typos] in its pyproject.toml); the lock files are prose to no one.
    _, project = baked
    run([str(TOOLS_BIN / "typos"), "--exclude", "uv.lock", "--exclude", "requirements.lock.txt"], project)


def test_the_image_runs_the_serve_command_as_an_unprivileged_user(baked):
    answers, project = baked
    dockerfile = (project / "Dockerfile").read_text(encoding="utf-8")
    final_stage = dockerfile.rsplit("\nFROM ", 1)[1]
    assert f"FROM python:{answers['python_version']}-slim@sha256:" in dockerfile
    assert re.search(r"^FROM python:[\d.]+-slim@sha256:[0-9a-f]{64}$", "FROM " + final_stage.splitlines()[0])
    assert "\nUSER 10001\n" in final_stage and "\nHEALTHCHECK " in final_stage
    assert final_stage.rstrip().endswith('CMD ["tumour_classifier", "serve", "--host", "0.0.0.0", "--port", "8000"]')


def test_the_kubernetes_manifests_probe_the_service(baked):
    answers, project = baked
    if answers["deploy_target"] != "kubernetes":
        assert not (project / "k8s").exists()
        return
    deployment = yaml.safe_load((project / "k8s/deployment.yaml").read_text(encoding="utf-8"))
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["ports"][0]["containerPort"] == 8000
    hpa = yaml.safe_load((project / "k8s/hpa.yaml").read_text(encoding="utf-8"))
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]


def test_the_alert_rules_pass_promtool(baked, tmp_path):
    """Prometheus's own checker on the rules as baked: they load (every combination, and the kubernetes
    manifest's copy), and their unit tests pass (once per task: a run evaluates nine days of series)."""
    answers, project = baked
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail(f"promtool is not installed; {PROMTOOL_FIX}", pytrace=False)
    monitoring = project / "monitoring"
    groups = yaml.safe_load((monitoring / "alerts.yml").read_text(encoding="utf-8"))["groups"]
    found = f"SUCCESS: {sum(len(group['rules']) for group in groups)} rules found"
    checked = run([promtool, "check", "rules", "alerts.yml"], monitoring)
    assert found in checked.stdout, checked.stdout
    if answers["deploy_target"] == "kubernetes":
        manifest = yaml.safe_load((project / "k8s/monitoring/prometheus-rule.yaml").read_text(encoding="utf-8"))
        (tmp_path / "rule.yml").write_text(yaml.safe_dump({"groups": manifest["spec"]["groups"]}), encoding="utf-8")
        assert found in run([promtool, "check", "rules", "rule.yml"], tmp_path).stdout
    chosen = {name: answers[name] for name in CHOICES}
    if chosen == next(bake for bake in COMBINATIONS if bake["task"] == answers["task"]):
        tested = run([promtool, "test", "rules", "alerts.test.yml"], monitoring)
        assert "SUCCESS" in tested.stdout, tested.stdout


def test_the_lock_is_exported_for_pip_by_one_command_everywhere(baked):
    # uv.lock's export for the image is written by the post-generation hook, kept current by a
    # pre-commit hook and refreshed by the Template update: the same command in all three.
    _, project = baked
    config = yaml.safe_load((project / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    (entry,) = [hook["entry"] for repo in config["repos"] for hook in repo["hooks"] if hook["id"] == "uv-export"]
    assert shlex.split(entry) == load_hook("post_gen_project").LOCK_COMMANDS[1]
    assert entry in (project / ".github/workflows/template-update.yml").read_text(encoding="utf-8")
    assert "requirements.lock.txt" in (project / ".dockerignore").read_text(encoding="utf-8")
