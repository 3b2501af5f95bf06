"""Projects follow the template: `.cruft.json`, `cruft update`, and the scheduled update workflow.

Each test works on a Git copy of this template (the files as they are now, committed as
release v0.1.0), bakes a project from it, makes the changes a user makes, then changes the
template and takes the update the way a project would.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from actrunner import Act, git
from bakery import TEMPLATE, TOOLS_BIN, bake, remote_url, run

TASK_PARAMS = "{{cookiecutter.project_slug}}/_task/classification/params.yaml"
CI_WORKFLOW = "{{cookiecutter.project_slug}}/.github/workflows/ci.yml"
NEW_STEP = """
      - name: Check the lock file is current
        run: uv lock --check
"""


def template_copy(root: Path) -> Path:
    """A Git repository holding the template's current files, committed and tagged v0.1.0."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=TEMPLATE, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    copy = root / "template"
    for name in filter(None, listed.split("\0")):
        source = TEMPLATE / name
        if source.is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy / name)
    git(copy, "init", "--quiet", "-b", "main")
    commit_template(copy, "The template as it is", tag="v0.1.0")
    return copy


def commit_template(template: Path, message: str, tag: str | None = None, annotated: bool = False) -> str:
    git(template, "add", "--all")
    git(template, "commit", "--quiet", "-m", message)
    if tag:
        git(template, "tag", *(["-a", "-m", f"Release {tag}"] if annotated else []), tag)
    return git(template, "rev-parse", "HEAD")


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{path} no longer has {old!r}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def change_the_template(template: Path, learning_rate: str | None = None) -> None:
    """A new workflow step and a changed default; optionally a change to a line users tune."""
    ci = template / CI_WORKFLOW
    edit(ci, "      - name: Run pre-commit hooks\n", NEW_STEP.lstrip("\n") + "\n      - name: Run pre-commit hooks\n")
    edit(template / TASK_PARAMS, "  test_size: 0.2 ", "  test_size: 0.25")
    if learning_rate:
        edit(template / TASK_PARAMS, "    learning_rate: 0.1\n", f"    learning_rate: {learning_rate}\n")


def make_user_changes(project: Path, package: str = "tumour_classifier") -> None:
    """A tuned parameter, a code change, a new test and DVC state, committed."""
    edit(project / "params.yaml", "    learning_rate: 0.1\n", "    learning_rate: 0.05\n")
    with (project / "src" / package / "pipeline" / "train.py").open("a", encoding="utf-8") as code:
        code.write("\n\n# Tuned on our own data: see the team's notes.\n")
    (project / "tests" / "unit" / "test_ours.py").write_text("def test_ours():\n    assert 1 + 1 == 2\n")
    (project / "dvc.lock").write_text("schema: '2.0'\nstages: {}\n")
    git(project, "add", "--all")
    git(project, "commit", "--quiet", "-m", "Tune the model, note the change, add a test")


