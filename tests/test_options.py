"""cookiecutter.json is the one source of options: the README's table must match it."""

import re

from bakery import CHOICES, OPTIONS, TEMPLATE


def readme_options() -> dict[str, str]:
    """Option name -> default, from the README's options table."""
    text = (TEMPLATE / "README.md").read_text(encoding="utf-8")
    table = text.split("## Options", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in table.splitlines():
        match = re.match(r"^\| `(\w+)` \| (.*?) \| (.*?) \|", line)
        if match:
            rows[match.group(1)] = match.group(2)
    return rows


def test_the_readme_lists_every_option_and_no_other():
    public = [name for name in OPTIONS if not name.startswith("_")]
    assert list(readme_options()) == public


def test_the_readme_shows_each_default():
    rows = readme_options()
    for name, value in OPTIONS.items():
        if name.startswith("_"):
            continue
        if name in CHOICES:
            shown = [choice.strip("`* ") for choice in rows[name].split(",")]
            assert shown == value, f"{name}: README shows {shown}, cookiecutter.json has {value}"
            assert rows[name].startswith(f"**`{value[0]}`**"), (
                f"{name}: the default (first choice) is shown first, bold"
            )
        elif "{{" not in value:
            assert rows[name] == f"`{value}`", name
        else:
            assert rows[name].startswith("derived"), f"{name} is derived from other answers; the README says how"


def test_every_prompt_names_a_real_option():
    assert set(OPTIONS["__prompts__"]) == {name for name in OPTIONS if not name.startswith("_")}
