#!/usr/bin/env python3
"""Stand-in for `cml` and `gh` on PATH: records each call and keeps pull requests and their comments.

Installed as two links named cml and gh. Every call is appended to $ACT_RECORD (JSON lines:
the tool, its arguments, the body it posted, whether it had a token; for a pull request,
which token); the comments of each pull request live in $ACT_RECORD.comments.json, so a
sticky update can be told from a new comment the way GitHub would show them, and the pull
requests that `gh pr create` opened (or a test seeded, merged ones included) live in
$ACT_RECORD.pulls.json, so `gh pr list`, `gh pr view` and `gh pr edit` answer as GitHub
would. `gh release create` keeps each release's notes and files in
$ACT_RECORD.releases/<tag>/, where `gh release download` finds them (and `gh release upload
--clobber` replaces them, as anyone who can edit releases may).
`gh api repos/{owner}/{repo}/commits/SHA/pulls` answers from the same list, and `gh api` on an
environment (and its branch policies) from $ACT_RECORD.environments.json. Workflow runs a
test seeded (or recorded) in $ACT_RECORD.runs.json, each with its artifacts'
folders, answer `gh run list` and `gh run download`. `gh attestation verify` answers from what
the attest-build-provenance stand-in recorded in $ACT_RECORD.attestations.json, with the real
command's policy checks (repository, signer workflow, source ref and commit) and its failures.
Issues (`gh issue list|create|view|edit|comment`) and labels (`gh label create`) live in
$ACT_RECORD.issues.json.
"""

import fnmatch
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

SLSA_PROVENANCE = "https://slsa.dev/provenance/v1"


def option(args: list[str], name: str) -> str | None:
    for index, arg in enumerate(args):
        if arg.startswith(f"{name}="):
            return arg.split("=", 1)[1]
        if arg == name and index + 1 < len(args):
            return args[index + 1]
    return None


def pull_requests(args: list[str], record: Path) -> int:
    """`gh pr list|create|edit` with the options the workflows use, against a recorded list."""
    if not os.environ.get("GH_TOKEN"):
        print("gh stand-in: no token in the environment", file=sys.stderr)
        return 1
    pulls_file = record.with_suffix(".pulls.json")
    pulls = json.loads(pulls_file.read_text()) if pulls_file.exists() else []
    command = args[1]
    if command == "list" and option(args, "--search"):  # the pull request a commit was merged from
        commit, fields = option(args, "--search"), option(args, "--json")
        if option(args, "--state") != "merged" or fields is None:
            print(f"gh stand-in: unexpected list options {args}", file=sys.stderr)
            return 2
        found = [pull for pull in pulls if pull["state"] == "merged" and pull.get("merge_commit") == commit]
        for pull in found:
            pull["mergeCommit"] = {"oid": pull["merge_commit"]}
        print(json.dumps([{field: pull[field] for field in fields.split(",")} for pull in found]))
        return 0
    if command == "view":
        if option(args, "--json") != "comments":
            print(f"gh stand-in: unexpected view options {args}", file=sys.stderr)
            return 2
        comments_file = record.with_suffix(".comments.json")
        comments = json.loads(comments_file.read_text()) if comments_file.exists() else []
        print(json.dumps({"comments": [{"body": c["body"]} for c in comments if c["pr"] == int(args[2])]}))
        return 0
    if command == "list":
        if option(args, "--json") != "number" or option(args, "--jq") != ".[].number":
            print(f"gh stand-in: unexpected list options {args}", file=sys.stderr)
            return 2
        head, base, state = option(args, "--head"), option(args, "--base"), option(args, "--state") or "open"
        for pull in pulls:
            if pull["head"] == head and (base is None or pull["base"] == base) and pull["state"] == state:
                print(pull["number"])
        return 0
    body_file = option(args, "--body-file")
    if command == "create":
        head = option(args, "--head")
        listed = ["git", "ls-remote", "--exit-code", "origin", f"refs/heads/{head}"]
        pushed = subprocess.run(listed, capture_output=True, check=False)
        if pushed.returncode != 0:  # GitHub opens a pull request only from a branch it has
            print("pull request create failed: GraphQL: Head sha can't be blank (createPullRequest)", file=sys.stderr)
            return 1
        pull = {"number": len(pulls) + 1, "state": "open", "head": head, "base": option(args, "--base")}
        pulls.append(pull)
        action = "created"
    elif command == "edit":
        matches = [pull for pull in pulls if pull["number"] == int(args[2])]
        if not matches:
            print(f"GraphQL: Could not resolve to a PullRequest with the number of {args[2]}.", file=sys.stderr)
            return 1
        pull, action = matches[0], "edited"
    else:
        print(f"gh stand-in: unexpected call {args}", file=sys.stderr)
        return 2
    pull.update({"title": option(args, "--title"), "body": Path(body_file).read_text(encoding="utf-8")})
    pulls_file.write_text(json.dumps(pulls))
    with record.open("a", encoding="utf-8") as log:
        # Which token opened it: a test tells the workflow's token from one planted in its environment.
        call = {"tool": "gh", "args": args, "pr": pull["number"], "action": action, "token": os.environ["GH_TOKEN"]}
        log.write(json.dumps({**call, **pull}) + "\n")
    print(f"https://github.com/acme/project/pull/{pull['number']}")
    return 0