def cruft(project: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return run([str(TOOLS_BIN / "cruft"), *args], project, check=check)


def update_script(project: Path, *args: str) -> subprocess.CompletedProcess:
    return run([str(TOOLS_BIN / "python"), ".github/scripts/template_update.py", *args], project)


def target(project: Path, *args: str) -> dict[str, str]:
    """What `template_update.py target` prints, as a dict."""
    lines = update_script(project, "target", *args).stdout.splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


def test_cookiecutter_and_cruft_create_record_the_same_origin(tmp_path):
    template = template_copy(tmp_path)
    plain = bake(tmp_path / "plain", template=template)
    cruft(tmp_path, "create", "--no-input", "--output-dir", str(tmp_path / "cruft"), str(template))
    created = tmp_path / "cruft" / plain.name
    assert (created / ".cruft.json").read_bytes() == (plain / ".cruft.json").read_bytes()
    # The record is in the first commit, and cruft's own write after the hooks changes nothing.
    for project in (plain, created):
        assert git(project, "status", "--porcelain") == ""
        assert ".cruft.json" in git(project, "show", "--name-only", "--format=", "HEAD").splitlines()
        assert "up to date" in cruft(project, "check").stdout
        # cruft's own render of the template at that commit is exactly the project: no Git or
        # DVC files leak into it, and the variants were pruned the same way.
        cruft(project, "diff", "--exit-code")


def test_cruft_update_brings_the_template_in_and_keeps_the_users_work(tmp_path):
    template = template_copy(tmp_path)
    storage = remote_url("local", tmp_path)
    project = bake(tmp_path / "out", template=template, dvc_remote="local", dvc_remote_url=storage)
    make_user_changes(project)
    dvc_config = (project / ".dvc" / "config").read_bytes()
    baked_answers = json.loads((project / ".cruft.json").read_text())["context"]["cookiecutter"]

    change_the_template(template)
    new_commit = commit_template(template, "A lock check in CI; a larger test split", tag="v0.2.0")
    assert cruft(project, "check", check=False).returncode != 0, "cruft check sees the new template"

    cruft(project, "update", "--skip-apply-ask")
    assert NEW_STEP in (project / ".github/workflows/ci.yml").read_text()
    params = (project / "params.yaml").read_text()
    assert "  test_size: 0.25" in params and "    learning_rate: 0.05" in params
    assert "# Tuned on our own data" in (project / "src/tumour_classifier/pipeline/train.py").read_text()
    assert (project / "tests/unit/test_ours.py").is_file()
    assert (project / "dvc.lock").read_text() == "schema: '2.0'\nstages: {}\n"
    assert (project / ".dvc" / "config").read_bytes() == dvc_config
    state = json.loads((project / ".cruft.json").read_text())
    assert state["commit"] == new_commit
    kept = {key: value for key, value in state["context"]["cookiecutter"].items() if key != "_commit"}
    assert kept == {key: value for key, value in baked_answers.items() if key != "_commit"}
    assert not list(project.rglob("*.rej")) and git(project, "diff", "--name-only", "--diff-filter=U") == ""
    git(project, "commit", "--quiet", "--all", "-m", "Take the template's v0.2.0")
    assert "up to date" in cruft(project, "check").stdout


def test_a_module_the_template_moves_takes_the_users_change_with_it(tmp_path):
    # Releases regroup the package now and then (flat modules became pipeline/, review/, ...):
    # the update moves the file, and the user's edits to it come along.
    template = template_copy(tmp_path)
    project = bake(tmp_path / "out", template=template)
    make_user_changes(project)  # a note at the end of pipeline/train.py
    package = "{{cookiecutter.project_slug}}/src/{{cookiecutter.package_name}}"
    git(template, "mv", f"{package}/pipeline/train.py", f"{package}/pipeline/fit.py")
    commit_template(template, "Move a module", tag="v0.2.0")

    cruft(project, "update", "--skip-apply-ask")
    moved = project / "src/tumour_classifier/pipeline/fit.py"
    assert "# Tuned on our own data" in moved.read_text()
    assert not (project / "src/tumour_classifier/pipeline/train.py").exists()
    assert not list(project.rglob("*.rej")) and git(project, "diff", "--name-only", "--diff-filter=U") == ""


def test_a_conflicting_change_is_set_aside_as_a_listed_rej_file(tmp_path):
    template = template_copy(tmp_path)
    project = bake(tmp_path / "out", template=template)
    make_user_changes(project)
    change_the_template(template, learning_rate="0.2")  # the line the user tuned
    commit_template(template, "More trees by default", tag="v0.2.0")
    with (template / "{{cookiecutter.project_slug}}/data/raw/README.md").open("a", encoding="utf-8") as readme:
        readme.write("\nUnreleased work.\n")
    commit_template(template, "Work after the release")  # not a release: not proposed

    found = target(project)
    assert (found["ref"], found["commit"]) == ("v0.2.0", git(template, "rev-parse", "v0.2.0^{commit}"))
    body = tmp_path / "body.md"
    done = update_script(project, "apply", "--checkout", "v0.2.0", "--body", str(body))
    assert "params.yaml.rej" in done.stdout
    params = (project / "params.yaml").read_text()
    assert "    learning_rate: 0.05" in params, "the user's value is kept"
    assert "  test_size: 0.25" in params, "the template's change beside it still applies"
    assert "<<<<<<<" not in params and git(project, "diff", "--name-only", "--diff-filter=U") == ""
    rejected = (project / "params.yaml.rej").read_text()
    assert "-    learning_rate: 0.1\n+    learning_rate: 0.2" in rejected
    text = body.read_text()
    assert "#### `params.yaml.rej`" in text and "+    learning_rate: 0.2" in text
    assert "Unreleased work" not in (project / "data/raw/README.md").read_text()


def test_the_update_script_names_a_bad_ref_and_a_missing_template(tmp_path):
    template = template_copy(tmp_path)
    project = bake(tmp_path / "out", template=template)
    script = [str(TOOLS_BIN / "python"), ".github/scripts/template_update.py"]
    for ref in ("--upload-pack=evil", "v1; rm -rf ~"):  # the workflow passes a dispatch input as --ref=VALUE
        bad_ref = run([*script, "target", f"--ref={ref}"], project, check=False)
        assert bad_ref.returncode == 2 and f"error: ref {ref!r} is not a tag" in bad_ref.stderr
    for ref, fix in (("v9.9.9", "`git ls-remote"), ("abc1234", "name a commit by all 40 hex digits")):
        unknown = run([*script, "target", f"--ref={ref}"], project, check=False)
        assert unknown.returncode == 2 and f"error: ref {ref!r} is not a tag or branch of {template}" in unknown.stderr
        assert fix in unknown.stderr
    shutil.rmtree(template)
    gone = run([*script, "target"], project, check=False)
    assert gone.returncode == 2 and "is a local folder that is not here" in gone.stderr


RENDER_JOB = "Render the template's changes (read-only)"
UPDATE_JOB = "Propose the template's changes"


@pytest.mark.workflow
def test_the_update_workflow_opens_one_pull_request_and_then_nothing(tmp_path):
    template = template_copy(tmp_path)
    project = bake(tmp_path / "out", template=template)
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "--quiet", "--bare", str(origin))
    git(project, "remote", "add", "origin", str(origin))
    make_user_changes(project)
    git(project, "push", "--quiet", "origin", "main")
    main_on_origin = git(project, "rev-parse", "main")

    change_the_template(template, learning_rate="0.2")
    release = commit_template(template, "A lock check in CI; more trees by default", tag="v0.2.0")

    act = Act(project, tmp_path / "act")
    # A schedule event may not name the default branch (seen on GitHub): the update still runs, against main.
    unnamed = {"schedule": "37 4 * * 1", "repository": {"full_name": "acme/tumour-classifier"}}
    first = act.run("template-update.yml", "schedule", unnamed)
    assert first.returncode == 0, f"see {act.state}/act-{act.runs}.log"
    (call,) = first.calls
    assert (call["action"], call["head"], call["base"]) == ("created", "template-update", "main")
    assert call["title"] == "Update from the template (v0.2.0)"
    assert f"v0.2.0 at commit `{release}`" in call["body"], "the body records the tag and the commit rendered"
    assert "#### `params.yaml.rej`" in call["body"] and "+    learning_rate: 0.2" in call["body"]
    assert call["token"] == "token-for-tests"
    assert first.job_result(RENDER_JOB) == first.job_result(UPDATE_JOB) == "succeeded"

    # The proposal is a branch on origin; main is untouched.
    assert git(project, "ls-remote", "origin", "refs/heads/main").split()[0] == main_on_origin
    proposed = git(project, "ls-remote", "origin", "refs/heads/template-update").split()[0]
    git(project, "fetch", "--quiet", "origin", "template-update")

    def proposed_file(name: str) -> str:
        return git(project, "show", f"{proposed}:{name}")

    assert NEW_STEP.strip() in proposed_file(".github/workflows/ci.yml")
    assert "    learning_rate: 0.05" in proposed_file("params.yaml")
    assert "+    learning_rate: 0.2" in proposed_file("params.yaml.rej")
    cruft_state = json.loads(proposed_file(".cruft.json"))
    assert (cruft_state["commit"], cruft_state["checkout"]) == (release, "v0.2.0")
    assert f"from the template's commit {release}." in git(project, "log", "--format=%B", "-1", proposed)
    assert git(project, "log", "--format=%an", "-1", proposed) == "github-actions[bot]"

    # No new template change: the second run proposes nothing.
    event = {"schedule": "37 4 * * 1", "repository": {"full_name": "acme/tumour-classifier", "default_branch": "main"}}
    second = act.run("template-update.yml", "schedule", event)
    assert second.returncode == 0, f"see {act.state}/act-{act.runs}.log"
    assert second.calls == []
    assert git(project, "ls-remote", "origin", "refs/heads/template-update").split()[0] == proposed
    assert re.search(r"already holds exactly these changes", second.log)

    # A newer release while the pull request is open: the same pull request is refreshed.
    edit(template / "{{cookiecutter.project_slug}}/data/raw/README.md", "\n", "\nPut your CSV here.\n")
    newer = commit_template(template, "Say where the CSV goes", tag="v0.3.0")
    third = act.run("template-update.yml", "schedule", event)
    assert third.returncode == 0, f"see {act.state}/act-{act.runs}.log"
    (call,) = third.calls
    assert (call["action"], call["pr"], call["title"]) == ("edited", 1, "Update from the template (v0.3.0)")
    refreshed = git(project, "ls-remote", "origin", "refs/heads/template-update").split()[0]
    git(project, "fetch", "--quiet", "origin", "template-update")
    assert json.loads(git(project, "show", f"{refreshed}:.cruft.json"))["commit"] == newer
    assert "Put your CSV here." in git(project, "show", f"{refreshed}:data/raw/README.md")

    # Merged: the render job finds nothing to do, and the job with the token does not start.
    git(project, "merge", "--quiet", "--ff-only", refreshed)
    git(project, "push", "--quiet", "origin", "main")
    fourth = act.run("template-update.yml", "schedule", event)
    assert fourth.returncode == 0, f"see {act.state}/act-{act.runs}.log"
    assert fourth.calls == [] and "up to date with its template; nothing to propose" in fourth.log
    assert (fourth.job_result(RENDER_JOB), fourth.job_result(UPDATE_JOB)) == ("succeeded", "skipped")


