"""Command line: one subcommand per DVC stage (``data``, ``train``, ``export``, ``evaluate``), plus
``adopt``, ``predict``, ``serve``, ``benchmark``, ``report``, ``gate``, ``monitor``, ``add-labelled``,
``search`` and ``leaderboard``.

``dvc.yaml`` runs these same commands, so ``dvc repro`` and running a stage by hand do the
same thing. Problems the user can fix print one ``error:`` line and exit with status 2.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from . import __version__
from .core import paths
from .core.errors import ProjectError

if TYPE_CHECKING:
    from collections.abc import Callable

    from .core.params import Params
    from .serving.row_log import RowLogSettings

    Handler = Callable[[argparse.Namespace], int | None]  # what a command runs; its exit status, or None for 0


def _params(args: argparse.Namespace) -> Params:
    """The validated params.yaml of the command (--params). core.params loads pydantic: imported here, by the
    commands that read params.yaml, so that --help and the other commands start without it."""
    from .core.params import load_params

    return load_params(args.params)


def _adopt(args: argparse.Namespace) -> None:
    from .pipeline import adopt

    adopt.run(args.path, args.target, params_path=args.params, force=args.force)


def _data(args: argparse.Namespace) -> None:
    from .pipeline import data

    schema = data.run(_params(args))
    print(f"data: {schema.rows} rows from {schema.data_source} -> {schema.train_rows} train, {schema.test_rows} test")


def _train(args: argparse.Namespace) -> None:
    from .pipeline import train

    digest = train.run(_params(args))
    print(f"train: wrote {paths.MODEL_PATH} (sha256 {digest[:12]})")


def _export(args: argparse.Namespace) -> None:
    from .pipeline import export

    params = _params(args)
    record = export.run(params)
    if record.runtime == "onnx":
        print(f"export: wrote {paths.ONNX_PATH} (sha256 {str(record.onnx_sha256)[:12]}); parity {record.parity}")
    else:
        print(f"export: scikit-learn will serve the model; ONNX conversion failed: {record.fallback_reason}")


Number = TypeVar("Number", bound=float)  # int or float


def _positive(kind: type[Number], value: str, where: str) -> Number:
    """A positive number from the command line or the environment; the error names where it came from."""
    try:
        number = kind(value)
    except ValueError:
        number = kind(0)
    if number <= 0 or not math.isfinite(number):
        noun = "a whole number above 0" if kind is int else "a number of seconds above 0"
        raise ProjectError(f"{where} is {value!r}: it must be {noun}")
    return number


def _serve(args: argparse.Namespace) -> None:
    from .serving import service
    from .serving.settings import (
        DEFAULT_KEEP_ALIVE_TIMEOUT,
        DEFAULT_MAX_CONNECTIONS,
        DEFAULT_REQUEST_TIMEOUT,
        Settings,
    )

    def setting(option: str, variable: str, kind: type[Number], default: Number) -> Number:
        # The option, else the environment (how the image's CMD is configured), else the default.
        value = getattr(args, option.removeprefix("--").replace("-", "_"))
        if value is not None:
            return _positive(kind, value, option)
        if os.environ.get(variable, "").strip():
            return _positive(kind, os.environ[variable].strip(), f"${variable}")
        return default

    settings = Settings(
        max_rows=args.max_rows,
        max_body_bytes=args.max_body_bytes,
        request_timeout=setting("--request-timeout", "SERVE_REQUEST_TIMEOUT", float, DEFAULT_REQUEST_TIMEOUT),
        keep_alive_timeout=setting(
            "--keep-alive-timeout", "SERVE_KEEP_ALIVE_TIMEOUT", float, DEFAULT_KEEP_ALIVE_TIMEOUT
        ),
        max_connections=setting("--max-connections", "SERVE_MAX_CONNECTIONS", int, DEFAULT_MAX_CONNECTIONS),
        row_log=_row_log_settings(args),
    )
    service.serve(args.host, args.port, settings, log_level=args.log_level)


def _row_log_settings(args: argparse.Namespace) -> RowLogSettings:
    """The sampled log's settings: each option, else its SERVE_LOG_ROWS* variable, else off."""
    from .serving import row_log

    share = 0.0
    if args.log_rows is not None:
        share = row_log.share(args.log_rows, "--log-rows")
    elif os.environ.get("SERVE_LOG_ROWS", "").strip():
        share = row_log.share(os.environ["SERVE_LOG_ROWS"].strip(), "$SERVE_LOG_ROWS")
    destination = args.log_rows_to or os.environ.get("SERVE_LOG_ROWS_TO", "").strip() or row_log.STDOUT
    exclude = args.log_rows_exclude
    if exclude is None:
        exclude = row_log.excluded(os.environ.get("SERVE_LOG_ROWS_EXCLUDE", ""))
    return row_log.RowLogSettings(share=share, destination=destination, exclude=tuple(exclude))


