"""The merge check: the model main reproduced against the record of a passed Model report run."""

import json
import os
import stat
import sys

import pytest

from {{ cookiecutter.package_name }}.core import paths
from {{ cookiecutter.package_name }}.review import provenance

BUILT = "a" * 64
HEAD = "1" * 40
MERGE = "2" * 40
# A stand-in for the GitHub CLI: answers from pulls.json (the REST shape of a commit's pull
# requests: the merged one, and one that only contains it) and runs.json beside it; a run's
# artifacts are folders beside it too. `gh pr view` (comments) is not answered: nothing may read them.
FAKE_GH = """#!PYTHON
import json, pathlib, shutil, sys
here = pathlib.Path(__file__).parent
args = sys.argv[1:]
def option(name):
    return args[args.index(name) + 1]
if args[0] == "api":
    commit = args[1].split("/")[-2]  # repos/{owner}/{repo}/commits/SHA/pulls
    pulls = json.loads((here / "pulls.json").read_text())
    print(json.dumps([p for p in pulls if commit in (p["merge_commit_sha"], p["head"]["sha"])]))
elif args[:2] == ["run", "list"]:
    assert option("--workflow") == "pr-report.yml", args
    runs = [r for r in json.loads((here / "runs.json").read_text()) if r["headSha"] == option("--commit")]
    print(json.dumps([{k: r[k] for k in option("--json").split(",")} for r in runs]))
elif args[:2] == ["run", "download"]:
    folder = here / "artifacts" / args[2] / option("--name")
    if not folder.is_dir():
        sys.exit("no valid artifacts found to download")
    shutil.copytree(folder, option("--dir"), dirs_exist_ok=True)
else:
    sys.exit(f"unexpected {args}")
"""


@pytest.fixture
def github(workdir, tmp_path_factory, monkeypatch, model_record):
    """A fake gh on PATH and the model main reproduced; returns a function that seeds GitHub's state."""
    (workdir / "models").mkdir()
    model_record(BUILT).write(workdir / paths.METADATA_PATH)
    tools = tmp_path_factory.mktemp("bin")
    gh = tools / "gh"
    gh.write_text(FAKE_GH.replace("PYTHON", sys.executable, 1))
    gh.chmod(gh.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tools}{os.pathsep}{os.environ['PATH']}")

    def seed(runs: list[dict], pulls: list[dict] | None = None) -> None:
        pull = {"number": 4, "head": {"sha": HEAD}, "merge_commit_sha": MERGE,
                "merged_at": "2026-01-09T00:00:00Z", "html_url": "https://x/pull/4"}  # fmt: skip
        (tools / "pulls.json").write_text(json.dumps([pull] if pulls is None else pulls))
        listed = []
        for number, run in enumerate(runs, 1):
            listed.append({"databaseId": number, "event": "pull_request", "headSha": HEAD, "status": "completed",
                           "conclusion": "success", "createdAt": f"2026-01-0{number}T00:00:00Z",
                           "url": f"https://x/runs/{number}"})  # fmt: skip
            listed[-1].update({key: value for key, value in run.items() if key != "record"})
            if "record" in run:
                folder = tools / "artifacts" / str(number) / "model-review"
                folder.mkdir(parents=True)
                (folder / "model-review.json").write_text(json.dumps(run["record"]))
        (tools / "runs.json").write_text(json.dumps(listed))

    return seed


def passed(model: str = BUILT, **changes) -> dict:
    return {"pull_request": 4, "head_commit": HEAD, "model_sha256": model, "verdict": "passed", **changes}


def test_the_reviewed_model_passes_whatever_the_merge_commit(github):
    github([{"record": passed()}])  # a squash or rebase merge: main's commit is not the head
    found = provenance.check(MERGE)
    assert (found.pull_request, found.report_run) == ("https://x/pull/4", "https://x/runs/1")
    assert found.reviewed_sha256 == BUILT


def test_other_bytes_stop_the_release(github):
    github([{"record": passed("b" * 64)}])
    with pytest.raises(
        provenance.ReviewError, match=r"reproduced model a+ but https://x/pull/4 reviewed b+ .*moved on"
    ):
        provenance.check(MERGE)


def test_no_report_run_stops_the_release(github):
    github([])
    with pytest.raises(provenance.ReviewError, match=r"no successful Model report run .* \(runs found: none\)"):
        provenance.check(MERGE)


def test_a_failed_or_unfinished_report_run_does_not_count(github):
    github([{"conclusion": "failure", "record": passed()}, {"status": "in_progress", "conclusion": ""}])
    with pytest.raises(provenance.ReviewError, match=r"runs found: failure, in_progress"):
        provenance.check(MERGE)


def test_a_run_of_another_event_does_not_count(github):
    github([{"event": "workflow_dispatch", "record": passed()}])
    with pytest.raises(provenance.ReviewError, match="no successful Model report run"):
        provenance.check(MERGE)


def test_the_newest_passed_run_decides(github):
    github([{"record": passed()}, {"record": passed("c" * 64)}])
    with pytest.raises(provenance.ReviewError, match=r"reviewed c+ \(https://x/runs/2\)"):
        provenance.check(MERGE)


def test_a_record_of_another_head_or_pull_request_is_refused(github):
    github([{"record": passed(head_commit="3" * 40, pull_request=5)}])
    with pytest.raises(provenance.ReviewError, match=r"head 333333333333, not 111111111111; pull request #5, not #4"):
        provenance.check(MERGE)


def test_a_passed_run_without_its_record_stops_the_release(github):
    github([{}])
    with pytest.raises(provenance.ReviewError, match="has no model-review artifact"):
        provenance.check(MERGE)


def test_a_malformed_record_names_the_field(github):
    github([{"record": {**passed(), "model_sha256": "not-a-hash"}}])
    with pytest.raises(provenance.ReviewError, match="malformed model_sha256"):
        provenance.check(MERGE)


def test_a_push_without_a_pull_request_is_not_released(github):
    github([{"record": passed()}], pulls=[])
    with pytest.raises(provenance.ReviewError, match=r"no merged pull request.*run the Deploy workflow by hand"):
        provenance.check(MERGE)


def test_a_pull_request_that_only_contains_the_commit_is_not_its_review(github):
    github([{"record": passed()}])
    with pytest.raises(provenance.ReviewError, match="came from no merged pull request"):
        provenance.check(HEAD)  # the pull request's head, pushed to main apart from its merge


def test_before_the_build_only_the_review_is_looked_up(github, workdir):
    github([{"record": passed("d" * 64)}])
    (workdir / "models/metadata.json").unlink()
    assert provenance.check(MERGE, None).reviewed_sha256 == "d" * 64


def test_record_writes_what_the_check_reads(workdir, model_record):
    (workdir / "models").mkdir()
    model_record(BUILT).write(workdir / paths.METADATA_PATH)
    provenance.record(4, HEAD).write()
    assert provenance.ReviewRecord.read(paths.REVIEW_PATH) == provenance.ReviewRecord(4, HEAD, BUILT, "passed")
    with pytest.raises(provenance.ReviewError, match="'main' is not a full 40-character commit SHA"):
        provenance.record(4, "main")
