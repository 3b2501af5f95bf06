"""Finish the generated project: keep the chosen variants, record its origin, then Git and DVC.

Runs in the new project's folder. Pruning needs nothing; `git init`, `dvc init`, the DVC
remote and the first commit need git and dvc and no network; `uv lock`, whose uv.lock goes
into the first commit, needs uv and its cache or the package index. When one of those steps
cannot run, the project is still complete and the exact commands to finish by hand are printed.

`.cruft.json` records the template, its commit and the answers, so `cruft check` and
`cruft update` work whether the project was baked with plain cookiecutter or with cruft.
cruft also renders the template into throwaway folders to compute an update; there only the
pruning runs, since a Git repository or a DVC folder would end up in the update's diff.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# Files whose variants differ by more than a line: a whole file per answer, side by side in a folder
# of alternatives; the chosen one goes where the project reads it, and the folder goes.
VARIANTS = {
    ".github/workflows/_deploy": ("deploy_target", ".github/workflows/deploy.yml"),
    ".github/workflows/_pr-report": ("pr_comment", ".github/workflows/pr-report.yml"),
    ".github/actions/_dvc-remote": ("dvc_remote", ".github/actions/dvc-remote/action.yml"),
}


def keep_variants(answers: dict[str, str], root: Path) -> None:
    """Move the chosen license to LICENSE, the chosen variants and the task's files into place; drop the
    unused ones."""
    licenses = root / "_licenses"
    (licenses / answers["license"]).replace(root / "LICENSE")
    shutil.rmtree(licenses)
    for folder, (option, destination) in VARIANTS.items():
        (root / destination).parent.mkdir(parents=True, exist_ok=True)
        (root / folder / f"{answers[option]}.yml").replace(root / destination)
        shutil.rmtree(root / folder)
    task_files = root / "_task" / answers["task"]
    for path in task_files.iterdir():
        path.replace(root / path.name)
    shutil.rmtree(root / "_task")
    if answers["deploy_target"] != "kubernetes":
        shutil.rmtree(root / "k8s")  # the manifests only serve the kubernetes target
        return
    rule = root / PROMETHEUS_RULE
    rule.parent.mkdir(parents=True, exist_ok=True)
    alerts = (root / "monitoring" / "alerts.yml").read_text(encoding="utf-8")
    rule.write_text(prometheus_rule(alerts, answers["project_slug"]), encoding="utf-8")


# Not in k8s/ itself: the deploy applies k8s/*.yaml, and a cluster without the Prometheus Operator's
# resource types would refuse the whole apply.
PROMETHEUS_RULE = Path("k8s/monitoring/prometheus-rule.yaml")
PROMETHEUS_RULE_HEAD = """\
# The alert rules of monitoring/alerts.yml as a PrometheusRule, for clusters where the Prometheus
# Operator (kube-prometheus-stack) runs: the same groups under `spec` (tests/unit/test_alerts.py
# keeps them equal). The deploy does not apply it; once, and after each change of the rules:
#   kubectl apply -f k8s/monitoring/
# Add the labels your Prometheus's ruleSelector asks for (kube-prometheus-stack: `release: NAME`).
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: {name}
  labels:
    app.kubernetes.io/name: {name}
spec:
"""


def prometheus_rule(alerts: str, name: str) -> str:
    """The PrometheusRule manifest of an alerts.yml: its text from `groups:` on, indented under `spec:`, so
    the rules' comments, block scalars and annotation templates stay as they are written."""
    top = re.search(r"^groups:", alerts, flags=re.MULTILINE)
    if top is None:
        raise ValueError("monitoring/alerts.yml has no top-level `groups:`")
    lines = alerts[top.start() :].splitlines(keepends=True)
    return PROMETHEUS_RULE_HEAD.format(name=name) + "".join(f"  {line}" if line.strip() else line for line in lines)


# Keys cookiecutter adds that describe this machine's bake, not the project; cruft omits them too.
MACHINE_KEYS = ("_output_dir", "_repo_dir", "_checkout")


def git_output(*args: str, cwd: Path) -> str | None:
    if shutil.which("git") is None:
        return None
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    return done.stdout.strip() if done.returncode == 0 else None


