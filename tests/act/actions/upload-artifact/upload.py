"""Copy an upload's files into $ACT_ARTIFACTS/<name>, laid out as actions/upload-artifact lays them out.

The real action roots the artifact at the least common ancestor of its search paths when
there are several (`dist/` and `models/x.json` keep their folders), at the folder itself
when the one path is a folder, and at the file's folder when it is one file; a pattern's
search path is the part before its first wildcard.
"""

import glob
import os
import shutil
import sys
from pathlib import Path

WILDCARDS = set("*?[")


def search_path(pattern: str) -> Path:
    parts = Path(pattern).parts
    cut = next((index for index, part in enumerate(parts) if WILDCARDS & set(part)), len(parts))
    return Path(*parts[:cut]).absolute() if cut else Path.cwd()


def main() -> int:
    name, paths, if_none = sys.argv[1], sys.argv[2], sys.argv[3]
    patterns = [line.strip() for line in paths.splitlines() if line.strip()]
    if any(pattern.startswith("!") for pattern in patterns):
        print("::error::the upload-artifact stand-in does not support exclusion patterns (!)", file=sys.stderr)
        return 1
    # glob.glob, not Path.glob: the patterns may be absolute paths (${{ runner.temp }}/...).
    hits = {hit for pattern in patterns for hit in glob.glob(pattern, recursive=True)}  # noqa: PTH207
    found = sorted(Path(hit).absolute() for hit in hits)
    searched = [search_path(pattern) for pattern in patterns]
    if len(searched) > 1:
        root = Path(os.path.commonpath(searched))
    elif len(found) == 1 and found[0] == searched[0] and found[0].is_file():
        root = found[0].parent
    else:
        root = searched[0]
    target = Path(os.environ["ACT_ARTIFACTS"]) / name
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for item in found:
        destination = target / item.relative_to(root)
        if item.is_dir():
            shutil.copytree(item, destination, dirs_exist_ok=True)
        else:
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(item, destination)
    if not found and if_none == "error":
        print(f"::error::No files were found with the provided path: {paths}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