def test_projects_pin_the_cruft_the_template_is_tested_with():
    tested = re.search(r'"(cruft==[\d.]+)"', (TEMPLATE / "pyproject.toml").read_text()).group(1)
    project = TEMPLATE / "{{cookiecutter.project_slug}}"
    assert f'template = ["{tested}"]' in (project / "pyproject.toml").read_text()
    assert f"uv tool install {tested} " in (project / "README.md").read_text()


def test_the_update_renders_the_commit_the_tag_named_even_after_the_tag_moves(tmp_path):
    template = template_copy(tmp_path)
    project = bake(tmp_path / "out", template=template)
    change_the_template(template)
    release = commit_template(template, "A lock check in CI", tag="v0.2.0", annotated=True)
    found = target(project)
    assert (found["ref"], found["commit"]) == ("v0.2.0", release), "the tag's commit, not the tag object"

    # Between finding the version and rendering it, the tag is moved to other content.
    edit(template / "{{cookiecutter.project_slug}}/data/raw/README.md", "\n", "\nNot what the tag named.\n")
    commit_template(template, "Other content")
    git(template, "tag", "--force", "-a", "-m", "Moved", "v0.2.0")
    body, record = tmp_path / "body.md", tmp_path / "update.json"
    base = git(project, "rev-parse", "HEAD")
    update_script(
        project, "apply", "--checkout=v0.2.0", f"--commit={release}", "--body", str(body), "--record", str(record)
    )
    assert "Not what the tag named." not in (project / "data/raw/README.md").read_text()
    assert NEW_STEP in (project / ".github/workflows/ci.yml").read_text()
    state = json.loads((project / ".cruft.json").read_text())
    assert (state["commit"], state["checkout"]) == (release, "v0.2.0"), "as `cruft update --checkout v0.2.0` records"
    assert json.loads(record.read_text()) == {
        "template": str(template),
        "ref": "v0.2.0",
        "commit": release,
        "base": base,
    }
    assert f"v0.2.0 at commit `{release}`" in body.read_text()

    bad = run(
        [str(TOOLS_BIN / "python"), ".github/scripts/template_update.py", "apply", "--commit=v0.2.0"],
        project,
        check=False,
    )
    assert bad.returncode == 2 and "error: commit 'v0.2.0' is not a full commit; give all 40 hex digits" in bad.stderr