def issues(args: list[str], record: Path) -> int:
    """`gh label create` and `gh issue list|create|view|edit|comment` with the options the workflows use,
    against the issues kept in $ACT_RECORD.issues.json (each with its labels and comments)."""
    if not os.environ.get("GH_TOKEN"):
        print("gh stand-in: no token in the environment", file=sys.stderr)
        return 1
    issues_file = record.with_suffix(".issues.json")
    store = json.loads(issues_file.read_text()) if issues_file.exists() else {"labels": [], "issues": []}
    command = args[1]

    def log(action: str, number: int | None, **extra) -> None:
        with record.open("a", encoding="utf-8") as out:
            out.write(json.dumps({"tool": "gh", "args": args, "action": action, "issue": number, **extra}) + "\n")

    def find(number: str) -> dict | None:
        return next((issue for issue in store["issues"] if issue["number"] == int(number)), None)

    if args[0] == "label":  # gh label create NAME --color C --description D --force
        if args[2] not in store["labels"]:
            store["labels"].append(args[2])
        elif "--force" not in args:
            print(f'label with name "{args[2]}" already exists; use `--force` to update it', file=sys.stderr)
            return 1
    elif command == "list":
        if option(args, "--json") != "number" or option(args, "--label") is None:
            print(f"gh stand-in: unexpected issue list options {args}", file=sys.stderr)
            return 2
        state = option(args, "--state") or "open"
        found = [i for i in store["issues"] if option(args, "--label") in i["labels"] and i["state"] == state]
        found.sort(key=lambda issue: -issue["number"])  # newest first, as gh lists them
        if option(args, "--jq") == ".[0].number // empty":
            if found:
                print(found[0]["number"])
        else:
            print(json.dumps([{"number": issue["number"]} for issue in found]))
        return 0
    elif command == "view":
        issue = find(args[2])
        if issue is None or option(args, "--json") != "body" or option(args, "--jq") != ".body":
            print(f"gh stand-in: unexpected issue view {args}", file=sys.stderr)
            return 1
        print(issue["body"])
        return 0
    elif command == "create":
        labels = [option(args, "--label")] if option(args, "--label") else []
        missing = [label for label in labels if label not in store["labels"]]
        if missing:  # GitHub refuses a label the repository does not have
            print(f"could not add label: '{missing[0]}' not found", file=sys.stderr)
            return 1
        body = Path(option(args, "--body-file")).read_text(encoding="utf-8")
        issue = {"number": len(store["issues"]) + 1, "state": "open", "title": option(args, "--title"),
                 "labels": labels, "body": body, "comments": []}  # fmt: skip
        store["issues"].append(issue)
        log("created", issue["number"], title=issue["title"], body=body)
        print(f"https://github.com/acme/project/issues/{issue['number']}")
    elif command in ("edit", "comment"):
        issue = find(args[2])
        if issue is None:
            print(f"GraphQL: Could not resolve to an issue with the number of {args[2]}.", file=sys.stderr)
            return 1
        body = Path(option(args, "--body-file")).read_text(encoding="utf-8")
        if command == "edit":
            issue["body"] = body
        else:
            issue["comments"].append(body)
        log({"edit": "edited", "comment": "commented"}[command], issue["number"], body=body)
    else:
        print(f"gh stand-in: unexpected call {args}", file=sys.stderr)
        return 2
    issues_file.write_text(json.dumps(store))
    return 0


