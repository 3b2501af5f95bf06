"""Helpers: bake projects from this template and run commands in them, the way a user would."""

from __future__ import annotations

import importlib.util
import itertools
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from cookiecutter.main import cookiecutter

TEMPLATE = Path(__file__).resolve().parents[1]
OPTIONS: dict = json.loads((TEMPLATE / "cookiecutter.json").read_text(encoding="utf-8"))
TOOLS_BIN = Path(sys.executable).parent


def load_hook(name: str) -> ModuleType:
    """Import a hook file as it is in the template (unrendered): its logic is plain functions."""
    spec = importlib.util.spec_from_file_location(name, TEMPLATE / "hooks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Choice options, read as the pre-generation hook reads them: the first choice is the default.
CHOICES: dict[str, list[str]] = load_hook("pre_gen_project").choices_of(TEMPLATE)


Pair = frozenset[tuple[str, str]]  # two (option, value), in no order


def pairs_in(answers: dict[str, str]) -> set[Pair]:
    """Every pair of (option, value) that one bake with these answers exercises."""
    return {frozenset([(a, answers[a]), (b, answers[b])]) for a, b in itertools.combinations(answers, 2)}


def pairwise(choices: dict[str, list[str]]) -> list[dict[str, str]]:
    """Few sets of answers that, between them, give every value of each option with every value of every other.

    Options interact in pairs (a remote type with a deploy target in deploy.yml, a comment tool
    with a remote type in pr-report.yml, ...): baking every pair at least once finds a broken
    pair without baking the whole product (1,536 sets for this template). Greedy, in the way of
    AETG: each new set is the best of several candidates, one per pair still missing, each
    starting from its pair and giving every other option the value that adds most missing
    pairs (the earlier value on a tie). Deterministic, so test ids stay put; the first set is
    the defaults.
    """
    names = list(choices)
    missing = {
        frozenset([(a, x), (b, y)]) for a, b in itertools.combinations(names, 2) for x in choices[a] for y in choices[b]
    }

    def order(pair: Pair) -> list[tuple[int, int]]:
        return sorted((names.index(name), choices[name].index(value)) for name, value in pair)

    sets = []
    while missing:
        candidates = []
        for pair in sorted(missing, key=order):
            row = dict(pair)
            for name in names:
                if name not in row:
                    added = {
                        value: sum(frozenset([(name, value), chosen]) in missing for chosen in row.items())
                        for value in choices[name]
                    }
                    row[name] = max(choices[name], key=added.__getitem__)
            candidates.append({name: row[name] for name in names})
        best = max(candidates, key=lambda row: len(pairs_in(row) & missing))
        missing -= pairs_in(best)
        sets.append(best)
    return sets


# The bakes of test_bake and test_workflows (conftest.py's pairwise_bake): every pair of choices.
PAIRWISE = pairwise(CHOICES)


def remote_url(remote: str, tmp_path: Path) -> str:
    """A valid dvc_remote_url for each remote type (the examples the pre-gen hook shows)."""
    if remote == "local":
        return str(tmp_path / "dvc-storage")
    return load_hook("pre_gen_project").REMOTE_SCHEMES[remote][1] if remote != "none" else ""


def bake(output_dir: Path, template: Path = TEMPLATE, **answers: str) -> Path:
    """Bake the template with these answers (defaults for the rest); return the project folder."""
    output_dir.mkdir(parents=True, exist_ok=True)
    return Path(cookiecutter(str(template), no_input=True, extra_context=answers, output_dir=str(output_dir)))


def run(
    command: list[str], cwd: Path, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess:
    """Run a command; on failure show its output in the test report."""
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env, check=False)
    if check and done.returncode != 0:
        pytest.fail(
            f"`{' '.join(command)}` in {cwd} exited {done.returncode}\n"
            f"--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}",
            pytrace=False,
        )
    return done
