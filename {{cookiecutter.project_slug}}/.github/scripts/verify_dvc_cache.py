"""Keep only what a restored DVC cache can prove; the step before `dvc repro` in `pr-report.yml`.

    python .github/scripts/verify_dvc_cache.py .dvc/cache

The Model report compares a pull request with `main`. Its DVC cache comes from CI on `main`
(a pull request's run only restores it), but a cache is a file tree anyone who could save
one under the same key may have written, and DVC trusts a read-only cache file without
hashing it again. So, before any stage reads it:

- every object under `files/md5/` must hash to its own name (MD5 of its bytes, as DVC 3
  names them; a `.dir` listing too); one that does not is deleted, and DVC rebuilds it;
- the run-cache (`runs/`) is deleted whole: an entry maps a stage's inputs to outputs, and
  nothing short of running the stage again can check that mapping;
- anything else in the folder is deleted: DVC writes nothing else there.

What is left is content-addressed and so safe: `dvc checkout` restores exactly the outputs
that `main`'s `dvc.lock` (in Git, out of a pull request's reach) names, and a stage whose
output is missing runs `main`'s own code. Needs only Python's standard library: it runs
before the project is installed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

OBJECTS = Path("files") / "md5"
CHUNK = 1 << 20


def md5_of(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)  # DVC 3 names objects by MD5; this only re-derives that name
    with path.open("rb") as stream:
        while block := stream.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def claimed_hash(cache: Path, path: Path) -> str | None:
    """The hash an object's path claims (``files/md5/ab/cdef...[.dir]`` -> ``abcdef...``), or None."""
    parts = path.relative_to(cache / OBJECTS).parts
    if len(parts) != 2 or len(parts[0]) != 2:
        return None
    name = parts[0] + parts[1].removesuffix(".dir")
    return name if len(name) == 32 and all(c in "0123456789abcdef" for c in name) else None


def verify(cache: Path) -> dict[str, list[str]]:
    """Delete from ``cache`` what cannot be proven; return what was kept and what was dropped."""
    found: dict[str, list[str]] = {"kept": [], "forged": [], "run-cache": [], "other": []}
    if not cache.is_dir():
        return found
    runs = cache / "runs"
    if runs.is_dir() and not runs.is_symlink():
        found["run-cache"] = [str(p.relative_to(cache)) for p in runs.rglob("*") if p.is_file()]
        shutil.rmtree(runs)
    # Everything that is not a regular file under files/md5/ goes, symbolic links included:
    # a link's target lies outside the cache, where nothing was verified.
    for entry in list(cache.rglob("*")):
        inside = entry.relative_to(cache).parts[: len(OBJECTS.parts)] == OBJECTS.parts
        if entry.is_symlink() or (entry.is_file() and not inside):
            found["other"].append(str(entry.relative_to(cache)))
            entry.unlink()
    objects = [path for path in (cache / OBJECTS).rglob("*") if path.is_file()] if (cache / OBJECTS).is_dir() else []
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:  # hashlib hashes outside the GIL
        actual = dict(zip(objects, pool.map(md5_of, objects), strict=True))
    for path in objects:
        claimed = claimed_hash(cache, path)
        if claimed is not None and claimed == actual[path]:
            found["kept"].append(str(path.relative_to(cache)))
        else:
            found["forged" if claimed else "other"].append(str(path.relative_to(cache)))
            path.unlink()  # DVC's read-only mode on a file does not stop its folder's owner
    return found


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python .github/scripts/verify_dvc_cache.py CACHE_DIR", file=sys.stderr)
        return 2
    cache = Path(argv[0])
    found = verify(cache)
    print(
        f"{cache}: kept {len(found['kept'])} objects whose bytes match their hash; dropped "
        f"{len(found['forged'])} that did not, {len(found['run-cache'])} run-cache entries "
        f"and {len(found['other'])} other files"
    )
    if found["forged"]:
        warning = "::warning::" if os.environ.get("GITHUB_ACTIONS") == "true" else "warning: "
        listed = ", ".join(found["forged"][:5]) + (" ..." if len(found["forged"]) > 5 else "")
        print(f"{warning}the restored DVC cache held objects whose bytes do not match their hash (deleted): {listed}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
