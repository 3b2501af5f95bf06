"""Each trial of a search as a DVC experiment: ``dvc exp show``, ``diff``, ``branch`` and ``push`` work on it.

A trial is recorded as ``dvc exp save`` records work done outside ``dvc exp run``: params.yaml
holds the trial's model section and ``reports/search.json`` (a metrics file of dvc.yaml) its
record (cross-validated scores, trial, search, seed, shard), and DVC commits that state to a
Git ref under ``refs/exps/``, on top of the current commit, without touching the branch.
Through DVC's Python API, in this process: no process start per trial.

Only the data stage is committed with it (the split the trial was scored on, unchanged), so
the experiment's dvc.lock still describes the model ``dvc repro`` last trained: ``dvc exp apply``
of a trial, then ``dvc repro``, trains it. The workspace is left as it was: params.yaml,
dvc.lock and the record are put back whatever happens.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from ..core import paths
from ..core.errors import ProjectError
from ..core.params import with_model

if TYPE_CHECKING:
    from types import TracebackType

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,60}$")  # a Git ref component, and a readable one
PROPOSAL_ONLY = ("run", "base", "total", "top")  # the fields only `leaderboard --apply` writes
GUARDED = (paths.PARAMS_PATH, Path("dvc.yaml"))  # their uncommitted changes would be lost to the experiments


class Configuration(BaseModel):
    """A model section as a trial holds it."""

    type: str
    hyperparameters: dict[str, Any]


class Standing(BaseModel):
    """One row of the leaderboard a pull request carries in its record (checked when read back)."""

    model_config = ConfigDict(extra="forbid")

    rank: int
    experiment: str
    model: Configuration
    mean: float | None  # the optimised metric's cross-validated mean; None for a failed trial
    std: float | None
    state: str
    current: bool  # the model section the search started from


@dataclass
class Record:
    """What ``reports/search.json`` holds for one trial: dvc exp show lists its numbers."""

    search: str
    trial: int
    shard: str  # "I/N"
    seed: int  # the sampler's
    metric: str  # the one optimised
    direction: str  # higher | lower
    state: str  # complete | pruned | failed
    model: dict[str, Any]  # type and hyperparameters, as params.yaml's model section holds them
    cv: dict[str, dict[str, Any]] = field(default_factory=dict)  # metric -> mean, std, folds (each fold's score)
    error: str = ""
    seconds: float = 0.0
    started: str = ""  # when the search started (UTC, ISO 8601): the leaderboard's default is the newest
    # Only in the record `leaderboard --apply` writes for a pull request (the Model report shows them):
    run: str = ""  # the search's run (the Search workflow's URL), when known
    base: str = ""  # the commit the trials were saved on
    total: int = 0  # trials in the search
    top: list[dict[str, Any]] = field(default_factory=list)  # the best rows, and the current model's (Standing)

    @property
    def experiment(self) -> str:
        return experiment_name(self.search, self.trial, self.shard)

    @property
    def was_current(self) -> bool:
        """The trial of the model section the search started from: shard 1 scores it first."""
        return self.trial == 0 and self.shard.split("/")[0] == "1"

    def standing(self, rank: int) -> dict[str, Any]:
        """This trial as one row of a leaderboard a pull request carries."""
        scores = self.cv.get(self.metric, {})
        row = Standing(
            rank=rank,
            experiment=self.experiment,
            model=Configuration.model_validate(self.model),
            mean=scores.get("mean"),
            std=scores.get("std"),
            state=self.state,
            current=self.was_current,
        )
        return row.model_dump()

    def configures(self, model_type: str, hyperparameters: dict[str, Any]) -> bool:
        """Whether params.yaml's model section (type and hyperparameters) is this trial's configuration."""

        def set_(values: dict[str, Any]) -> dict[str, Any]:
            return {name: value for name, value in values.items() if value is not None}

        return model_type == self.model["type"] and set_(hyperparameters) == set_(self.model["hyperparameters"])

    def to_json(self) -> str:
        fields = asdict(self)
        for name in PROPOSAL_ONLY:  # a trial's record stays as `dvc exp show` lists it
            if not fields[name]:
                del fields[name]
        return json.dumps(fields, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Record:
        raw = json.loads(text)
        return cls(**{key: raw[key] for key in cls.__dataclass_fields__ if key in raw})


def experiment_name(search: str, trial: int, shard: str) -> str:
    """``<search>-t007``; with several shards ``<search>-s2-t007``."""
    index, count = shard.split("/")
    return f"{search}-t{trial:03d}" if count == "1" else f"{search}-s{index}-t{trial:03d}"


def check_name(name: str) -> str:
    if not NAME.match(name):
        raise ProjectError(
            f"--name {name!r}: use letters, digits, - and _ (at most 61, starting with a letter or digit), "
            "e.g. search-lr"
        )
    return name


def _git_program() -> str:
    program = shutil.which("git")
    if program is None:
        raise ProjectError("git is not installed: the search records its trials as Git refs (DVC experiments)")
    return program


def git(*arguments: str, root: Path = Path()) -> str:
    done = subprocess.run(  # noqa: S603 (the search's own git commands)
        [_git_program(), *arguments], cwd=root, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise ProjectError(f"`git {' '.join(arguments)}` failed: {done.stderr.strip()}")
    return done.stdout


def check_workspace(root: Path = Path()) -> None:
    """Refuse to start where the experiments would lose or misstate the user's work."""
    try:
        git("rev-parse", "--verify", "HEAD", root=root)
    except ProjectError:
        raise ProjectError(
            "the search records each trial as a DVC experiment on the current commit, and there is none: "
            "run it in the project's Git repository after a first commit"
        ) from None
    changed = git("status", "--porcelain", "--", *(str(path) for path in GUARDED), root=root).splitlines()
    if changed:
        names = ", ".join(line[3:] for line in changed)
        raise ProjectError(
            f"{names}: uncommitted changes; commit them (or `git stash`) first: every trial is saved as an "
            "experiment of the last commit, with its own params.yaml"
        )