# Appended to the template's post-generation hook in a release: what a compromised release can
# do to the job that runs `cruft update`. It changes the environment and PATH of the job's later
# steps (a shell start-up file, git hooks through GIT_CONFIG_*, a planted token, fake gh and git),
# writes a hook into the job's checkout, and, when the test asks, appends files to the patch the
# job hands over. Every trick writes a line naming the job it ran in to ran.log.
TAKEOVER = """

import os as _os


def _take_over_the_next_steps(den: Path) -> None:
    if "GITHUB_ENV" not in _os.environ:
        return
    log = den / "ran.log"
    with log.open("a") as out:
        out.write("hook " + _os.environ["GITHUB_JOB"] + "\\n")
    (den / "bin").mkdir(parents=True, exist_ok=True)
    (den / "git-hooks").mkdir(exist_ok=True)
    scripts = {
        den / "bin" / tool: f'echo "fake-{tool} $GITHUB_JOB" >> {log}\\nexec {shutil.which(tool)} "$@"\\n'
        for tool in ("gh", "git")
    }
    for name in ("pre-commit", "post-commit", "pre-push", "post-checkout", "reference-transaction"):
        scripts[den / "git-hooks" / name] = f'echo "git-hook $GITHUB_JOB" >> {log}\\n'
    scripts[Path(_os.environ["GITHUB_WORKSPACE"], ".git", "hooks", "pre-commit")] = (
        f'echo "checkout-hook $GITHUB_JOB" >> {log}\\n'
    )
    patch = '"$RUNNER_TEMP/template-update/update.patch"'
    scripts[den / "bash_env.sh"] = (
        f'echo "bash-env $GITHUB_JOB" >> {log}\\n'
        f"if [ -f {den}/tamper ] && [ -f {patch} ] && ! grep -q tampered {patch}; then\\n"
        f"  cat {den}/tamper >> {patch}\\n"
        "fi\\n"
    )
    for script, text in scripts.items():
        script.parent.mkdir(parents=True, exist_ok=True)
        script.write_text("#!/bin/sh\\n" + text)
        script.chmod(0o755)
    with open(_os.environ["GITHUB_ENV"], "a") as env:
        env.write(f"BASH_ENV={den}/bash_env.sh\\nGH_TOKEN=stolen\\nGIT_CONFIG_COUNT=1\\n")
        env.write(f"GIT_CONFIG_KEY_0=core.hooksPath\\nGIT_CONFIG_VALUE_0={den}/git-hooks\\n")
    with open(_os.environ["GITHUB_PATH"], "a") as path:
        path.write(f"{den}/bin\\n")


_take_over_the_next_steps(Path(DEN))
"""