def _benchmark(args: argparse.Namespace) -> None:
    from .serving import benchmark

    benchmark.run(duration=args.duration, connections=args.connections)


def _evaluate(args: argparse.Namespace) -> None:
    from .pipeline import evaluate

    scores = evaluate.run(_params(args))
    print("evaluate: " + ", ".join(f"{name}={value:.4f}" for name, value in scores.items()))


def _predict(args: argparse.Namespace) -> None:
    from .serving import predict

    rows = predict.run(args.input, args.output, args.model, args.metadata)
    print(f"predict: wrote {rows} rows to {args.output}")


def _monitor(args: argparse.Namespace) -> int:
    from .monitoring import monitor

    output = args.output or paths.MONITOR_DIR
    result = monitor.run(args.batch, _params(args), output_dir=output)
    verdict = f"{len(result.findings)} findings" if result.alert else "nothing crossed a threshold"
    print(f"monitor: {verdict}; wrote {output}/summary.md, monitor.json and monitor.html")
    for finding in result.findings:
        print(f"  - {finding}")
    return 1 if result.alert else 0


def _add_labelled(args: argparse.Namespace) -> None:
    from .pipeline import labelled

    added = labelled.run(args.batches, _params(args), dry_run=args.dry_run)
    # key=value lines: a workflow step appends them to $GITHUB_OUTPUT as they are.
    print(f"labelled_rows={added.labelled_rows}")
    print(f"new_rows={added.new_rows}")
    print(f"file={added.path or ''}")


def _search(args: argparse.Namespace) -> int:
    from .search import session, trials
    from .search.experiments import Record

    def show(record: Record) -> None:
        scores = record.cv.get(record.metric)
        score = f"{scores['mean']:.4f} ± {scores['std']:.4f}" if scores else record.error
        print(
            f"search: {record.experiment} {record.model['type']} {record.metric} {score} ({record.state})", flush=True
        )

    shard = trials.Shard.parse(args.shard) if args.shard else trials.Shard()
    name = args.name or "search-" + time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    params = _params(args)
    outcome = session.run(params, name, args.trials, args.workers, shard, show=show)
    if len(outcome.records) < outcome.planned:
        minutes = trials.searched(params).timeout_minutes
        print(
            f"search: the time budget (search.timeout_minutes: {minutes:g}) ended it after "
            f"{len(outcome.records)} of {outcome.planned} trials; raise it in params.yaml for more"
        )
    best = outcome.best()
    if best is None:
        print(f"search: no trial of {outcome.search} completed; see the errors above", file=sys.stderr)
        return 1
    scores = best.cv[best.metric]
    print(
        f"search: {len(outcome.records)} trials recorded as experiments ({outcome.where}); best "
        f"{best.experiment}: {best.metric} {scores['mean']:.4f} ± {scores['std']:.4f}. "
        f"`dvc exp show` lists them; `{{ cookiecutter.package_name }} leaderboard --apply` takes the best"
    )
    return 0


def _leaderboard(args: argparse.Namespace) -> None:
    from .search import leaderboard

    board = leaderboard.load(args.search)
    written = leaderboard.write(board, args.output, args.top)
    print(leaderboard.markdown(board, args.top), end="")
    print(f"leaderboard: wrote {', '.join(str(path) for path in written)}")
    if args.apply:
        best = leaderboard.apply(board, run=args.run_url)
        print(f"leaderboard: wrote {best.experiment}'s model section into {paths.PARAMS_PATH}; `dvc repro` trains it")


def _report(args: argparse.Namespace) -> None:
    from .review import report

    verdict = report.write(args.base, args.head, args.output, latency=not args.no_latency)
    print(f"report: wrote {args.output}; {verdict.summary()}")


