"""CHANGELOG.md: the record of releases that `cruft update` users read before taking one."""

from __future__ import annotations

import re
import subprocess
from datetime import date

from bakery import TEMPLATE

HEADING = re.compile(r"^## \[(?P<version>Unreleased|\d+\.\d+\.\d+)\](?: - (?P<date>\d{4}-\d{2}-\d{2}))?$", re.M)
CATEGORIES = {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}


def sections() -> list[tuple[re.Match, str]]:
    text = (TEMPLATE / "CHANGELOG.md").read_text(encoding="utf-8")
    found = list(HEADING.finditer(text))
    ends = [match.start() for match in found[1:]] + [len(text)]
    return [(match, text[match.end() : end]) for match, end in zip(found, ends, strict=True)]


def test_unreleased_comes_first_then_releases_newest_first():
    headings = [match for match, _ in sections()]
    assert headings and headings[0]["version"] == "Unreleased" and headings[0]["date"] is None
    releases = headings[1:]
    versions = [tuple(int(part) for part in match["version"].split(".")) for match in releases]
    assert versions == sorted(versions, reverse=True) and len(set(versions)) == len(versions)
    dates = [date.fromisoformat(match["date"]) for match in releases]
    assert dates == sorted(dates, reverse=True)


def test_every_release_lists_its_changes_by_category():
    for match, body in sections()[1:]:
        categories = re.findall(r"^### (\w+)$", body, re.M)
        assert categories, f"{match['version']} lists no changes"
        assert set(categories) <= CATEGORIES, f"{match['version']}: unknown category in {categories}"
        assert re.search(r"^- \S", body, re.M), f"{match['version']} has no entry"


def test_every_version_tag_has_its_section():
    listed = subprocess.run(["git", "tag", "--list", "v*"], cwd=TEMPLATE, capture_output=True, text=True, check=True)
    tags = {tag.removeprefix("v") for tag in listed.stdout.split() if re.fullmatch(r"v\d+\.\d+\.\d+", tag)}
    documented = {match["version"] for match, _ in sections()}
    assert tags <= documented, f"tags without a CHANGELOG section: {sorted(tags - documented)}"