OUTSIDE_AND_GIT = """\
diff --git a/.git/hooks/post-merge b/.git/hooks/post-merge
new file mode 100755
--- /dev/null
+++ b/.git/hooks/post-merge
@@ -0,0 +1 @@
+echo tampered
diff --git a/../outside-the-project b/../outside-the-project
new file mode 100644
--- /dev/null
+++ b/../outside-the-project
@@ -0,0 +1 @@
+tampered
"""


def compromised_release(template: Path, den: Path) -> str:
    """A release v0.2.0 with an ordinary change, whose post-generation hook takes over its job."""
    hook = template / "hooks" / "post_gen_project.py"
    code = hook.read_text(encoding="utf-8")
    main_call = '\nif __name__ == "__main__":'
    assert main_call in code
    hook.write_text(code.replace(main_call, TAKEOVER.replace("DEN", repr(str(den))) + main_call), encoding="utf-8")
    edit(template / "{{cookiecutter.project_slug}}/data/raw/README.md", "\n", "\nPut your CSV here.\n")
    return commit_template(template, "Say where the CSV goes", tag="v0.2.0")


@pytest.mark.workflow
def test_a_release_that_takes_over_the_render_job_gets_no_token_and_no_say(tmp_path):
    template = template_copy(tmp_path)
    project = bake(tmp_path / "out", template=template)
    origin = tmp_path / "origin.git"
    git(tmp_path, "init", "--quiet", "--bare", str(origin))
    git(project, "remote", "add", "origin", str(origin))
    git(project, "push", "--quiet", "origin", "main")
    den = tmp_path / "den"
    den.mkdir()
    release = compromised_release(template, den)
    act = Act(project, tmp_path / "act")
    event = {"schedule": "37 4 * * 1", "repository": {"full_name": "acme/tumour-classifier", "default_branch": "main"}}

    def tricks_seen() -> list[str]:
        return (den / "ran.log").read_text().splitlines()

    # The hook also rewrites the patch on its way out: the job with the token refuses it whole.
    (den / "tamper").write_text(OUTSIDE_AND_GIT)
    refused = act.run("template-update.yml", "schedule", event)
    assert refused.returncode != 0
    assert (refused.job_result(RENDER_JOB), refused.job_result(UPDATE_JOB)) == ("succeeded", "failed")
    error = next(line for line in refused.log.splitlines() if "::error::Refusing the template update" in line)
    assert ".git/hooks/post-merge (inside .git)" in error and "../outside-the-project (outside the repository)" in error
    assert refused.calls == [] and git(project, "ls-remote", "origin", "refs/heads/template-update") == ""
    # The takeover did run where the template's code runs, and only there.
    assert {"hook render", "fake-git render", "bash-env render"} <= set(tricks_seen())
    assert not [line for line in tricks_seen() if not line.endswith(" render")], tricks_seen()

    # Left as it rendered, the same release's change lands as an ordinary pull request, opened
    # with the workflow's token by a job whose environment, PATH and checkout the hook never touched.
    (den / "tamper").unlink()
    (den / "ran.log").unlink()
    opened = act.run("template-update.yml", "schedule", event)
    assert opened.returncode == 0, f"see {act.state}/act-{act.runs}.log"
    assert "The patch is data that applies cleanly: template v0.2.0 at commit " + release in opened.log
    (call,) = opened.calls
    assert (call["action"], call["token"], call["title"]) == (
        "created",
        "token-for-tests",
        "Update from the template (v0.2.0)",
    )
    assert {"hook render", "fake-git render", "bash-env render"} <= set(tricks_seen())
    assert not [line for line in tricks_seen() if not line.endswith(" render")], tricks_seen()
    proposed = git(project, "ls-remote", "origin", "refs/heads/template-update").split()[0]
    git(project, "fetch", "--quiet", "origin", "template-update")
    assert "Put your CSV here." in git(project, "show", f"{proposed}:data/raw/README.md")
    assert git(project, "diff", "--name-only", "main", proposed).split() == [".cruft.json", "data/raw/README.md"]