def _gate(args: argparse.Namespace) -> int:
    from .review.gate import Side, judge

    verdict = judge(Side.load(args.base), Side.load(args.head))
    print(f"gate: {verdict.summary()}")
    return 0 if verdict.passed else 1


def _card(args: argparse.Namespace) -> None:
    from .review import model_card

    model_card.write(args.output, _params(args), args.version, args.pull_request, args.image)
    print(f"card: wrote {args.output}")


def _reviewed(args: argparse.Namespace) -> None:
    from .review import provenance

    found = provenance.check(args.commit, None if args.before_build else args.metadata)
    print(f"reviewed: {found.note}", file=sys.stderr)
    print(f"pull-request={found.pull_request}")  # KEY=VALUE lines, for $GITHUB_OUTPUT
    print(f"report-run={found.report_run}")
    print(f"reviewed-sha256={found.reviewed_sha256}")


def _record_review(args: argparse.Namespace) -> None:
    from .review import provenance

    written = provenance.record(args.pull_request, args.head_commit, args.metadata)
    written.write(args.output)
    print(f"record-review: wrote {args.output} (#{written.pull_request}, model {written.model_sha256[:12]})")


def _smoke_cases(args: argparse.Namespace) -> None:
    from .serving import smoke

    recorded = smoke.cases(args.rows, args.output)
    print(f"smoke-cases: wrote {len(recorded['rows'])} rows and their offline predictions to {args.output}")