def is_remote(template: str) -> bool:
    """True for a URL (``https://``, ``git@host:``) or an abbreviation (``gh:owner/repo``)."""
    return re.match(r"^([\w+.-]+://|[\w.-]+@[\w.-]+:|[A-Za-z][\w-]+:)", template) is not None


def template_origin(answers: dict, template_root: Path) -> tuple[str, str] | None:
    """The template's cloneable location and commit, or None when it is not a Git checkout.

    cookiecutter clones a remote template into a folder of its own; that clone's ``origin``
    is the expanded URL (an abbreviation like ``gh:owner/repo`` means nothing to git). A
    local template is recorded by its absolute path, as cruft itself records one.
    """
    commit = git_output("rev-parse", "HEAD", cwd=template_root)
    top = git_output("rev-parse", "--show-toplevel", cwd=template_root)
    if commit is None or top is None or Path(top).resolve() != template_root.resolve():
        return None
    template = str(template_root)
    if is_remote(answers.get("_template", "")):
        template = git_output("remote", "get-url", "origin", cwd=template_root) or answers["_template"]
    return template, commit


def cruft_state(answers: dict, template: str, commit: str, option_order: list[str]) -> str:
    """``.cruft.json`` byte for byte as ``cruft create`` writes it.

    cruft keeps the options in ``cookiecutter.json``'s order, then the private keys, and
    appends ``_template`` and ``_commit``; the hook receives the answers sorted, so the order
    is rebuilt here. The same record whichever tool baked means no spurious diff later.
    """
    dropped = {*MACHINE_KEYS, "_template", "_commit"}
    keys = [key for key in option_order if key in answers] + sorted(set(answers) - set(option_order))
    context = {key: answers[key] for key in keys if key not in dropped}
    context.update({"_template": template, "_commit": commit})
    state = {
        "template": template,
        "commit": commit,
        "checkout": answers.get("_checkout"),
        "context": {"cookiecutter": context},
        "directory": None,
    }
    return json.dumps(state, ensure_ascii=False, indent=2, separators=(",", ": ")) + "\n"


def rendered_for_a_cruft_diff(answers: dict, root: Path) -> bool:
    """True inside ``cruft update``/``cruft diff``: a cruft render in a fresh temporary folder.

    cruft renders each template version into ``<tempdir>/tmpXXXX/<project>`` and diffs them;
    ``cruft create`` renders into the folder the user chose.
    """
    parent = root.resolve().parent
    return (
        "_commit" in answers
        and parent.parent == Path(tempfile.gettempdir()).resolve()
        and parent.name.startswith("tmp")
    )


def record_origin(answers: dict, root: Path, template_root: Path) -> None:
    """Write ``.cruft.json`` so ``cruft check``/``cruft update`` can follow the template."""
    origin: tuple[str, str] | None
    if "_commit" in answers:  # `cruft create`: it writes the same record after this hook
        origin = (answers["_template"], answers["_commit"])
    else:
        origin = template_origin(answers, template_root)
    if origin is None:
        print(
            f"note: the template {answers.get('_template')!r} is not a Git checkout, so no .cruft.json was written; "
            "bake from the template's Git URL to be able to take its updates with `cruft update`.",
            file=sys.stderr,
        )
        return
    option_order = list(json.loads((template_root / "cookiecutter.json").read_text(encoding="utf-8")))
    (root / ".cruft.json").write_text(cruft_state(answers, *origin, option_order), encoding="utf-8")


def setup_commands(answers: dict[str, str]) -> list[list[str]]:
    """The Git and DVC commands that turn the folder into a repository, in order."""
    commands = [["git", "init", "--quiet", "-b", "main"], ["dvc", "init", "--quiet"]]
    if answers["dvc_remote"] != "none":
        commands.append(["dvc", "remote", "add", "--default", "storage", answers["dvc_remote_url"]])
    return commands


FIRST_COMMIT_MESSAGE = "Start the model repository from cookiecutter-model-repo"


def commit_commands() -> list[list[str]]:
    return [["git", "add", "--all"], ["git", "commit", "--quiet", "-m", FIRST_COMMIT_MESSAGE]]


