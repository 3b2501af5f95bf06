"""Bring the template's changes into this project; the steps of `.github/workflows/template-update.yml`.

    python .github/scripts/template_update.py target [--ref REF]
    python .github/scripts/template_update.py apply [--checkout REF] [--commit SHA] [--body FILE] [--record FILE]

``target`` names the template version to update to: the newest release tag (``vX.Y.Z``)
unless a ref is given, and the commit it points to now. ``apply`` runs ``cruft update`` to
that commit (a tag can be moved; the commit cannot), then turns every file whose merge
conflicted back into your version plus a ``<file>.rej`` holding the template's hunks that
did not fit. The project stays valid (no conflict markers in ``params.yaml`` or code), and
nothing is lost: each rejected hunk is listed for review.

Needs git and cruft, at the version in pyproject.toml's ``template`` dependency group
(``uv tool install cruft==VERSION``; the workflow installs that group).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

CRUFT_FILE = Path(".cruft.json")
VERSION_TAG = re.compile(r"^v(\d+)\.(\d+)\.(\d+)$")  # releases only; pre-releases are not proposed
SAFE_REF = re.compile(r"^[\w][\w./-]*$")
COMMIT = re.compile(r"^[0-9a-f]{40}$")
LONGEST_HUNKS = 20_000  # characters of one .rej shown in the pull request; GitHub caps a body at 65,536


class UpdateError(Exception):
    """A problem the user can fix; printed as one ``error:`` line."""


def run(program: str, *args: str, cwd: str | None = None, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run git or cruft (by full path) with arguments built here, never through a shell."""
    path = shutil.which(program)
    if path is None:
        how = " at the version in pyproject.toml's `template` group (`uv tool install cruft==VERSION`)"
        raise UpdateError(f"{program} is not installed: install it{how if program == 'cruft' else ''} first")
    return subprocess.run([path, *args], cwd=cwd, input=stdin, capture_output=True, text=True, check=False)  # noqa: S603


