#!/usr/bin/env python3
"""Stand-in for `cml` and `gh` on PATH: records each call and keeps the pull request's comments.

Installed as two links named cml and gh. Every call is appended to $ACT_RECORD (JSON lines:
the tool, its arguments, the body it posted, whether it had a token); the comments of each
pull request live in $ACT_RECORD.comments.json, so a sticky update can be told from a new
comment the way GitHub would show them.
"""

import json
import os
import sys
from pathlib import Path


def option(args: list[str], name: str) -> str | None:
    for index, arg in enumerate(args):
        if arg.startswith(f"{name}="):
            return arg.split("=", 1)[1]
        if arg == name and index + 1 < len(args):
            return args[index + 1]
    return None


def main() -> int:
    tool, args = Path(sys.argv[0]).name, sys.argv[1:]
    record = Path(os.environ["ACT_RECORD"])
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
