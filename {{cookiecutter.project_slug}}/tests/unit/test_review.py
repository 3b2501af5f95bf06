"""The merge check: the model main reproduced against the one the pull request's report showed."""

import json
import os
import shutil
import stat
import subprocess
import sys

import pytest

from {{ cookiecutter.package_name }} import review

BUILT = "a" * 64
# A stand-in for the GitHub CLI: answers from pulls.json and comments.json beside it.
FAKE_GH = """#!PYTHON
import json, pathlib, sys
here = pathlib.Path(__file__).parent
args = sys.argv[1:]
if args[:2] == ["pr", "list"]:
    commit = args[args.index("--search") + 1]
    pulls = [p for p in json.loads((here / "pulls.json").read_text()) if p["merge_commit"] == commit]
    print(json.dumps([{k: p[k] for k in ("number", "headRefOid", "url")} for p in pulls]))
elif args[:2] == ["pr", "view"]:
    print(json.dumps({"comments": json.loads((here / "comments.json").read_text())}))
else:
    sys.exit(f"unexpected {args}")
"""


def git(*args: str) -> str:
    return subprocess.run([shutil.which("git"), *args], capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def repository(workdir, tmp_path_factory, monkeypatch):
    """A Git repository with a pull request's head and a merge of it; a fake gh on PATH."""
    git("init", "--quiet", "-b", "main")
    git("-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "--quiet", "--allow-empty", "-m", "head")
    (workdir / "models").mkdir()
    (workdir / "models/metadata.json").write_text(json.dumps({"model_sha256": BUILT}))
    tools = tmp_path_factory.mktemp("bin")
    gh = tools / "gh"
    gh.write_text(FAKE_GH.replace("PYTHON", sys.executable, 1))
    gh.chmod(gh.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tools}{os.pathsep}{os.environ['PATH']}")
    head = git("rev-parse", "HEAD")

    def pull_request(reported: str | None, head_commit: str = head, merge_commit: str = head) -> str:
        pulls = [{"number": 4, "headRefOid": head_commit, "merge_commit": merge_commit, "url": "https://x/pull/4"}]
        (tools / "pulls.json").write_text(json.dumps(pulls))
        body = "## Model report" + (f"\n<!-- head-model-sha256: {reported} -->" if reported else "")
        (tools / "comments.json").write_text(json.dumps([{"body": "LGTM"}, {"body": body}]))
        return head

    return pull_request


def test_the_reviewed_model_passes(repository):
    found = review.check(repository(BUILT))
    assert (found.pull_request, found.reviewed_sha256) == ("https://x/pull/4", BUILT)


def test_other_bytes_from_the_same_inputs_stop_the_release(repository):
    with pytest.raises(review.ReviewError, match=r"reproduced model a+ but https://x/pull/4 reviewed b+"):
        review.check(repository("b" * 64))


def test_a_pull_request_without_a_report_stops_the_release(repository):
    with pytest.raises(review.ReviewError, match="has no Model report comment"):
        review.check(repository(None))


def test_when_main_moved_on_the_model_is_gated_again_not_compared(repository, workdir):
    head = repository(BUILT)
    (workdir / "extra.txt").write_text("another merge")
    git("add", "extra.txt")
    git("-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "--quiet", "-m", "another merge")
    merge = git("rev-parse", "HEAD")
    repository(BUILT, head_commit=head, merge_commit=merge)
    found = review.check(merge)
    assert found.reviewed_sha256 is None and "main moved on after https://x/pull/4" in found.note


def test_a_push_without_a_pull_request_is_gated_by_the_tests_alone(repository):
    repository(BUILT)
    found = review.check("0" * 40)
    assert found.pull_request is None and "came from no pull request" in found.note