# The lock file pins every dependency, with hashes, for CI (`uv sync --locked`); its export
# for pip, requirements.lock.txt, is what the image installs. The export is the `uv-export`
# hook's command in .pre-commit-config.yaml, which keeps it current from then on. Resolving
# needs the package index: offline, the project is still complete and the first commit is
# made; the lines printed at the end lock and commit it.
LOCK_COMMANDS = [
    ["uv", "lock", "--quiet"],
    ["uv", "export", "--locked", "--no-dev", "--group", "build", "--no-emit-project", "--quiet",
     "--output-file", "requirements.lock.txt"],
]  # fmt: skip
# Tried first: resolving from uv's cache alone takes under a second, where the index's round
# trips take ten and more. The versions are then the newest this machine has downloaded, which
# can be older than the index's (`uv lock --upgrade` takes the newest; Dependabot proposes them).
# When the cache cannot resolve every dependency, the index is asked.
LOCK_FROM_CACHE = [*LOCK_COMMANDS[0], "--offline"]
LOCK_SECONDS = 300


def run_for_lock(command: list[str], root: Path) -> str | None:
    """Run one lock command; None when it worked, else what went wrong."""
    try:
        done = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=LOCK_SECONDS, check=False)
    except subprocess.TimeoutExpired:
        return f"took over {LOCK_SECONDS} s"
    return f"failed: {done.stderr.strip()}" if done.returncode != 0 else None


def lock_dependencies(root: Path) -> list[str]:
    """Write uv.lock and its export; return the commands to run by hand when that could not be done here."""
    later = [*(shell_line(c) for c in LOCK_COMMANDS), "git add uv.lock requirements.lock.txt"]
    later.append(shell_line(["git", "commit", "-m", "Lock the dependencies"]))
    if shutil.which("uv") is None:
        print("note: uv is not installed, so uv.lock was not written (https://docs.astral.sh/uv/).", file=sys.stderr)
        return later
    for command in LOCK_COMMANDS:
        if command is LOCK_COMMANDS[0] and run_for_lock(LOCK_FROM_CACHE, root) is None:
            continue
        problem = run_for_lock(command, root)
        if problem:
            print(f"note: `{shell_line(command[:2])}` {problem}; so uv.lock was not written.", file=sys.stderr)
            (root / "uv.lock").unlink(missing_ok=True)  # a lock without its export would fail the image build
            return later
    return []


def shell_line(command: list[str]) -> str:
    """The command as a line to paste into a POSIX shell: each part one argument, nothing expanded."""
    return shlex.join(command)


def run_all(commands: list[list[str]], root: Path) -> list[str] | None:
    """Run commands in order; on the first failure return what is left to run by hand."""
    for index, command in enumerate(commands):
        if shutil.which(command[0]) is None:
            print(f"note: {command[0]} is not installed, so this step was skipped.", file=sys.stderr)
            return [shell_line(c) for c in commands[index:]]
        done = subprocess.run(command, cwd=root, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(f"note: `{shell_line(command)}` failed: {done.stderr.strip()}", file=sys.stderr)
            return [shell_line(c) for c in commands[index:]]
    return None


def has_git_identity(root: Path) -> bool:
    for key in ("user.name", "user.email"):
        done = subprocess.run(["git", "config", key], cwd=root, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not done.stdout.strip():
            return False
    return True


def main(answers: dict[str, str], root: Path, template_root: Path) -> int:
    keep_variants(answers, root)
    if rendered_for_a_cruft_diff(answers, root):
        return 0
    record_origin(answers, root, template_root)
    left = run_all(setup_commands(answers), root)
    lock_later = lock_dependencies(root)
    if left is None:
        if has_git_identity(root):
            left = run_all(commit_commands(), root)
        else:
            print("note: Git has no user.name/user.email here, so the first commit was not made.", file=sys.stderr)
            left = ['git config --global user.name "Your Name"', 'git config --global user.email "you@example.com"']
            left += [shell_line(c) for c in commit_commands()]
    else:
        left += [shell_line(c) for c in commit_commands()]
    left = [*(left or []), *lock_later]
    if left:
        print(f"The project is complete in {root}. To finish setting it up, run there:", file=sys.stderr)
        for line in left:
            print(f"    {line}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(json.loads(r"""{{ cookiecutter | tojson }}"""), Path.cwd(), Path(r"""{{ template_root() }}""")))