def propose_step(project: Path, name: str) -> str:
    """The script of one step of the job that holds the token, as the baked workflow has it."""
    workflow = yaml.safe_load((project / ".github/workflows/template-update.yml").read_text(encoding="utf-8"))
    (step,) = [step for step in workflow["jobs"]["propose"]["steps"] if step.get("name") == name]
    return step["run"]


def test_the_job_with_the_token_checks_the_patch_as_data_and_refuses_what_it_cannot_trust(tmp_path):
    project = bake(tmp_path / "out")
    script = tmp_path / "check.sh"
    script.write_text(propose_step(project, "Check the patch"), encoding="utf-8")
    base = git(project, "rev-parse", "HEAD")
    commit = "0123456789abcdef0123456789abcdef01234567"

    # A patch as the render job makes one: a changed file, a .rej file, a binary file.
    work = tmp_path / "work"
    git(tmp_path, "clone", "--quiet", str(project), str(work))
    edit(work / "params.yaml", "  test_size: 0.2 ", "  test_size: 0.25")
    (work / "params.yaml.rej").write_text("@@ -1 +1 @@\n-a\n+b\n")
    (work / "data" / "raw" / "logo.bin").write_bytes(bytes(range(256)))
    git(work, "add", "--all")
    good = subprocess.run(
        ["git", "diff", "--cached", "--binary", "HEAD"], cwd=work, capture_output=True, check=True
    ).stdout  # fmt: skip

    def check(patch: bytes, record: str | None = None, **fields: str) -> subprocess.CompletedProcess:
        runner = tmp_path / "runner"
        shutil.rmtree(runner, ignore_errors=True)
        (runner / "template-update").mkdir(parents=True)
        (runner / "template-update" / "update.patch").write_bytes(patch)
        fields = {
            "template": "https://github.com/acme/template",
            "ref": "v0.2.0",
            "commit": commit,
            "base": base,
        } | fields
        (runner / "template-update" / "update.json").write_text(record or json.dumps(fields), encoding="utf-8")
        env = {**os.environ, "RUNNER_TEMP": str(runner), "GITHUB_OUTPUT": str(runner / "output")}
        shell = ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)]  # as the runner runs `shell: bash`
        return subprocess.run(shell, cwd=project, env=env, capture_output=True, text=True, check=False)

    passed = check(good)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert f"applies cleanly: template v0.2.0 at commit {commit}, 3 file(s)" in passed.stdout
    assert (tmp_path / "runner" / "output").read_text() == f"ref=v0.2.0\ncommit={commit}\n"
    assert git(project, "status", "--porcelain") == "", "checking applies nothing"

    new_file = "diff --git a/{0} b/{0}\nnew file mode 100644\n--- /dev/null\n+++ b/{0}\n@@ -0,0 +1 @@\n+x\n"
    hostile = "".join(new_file.format(path) for path in (".git/hooks/post-merge", "../up", "/etc/cron.d/x"))
    hostile += new_file.format("docs/.GIT/config") + new_file.format("sub/git~1/config")
    hostile += (
        "diff --git a/README.md b/.git/config\nsimilarity index 100%\nrename from README.md\nrename to .git/config\n"
    )
    hostile += "diff --git a/../secret b/stolen\nsimilarity index 100%\nrename from ../secret\nrename to stolen\n"
    symlink = "diff --git a/link b/link\nnew file mode 120000\n--- /dev/null\n+++ b/link\n@@ -0,0 +1 @@\n+/etc\n"
    stale = "diff --git a/README.md b/README.md\n--- a/README.md\n+++ b/README.md\n"
    stale += "@@ -1 +1 @@\n-Not a line of this file\n+x\n"
    refusals = [
        (hostile.encode(), None, {}, [
            ".git/hooks/post-merge (inside .git)", "../up (outside the repository)",
            "/etc/cron.d/x (outside the repository)", "docs/.GIT/config (inside .git)",
            "sub/git~1/config (inside .git)", ".git/config (inside .git)", "../secret (outside the repository)",
        ]),
        (symlink.encode(), None, {}, ["touches a symbolic link or a submodule", "new file mode 120000"]),
        (stale.encode(), None, {}, ["does not apply cleanly", "patch failed: README.md:1"]),
        (b"not a patch\n", None, {}, ["update.patch is not a patch git can read"]),
        (good, "{not json", {}, ["update.json is not the record the render job writes"]),
        (good, None, {"commit": "HEAD"}, ["its commit 'HEAD' is not a 40-hex commit"]),
        (good, None, {"ref": "v1\nrm -rf ~"}, ["update.json is not the record the render job writes"]),
        (good, None, {"ref": "$(touch pwned)"}, ["its ref '$(touch pwned)' is not a tag or branch name"]),
        (good, None, {"base": commit}, [f"it was made against {commit}, not the default branch's {base}"]),
    ]  # fmt: skip
    for patch, record, fields, expected in refusals:
        done = check(patch, record, **fields)
        said = done.stdout + done.stderr
        assert done.returncode == 1 and "::error::Refusing the template update: " in said, said
        for words in expected:
            assert words in said, f"{words!r} not in:\n{said}"
        assert not (tmp_path / "runner" / "output").exists() and git(project, "status", "--porcelain") == ""
    assert not (project / "pwned").exists()
