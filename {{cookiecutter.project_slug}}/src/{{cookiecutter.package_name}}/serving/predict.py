"""``predict``: score a raw table (CSV or Parquet) of any size into a new file, chunk by chunk.

The input is the raw table, as the service takes a row: the model's features are found by
name (other columns are kept and come back unchanged, in their place), categorical columns
hold text (read as text, so codes like ``007`` keep their zeros), boolean ones true/false
(also yes/no, 1/0), and a cell may be empty where the data contract allows it
(``models/serving.json`` records which). The output is the input plus ``prediction`` (and
``probability_<label>`` per class for classification), as CSV, or as Parquet when the
output's name ends in ``.parquet``.

Memory does not grow with the table: it is read :data:`CHUNK_ROWS` rows at a time, each
chunk scored and appended to a temporary file beside the output, which replaces the output
only when every row was scored; reading, scoring and writing overlap on threads. From CSV to
CSV, the rows of a comma-separated file without quotes are copied to the output byte for byte,
the answers appended: cells come back exactly as written (``1.50`` stays ``1.50``), and the
numbers are not formatted again (which took half the time of scoring a large table). The output
file gets the usual permissions (the umask's), like any file the user writes. The model is
the one ``models/serving.json`` names: ONNX (its file's SHA-256 checked against the record,
as the service does) or scikit-learn.

Bad cells (text in a numeric column, an infinite number, a boolean that is not one, an empty
cell the contract does not allow) stop the run with one :class:`DataError` that lists every
problem of the file: the column, how many rows, the first of them (numbered from 1 below the
header) and example values. Nothing is written then. Unknown categories are not problems:
they are scored like a rare category, as in the service.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Generator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd

from ..core import paths
from ..core.contract import FIRST_ROWS
from ..core.errors import DataError, rows
from ..pipeline.data import PARQUET_SUFFIXES, csv_dialect, model_input
from . import runtime

if TYPE_CHECKING:
    import pyarrow.parquet as pq

CHUNK_ROWS = 25_000  # rows read, scored and written at a time (3 chunks in flight: ~350 MB at 30 features)
# Copied rows are written a few thousand at a time: buffers of a few MB, which the allocator reuses,
# where one of a whole chunk would be fresh memory for every chunk (a page fault per 4 KiB).
WRITE_ROWS = 4_096
TEXT_TYPES = ("categorical", "boolean")  # feature types read from a CSV as text, as the data stage reads them


def predict_frame(model: Any, features: pd.DataFrame, task: str) -> pd.DataFrame:
    """A scikit-learn model's predictions (and class probabilities for classification) for rows prepared by
    ``data.model_input``."""
    if task == "classification":
        proba = model.predict_proba(features)
        columns = {"prediction": model.classes_[proba.argmax(axis=1)]}
        columns.update({f"probability_{label}": proba[:, i] for i, label in enumerate(model.classes_)})
        return pd.DataFrame(columns, index=features.index)
    return pd.DataFrame({"prediction": model.predict(features)}, index=features.index)


class _Problems:
    """Bad cells of a whole file, per column and kind: counted over every chunk, the first rows kept."""

    def __init__(self) -> None:
        self._found: dict[tuple[str, str], dict[str, Any]] = {}

    def add(self, column: str, kind: str, bad: pd.Series | np.ndarray, values: pd.Series, offset: int) -> None:
        count = int(bad.sum())
        if not count:
            return
        entry = self._found.setdefault((column, kind), {"count": 0, "rows": [], "examples": []})
        entry["count"] += count
        positions = np.flatnonzero(np.asarray(bad))
        entry["rows"] += [offset + int(i) + 1 for i in positions[: FIRST_ROWS - len(entry["rows"])]]
        for value in values.iloc[positions[:50]].tolist():
            if value not in entry["examples"] and len(entry["examples"]) < 5:
                entry["examples"].append(value)

    def __bool__(self) -> bool:
        return bool(self._found)

    def lines(self) -> list[str]:
        lines = []
        for (column, kind), entry in self._found.items():
            where = ("row " if len(entry["rows"]) == 1 else "rows ") + ", ".join(str(n) for n in entry["rows"])
            count, shown = rows(entry["count"]), "[" + ", ".join(repr(value) for value in entry["examples"]) + "]"
            lines.append(
                {
                    "text": f"column {column!r} is numeric but {count} hold text {shown} (first at {where}); "
                    "fix the cells: the model needs numbers there",
                    "infinite": f"column {column!r} has {count} infinite (first at {where}); use finite numbers",
                    "boolean": f"column {column!r} is boolean but {count} hold other values {shown} "
                    f"(first at {where}); use true/false, yes/no or 1/0",
                    "empty": f"column {column!r} has {count} empty (first at {where}); the data contract allows "
                    "no empty cell in it: fill them",
                }[kind]
            )
        return lines


def _present(values: pd.Series) -> pd.Series:
    """Cells that hold something: neither missing nor blank text."""
    present = values.notna()
    if values.dtype == object:
        present &= ~values.map(lambda value: isinstance(value, str) and not value.strip())
    return present


def prepare(frame: pd.DataFrame, features: runtime.Features, problems: _Problems, offset: int = 0) -> pd.DataFrame:
    """The features of a chunk as the model takes them (``data.model_input``); every bad cell goes to ``problems``.

    Numeric features that pandas read as numbers (no cell holds text) are their own cells: they are
    taken and checked as one matrix, not column by column. On 30 such features, 10 ms a chunk of
    25,000 rows instead of 42, and 8 % less CPU for the whole of ``predict`` on a large table.
    """
    parsed = [name for name, kind in features.types.items() if kind == "numeric" and frame[name].dtype.kind in "fiu"]
    column = {name: j for j, name in enumerate(parsed)}
    # Column by column into one matrix in column order, which becomes the frame's block as it is (no copy).
    numbers = np.empty((len(frame), len(parsed)), dtype=np.float64, order="F")
    for j, name in enumerate(parsed):
        numbers[:, j] = frame[name].to_numpy(np.float64, na_value=np.nan)
    prepared = pd.DataFrame(numbers, columns=parsed, index=frame.index, copy=False)
    if rest := {name: kind for name, kind in features.types.items() if name not in column}:
        prepared = pd.concat([prepared, model_input(frame, rest)], axis=1)[features.names]
    infinite_cells, empty_cells = np.isinf(numbers), np.isnan(numbers)
    for name, kind in features.types.items():
        if name in column:  # no text to look for; the same problems, in the same order, as below
            j = column[name]
            if infinite_cells[:, j].any():
                problems.add(name, "infinite", infinite_cells[:, j], frame[name], offset)
            if not features.nullable[name] and empty_cells[:, j].any():
                problems.add(name, "empty", empty_cells[:, j], frame[name], offset)
            continue
        raw, cells = frame[name], prepared[name]
        bad = pd.Series(False, index=frame.index)
        if kind == "numeric":
            bad = cells.isna() & _present(raw)
            problems.add(name, "text", bad, raw, offset)
            infinite = pd.Series(np.isinf(cells.to_numpy()), index=frame.index)
            problems.add(name, "infinite", infinite, raw, offset)
        elif kind == "boolean" and cells.dtype == object:
            bad = cells.map(lambda value: not isinstance(value, float))
            problems.add(name, "boolean", bad, raw, offset)
        if not features.nullable[name]:
            problems.add(name, "empty", cells.isna() & ~bad, raw, offset)
    return prepared


def check_features(
    frame: pd.DataFrame,
    features: list[str],
    source: str,
    feature_types: dict[str, str] | None = None,
    nullable: dict[str, bool] | None = None,
) -> pd.DataFrame:
    """The feature columns of a whole frame, selected by name and prepared as the model takes them;
    DataError listing what is missing or bad (all numeric and never empty unless the types say otherwise)."""
    missing = [name for name in features if name not in frame.columns]
    if missing:
        raise DataError(f"{source}: missing feature columns {missing}; the model needs {features}")
    spec = runtime.Features(
        names=list(features),
        types=feature_types or dict.fromkeys(features, "numeric"),
        nullable=nullable or dict.fromkeys(features, False),
        categories={},
    )
    problems = _Problems()
    prepared = prepare(frame, spec, problems)
    if problems:
        _refuse(source, problems)
    return prepared


def _refuse(source: str, problems: _Problems) -> None:
    lines = problems.lines()
    raise DataError(f"{source}: {len(lines)} problems found:\n  - " + "\n  - ".join(lines))


class _Chunk(NamedTuple):
    """Rows of the table: as pandas reads them, and as written in the file when they can be copied."""

    frame: pd.DataFrame  # the numeric features typed, every other column as text
    text: bytes | None  # the rows' lines (no quotes: each row is one line), or None


def _chunks(path: Path, features: runtime.Features, chunk_rows: int) -> Generator[_Chunk, None, None]:
    """The table, about ``chunk_rows`` rows at a time, its column names as text. From a CSV, every column but
    the numeric features is read as text: codes keep their zeros, and the columns the model does not use
    come back as they were."""
    parquet = path.suffix.lower() in PARQUET_SUFFIXES
    try:
        if parquet:
            import pyarrow.parquet as pq

            with pq.ParquetFile(path) as table:
                for batch in table.iter_batches(batch_size=chunk_rows):
                    yield _Chunk(batch.to_pandas().rename(columns=str), None)
            return
        dialect = csv_dialect(path)  # the separator and decimal mark, as the data stage reads them
        header = pd.read_csv(path, nrows=0, **dialect).columns
        numeric = {name for name, kind in features.types.items() if kind not in TEXT_TYPES}
        options = {"dtype": {name: str for name in header if name not in numeric}, **dialect}
        with path.open("rb") as handle:
            rest: Any = handle
            if dialect == {"sep": ",", "decimal": "."}:
                rest = yield from _lines(handle, list(header), options, chunk_rows)
            if rest is not None:
                with pd.read_csv(rest, chunksize=chunk_rows, **options) as reader:
                    yield from (_Chunk(chunk.rename(columns=str), None) for chunk in reader)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError, OSError) as exc:
        kind = "Parquet" if parquet else "CSV"
        raise DataError(f"{path}: not a readable {kind} file: {exc}".rstrip()) from None


def _lines(handle: Any, names: list[str], options: dict[str, Any], chunk_rows: int) -> Generator[_Chunk, None, Any]:
    """The chunks of a comma-separated file read as lines, each parsed by pandas and kept as bytes.

    The first chunk is ``chunk_rows`` lines, the next ones as many bytes as it held. A quote (a cell may
    span lines) or a carriage return that ends no line stops this reading: the generator returns the rest
    of the file, its header first, for pandas to read whole; None at the end.
    """
    header = handle.readline()
    if _not_lines(header):
        handle.seek(0)
        return handle
    size = 0
    while True:
        start = handle.tell()
        text = handle.read(size) + handle.readline() if size else b"".join(islice(handle, chunk_rows))
        size = size or len(text)
        if not text:
            return None
        if _not_lines(text):
            handle.seek(start)
            return io.BufferedReader(_Rejoined(header, handle))
        frame = pd.read_csv(io.BytesIO(text), header=None, names=names, **options).rename(columns=str)
        if len(frame):  # not only blank lines
            yield _Chunk(frame, text)


def _not_lines(text: bytes) -> bool:
    """Whether ``text`` may hold a row that is not one line: a quote, or a carriage return without a line feed."""
    return b'"' in text or (b"\r" in text and text.count(b"\r") != text.count(b"\r\n"))


class _Rejoined(io.RawIOBase):
    """A file's header line, then the file from where it stands."""

    def __init__(self, header: bytes, handle: Any) -> None:
        self._header, self._handle = header, handle

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if not self._header:
            return self._handle.readinto(buffer)
        count = min(len(buffer), len(self._header))
        buffer[:count], self._header = self._header[:count], self._header[count:]
        return count


