"""The sampled log of scored rows: a share of the rows the service answers, as JSON lines.

Off by default. ``serve --log-rows 0.05`` (or ``SERVE_LOG_ROWS=0.05``) writes about one row in
twenty, each drawn at random, to stdout (``--log-rows-to stdout``, the default: a platform's log
pipeline collects it) or to a folder (``--log-rows-to DIR``: one file per day and process,
``scored-rows-YYYY-MM-DD-HOST-PID.jsonl``, so replicas sharing a volume never write one file).
Each line is one row::

    {"time": "2026-12-01T10:00:00.123+00:00", "request_id": "...", "model_version": "...",
     "inputs": {feature: value, ...}, "output": {"prediction": ..., ...}}

``inputs`` are the row's values as the request held them (after validation, which converts
nothing), without the features named by ``--log-rows-exclude`` (personal data that must not be
written anywhere); ``output`` is the row's answer, as the response gave it. ``request_id`` is the
one of the ``X-Request-ID`` header, so a logged row leads to its request's log line.

``monitor`` reads such a log (a ``.jsonl`` file, or a folder of them) as its batch: :func:`read`.
"""

from __future__ import annotations

import json
import os
import random
import socket
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ..core.errors import DataError, ProjectError

if TYPE_CHECKING:  # the service does not import pandas
    import pandas as pd

STDOUT = "stdout"
SUFFIX = ".jsonl"


@dataclass(frozen=True)
class RowLogSettings:
    share: float = 0.0  # of the rows answered, from 0 (off) to 1 (every row)
    destination: str = STDOUT  # "stdout", or a folder
    exclude: tuple[str, ...] = ()  # features never written


def share(value: str, where: str) -> float:
    """A share from an option or a variable: a number from 0 to 1, else an error naming it and the fix."""
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0.0 <= number <= 1.0:  # NaN fails too
        raise ProjectError(f"{where} is {value!r}: give the share of rows to log, from 0 (off) to 1 (every row)")
    return number


def excluded(value: str) -> tuple[str, ...]:
    """Features from a comma-separated list (``SERVE_LOG_ROWS_EXCLUDE``), blanks dropped."""
    return tuple(name.strip() for name in value.split(",") if name.strip())


def check_exclude(settings: RowLogSettings, features: Sequence[str]) -> None:
    """Refuse a feature to leave out that the model does not have: a misspelt name would log the column."""
    unknown = [name for name in settings.exclude if name not in features]
    if unknown:
        raise ProjectError(
            f"--log-rows-exclude names {unknown}, which the model has no feature of; its features: {list(features)}"
        )


class RowLog:
    """Writes the sampled rows of each answered batch (see the module's docstring)."""

    def __init__(
        self,
        settings: RowLogSettings,
        features: Sequence[str],
        model_version: str | None,
        draw: Callable[[], float] = random.random,
        now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
    ) -> None:
        check_exclude(settings, features)
        self.share, self.model_version = settings.share, model_version
        self.logged = [name for name in features if name not in settings.exclude]
        self._draw, self._now = draw, now
        self._folder = None if settings.destination == STDOUT else Path(settings.destination)
        self._file: TextIO | None = None
        self._day = ""
        if self._folder is not None:
            try:
                self._folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ProjectError(
                    f"--log-rows-to {str(self._folder)!r}: cannot create that folder ({exc.strerror}); "
                    f"give a writable folder, or `{STDOUT}`"
                ) from None

    def write(self, request_id: str, columns: dict[str, Sequence], answers: list[dict[str, Any]]) -> None:
        """Log the drawn rows of a batch: its columns (every feature) and its answers, one per row."""
        every = self.share >= 1.0
        chosen = [row for row in range(len(answers)) if every or self._draw() < self.share]
        if not chosen:
            return
        moment = self._now()
        time = moment.isoformat(timespec="milliseconds")
        lines = "".join(
            json.dumps(
                {
                    "time": time,
                    "request_id": request_id,
                    "model_version": self.model_version,
                    "inputs": {name: columns[name][row] for name in self.logged},
                    "output": answers[row],
                }  # ASCII with escapes: writable whatever the stream's encoding (a container's may be ASCII)
            )
            + "\n"
            for row in chosen
        )
        stream = self._stream(moment)
        stream.write(lines)
        stream.flush()

    def _stream(self, moment: datetime) -> TextIO:
        if self._folder is None:
            return sys.stdout
        day = moment.date().isoformat()
        # A new file each day, so old days can be shipped or deleted whole; after close(), the day's file again.
        if day != self._day or self._file is None:
            self.close()
            name = f"scored-rows-{day}-{socket.gethostname()}-{os.getpid()}{SUFFIX}"
            self._file, self._day = (self._folder / name).open("a", encoding="utf-8"), day
        return self._file

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def is_log(path: Path) -> bool:
    """A sampled log (a ``.jsonl`` file or a folder), as opposed to a table."""
    return path.is_dir() or path.suffix.lower() == SUFFIX


def read(path: Path) -> pd.DataFrame:
    """The logged rows' inputs as a table, one column per logged feature: a ``.jsonl`` file, or every
    ``.jsonl`` file of a folder (in name order: by day)."""
    import pandas as pd

    files = sorted(path.glob(f"*{SUFFIX}")) if path.is_dir() else [path]
    if not files or not files[0].is_file():
        raise DataError(
            f"{path}: no {SUFFIX} file of logged rows (`serve --log-rows SHARE --log-rows-to DIR` writes them)"
        )
    rows = []
    for file in files:
        with file.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    rows.append(json.loads(line)["inputs"])
                except (ValueError, KeyError, TypeError):
                    raise DataError(
                        f"{file}, line {number}: not a logged row (a JSON object with `inputs`); "
                        "remove the line or give the folder of `serve --log-rows-to`"
                    ) from None
    if not rows:
        raise DataError(f"{path}: holds no logged row")
    return pd.DataFrame.from_records(rows)
