"""CHANGELOG.md: the record of releases that `cruft update` users read before taking one.

Where the clone has version tags (a developer's clone; CI fetches them), every tag must have
its section and every release its tag. Where it has none (a shallow clone, a source archive),
the changelog's own structure still holds the releases to account: they follow one another
by one semantic-versioning step, newest first, dated, each with its changes by category.
The checks are functions of the text and the tags, so the tests below also feed them broken
changelogs and show each one fails.
"""

from __future__ import annotations

import itertools
import re
import subprocess
from datetime import date

import pytest

from bakery import TEMPLATE

HEADING = re.compile(r"^## \[(?P<version>[^\]]*)\](?: - (?P<date>\S+))?$", re.M)
VERSION = re.compile(r"\d+\.\d+\.\d+")
CATEGORIES = {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}
Version = tuple[int, int, int]


def sections(text: str) -> list[tuple[re.Match, str]]:
    """Each `## [...]` heading and the text below it, in the file's order."""
    found = list(HEADING.finditer(text))
    ends = [match.start() for match in found[1:]] + [len(text)]
    return [(match, text[match.end() : end]) for match, end in zip(found, ends, strict=True)]


def parse(version: str) -> Version:
    major, minor, patch = (int(part) for part in version.split("."))
    return major, minor, patch


def next_versions(version: Version) -> set[Version]:
    """The releases that may follow ``version``: a patch, a minor or a major step."""
    major, minor, patch = version
    return {(major, minor, patch + 1), (major, minor + 1, 0), (major + 1, 0, 0)}


def structure_problems(text: str, today: date) -> list[str]:
    """Every way the changelog breaks its own format; empty if none."""
    found = sections(text)
    if not found or found[0][0]["version"] != "Unreleased" or found[0][0]["date"]:
        return ["the first section must be `## [Unreleased]`, without a date"]
    problems = []
    releases = []
    for match, body in found[1:]:
        version, day = match["version"], match["date"]
        if not VERSION.fullmatch(version) or day is None or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", day):
            problems.append(f"`{match.group()}` is not `## [X.Y.Z] - YYYY-MM-DD`")
            continue
        released = date.fromisoformat(day)
        if released > today:
            problems.append(f"{version} is dated {day}, in the future")
        categories = re.findall(r"^### (.+)$", body, re.M)
        if not categories or not re.search(r"^- \S", body, re.M):
            problems.append(f"{version} lists no changes")
        unknown = sorted(set(categories) - CATEGORIES)
        if unknown:
            problems.append(
                f"{version}: {unknown} are not Keep a Changelog categories ({', '.join(sorted(CATEGORIES))})"
            )
        releases.append((parse(version), released))
    # Newest first, each one step after the one below it, and no earlier than it.
    for (newer, newer_day), (older, older_day) in itertools.pairwise(releases):
        if newer not in next_versions(older):
            problems.append(
                f"{'.'.join(map(str, newer))} does not follow {'.'.join(map(str, older))} "
                "by one patch, minor or major step (a release is missing, repeated or out of order)"
            )
        if newer_day < older_day:
            problems.append(f"{'.'.join(map(str, newer))} is dated before {'.'.join(map(str, older))}")
    if releases and releases[-1][0] not in {(0, 1, 0), (1, 0, 0)}:
        problems.append(
            f"the first release is {'.'.join(map(str, releases[-1][0]))}; the releases before it are missing"
        )
    return problems


def tag_problems(text: str, tags: set[str]) -> list[str]:
    """Tags and sections that do not match: a tag without its section, or a release without its tag.

    A release newer than every tag is allowed: its section is merged before its tag is pushed.
    """
    released = {match["version"] for match, _ in sections(text)[1:]}
    tagged = {tag.removeprefix("v") for tag in tags if re.fullmatch(r"v\d+\.\d+\.\d+", tag)}
    problems = [f"tag v{version} has no section in CHANGELOG.md" for version in sorted(tagged - released)]
    if tagged:
        newest = max(map(parse, tagged))
        untagged = sorted(version for version in released - tagged if parse(version) < newest)
        problems += [f"{version} is released in CHANGELOG.md but has no tag v{version}" for version in untagged]
    return problems


def version_tags() -> set[str]:
    listed = subprocess.run(["git", "tag", "--list", "v*"], cwd=TEMPLATE, capture_output=True, text=True, check=True)
    return set(listed.stdout.split())


def changelog() -> str:
    return (TEMPLATE / "CHANGELOG.md").read_text(encoding="utf-8")


def test_the_releases_are_accounted_for():
    # With tags, by the tags and the format; without (no tag to compare with), by the format,
    # whose one step between releases, back to the first, shows a section lost or added.
    text = changelog()
    problems = structure_problems(text, date.today())
    tags = version_tags()
    if tags:
        problems += tag_problems(text, tags)
    assert problems == []


GOOD = """# Changelog

## [Unreleased]

### Added
- something new

## [0.2.0] - 2026-11-30

### Fixed
- a bug

## [0.1.0] - 2026-11-27

### Added
- the template
"""


def test_a_well_formed_changelog_and_its_tags_pass():
    assert structure_problems(GOOD, date(2026, 12, 1)) == []
    assert tag_problems(GOOD, {"v0.1.0", "v0.2.0"}) == []
    assert tag_problems(GOOD, {"v0.1.0"}) == [], "0.2.0 is being released: its tag comes after the merge"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (GOOD.replace("## [Unreleased]\n", ""), "the first section must be `## [Unreleased]`"),
        (GOOD.replace("[0.2.0]", "[0.3.0]"), "0.3.0 does not follow 0.1.0"),
        (GOOD.replace("[0.2.0]", "[0.1.1]").replace("[0.1.0]", "[0.2.0]"), "0.1.1 does not follow 0.2.0"),
        (GOOD.replace("[0.1.0] - 2026-11-27", "[0.1.0] - 2026-12-01"), "0.2.0 is dated before 0.1.0"),
        (GOOD.replace("2026-11-30", "2027-01-01"), "0.2.0 is dated 2027-01-01, in the future"),
        (GOOD.replace("### Fixed", "### Bugs"), "0.2.0: ['Bugs'] are not Keep a Changelog categories"),
        (GOOD.replace("- a bug\n", ""), "0.2.0 lists no changes"),
        (GOOD.replace("[0.1.0] - 2026-11-27", "[0.1.0] - 27/11/2026"), "is not `## [X.Y.Z] - YYYY-MM-DD`"),
        (GOOD.split("## [0.1.0]")[0], "the first release is 0.2.0"),
    ],
    ids=["no-unreleased", "skipped", "order", "dates", "future", "category", "empty", "date", "first"],
)
def test_a_broken_changelog_is_refused(text, problem):
    found = structure_problems(text, date(2026, 12, 1))
    assert any(problem in line for line in found), found


@pytest.mark.parametrize(
    ("tags", "problem"),
    [
        ({"v0.1.0", "v0.2.0", "v0.3.0"}, "tag v0.3.0 has no section"),
        ({"v0.2.0"}, "0.1.0 is released in CHANGELOG.md but has no tag v0.1.0"),
    ],
)
def test_tags_and_sections_that_do_not_match_are_refused(tags, problem):
    found = tag_problems(GOOD, tags)
    assert any(problem in line for line in found), found