def releases(args: list[str], record: Path) -> int:
    """`gh release create TAG --verify-tag --title T --notes-file F FILE...` and `gh release download`."""
    if not os.environ.get("GH_TOKEN"):
        print("gh stand-in: no token in the environment", file=sys.stderr)
        return 1
    store, tag = record.with_suffix(".releases"), args[2]
    folder = store / tag
    if args[1] == "create":
        tag_ref = ["git", "ls-remote", "--exit-code", "origin", f"refs/tags/{tag}"]
        pushed = subprocess.run(tag_ref, capture_output=True, check=False)
        if "--verify-tag" in args and pushed.returncode != 0:
            print(f"tag {tag} doesn't exist in the repo, aborting due to --verify-tag flag", file=sys.stderr)
            return 1
        if folder.exists():
            print(f"HTTP 422: Validation Failed (tag_name {tag} already_exists)", file=sys.stderr)
            return 1
        valued = {"--title", "--notes-file"}
        files = [a for i, a in enumerate(args[3:], 3) if not a.startswith("--") and args[i - 1] not in valued]
        (folder / "assets").mkdir(parents=True)
        for name in files:
            shutil.copy(name, folder / "assets" / Path(name).name)
        notes = Path(option(args, "--notes-file")).read_text(encoding="utf-8")
        release = {"tag": tag, "title": option(args, "--title"), "notes": notes, "assets": sorted(map(str, files))}
        (folder / "release.json").write_text(json.dumps(release))
        with record.open("a", encoding="utf-8") as log:
            log.write(json.dumps({"tool": "gh", "args": args, "action": "release", **release}) + "\n")
        print(f"https://github.com/acme/project/releases/tag/{tag}")
        return 0
    if args[1] == "upload":
        if not folder.exists():
            print("release not found", file=sys.stderr)
            return 1
        for name in [a for a in args[3:] if not a.startswith("--")]:
            target = folder / "assets" / Path(name).name
            if target.exists() and "--clobber" not in args:
                print(f"asset under the same name already exists: [{target.name}]", file=sys.stderr)
                return 1
            shutil.copy(name, target)
        with record.open("a", encoding="utf-8") as log:
            log.write(json.dumps({"tool": "gh", "args": args, "action": "upload", "tag": tag}) + "\n")
        return 0
    if args[1] == "download":
        if not folder.exists():
            print("release not found", file=sys.stderr)
            return 1
        target = Path(option(args, "--dir") or ".")
        target.mkdir(parents=True, exist_ok=True)
        patterns = [args[i + 1] for i, a in enumerate(args) if a == "--pattern"] or ["*"]
        for asset in (folder / "assets").iterdir():
            if any(fnmatch.fnmatch(asset.name, pattern) for pattern in patterns):
                shutil.copy(asset, target / asset.name)
        return 0
    print(f"gh stand-in: unexpected call {args}", file=sys.stderr)
    return 2


def environments(args: list[str], record: Path) -> int:
    """`gh api repos/{owner}/{repo}/environments/NAME[/deployment-branch-policies]`, from what a test
    seeded in $ACT_RECORD.environments.json ({name: {"environment": ..., "branch_policies": [...]}})."""
    parts = args[1].split("/")
    known = (
        json.loads(record.with_suffix(".environments.json").read_text())
        if record.with_suffix(".environments.json").exists()
        else {}
    )
    seeded = known.get(parts[4])
    if seeded is None:  # GitHub creates an environment, unprotected, on its first deployment
        print("gh: Not Found (HTTP 404)", file=sys.stderr)
        return 1
    if parts[5:] == ["deployment-branch-policies"]:
        policies = seeded.get("branch_policies", [])
        print(json.dumps({"total_count": len(policies), "branch_policies": policies}))
    else:
        print(json.dumps({"name": parts[4], **seeded["environment"]}))
    return 0