def git(*args: str, check: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    done = run("git", *args, stdin=stdin)
    if check and done.returncode != 0:
        raise UpdateError(f"`git {' '.join(args)}` failed: {done.stderr.strip()}")
    return done


def cruft_state() -> dict:
    if not CRUFT_FILE.is_file():
        raise UpdateError(
            f"{CRUFT_FILE} not found: run this in the project's root; a project baked before the template "
            "recorded its origin can start with `cruft link <template-url>`"
        )
    return json.loads(CRUFT_FILE.read_text(encoding="utf-8"))


def remote_refs(template: str) -> dict[str, str]:
    """Every ref of the template and the object it names; ``refs/tags/X^{}`` is an annotated tag's commit."""
    listed = git("ls-remote", template).stdout
    return {name: sha for sha, _, name in (line.partition("\t") for line in listed.splitlines())}


def newest_release(refs: dict[str, str]) -> str | None:
    """The highest ``vX.Y.Z`` tag of the template, or None when it has no release yet."""
    versions = []
    for name in refs:
        if match := VERSION_TAG.match(name.removeprefix("refs/tags/")):
            versions.append((tuple(int(part) for part in match.groups()), name.removeprefix("refs/tags/")))
    return max(versions)[1] if versions else None


def resolve(template: str, ref: str, refs: dict[str, str] | None = None) -> str:
    """The commit ``ref`` (a tag, branch or full commit; empty: the default branch) points to now."""
    if COMMIT.match(ref):
        return ref
    refs = remote_refs(template) if refs is None else refs
    peeled = "refs/tags/" + ref + "^{}"  # no f-string: its doubled braces would read as Jinja, which renders this file
    names = [peeled, f"refs/tags/{ref}", f"refs/heads/{ref}"] if ref else ["HEAD"]
    for name in names:  # a tag before a branch of the same name, as git checks out
        if name in refs:
            return refs[name]
    if re.match(r"^[0-9a-f]{4,39}$", ref):
        raise UpdateError(f"ref {ref!r} is not a tag or branch of {template}; name a commit by all 40 hex digits")
    raise UpdateError(f"ref {ref!r} is not a tag or branch of {template}; `git ls-remote {template}` lists them")


def target(ref: str) -> dict[str, str]:
    """The version to update to and its commit: ``ref`` when given, else the newest release (empty: default branch)."""
    state = cruft_state()
    template = state["template"]
    if "://" not in template and "@" not in template and not Path(template).exists():
        raise UpdateError(
            f"{CRUFT_FILE}: template {template!r} is a local folder that is not here; "
            'set "template" to the template\'s Git URL'
        )
    if ref and not SAFE_REF.match(ref):
        raise UpdateError(f"ref {ref!r} is not a tag, branch or commit name; for example v1.2.0")
    refs = remote_refs(template)
    ref = ref or newest_release(refs) or ""
    return {"template": template, "current": state["commit"], "ref": ref, "commit": resolve(template, ref, refs)}


def unmerged_paths() -> list[str]:
    listed = git("diff", "--name-only", "--diff-filter=U", "-z").stdout
    return sorted(path for path in listed.split("\0") if path)


def stage(path: str, number: int) -> str | None:
    """The file's content at merge stage 1 (the template before), 2 (yours) or 3 (the template now)."""
    done = git("show", f":{number}:{path}", check=False)
    return done.stdout if done.returncode == 0 else None


def reject_conflicts(path: str) -> None:
    """Replace a conflicted merge by your version plus the template's change as hunks; misfits go to .rej.

    This is what ``git apply --reject`` does for a file: every hunk that fits is applied,
    and the ones that touch lines you changed are written to ``<path>.rej``.
    """
    before, after = stage(path, 1), stage(path, 3)
    with tempfile.TemporaryDirectory() as scratch:
        sides = []
        for name, content in (("old", before), ("new", after)):
            if content is None:
                sides.append("/dev/null")
                continue
            side = Path(scratch, name, path)
            side.parent.mkdir(parents=True, exist_ok=True)
            side.write_text(content, encoding="utf-8")
            sides.append(f"{name}/{path}")
        # One line of context instead of three: a template change next to a line you changed still
        # applies, and the hunk is still anchored by a line that must match.
        change = run(
            "git", "diff", "--no-index", "--no-color", "--unified=1", "--src-prefix=a/", "--dst-prefix=b/", *sides,
            cwd=scratch,
        ).stdout  # fmt: skip
    if stage(path, 2) is None:  # the template brings back a file you deleted: the change is all rejects
        git("rm", "--cached", "--quiet", "--", path)
        Path(path).unlink(missing_ok=True)
    else:
        git("checkout", "HEAD", "--", path)  # yours, and the index no longer marks a conflict
    # -p2 strips "a/old/" and "b/new/"; rejected hunks land in <path>.rej and git apply exits 1.
    git("apply", "--reject", "-p2", stdin=change, check=False)


def rejected_files() -> list[str]:
    listed = git("ls-files", "--others", "--exclude-standard", "-z", "--", "*.rej").stdout
    return sorted(path for path in listed.split("\0") if path)


def fenced(text: str) -> str:
    fence = "`" * max([3, *(len(run) + 1 for run in re.findall(r"`+", text))])
    if len(text) > LONGEST_HUNKS:
        text = text[:LONGEST_HUNKS] + "\n... (cut here; the whole file is in the branch)\n"
    return f"{fence}diff\n{text.rstrip()}\n{fence}"


def compare_link(template: str, old: str, new: str) -> str:
    match = re.match(r"^(?:https://github\.com/|git@github\.com:)([\w.-]+/[\w.-]+?)(?:\.git)?/?$", template)
    if match is None:
        return f"`{old[:12]}...{new[:12]}`"
    return f"[`{old[:12]}...{new[:12]}`](https://github.com/{match.group(1)}/compare/{old}...{new})"


def body(template: str, old: str, new: str, ref: str, rejects: list[str]) -> str:
    lines = [
        f"This pull request brings the project up to date with its template, {ref or 'its default branch'} "
        f"at commit `{new}` ({compare_link(template, old, new)}). That commit is what was rendered: "
        "a tag moved later changes nothing here.",
        "",
        "`cruft update` made it; the answers given when the project was baked (`.cruft.json`) are kept, "
        "and files you changed where the template did not are left as they are.",
        "",
    ]
    if not rejects:
        lines.append("Every change merged cleanly. Review it, let the checks run, and merge.")
        return "\n".join(lines) + "\n"
    lines += [
        "### Changes that could not be merged",
        "",
        "Your version of each file below is kept. The template's hunks that touch lines you changed are in "
        "the `.rej` file beside it: apply each by hand or decide to drop it, delete the `.rej` file, and push "
        "to this branch. The checks fail while a `.rej` file is left.",
        "",
    ]
    for path in rejects:
        hunks = Path(path).read_text(encoding="utf-8", errors="replace")
        lines += [f"#### `{path}`", "", fenced(hunks), ""]
    return "\n".join(lines)


def write_state(state: dict) -> None:
    """``.cruft.json`` in cruft's own layout, so a later ``cruft update`` rewrites it without a diff."""
    CRUFT_FILE.write_text(json.dumps(state, ensure_ascii=False, indent=2, separators=(",", ": ")) + "\n", "utf-8")


def apply(checkout: str, body_path: Path | None, commit: str = "", record_path: Path | None = None) -> list[str]:
    """Update to ``checkout`` at ``commit`` (default: the commit it points to now); return the .rej files."""
    before = cruft_state()
    base = git("rev-parse", "HEAD").stdout.strip()
    if commit and not COMMIT.match(commit):
        raise UpdateError(f"commit {commit!r} is not a full commit; give all 40 hex digits, as `target` prints them")
    commit = commit or resolve(before["template"], checkout)
    # Render the commit, not the name: a tag moved after `target` read it changes nothing here.
    # --not-strict: never "update" to a version older than the one the project already has.
    done = run("cruft", "update", "--skip-apply-ask", "--not-strict", "--checkout", commit)
    print(done.stdout + done.stderr, end="", file=sys.stderr)
    if done.returncode != 0:
        raise UpdateError(f"`cruft update` failed (exit {done.returncode}); its output is above")
    after = cruft_state()
    if after["commit"] == commit != before["commit"] and after.get("checkout") != (checkout or None):
        # cruft records what it checked out (the commit); keep the name instead, as `cruft update
        # --checkout vX.Y.Z` writes it, so `cruft check` and a later `cruft update` follow that name.
        after["checkout"] = checkout or None
        write_state(after)
    for path in unmerged_paths():
        reject_conflicts(path)
    rejects = rejected_files()
    if body_path is not None:
        body_path.write_text(body(after["template"], before["commit"], after["commit"], checkout, rejects), "utf-8")
    if record_path is not None:
        record = {"template": after["template"], "ref": checkout, "commit": after["commit"], "base": base}
        record_path.write_text(json.dumps(record, indent=2) + "\n", "utf-8")
    print(f"template update: {before['commit'][:12]} -> {after['commit'][:12]}; {len(rejects)} file(s) to review")
    for path in rejects:
        print(f"  {path}")
    return rejects


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    find = commands.add_parser("target", help="print the template version to update to, as KEY=VALUE lines")
    find.add_argument("--ref", default="", help="a tag, branch or commit (default: the newest vX.Y.Z tag)")
    update = commands.add_parser("apply", help="update to a template version and set conflicts aside as .rej")
    update.add_argument("--checkout", default="", help="the tag, branch or commit to update to")
    update.add_argument("--commit", default="", help="the commit --checkout pointed to, as `target` printed it")
    update.add_argument("--body", type=Path, help="write the pull request's description here")
    update.add_argument("--record", type=Path, help="write the ref, commit and base of the update here, as JSON")
    args = parser.parse_args(argv)
    try:
        if args.command == "target":
            for key, value in target(args.ref).items():
                print(f"{key}={value}")
        else:
            apply(args.checkout, args.body, args.commit, args.record)
    except UpdateError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