class _Writer:
    """Chunks and their answers appended to a file: CSV, or Parquet when the name ends in .parquet or .pq.

    CSV is written by pyarrow, which formats numbers in C++ (pandas' ``to_csv`` formats each
    number in Python and took four fifths of the time of scoring a large table); rows that can
    be copied (:class:`_Chunk`) are, with their answers appended.
    """

    def __init__(self, handle: Any, parquet: bool) -> None:
        self.handle, self.parquet = handle, parquet
        self._parquet_writer: pq.ParquetWriter | None = None  # made with the first chunk's column types

    def write(self, rows: _Chunk, answers: pd.DataFrame) -> None:
        import pyarrow as pa

        if self.parquet:
            self._write_parquet(pd.concat([rows.frame, answers], axis=1))
            return
        import pyarrow.csv as pa_csv

        if self.handle.tell() == 0:  # the header as pandas writes it: names quoted only where they must be
            header = io.StringIO()
            csv.writer(header, lineterminator="\n").writerow([*rows.frame.columns, *answers.columns])
            self.handle.write(header.getvalue().encode())
        options = pa_csv.WriteOptions(include_header=False, quoting_style="needed")
        if rows.text is not None and self._copy(rows.text, rows.frame, answers, options):
            return
        table = pa.Table.from_pandas(pd.concat([rows.frame, answers], axis=1), preserve_index=False)
        pa_csv.write_csv(table, self.handle, options)

    def _copy(self, text: bytes, frame: pd.DataFrame, answers: pd.DataFrame, options: Any) -> bool:
        """Write each row's line with its answers appended; False when lines and rows do not match."""
        import pyarrow as pa
        import pyarrow.csv as pa_csv

        lines = (text.replace(b"\r\n", b"\n") if b"\r" in text else text).split(b"\n")
        if not lines[-1]:
            lines.pop()  # after the last line end
        if len(lines) != len(answers):
            lines = [line for line in lines if line.strip()]  # pandas skips blank lines
        written = pa.BufferOutputStream()
        pa_csv.write_csv(pa.Table.from_pandas(answers, preserve_index=False), written, options)
        appended = written.getvalue().to_pybytes().splitlines(keepends=True)
        if not (len(lines) == len(appended) == len(answers) and isinstance(frame.index, pd.RangeIndex)):
            return False  # a row of extra cells (pandas made it an index), or an answer with a line break
        for start in range(0, len(lines), WRITE_ROWS):  # line, comma, answers and line end, joined in one pass
            stop = start + WRITE_ROWS
            pieces = [b","] * (3 * len(lines[start:stop]))
            pieces[0::3], pieces[2::3] = lines[start:stop], appended[start:stop]
            self.handle.write(b"".join(pieces))
        return True

    def _write_parquet(self, chunk: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self._parquet_writer is None:
            schema = pa.Schema.from_pandas(chunk, preserve_index=False)
            # Later chunks may hold empty cells where this one held whole numbers, or text where it held none.
            for i, field in enumerate(schema):
                if pa.types.is_integer(field.type):
                    schema = schema.set(i, field.with_type(pa.float64()))
                elif pa.types.is_null(field.type):
                    schema = schema.set(i, field.with_type(pa.string()))
            self._parquet_writer = pq.ParquetWriter(self.handle, schema.remove_metadata())
        writer = self._parquet_writer
        try:
            table = pa.Table.from_pandas(chunk, schema=writer.schema, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise DataError(f"a column changes type along the table ({exc}); write CSV output instead") from None
        writer.write_table(table)

    def close(self) -> None:
        if self._parquet_writer is not None:
            self._parquet_writer.close()


def _load(model_path: Path, metadata_path: Path) -> runtime.Predictor:
    """The verified model of the serving record beside ``model_path`` (``models/serving.json``, ``models/onnx/``)."""
    folder = model_path.parent
    serving_path = folder / paths.SERVING_PATH.name
    onnx_path = folder / paths.ONNX_PATH.relative_to(paths.SERVING_PATH.parent)
    return runtime.load(metadata_path, serving_path, model_path, onnx_path)


def run(
    input_path: Path,
    output_path: Path,
    model_path: Path = paths.MODEL_PATH,
    metadata_path: Path = paths.METADATA_PATH,
    chunk_rows: int = CHUNK_ROWS,
) -> int:
    """Score ``input_path`` into ``output_path``; return the number of rows written.

    The input is never overwritten, and the output appears whole or not at all.
    """
    if output_path.resolve() == input_path.resolve():
        raise DataError(f"{output_path}: the output would overwrite the input; choose another file")
    if not input_path.is_file():
        raise DataError(f"{input_path}: file not found")
    predictor = _load(model_path, metadata_path)
    output_path.parent.mkdir(parents=True, exist_ok=True)
    # Created by name ("x": never an existing file), not with mkstemp: the output gets the usual
    # permissions (the umask's), not 0600.
    temporary = output_path.with_name(f".{output_path.name}.{uuid.uuid4().hex[:12]}.tmp")
    parquet = output_path.suffix.lower() in PARQUET_SUFFIXES
    try:
        with temporary.open("xb") as handle:
            writer = _Writer(handle, parquet)
            try:
                count = _score(input_path, predictor, writer, chunk_rows)
            finally:
                writer.close()
        temporary.replace(output_path)
    finally:
        temporary.unlink(missing_ok=True)
    return count


def _score(input_path: Path, predictor: runtime.Predictor, writer: _Writer, chunk_rows: int) -> int:
    """Read, check and score chunk by chunk; after the first bad cell, only check (to report all of them).

    While a chunk is scored, the next one is read and the last one written, each on a thread of
    its own (pandas' CSV parser, onnxruntime and pyarrow's writer release the GIL, so the three
    overlap on two cores). One chunk at most waits on either side: memory does not grow with the table.
    """
    features, problems, count = predictor.features, _Problems(), 0
    # Exited in reverse: both threads finish their chunk before the file is closed (on an error too).
    with (
        closing(_chunks(input_path, features, chunk_rows)) as chunks,
        ThreadPoolExecutor(max_workers=1) as reader,
        ThreadPoolExecutor(max_workers=1) as writer_thread,
    ):
        upcoming, written = reader.submit(next, chunks, None), None
        while (chunk := upcoming.result()) is not None:
            upcoming = reader.submit(next, chunks, None)
            missing = [name for name in features.names if name not in chunk.frame.columns]
            if missing:
                raise DataError(f"{input_path}: missing feature columns {missing}; the model needs {features.names}")
            prepared = prepare(chunk.frame, features, problems, offset=count)
            if not problems:
                answers = predictor.table(predictor.predict_frame(prepared), chunk.frame.index)
                if written is not None:
                    written.result()  # in order, and an error in writing stops the run here
                written = writer_thread.submit(writer.write, chunk, answers)
            count += len(chunk.frame)
        if written is not None:
            written.result()
    if problems:
        _refuse(str(input_path), problems)
    if count == 0:
        raise DataError(f"{input_path}: has a header but no rows")
    return count
