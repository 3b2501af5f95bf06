"""Hooks: a bad answer stops generation before any file is written; post-gen degrades gracefully."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import jinja2
import pytest
import yaml

from bakery import CHOICES, OPTIONS, TEMPLATE, TOOLS_BIN, bake, load_hook

pre_gen = load_hook("pre_gen_project")
post_gen = load_hook("post_gen_project")

DEFAULTS = {
    "project_name": "Tumour Classifier",
    "project_slug": "tumour-classifier",
    "package_name": "tumour_classifier",
    "description": "d",
    "author_name": "Ada",
    "author_email": "ada@example.com",
    "github_owner": "ada",
    **{name: choices[0] for name, choices in CHOICES.items()},
    "dvc_remote_url": "",
}

# (answers given on the command line, the value the error must name)
BAD_ANSWERS = [
    ({"project_slug": "My Model"}, "project_slug='My Model'"),
    ({"project_slug": "model-"}, "project_slug='model-'"),
    ({"package_name": "class"}, "package_name='class'"),
    ({"package_name": "2fast"}, "package_name='2fast'"),
    ({"package_name": "my-model"}, "package_name='my-model'"),
    ({"author_email": "ada.example.com"}, "author_email='ada.example.com'"),
    ({"github_owner": "-bad-"}, "github_owner='-bad-'"),
    ({"project_name": "Risk\nModel"}, "project_name='Risk\\nModel'"),
    ({"author_name": " "}, "author_name=' '"),
    ({"dvc_remote": "s3", "dvc_remote_url": "gs://bucket/x"}, "dvc_remote_url='gs://bucket/x'"),
    ({"dvc_remote": "gcs"}, "dvc_remote_url=''"),
    ({"dvc_remote": "ssh", "dvc_remote_url": "ssh://"}, "dvc_remote_url='ssh://'"),
    ({"dvc_remote": "local", "dvc_remote_url": "s3://bucket"}, "dvc_remote_url='s3://bucket'"),
    ({"dvc_remote": "none", "dvc_remote_url": "/mnt/store"}, "dvc_remote_url='/mnt/store'"),
]


def cookiecutter_cli(tmp_path: Path, answers: dict[str, str]) -> subprocess.CompletedProcess:
    command = [str(TOOLS_BIN / "cookiecutter"), "--no-input", "--output-dir", str(tmp_path), str(TEMPLATE)]
    command += [f"{key}={value}" for key, value in answers.items()]
    return subprocess.run(command, capture_output=True, text=True, check=False)


@pytest.mark.parametrize(("answers", "named"), BAD_ANSWERS, ids=[named for _, named in BAD_ANSWERS])
def test_a_bad_answer_stops_before_any_file_is_written(tmp_path, answers, named):
    done = cookiecutter_cli(tmp_path, answers)
    assert done.returncode != 0
    assert list(tmp_path.iterdir()) == [], "nothing may be written"
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert any(named in line and "for example" in line for line in errors), done.stderr
    assert "Traceback" not in done.stderr + done.stdout


@pytest.mark.parametrize("option", ["python_version", "task", "dvc_remote", "pr_comment", "deploy_target", "license"])
def test_a_value_outside_the_choices_is_refused_with_the_choices(tmp_path, option):
    # cookiecutter itself checks choice overrides before any hook runs; the hook checks too,
    # for answers that arrive another way (a replay file, an edited .cruft.json).
    done = cookiecutter_cli(tmp_path, {option: "bogus"})
    assert done.returncode != 0
    assert list(tmp_path.iterdir()) == []
    assert "bogus" in done.stderr and str(CHOICES[option]) in done.stderr
    found = pre_gen.problems({**DEFAULTS, option: "bogus"}, CHOICES)
    assert any(f"{option}='bogus'" in problem and ", ".join(CHOICES[option]) in problem for problem in found), found


def test_every_default_answer_is_valid():
    assert pre_gen.problems(DEFAULTS, CHOICES) == []


def test_every_remote_example_is_valid():
    for remote, (_, example) in pre_gen.REMOTE_SCHEMES.items():
        assert pre_gen.remote_problems(remote, example) == []


def test_the_hook_reads_the_choices_from_cookiecutter_json():
    assert pre_gen.choices_of(TEMPLATE) == CHOICES
    assert set(CHOICES["dvc_remote"]) == {"none", "local", *pre_gen.REMOTE_SCHEMES}, "each remote type has its scheme"


def test_a_choice_changed_in_cookiecutter_json_needs_no_edit_of_the_hook(tmp_path, capsys):
    # The hook keeps no copy of the choices: with one value more in cookiecutter.json it accepts
    # that value, and with one fewer it refuses the value that went.
    options = {**OPTIONS, "license": [*CHOICES["license"][:-1], "Unlicense"]}  # Proprietary out, Unlicense in
    (tmp_path / "cookiecutter.json").write_text(json.dumps(options), encoding="utf-8")
    assert pre_gen.main({**DEFAULTS, "license": "Unlicense"}, tmp_path) == 0
    assert pre_gen.main({**DEFAULTS, "license": "Proprietary"}, tmp_path) == 1
    assert "error: license='Proprietary' is not valid: choose one of MIT, Apache-2.0, BSD-3-Clause, Unlicense" in (
        capsys.readouterr().err
    )


def test_the_template_loads_its_jinja_extensions():
    assert OPTIONS["_extensions"] == [
        "hooks.messages.QuietHookFailure",
        "hooks.location.TemplateRoot",
        "hooks.literals.QuotedLiterals",
        "hooks.expressions.GitHubExpressions",
        "hooks.derived.DerivedValues",
    ]


def test_github_expressions_pass_through_only_under_dot_github():
    expressions = load_hook("expressions")
    workflow = 'PACKAGE: {{ name }}\nrun: echo "${{ github.token }}" ${{ fromJSON(needs.a.outputs.b).c }}\n'
    readme = "Run `{{ name }}` as ${{ name }}\n"
    files = {
        "{{cookiecutter.project_slug}}/.github/workflows/ci.yml": workflow,
        "{{cookiecutter.project_slug}}/README.md": readme,
    }
    env = jinja2.Environment(
        loader=jinja2.DictLoader(files), extensions=[expressions.GitHubExpressions], keep_trailing_newline=True
    )
    rendered = env.get_template("{{cookiecutter.project_slug}}/.github/workflows/ci.yml").render(name="m")
    assert rendered == workflow.replace("{{ name }}", "m")
    # Elsewhere, and in file names and hooks (rendered from strings), Jinja reads every {{ }} as before.
    assert env.get_template("{{cookiecutter.project_slug}}/README.md").render(name="m") == "Run `m` as $m\n"
    assert env.from_string(readme).render(name="m") == "Run `m` as $m\n"


def path_without(*programs: str) -> str:
    """A PATH with the same programs as now, except these."""
    hidden = Path(os.environ["TMPDIR"] if "TMPDIR" in os.environ else "/tmp") / f"path-without-{'-'.join(programs)}"
    hidden.mkdir(exist_ok=True)
    for name in ("git", "dvc", "python3"):
        if name not in programs and (found := shutil.which(name)):
            link = hidden / name
            if not link.exists():
                link.symlink_to(found)
    return str(hidden)


@pytest.mark.parametrize("missing", ["git", "dvc"])
def test_without_git_or_dvc_the_project_is_complete_and_the_commands_are_printed(tmp_path, monkeypatch, capfd, missing):
    monkeypatch.setenv("PATH", path_without(missing))
    project = bake(tmp_path)
    err = capfd.readouterr().err
    assert f"note: {missing} is not installed" in err
    assert "dvc init --quiet" in err and "git commit --quiet" in err
    assert (project / "LICENSE").is_file() and (project / "params.yaml").is_file()
    assert not (project / "_licenses").exists() and not (project / "_task").exists()
    assert not any((project / folder).exists() for folder in post_gen.VARIANTS)


def test_without_a_git_identity_the_commit_commands_are_printed(tmp_path, monkeypatch, capfd):
    empty = tmp_path / "empty.gitconfig"
    empty.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty))
    for variable in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "EMAIL"):
        monkeypatch.delenv(variable, raising=False)
    project = bake(tmp_path / "out")
    err = capfd.readouterr().err
    assert 'git config --global user.name "Your Name"' in err
    assert "git add --all" in err
    assert (project / ".git").is_dir() and (project / ".dvc").is_dir()
    log = subprocess.run(["git", "log"], cwd=project, capture_output=True, text=True, check=False)
    assert log.returncode != 0, "no commit was made"


def test_without_the_package_index_the_lock_commands_are_printed(tmp_path, monkeypatch, capfd):
    monkeypatch.setenv("UV_OFFLINE", "1")  # uv's own switch: resolve from its cache only...
    monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "empty-cache"))  # ...which holds nothing
    project = bake(tmp_path / "out")
    err = capfd.readouterr().err
    assert "note: `uv lock` failed: " in err and "; so uv.lock was not written." in err
    assert "    uv lock --quiet\n    uv export --locked " in err
    assert err.rstrip().endswith("    git add uv.lock requirements.lock.txt\n    git commit -m 'Lock the dependencies'")
    assert not (project / "uv.lock").exists() and not (project / "requirements.lock.txt").exists()
    log = subprocess.run(["git", "log", "--format=%s"], cwd=project, capture_output=True, text=True, check=True)
    assert log.stdout.strip() == "Start the model repository from cookiecutter-model-repo", "the rest is committed"


@pytest.mark.parametrize("cache_resolves", [True, False], ids=["from-the-cache", "from-the-index"])
def test_the_lock_comes_from_uv_s_cache_when_it_can_else_from_the_index(tmp_path, monkeypatch, cache_resolves):
    # A uv that records its arguments, writes the files it is asked for, and fails offline
    # when the cache cannot resolve.
    bin_dir, calls = tmp_path / "bin", tmp_path / "calls"
    bin_dir.mkdir()
    fake_uv = bin_dir / "uv"
    fake_uv.write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> "{calls}"\n'
        f'case "$*" in *--offline*) {"" if cache_resolves else "echo no cached index >&2; exit 1;"} ;; esac\n'
        'case "$1" in lock) touch uv.lock ;; export) touch requirements.lock.txt ;; esac\n'
    )
    fake_uv.chmod(0o755)
    monkeypatch.setenv("PATH", os.pathsep.join([str(bin_dir), os.environ["PATH"]]))
    project = tmp_path / "project"
    project.mkdir()

    assert post_gen.lock_dependencies(project) == []
    ran = calls.read_text().splitlines()
    locks = [line for line in ran if line.startswith("lock")]
    assert locks == (["lock --quiet --offline"] if cache_resolves else ["lock --quiet --offline", "lock --quiet"])
    assert ran[-1].startswith("export --locked") and (project / "requirements.lock.txt").exists()


def test_shell_lines_quote_what_needs_quoting():
    line = post_gen.shell_line(["git", "commit", "-m", "two words"])
    assert line == "git commit -m 'two words'"


@pytest.mark.parametrize("part", ["$(touch pwned)", "`touch pwned`", "a'b", 'say "hi"', "x; touch pwned", "~/here *"])
def test_a_shell_line_runs_as_printed_and_expands_nothing(tmp_path, part):
    # The "finish by hand" lines hold paths and remote URLs the user typed: pasted into a shell,
    # each must reach the command as one argument, with nothing expanded or run.
    line = post_gen.shell_line(["printf", "%s", part])
    done = subprocess.run(["sh", "-c", line], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert done.stdout == part
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize(
    ("template", "remote"),
    [
        ("gh:acme/cookiecutter-model-repo", True),
        ("https://github.com/acme/cookiecutter-model-repo.git", True),
        ("git@github.com:acme/cookiecutter-model-repo.git", True),
        ("ssh://git@example.com/models/template.git", True),
        ("../cookiecutter-model-repo", False),
        ("/srv/templates/cookiecutter-model-repo", False),
        ("cookiecutter-model-repo", False),
    ],
)
def test_remote_templates_are_told_from_local_folders(template, remote):
    assert post_gen.is_remote(template) is remote


def test_only_a_cruft_render_in_a_fresh_temporary_folder_skips_git_and_dvc(tmp_path):
    scratch = Path(tempfile.mkdtemp())  # what cruft update renders into
    try:
        inside = scratch / "tumour-classifier"
        assert post_gen.rendered_for_a_cruft_diff({"_commit": "abc"}, inside)
        assert not post_gen.rendered_for_a_cruft_diff({}, inside), "plain cookiecutter never skips"
    finally:
        scratch.rmdir()
    assert not post_gen.rendered_for_a_cruft_diff({"_commit": "abc"}, tmp_path / "tumour-classifier")


def test_a_template_that_is_not_a_git_checkout_gets_no_cruft_file(tmp_path, capfd):
    copy = tmp_path / "template"
    shutil.copytree(TEMPLATE, copy, ignore=shutil.ignore_patterns(".git", ".venv", "build", "__pycache__", ".*_cache"))
    project = bake(tmp_path / "out", template=copy)
    assert not (project / ".cruft.json").exists()
    assert "is not a Git checkout, so no .cruft.json was written" in capfd.readouterr().err
    assert (project / ".git").is_dir(), "the rest of the setup still runs"


@pytest.mark.parametrize("task", CHOICES["task"])
def test_the_prometheus_rule_holds_the_alert_rules_as_written(task):
    alerts = (TEMPLATE / "{{cookiecutter.project_slug}}" / "_task" / task / "monitoring" / "alerts.yml").read_text()
    manifest = post_gen.prometheus_rule(alerts, "risk-model")
    parsed = yaml.safe_load(manifest)
    assert (parsed["kind"], parsed["metadata"]["name"]) == ("PrometheusRule", "risk-model")
    assert parsed["spec"]["groups"] == yaml.safe_load(alerts)["groups"]
    assert "{{ $value" in manifest, "the annotations' templates are kept for Prometheus"
    with pytest.raises(ValueError, match="no top-level `groups:`"):
        post_gen.prometheus_rule("# groups: none here\nrules: []\n", "risk-model")
