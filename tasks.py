#!/usr/bin/env python3
"""The template's two commands; needs only Python 3.10+ and git (and `test`, promtool: installed from
Debian's `prometheus` package when missing and run as root, as on a fresh CI machine).

    python3 tasks.py quickstart [DIR]    bake a project with the default answers and run its
                                         local loop: environment, dvc repro, pytest
    python3 tasks.py test [PYTEST-ARGS]  run the template's test suite

noxfile.py offers the same two as nox sessions.

Both create `.venv` in the template folder (its tools: cookiecutter, DVC, uv, pytest, ...)
on first use, and bring it up to date when pyproject.toml changes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
import venv
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parent
TOOLS_ENV = TEMPLATE / ".venv"
TOOLS_BIN = TOOLS_ENV / ("Scripts" if os.name == "nt" else "bin")
DEFAULT_OUTPUT = TEMPLATE / "build" / "quickstart"
PROMTOOL_FIX = (
    "the tests check the generated alert rules with it: install Debian's or Ubuntu's `prometheus` package "
    "(sudo apt-get install --no-install-recommends prometheus), or put Prometheus's promtool on PATH"
)


def tools_env() -> Path:
    """The template's tool environment, created and brought up to date with pyproject's `test` group."""
    python = TOOLS_BIN / ("python.exe" if os.name == "nt" else "python")
    stamp = TOOLS_ENV / ".installed-from"
    wanted = (TEMPLATE / "pyproject.toml").read_text(encoding="utf-8")
    if python.exists() and stamp.exists() and stamp.read_text(encoding="utf-8") == wanted:
        return python
    if not python.exists():
        print(f"creating {TOOLS_ENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(TOOLS_ENV)
    # pip 25.1 is the first to install a dependency group (--group).
    run([str(python), "-m", "pip", "install", "--quiet", "--upgrade", "pip>=25.1"])
    run([str(python), "-m", "pip", "install", "--quiet", "--group", "test"], cwd=TEMPLATE)
    stamp.write_text(wanted, encoding="utf-8")
    return python


def run(command: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
    print(f"$ {' '.join(command)}", flush=True)
    done = subprocess.run(command, cwd=cwd, env=env, check=False)
    if done.returncode != 0:
        sys.exit(f"error: `{' '.join(command)}` failed with status {done.returncode}")


def project_env() -> dict[str, str]:
    """The environment for the generated project's commands, as on a developer's machine."""
    env = dict(os.environ)
    env.pop("VIRTUAL_ENV", None)  # the project's own .venv, not the template's
    # Let Python cache compiled modules: every DVC stage is a new process.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["UV_PYTHON_DOWNLOADS"] = "never"  # use this machine's Python; fail fast if it does not fit
    env["PATH"] = os.pathsep.join([str(TOOLS_BIN), env.get("PATH", "")])
    return env


def quickstart(output: Path, template: Path = TEMPLATE) -> tuple[dict[str, tuple[float, float]], Path]:
    """Bake ``template`` with default answers into `output`, then set up, reproduce and test.

    Returns each phase's wall seconds and CPU seconds (user and system, of the commands it
    ran: on a shared machine, the figure other people's work does not inflate), and the
    project's folder.
    """
    tools_env()
    seconds: dict[str, tuple[float, float]] = {}
    output.mkdir(parents=True, exist_ok=True)
    env = project_env()

    def phase(name: str, command: list[str], cwd: Path) -> None:
        start, before = time.perf_counter(), cpu_of_children()
        run(command, cwd=cwd, env=env)
        seconds[name] = (time.perf_counter() - start, cpu_of_children() - before)

    before = set(output.iterdir())
    phase("bake", [str(TOOLS_BIN / "cookiecutter"), "--no-input", "--output-dir", str(output), str(template)], output)
    (project,) = set(output.iterdir()) - before
    uv = str(TOOLS_BIN / "uv")
    phase("environment", [uv, "sync", "--python", sys.executable], project)
    phase("dvc repro", [uv, "run", "--no-sync", "dvc", "repro"], project)
    # On every core, as the README says; a project of an older template (a benchmark's "before") has no xdist.
    on_every_core = ["-n", "auto"] if "pytest-xdist" in (project / "pyproject.toml").read_text(encoding="utf-8") else []
    phase("pytest", [uv, "run", "--no-sync", "pytest", "-q", *on_every_core], project)
    phase("dvc repro (no-op)", [uv, "run", "--no-sync", "dvc", "repro"], project)
    return seconds, project


def promtool() -> None:
    """Prometheus's rules checker, which the tests run on the generated alert rules: Debian's `prometheus`
    package has it (PyPI has no build of it). Installed with apt-get where it is missing and this is root
    (a fresh CI machine); otherwise the tests that need it fail, and this says what to install."""
    if shutil.which("promtool") is not None:
        return
    if shutil.which("apt-get") is None or not hasattr(os, "geteuid") or os.geteuid() != 0:
        print(f"warning: promtool is not installed; {PROMTOOL_FIX}", file=sys.stderr)
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run(["apt-get", "update", "--quiet"], env=env)
    run(["apt-get", "install", "--quiet", "--yes", "--no-install-recommends", "prometheus"], env=env)


def cpu_of_children() -> float:
    """CPU seconds (user and system) of the finished child processes so far; 0 where Python cannot tell."""
    try:
        import resource  # POSIX only
    except ImportError:
        return 0.0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("quickstart", help="bake a default project and run its local loop")
    start.add_argument("output", nargs="?", type=Path, default=DEFAULT_OUTPUT, help="default: %(default)s")
    test = commands.add_parser("test", help="run the template's tests (extra arguments go to pytest)")
    test.add_argument("pytest_args", nargs=argparse.REMAINDER)
    # parse_known_args: pytest's own options (-m, -k, -x) pass through even before any positional argument.
    args, unknown = parser.parse_known_args()
    if unknown and args.command != "test":
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")

    if args.command == "quickstart":
        seconds, project = quickstart(args.output.resolve())
        print(f"\n{'':<20} {'wall':>8} {'CPU':>8}")
        for name, (wall, cpu) in seconds.items():
            print(f"{name:<20} {wall:6.1f} s {cpu:6.1f} s")
        wall, cpu = (sum(values) for values in zip(*seconds.values(), strict=True))
        print(f"{'total':<20} {wall:6.1f} s {cpu:6.1f} s")
        print(f"\nYour project is in {project}")
        return 0
    python = tools_env()
    if shutil.which("git") is None:
        sys.exit("error: git is not installed; the tests bake Git repositories")
    promtool()
    pytest_args = [*unknown, *args.pytest_args]
    return subprocess.run([str(python), "-m", "pytest", *pytest_args], cwd=TEMPLATE, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