def commit_pulls(args: list[str], record: Path) -> int:
    """`gh api repos/{owner}/{repo}/commits/SHA/pulls`: the merged pull request that made the commit, or
    open ones whose head it is, in the REST shape."""
    if not os.environ.get("GH_TOKEN"):
        print("gh stand-in: no token in the environment", file=sys.stderr)
        return 1
    parts = args[1].split("/")
    if len(parts) != 6 or parts[0] != "repos" or parts[3] != "commits" or parts[5] != "pulls":
        print(f"gh stand-in: unexpected api call {args}", file=sys.stderr)
        return 2
    commit = parts[4]
    pulls_file = record.with_suffix(".pulls.json")
    pulls = json.loads(pulls_file.read_text()) if pulls_file.exists() else []
    found = []
    for pull in pulls:
        merged = pull["state"] == "merged"
        if (merged and pull.get("merge_commit") == commit) or pull.get("headRefOid") == commit:
            found.append({
                "number": pull["number"], "html_url": pull.get("url"), "state": "closed" if merged else "open",
                "merged_at": "2026-12-01T10:00:00Z" if merged else None,
                "merge_commit_sha": pull.get("merge_commit"), "head": {"sha": pull.get("headRefOid")},
            })  # fmt: skip
    print(json.dumps(found))
    return 0


def workflow_runs(args: list[str], record: Path) -> int:
    """`gh run list --workflow W --commit SHA --json F [--limit N]` and `gh run download ID --name N --dir D`."""
    if not os.environ.get("GH_TOKEN"):
        print("gh stand-in: no token in the environment", file=sys.stderr)
        return 1
    runs_file = record.with_suffix(".runs.json")
    runs = json.loads(runs_file.read_text()) if runs_file.exists() else []
    if args[1] == "list":
        workflow, commit, fields = option(args, "--workflow"), option(args, "--commit"), option(args, "--json")
        if fields is None:
            print(f"gh stand-in: unexpected run list options {args}", file=sys.stderr)
            return 2
        found = [run for run in runs if workflow in (None, run["workflow"]) and commit in (None, run["headSha"])]
        found.sort(key=lambda run: run["createdAt"], reverse=True)  # newest first, as gh lists them
        limit = int(option(args, "--limit") or 20)
        print(json.dumps([{field: run[field] for field in fields.split(",")} for run in found[:limit]]))
        return 0
    if args[1] == "download":
        matches = [run for run in runs if str(run["databaseId"]) == args[2]]
        if not matches:
            print(f"could not find any workflow run with ID {args[2]}", file=sys.stderr)
            return 1
        folder = matches[0].get("artifacts", {}).get(option(args, "--name"))
        if folder is None:
            print("no valid artifacts found to download", file=sys.stderr)
            return 1
        shutil.copytree(folder, option(args, "--dir") or ".", dirs_exist_ok=True)
        return 0
    print(f"gh stand-in: unexpected call {args}", file=sys.stderr)
    return 2


def attestation_verify(args: list[str], record: Path) -> int:
    """`gh attestation verify oci://IMAGE@DIGEST --repo R` with --signer-workflow, --source-ref, --source-digest."""
    if not os.environ.get("GH_TOKEN"):
        print("gh stand-in: no token in the environment", file=sys.stderr)
        return 1
    subject, repo = args[2], option(args, "--repo")
    if not subject.startswith("oci://") or repo is None:
        print(f"gh stand-in: unexpected attestation options {args}", file=sys.stderr)
        return 2
    reference = subject.removeprefix("oci://")
    tags_file = record.with_suffix(".docker") / "tags.json"
    tags = json.loads(tags_file.read_text()) if tags_file.exists() else {}
    if "@" in reference:
        digest = reference.split("@", 1)[1]
        known = (record.with_suffix(".docker") / "images" / digest.replace(":", "-")).is_dir()
    else:
        digest = tags.get(reference)
        known = digest is not None
    if not known:  # the real one asks the registry for the image's digest first
        print(f"✗ Loading digest for {subject} failed\n\nError: {reference}: MANIFEST_UNKNOWN", file=sys.stderr)
        return 1
    print(f"Loaded digest {digest} for {subject}", file=sys.stderr)
    store = record.with_suffix(".attestations.json")
    attested = json.loads(store.read_text()) if store.exists() else []
    found = [a for a in attested if a["digest"] == digest and a["repository"] == repo]
    found = [a for a in found if a["predicate_type"] == (option(args, "--predicate-type") or SLSA_PROVENANCE)]
    if not found:
        print(
            "✗ Loading attestations from GitHub API failed\n\nError: HTTP 404: Not Found "
            f"(https://api.github.com/repos/{repo}/attestations/{digest}?per_page=30&predicate_type={SLSA_PROVENANCE})",
            file=sys.stderr,
        )
        return 1
    print(f"Loaded {len(found)} attestation(s) from GitHub API", file=sys.stderr)
    signer = option(args, "--signer-workflow")
    signer = signer.removeprefix("github.com/") if signer else f"{repo}/.github/workflows/"
    wanted = {"source_ref": option(args, "--source-ref"), "source_digest": option(args, "--source-digest")}
    problems = []
    for attestation in found:
        workflow = attestation["workflow"].split("@", 1)[0]
        mismatch = [] if workflow.startswith(signer) else [f"expected signer workflow {signer}, got {workflow}"]
        mismatch += [
            f"expected {key} {value}, got {attestation[key]}"
            for key, value in wanted.items()
            if value is not None and attestation[key] != value
        ]
        if not mismatch:
            print("✓ Verification succeeded!", file=sys.stderr)
            print(f"- Build repo: {repo}\n- Build workflow: {attestation['workflow']}")
            with record.open("a", encoding="utf-8") as log:
                log.write(json.dumps({"tool": "gh", "args": args, "action": "verified", "digest": digest}) + "\n")
            return 0
        problems += mismatch
    print(f'✗ Verification failed\n\nError: verifying with issuer "sigstore": {"; ".join(problems)}', file=sys.stderr)
    return 1


