"""Finish the generated project: keep the chosen variants, then Git and DVC.

Runs in the new project's folder. Pruning needs nothing; `git init`, `dvc init`, the DVC
remote and the first commit need git and dvc and no network. When one of those steps cannot
run, the project is still complete and the exact commands to finish by hand are printed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path


def keep_variants(answers: dict[str, str], root: Path) -> None:
    """Move the chosen license to LICENSE and the task's files into place; drop the rest."""
    licenses = root / "_licenses"
    (licenses / answers["license"]).replace(root / "LICENSE")
    shutil.rmtree(licenses)
    task_files = root / "_task" / answers["task"]
    for path in task_files.iterdir():
        path.replace(root / path.name)
    shutil.rmtree(root / "_task")


def setup_commands(answers: dict[str, str]) -> list[list[str]]:
    """The Git and DVC commands that turn the folder into a repository, in order."""
    commands = [["git", "init", "--quiet", "-b", "main"], ["dvc", "init", "--quiet"]]
    if answers["dvc_remote"] != "none":
        commands.append(["dvc", "remote", "add", "--default", "storage", answers["dvc_remote_url"]])
    return commands


FIRST_COMMIT_MESSAGE = "Start the model repository from cookiecutter-model-repo"


def commit_commands() -> list[list[str]]:
    return [["git", "add", "--all"], ["git", "commit", "--quiet", "-m", FIRST_COMMIT_MESSAGE]]


def shell_line(command: list[str]) -> str:
    return " ".join(part if part.replace("-", "").replace("/", "").isalnum() else json.dumps(part) for part in command)


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


def main(answers: dict[str, str], root: Path) -> int:
    keep_variants(answers, root)
    left = run_all(setup_commands(answers), root)
    if left is None:
        if has_git_identity(root):
            left = run_all(commit_commands(), root)
        else:
            print("note: Git has no user.name/user.email here, so the first commit was not made.", file=sys.stderr)
            left = ['git config --global user.name "Your Name"', 'git config --global user.email "you@example.com"']
            left += [shell_line(c) for c in commit_commands()]
    else:
        left += [shell_line(c) for c in commit_commands()]
    if left:
        print(f"The project is complete in {root}. To finish setting it up, run there:", file=sys.stderr)
        for line in left:
            print(f"    {line}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(json.loads(r"""{{ cookiecutter | tojson }}"""), Path.cwd()))
