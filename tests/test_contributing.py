"""What a contributor reads first: the entry point, and the map in CONTRIBUTING.md.

The map names real files: each path it gives exists, so a moved or renamed file fails here
until the map follows.
"""

from __future__ import annotations

import re
import subprocess
import sys

from bakery import TEMPLATE, TOOLS_BIN, run

PROJECT = TEMPLATE / "{{cookiecutter.project_slug}}"
PACKAGE = PROJECT / "src" / "{{cookiecutter.package_name}}"


def commands_of_tasks_py() -> set[str]:
    usage = subprocess.run(
        [sys.executable, str(TEMPLATE / "tasks.py"), "--help"], capture_output=True, text=True, check=True
    ).stdout
    return set(re.search(r"\{([\w,]+)\}", usage).group(1).split(","))


def test_the_readme_gives_the_commands_of_tasks_py_and_ci_runs_its_test_command():
    readme = (TEMPLATE / "README.md").read_text(encoding="utf-8")
    assert (
        set(re.findall(r"^python3 tasks\.py (\w+)", readme, re.M)) == commands_of_tasks_py() == {"quickstart", "test"}
    )
    assert re.search(r"^python3 tasks\.py test$", (TEMPLATE / ".ci/run").read_text(encoding="utf-8"), re.M)


def test_nox_offers_the_same_sessions_and_runs_them_through_tasks_py():
    listed = run([str(TOOLS_BIN / "nox"), "--list", "--no-color"], TEMPLATE).stdout
    assert set(re.findall(r"^[*-] (\w+)", listed, re.M)) == commands_of_tasks_py()
    collected = run(
        [str(TOOLS_BIN / "nox"), "-s", "test", "--", "-n0", "--collect-only", "-q", "tests/test_options.py"], TEMPLATE
    )
    assert "tests/test_options.py::test_every_prompt_names_a_real_option" in collected.stdout


def exists(name: str) -> bool:
    """A path of the map: relative to the template, the generated project or its package; <x> is any name."""
    pattern = re.sub(r"<[^>]+>", "*", name.rstrip("/"))
    return any(any(base.glob(pattern)) for base in (TEMPLATE, PROJECT, PACKAGE))


def map_paths(text: str) -> list[str]:
    """The paths the map's tree names, each with its folder (entries are indented 0 or 2; notes deeper)."""
    tree = text.split("## Map", 1)[1].split("```", 2)[1]
    paths, folder = [], ""
    for line in tree.splitlines()[1:]:
        indent, head = len(line) - len(line.lstrip()), re.split(r"\s{2,}", line.strip(), maxsplit=1)[0]
        if not head or indent > 2:
            continue
        names = [name.strip() for name in head.split(",")]
        if indent == 0:
            folder = names[0] if names[0].endswith("/") else ""
        paths += [name if indent == 0 else folder + name for name in names]
    return paths


def test_every_path_in_the_map_exists():
    text = (TEMPLATE / "CONTRIBUTING.md").read_text(encoding="utf-8")
    tree = map_paths(text)
    assert len(tree) > 20 and "hooks/pre_gen_project.py" in tree
    quoted = [name for name in re.findall(r"`([^`\s]+/[^`\s]*)`", text) if "..." not in name]
    missing = [name for name in [*tree, *quoted] if not exists(name)]
    assert not missing, f"CONTRIBUTING.md names paths that do not exist: {missing}"


def test_the_map_check_notices_a_path_that_does_not_exist():
    assert not exists("hooks/pre_gen.py") and not exists("tests/test_<nothing>_here.py")
    assert map_paths("## Map\n\n```\nhooks/\n  gone.py   a note\n                 more note\n```\n") == [
        "hooks/",
        "hooks/gone.py",
    ]


def test_the_readme_links_the_map():
    assert "[CONTRIBUTING.md](CONTRIBUTING.md)" in (TEMPLATE / "README.md").read_text(encoding="utf-8")