class Recorder:
    """Saves trials as DVC experiments; a context manager that puts the workspace back as it found it."""

    def __init__(self, root: Path = Path()) -> None:
        self.root = root
        self.kept: dict[Path, bytes | None] = {}
        self.repo: Any = None

    def __enter__(self) -> Recorder:
        from dvc.repo import Repo  # type: ignore[import-untyped]

        check_workspace(self.root)
        for path in (paths.PARAMS_PATH, paths.DVC_LOCK_PATH, paths.SEARCH_RECORD_PATH):
            file = self.root / path
            self.kept[file] = file.read_bytes() if file.is_file() else None
        self.repo = Repo(str(self.root))
        # DVC warns at each save about untracked files it leaves out; the search's output says what it saved.
        logging.getLogger("dvc").setLevel(logging.ERROR)
        return self

    def record(self, record: Record) -> str:
        """Save the trial as experiment ``record.experiment``; return the experiment's commit."""
        params = self.kept[self.root / paths.PARAMS_PATH]
        if params is None:
            raise ProjectError(f"{paths.PARAMS_PATH} not found")
        text = with_model(params.decode("utf-8"), record.model["type"], record.model["hyperparameters"])
        (self.root / paths.PARAMS_PATH).write_text(text, encoding="utf-8")
        record_path = self.root / paths.SEARCH_RECORD_PATH
        record_path.parent.mkdir(parents=True, exist_ok=True)
        record_path.write_text(record.to_json(), encoding="utf-8")
        # force: a search run again under the same name replaces its trials.
        return str(self.repo.experiments.save(targets=["data"], name=record.experiment, force=True))

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        try:
            if self.repo is not None:
                self.repo.close()
        finally:
            for file, content in self.kept.items():
                if content is None:
                    file.unlink(missing_ok=True)
                else:
                    file.write_bytes(content)


def recorded(root: Path = Path(), baseline: str | None = None) -> list[Record]:
    """The search trials recorded as experiments of ``baseline`` (default: the current commit), read
    from their Git refs (those `dvc exp pull` fetched from other machines included)."""
    head = baseline or git("rev-parse", "HEAD", root=root).strip()
    prefix = f"refs/exps/{head[:2]}/{head[2:]}/"
    refs = git("for-each-ref", "--format=%(refname)", prefix, root=root).split()
    if not refs:
        return []
    wanted = "".join(f"{ref}:{paths.SEARCH_RECORD_PATH.as_posix()}\n" for ref in refs)
    done = subprocess.run(  # noqa: S603 (a fixed command)
        [_git_program(), "cat-file", "--batch"],
        cwd=root,
        input=wanted.encode(),
        capture_output=True,
        check=True,
    )
    records, output = [], done.stdout
    while output:
        header, _, output = output.partition(b"\n")
        parts = header.split()
        if len(parts) < 3 or parts[1] != b"blob":  # "<ref>:<path> missing": an experiment of another kind
            continue
        size = int(parts[2])
        body, output = output[:size], output[size + 1 :]
        try:
            records.append(Record.from_json(body.decode("utf-8")))
        except (ValueError, TypeError, KeyError):
            continue  # not a search's record
    return records