def _smoke(args: argparse.Namespace) -> int:
    from .serving import smoke

    timeout = [] if args.timeout is None else ["--timeout", str(args.timeout)]
    return smoke.main([args.url, "--cases", str(args.cases), *timeout])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="{{ cookiecutter.package_name }}",
        description="Train, evaluate and use the model. "
        "The stages are the DVC pipeline's: `dvc repro` runs them in order, each only when its inputs changed.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def stage(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        command = commands.add_parser(name, help=help_text, description=help_text)
        command.add_argument(
            "--params", type=Path, default=paths.PARAMS_PATH, help="settings file (default: %(default)s)"
        )
        command.set_defaults(handler=handler)
        return command

    adopt = stage(
        "adopt",
        _adopt,
        "Make a CSV or Parquet file the project's data: copy it to data/raw/ and `dvc add` it, describe its columns "
        "in data-contract.yaml, set params.yaml's data section and quality bounds from a measured baseline.",
    )
    adopt.add_argument(
        "path", help="the table: a CSV or Parquet file, or sklearn:NAME for a sample table (e.g. sklearn:wine)"
    )
    adopt.add_argument("--target", help="the column to predict (a sample table's is `target`)")
    adopt.add_argument("--force", action="store_true", help="replace a different file of the same name in data/raw/")
    stage("data", _data, "Load and validate the raw data; write the train/test split to data/processed/.")
    stage("train", _train, "Fit the pipeline on the training split; write models/model.skops.")
    stage("export", _export, "Convert the model to ONNX, check it against scikit-learn; write models/serving.json.")
    stage("evaluate", _evaluate, "Score the model on the test split; write reports/ and models/metadata.json.")

    predict = commands.add_parser("predict", help="Score a raw CSV or Parquet table, of any size, into a new file.")
    predict.add_argument("input", type=Path, help="CSV or Parquet with the model's features (other columns are kept)")
    predict.add_argument("output", type=Path, help="CSV (or .parquet) to write: the input plus prediction columns")
    predict.add_argument("--model", type=Path, default=paths.MODEL_PATH, help="default: %(default)s")
    predict.add_argument("--metadata", type=Path, default=paths.METADATA_PATH, help="default: %(default)s")
    predict.set_defaults(handler=_predict)

    monitor = stage(
        "monitor",
        _monitor,
        "Compare a batch of production rows with the training data: drift of each feature and of the "
        "predictions, the data contract, and quality where the batch holds outcomes. Exit 1 when a "
        "threshold of params.yaml's monitoring section is crossed.",
    )
    monitor.add_argument(
        "batch",
        type=Path,
        help="CSV or Parquet of production rows (with the target column if known), or the service's sampled log "
        "of scored rows (a .jsonl file or its folder)",
    )
    monitor.add_argument("--output", type=Path, help="folder of the reports (default: reports/monitor/)")
    add_labelled = stage(
        "add-labelled",
        _add_labelled,
        "Add the production rows with known outcomes that the training data lacks to data/labelled/, as one "
        "new file (existing files are never changed); `dvc repro` then retrains on them.",
    )
    add_labelled.add_argument(
        "batches", type=Path, nargs="+", help="CSV or Parquet files of production rows, or folders of them"
    )
    add_labelled.add_argument("--dry-run", action="store_true", help="count the new rows, write nothing")

    from .serving.settings import (  # standard library only: --help stays instant
        DEFAULT_HOST,
        DEFAULT_KEEP_ALIVE_TIMEOUT,
        DEFAULT_MAX_BODY_BYTES,
        DEFAULT_MAX_CONNECTIONS,
        DEFAULT_MAX_ROWS,
        DEFAULT_PORT,
        DEFAULT_REQUEST_TIMEOUT,
    )

    serve = commands.add_parser("serve", help="Serve the verified model over HTTP (POST /predict; docs at /docs).")
    serve.add_argument("--host", default=DEFAULT_HOST, help="address to listen on (default: %(default)s)")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help="default: %(default)s")
    serve.add_argument("--max-rows", type=int, default=DEFAULT_MAX_ROWS, help="rows per request (default: %(default)s)")
    serve.add_argument(
        "--max-body-bytes", type=int, default=DEFAULT_MAX_BODY_BYTES, help="request body size (default: %(default)s)"
    )
    serve.add_argument(
        "--request-timeout",
        metavar="SECONDS",
        help="close a connection whose request (headers and body) has not arrived whole within this time, "
        f"with 408 (default: $SERVE_REQUEST_TIMEOUT or {DEFAULT_REQUEST_TIMEOUT:g})",
    )
    serve.add_argument(
        "--keep-alive-timeout",
        metavar="SECONDS",
        help=f"close a connection idle this long after a response (default: $SERVE_KEEP_ALIVE_TIMEOUT or "
        f"{DEFAULT_KEEP_ALIVE_TIMEOUT:g})",
    )
    serve.add_argument(
        "--max-connections",
        metavar="N",
        help=f"open connections; beyond them a request gets 503 at once (default: $SERVE_MAX_CONNECTIONS or "
        f"{DEFAULT_MAX_CONNECTIONS})",
    )
    serve.add_argument(
        "--log-rows",
        metavar="SHARE",
        help="log this share of the scored rows, 0 to 1, as JSON lines (inputs, output, model version, request id; "
        "default: $SERVE_LOG_ROWS or 0, off)",
    )
    serve.add_argument(
        "--log-rows-to",
        metavar="DEST",
        help="`stdout`, or a folder for one file per day (default: $SERVE_LOG_ROWS_TO or stdout)",
    )
    serve.add_argument(
        "--log-rows-exclude",
        metavar="FEATURE",
        action="append",
        help="a feature never to log, e.g. personal data; repeat for more "
        "(default: $SERVE_LOG_ROWS_EXCLUDE, comma-separated)",
    )
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    serve.set_defaults(handler=_serve)

    benchmark = commands.add_parser(
        "benchmark", help="Measure the service: requests/s and latency on loopback, next to in-process predict."
    )
    benchmark.add_argument("--duration", type=float, default=5.0, help="seconds per scenario (default: %(default)s)")
    benchmark.add_argument(
        "--connections", type=int, nargs="+", default=[1, 8], help="concurrent connections (default: 1 8)"
    )
    benchmark.set_defaults(handler=_benchmark)

    search = stage(
        "search",
        _search,
        "Try configurations of params.yaml's model section (its search section: space, metric, budget) by "
        "cross-validation on the training split; record each as a DVC experiment (`dvc exp show`). "
        "With $DASK_SCHEDULER_ADDRESS set, the fits run on that Dask cluster.",
    )
    search.add_argument("--name", help="the search's name, the experiments' prefix (default: search-<UTC time>)")
    search.add_argument("--trials", type=int, help="the budget (default: search.trials); with --shard, the total")
    search.add_argument("--workers", type=int, help="trials at once (default: search.workers; 0: one per core)")
    search.add_argument(
        "--shard", metavar="I/N", help="run shard I of N: its share of the budget, with a seed of its own"
    )
    board = commands.add_parser(
        "leaderboard",
        help="The trials of a search, best first, from its experiments: Markdown and a chart in "
        "reports/leaderboard/; --apply writes the best into params.yaml.",
    )
    board.add_argument("--search", help="the search's name (default: the newest on the current commit)")
    board.add_argument("--top", type=int, default=10, help="rows of the table (default: %(default)s)")
    board.add_argument("--output", type=Path, default=paths.LEADERBOARD_DIR, help="default: %(default)s")
    board.add_argument(
        "--apply", action="store_true", help="write the best trial's model type and hyperparameters into params.yaml"
    )
    board.add_argument(
        "--run-url", default="", help="with --apply: the search's run, for the pull request's Model report"
    )
    board.set_defaults(handler=_leaderboard)

    def comparison(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        command = commands.add_parser(name, help=help_text, description=help_text)
        command.add_argument("--base", type=Path, required=True, help="project folder of main, with pipeline outputs")
        command.add_argument("--head", type=Path, default=Path(), help="project folder of the change (default: here)")
        command.set_defaults(handler=handler)
        return command

    report = comparison("report", _report, "Write the pull-request report comparing head with base (Markdown).")
    report.add_argument("--output", type=Path, default=paths.PR_REPORT_PATH, help="default: %(default)s")
    report.add_argument("--no-latency", action="store_true", help="skip the single-row predict timing")
    comparison("gate", _gate, "Fail (exit 1) when head is worse than base beyond a tolerance or breaks a bound.")

    card = stage("card", _card, "Write the model card: facts from the pipeline outputs, notes from MODEL_CARD.md.")
    card.add_argument("--version", required=True, help="the release's model version, e.g. v1.4.0")
    card.add_argument("--pull-request", help="where the model was reviewed, e.g. #42 or its URL")
    card.add_argument("--image", help="the container image that serves it, e.g. ghcr.io/owner/repo@sha256:...")
    card.add_argument("--output", type=Path, default=paths.MODEL_CARD_REPORT_PATH, help="default: %(default)s")

    record = commands.add_parser(
        "record-review",
        help="Write the record of a passed Model report (the report job's last step, after the gate).",
    )
    record.add_argument("--pull-request", type=int, required=True, help="the pull request's number")
    record.add_argument("--head-commit", required=True, help="the pull request's head commit (full SHA)")
    record.add_argument("--metadata", type=Path, default=paths.METADATA_PATH, help="default: %(default)s")
    record.add_argument("--output", type=Path, default=paths.REVIEW_PATH, help="default: %(default)s")
    record.set_defaults(handler=_record_review)
    reviewed = commands.add_parser(
        "reviewed",
        help="Exit 2 unless a merged commit's model is the one a passed Model report run of its pull request "
        "recorded (read with the gh CLI).",
    )
    reviewed.add_argument("commit", help="the commit on main, e.g. $GITHUB_SHA")
    reviewed.add_argument("--metadata", type=Path, default=paths.METADATA_PATH, help="default: %(default)s")
    reviewed.add_argument(
        "--before-build", action="store_true", help="only find the passed review (no model needed yet): fail fast"
    )
    reviewed.set_defaults(handler=_reviewed)

    from .serving.smoke import ROWS  # standard library only: --help stays instant

    cases = commands.add_parser("smoke-cases", help="Record test rows and the model's offline predictions for them.")
    cases.add_argument("--rows", type=int, default=ROWS, help="default: %(default)s")
    cases.add_argument("--output", type=Path, default=paths.SMOKE_CASES_PATH, help="default: %(default)s")
    cases.set_defaults(handler=_smoke_cases)
    smoke = commands.add_parser("smoke", help="Check a deployed service answers the recorded rows as offline.")
    smoke.add_argument("url", help="the service's base URL, e.g. http://127.0.0.1:8000")
    smoke.add_argument("--cases", type=Path, default=paths.SMOKE_CASES_PATH, help="default: %(default)s")
    smoke.add_argument("--timeout", type=float, help="seconds to wait for /ready (default: $SMOKE_TIMEOUT or 120)")
    smoke.set_defaults(handler=_smoke)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        status = args.handler(args)
    except ProjectError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return status or 0