def main() -> int:
    tool, args = Path(sys.argv[0]).name, sys.argv[1:]
    record = Path(os.environ["ACT_RECORD"])
    if tool == "gh" and args[:2] == ["auth", "setup-git"]:
        return 0  # the real one makes git ask gh for github.com credentials; the test remote is a folder
    if tool == "gh" and args[:1] == ["pr"] and args[1:2] in (["list"], ["create"], ["edit"], ["view"]):
        return pull_requests(args, record)
    if tool == "gh" and (args[:1] == ["issue"] or args[:2] == ["label", "create"]):
        return issues(args, record)
    if tool == "gh" and args[:1] == ["release"]:
        return releases(args, record)
    if tool == "gh" and args[:1] == ["api"] and len(args) == 2 and args[1].split("/")[3:4] == ["environments"]:
        return environments(args, record)
    if tool == "gh" and args[:1] == ["api"] and len(args) == 2:
        return commit_pulls(args, record)
    if tool == "gh" and args[:1] == ["run"] and args[1:2] in (["list"], ["download"]):
        return workflow_runs(args, record)
    if tool == "gh" and args[:2] == ["attestation", "verify"]:
        return attestation_verify(args, record)
    comments_file = record.with_suffix(".comments.json")
    comments = json.loads(comments_file.read_text()) if comments_file.exists() else []

    if tool == "cml" and args[:2] == ["comment", "update"]:
        body_file, token = args[-1], os.environ.get("REPO_TOKEN")
        target, marker = option(args, "--target"), option(args, "--watermark-title")
        pr = int(target.split("/", 1)[1])
        existing = [c for c in comments if c["pr"] == pr and c["marker"] == marker]
    elif tool == "gh" and args[:2] == ["pr", "comment"]:
        body_file, token = option(args, "--body-file"), os.environ.get("GH_TOKEN")
        pr, marker = int(args[2]), None
        existing = [c for c in comments if c["pr"] == pr] if "--edit-last" in args else []
        if "--edit-last" in args and not existing and "--create-if-none" not in args:
            print("no comments found for current user", file=sys.stderr)
            return 1
    else:
        print(f"{tool} stand-in: unexpected call {args}", file=sys.stderr)
        return 2
    if not token:
        print(f"{tool} stand-in: no token in the environment", file=sys.stderr)
        return 1
    body = Path(body_file).read_text(encoding="utf-8")
    if existing:
        existing[-1]["body"], action = body, "updated"
    else:
        comments.append({"pr": pr, "marker": marker, "body": body})
        action = "created"
    comments_file.write_text(json.dumps(comments))
    with record.open("a", encoding="utf-8") as log:
        log.write(json.dumps({"tool": tool, "args": args, "pr": pr, "action": action, "body": body}) + "\n")
    print(f"{tool} stand-in: comment {action} on pull request {pr}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
