"""dvc.yaml and paths.py name the same files: a path moved in one is moved in the other."""

from pathlib import Path, PurePosixPath

import yaml

from {{ cookiecutter.package_name }}.core import paths

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def named(entries: list) -> list[PurePosixPath]:
    """The paths of a dvc.yaml list, whose entries are a path or {path: options}."""
    return [PurePosixPath(next(iter(entry)) if isinstance(entry, dict) else entry) for entry in entries]


def test_every_data_model_and_report_path_of_dvc_yaml_is_one_of_paths():
    pipeline = yaml.safe_load((PROJECT_ROOT / "dvc.yaml").read_text(encoding="utf-8"))
    declared = named(pipeline.get("plots", []))
    for stage in pipeline["stages"].values():
        for key in ("deps", "outs", "metrics", "plots"):
            declared += [path for path in named(stage.get(key, [])) if path.parts[0] != "src"]
    constants = {name: value for name, value in vars(paths).items() if name.isupper()}
    known = {PurePosixPath(value.as_posix()) for value in constants.values() if isinstance(value, Path)}
    split_files = [value for name, value in constants.items() if name.endswith("_FILE")]
    known |= {PurePosixPath(paths.PROCESSED_DIR.as_posix(), name) for name in split_files}
    unknown = [str(path) for path in declared if path not in known and not known.intersection(path.parents)]
    assert declared and unknown == [], f"dvc.yaml names paths that paths.py does not: {unknown}"
