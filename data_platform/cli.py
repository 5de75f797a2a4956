"""`lake`: the command line of the data lake, local twin first, cloud with `--cloud`.

Fast to start: pyspark and the etl package are imported only by commands that run jobs,
so `lake --help`, `lake validate`, `lake runs` and `lake schedules` answer at once.
Errors are one clear line on stderr and a non-zero exit; `--debug` shows the traceback.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer.core import TyperGroup

from data_platform.local import LakeError

if TYPE_CHECKING:
    from data_platform.config import StackConfig
    from data_platform.local.lake import Dispatch, LocalLake

REPO_ROOT = Path(__file__).resolve().parents[1]
EPILOG = ("Environment: LAKE_HOME (--home), LAKE_NOW (a fixed clock for tick/watch), LAKE_RETRY_SCALE "
          "(multiplies the runner's retry delays, e.g. 0.01), LAKE_FAULT (test only: kind:job:count, "
          "e.g. transient:sales_etl:1), LAKE_DRIVER_MEMORY (Spark driver heap, default 2g), LAKE_JIT "
          "(quick: the JVM's quick compiler only; upload sets it for inputs up to 32 MB), LAKE_SPARK_CDS "
          "(off, or the path of the JVM class archive). Every command takes --help.")



class GlobalOptionsAnywhere(TyperGroup):
    """A command group whose own options may also follow the subcommand.

    `lake validate --stack prod` and `lake -s prod validate` mean the same, as `pulumi preview
    -s dev` does: people put the stack where they think of it. Click gives a group only the
    options before the subcommand's name, so those after it are moved in front of the name
    before parsing - options of this group only, never one the subcommand itself declares,
    and nothing after `--`.
    """

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, self._hoisted(ctx, list(args)))

    def _hoisted(self, ctx: Any, args: list[str]) -> list[str]:
        takes_value = {name: not option.is_flag for option in self.params
                       for name in (*option.opts, *option.secondary_opts)}
        index = 0
        while index < len(args) and args[index].startswith("-") and args[index] != "--":
            index += 1 + (takes_value.get(args[index], False))
        if index >= len(args) or args[index] == "--":
            return args
        command = self.get_command(ctx, args[index])
        if command is None:
            return args
        own = {name for param in command.params for name in (*param.opts, *param.secondary_opts)}
        moved: list[str] = []
        rest = args[index + 1:]
        kept: list[str] = []
        position = 0
        while position < len(rest):
            token = rest[position]
            if token == "--":
                kept.extend(rest[position:])
                break
            name = token.split("=", 1)[0]
            if name in takes_value and name not in own:
                width = 2 if takes_value[name] and "=" not in token else 1
                moved.extend(rest[position:position + width])
                position += width
                continue
            kept.append(token)
            position += 1
        return [*args[:index], *moved, args[index], *kept]


app = typer.Typer(
    name="lake",
    cls=GlobalOptionsAnywhere,
    help=("The data lake on this machine (and in the cloud with --cloud).\n\n"
          "Global options (--stack/-s, --home, --project-dir, --region, --debug) go before or after "
          "the command: lake validate --stack prod, lake -s prod validate.\n\n"
          "Example: lake upload ./orders.csv sales/2024-06-01.csv"),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help: Typer's rich help shows every switch as taking a value (`--json <bool>`).
    rich_markup_mode=None,
    epilog=EPILOG,
)


def _console(stderr: bool = False) -> Console:
    # Pipes and CI logs get a wide console so tables do not wrap into unreadable columns.
    width = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 200
    # soft_wrap: a message is one line however long (the terminal wraps it; grep finds it).
    return Console(stderr=stderr, width=width, highlight=False, soft_wrap=True)


out = _console()
err = _console(stderr=True)


@dataclass
class Settings:
    stack: str = "dev"
    home: Path = Path(".lake")
    project_dir: Path | None = None
    region: str | None = None
    debug: bool = False


SETTINGS = Settings()


# ------------------------------------------------------------------------------------------
# Shared plumbing


def resolve_project_dir(explicit: Path | None, stack: str) -> Path:
    """--project-dir, else the cwd if it holds the stack file, else this repository's root."""
    if explicit is not None:
        return explicit
    cwd = Path.cwd()
    if (cwd / f"Pulumi.{stack}.yaml").is_file():
        return cwd
    if (REPO_ROOT / f"Pulumi.{stack}.yaml").is_file():
        return REPO_ROOT
    return cwd


def load() -> StackConfig:
    from data_platform.config import load_stack

    stack = load_stack(SETTINGS.stack, resolve_project_dir(SETTINGS.project_dir, SETTINGS.stack))
    for problem in stack.warnings:
        warn(f"{problem.path}: {problem.message}")
    return stack


class Reporter:
    """A spinner on a terminal; plain progress lines on stderr otherwise (CI logs, tests)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._status: Any = None

    @contextmanager
    def working(self, message: str) -> Iterator[Reporter]:
        if self.console.is_terminal:
            with self.console.status(message) as status:
                self._status = status
                try:
                    yield self
                finally:
                    self._status = None
        else:
            self.console.print(message, markup=False)
            yield self

    def update(self, message: str) -> None:
        if self._status is not None:
            self._status.update(message)
            self.console.print(f"  {message}", markup=False, style="dim")
        else:
            self.console.print(f"  {message}", markup=False)


def open_lake(reporter: Reporter | None = None, **kwargs: Any) -> LocalLake:
    from data_platform.local.lake import LocalLake

    stack = load()
    progress = reporter.update if reporter else None
    return LocalLake(stack, SETTINGS.home, progress=progress, **kwargs)


def parse_time(text: str, option: str) -> datetime:
    from data_platform.local.history import parse_iso

    try:
        return parse_iso(text)
    except ValueError as error:
        raise LakeError(f"{option}: {error}", exit_code=2) from None


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=True, default=str, ensure_ascii=False))


def _rel(path: str | None, home: Path) -> str:
    if not path:
        return ""
    text = path.removeprefix("file:")
    try:
        return Path(text).resolve().relative_to(home.resolve()).as_posix()
    except ValueError:
        return text


def _outputs(outputs: Sequence[str]) -> str:
    """What a run committed, one table snapshot a line: 'data_lake_dev.sales@6421...'."""
    return "\n".join(outputs or [])


def _num(value: Any) -> str:
    return "" if value is None else str(value)


STATE_STYLE = {"SUCCEEDED": "green", "FAILED": "red", "NO_INPUT": "yellow", "RUNNING": "cyan", "WAITING": "cyan"}


def _run_details(runs: Sequence[dict[str, Any]], home: Path | None) -> list[str]:
    """Each run's quarantine path and error on a line of its own (markup): long paths and
    messages folded into a table cell are unreadable and cannot be grepped."""
    details: list[str] = []
    for run in runs:
        if run.get("quarantine_path"):
            where = _rel(run["quarantine_path"], home) if home else run["quarantine_path"]
            details.append(f"{run['run_id']}  quarantine: {escape(where)}")
        if run.get("error"):
            details.append(f"{run['run_id']}  [red]error[/]: {escape(run['error'])}")
    return details


def _print_with_details(table: Table, details: Sequence[str], console: Console | None = None) -> None:
    console = console or out
    console.print(table)
    if details:
        console.print()
    for line in details:
        console.print(line, soft_wrap=True)  # the terminal wraps it; no line breaks are inserted


def print_run_results(runs: Sequence[dict[str, Any]], home: Path, title: str = "Runs") -> None:
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    for column, justify in (("run_id", "left"), ("job", "left"), ("trigger", "left"), ("state", "left"),
                            ("attempts", "right"), ("read", "right"), ("written", "right"),
                            ("quarantined", "right"), ("outputs", "left")):
        table.add_column(column, justify=justify, overflow="fold", no_wrap=column in ("run_id", "state"))
    for run in runs:
        state = run["state"]
        table.add_row(run["run_id"], run["job"], f"{run.get('trigger_source', '')}:{run.get('trigger_name', '')}",
                      f"[{STATE_STYLE.get(state, 'white')}]{state}[/]", _num(run.get("attempts")),
                      _num(run.get("rows_read")), _num(run.get("rows_written")), _num(run.get("rows_quarantined")),
                      escape(_outputs(run.get("outputs") or [])))
    _print_with_details(table, _run_details(runs, home))


HISTORY_FIELDS = ("run_id", "job", "trigger_source", "source_key", "state", "started_at", "ended_at", "rows_read",
                  "rows_written", "rows_quarantined", "quarantine_path", "error", "attempts")
_HISTORY_COLUMNS = (("run_id", "run_id"), ("job", "job"), ("trigger_source", "trigger"), ("source_key", "source_key"),
                    ("state", "state"), ("attempts", "tries"), ("rows_read", "read"), ("rows_written", "written"),
                    ("rows_quarantined", "quar."), ("started_at", "started (UTC)"), ("ended_at", "ended (UTC)"))


def print_history(runs: Sequence[dict[str, Any]], title: str, home: Path | None = None,
                  console: Console | None = None) -> None:
    """Every history field: a table of the short ones, then each run's quarantine path and
    error on lines of their own. `--json` has every field as data."""
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for field, header in _HISTORY_COLUMNS:
        numeric = field.startswith("rows_") or field == "attempts"
        table.add_column(header, justify="right" if numeric else "left", overflow="fold",
                         no_wrap=numeric or field in ("run_id", "state"), min_width=16 if field == "source_key" else None)
    for run in runs:
        cells = []
        for field, _header in _HISTORY_COLUMNS:
            value = _num(run.get(field))
            if field == "state":
                value = f"[{STATE_STYLE.get(value, 'white')}]{value}[/]"
            elif field.endswith("_at"):
                value = value.replace("T", " ").removesuffix("Z")
            else:
                value = escape(value)
            cells.append(value)
        table.add_row(*cells)
    _print_with_details(table, _run_details(runs, home), console)


def report_dispatch(dispatch: Dispatch, bucket: str, *, size: int | None = None) -> None:
    line = f"[bold]{escape(f's3://{bucket}/{dispatch.key}')}[/]"
    if size is not None:
        line += f" ({size:,} bytes, {'replaced the previous version' if dispatch.replaced else 'new'})"
    out.print(line)
    for match in dispatch.matched:
        out.print(f"  matched rule [cyan]{match.rule}[/] -> job [cyan]{match.job}[/]")
    if dispatch.no_match is not None:
        warn(dispatch.no_match.message(dispatch.key))


def warn(message: str) -> None:
    err.print(f"[yellow]warning[/]: {escape(message)}")


def dispatch_json(dispatch: Dispatch, bucket: str) -> dict[str, Any]:
    return {
        "bucket": bucket,
        "key": dispatch.key,
        "replaced": dispatch.replaced,
        "event_id": dispatch.event["id"],
        "matched": [{"rule": m.rule, "job": m.job} for m in dispatch.matched],
        "no_match": None if dispatch.no_match is None else {"nearest_rule": dispatch.no_match.nearest_rule,
                                                            "reason": dispatch.no_match.reason},
        "runs": dispatch.runs,
    }


# ------------------------------------------------------------------------------------------
# Global options


LOG_DIR = ".logs"  # in the lake home; '.'-names are never bucket keys (see validate_key)


class _LogFile(logging.FileHandler):
    """A log file created on the first record (commands that log nothing leave no file)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, encoding="utf-8", delay=True)

    def _open(self):  # noqa: ANN202 - logging's signature
        Path(self.baseFilename).parent.mkdir(parents=True, exist_ok=True)
        return super()._open()


@app.callback()
def _global(
    stack: Annotated[str, typer.Option("--stack", "-s", help="Stack whose Pulumi.<stack>.yaml to use.")] = "dev",
    home: Annotated[Path, typer.Option("--home", envvar="LAKE_HOME",
                                       help="Lake home: one folder per bucket, plus the run history.")] = Path(".lake"),
    project_dir: Annotated[Optional[Path], typer.Option(  # noqa: UP007 - typer needs Optional here
        "--project-dir", help="Folder holding Pulumi.<stack>.yaml (default: cwd, else this repository).")] = None,
    region: Annotated[Optional[str], typer.Option(  # noqa: UP007
        "--region", help="AWS region for --cloud (default: the stack's aws:region, else the AWS environment).")] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks and job logs.")] = False,
) -> None:
    """The data lake on this machine (and in the cloud with --cloud).

    Example: lake --home ./.lake upload ./orders.csv sales/2024-06-01.csv
    """
    SETTINGS.stack, SETTINGS.home, SETTINGS.project_dir = stack, home.expanduser().resolve(), project_dir
    SETTINGS.region, SETTINGS.debug = region, debug
    if debug:
        logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                            format="%(asctime)s %(levelname)s %(name)s %(message)s")
    else:
        # Job logs, tracebacks of internal errors and Spark's (Java) logs go to files in the
        # lake home, not to the terminal: the user sees one line per failure.
        log_dir = SETTINGS.home / LOG_DIR
        logging.basicConfig(level=logging.INFO, handlers=[_LogFile(log_dir / "lake.log")],
                            format="%(asctime)s %(process)d %(levelname)s %(name)s %(message)s")
        os.environ.setdefault("LAKE_LOG_DIR", str(log_dir))


# ------------------------------------------------------------------------------------------
# upload / run / replay

# Up to this many bytes of input, `lake upload` runs its JVM with the quick compiler only
# (etl.session, LAKE_JIT=quick): a one-shot process on small files ends before the
# optimizing compiler pays off (10,000 rows: about 3 s sooner to silver).
QUICK_JIT_MAX_BYTES = 32 * 2**20


def _choose_jit(input_bytes: int) -> None:
    from etl.session import JIT_ENV

    if JIT_ENV not in os.environ and input_bytes <= QUICK_JIT_MAX_BYTES:
        os.environ[JIT_ENV] = "quick"


@app.command()
def upload(
    items: Annotated[list[str], typer.Argument(metavar="FILE KEY [FILE KEY ...]",
                                               help="Pairs of a local file and its bronze key (or s3://<bronze>/<key>).")],
    cloud: Annotated[bool, typer.Option("--cloud", help="Upload to the stack's real bronze bucket instead.")] = False,
    kms_key_id: Annotated[Optional[str], typer.Option(  # noqa: UP007
        "--kms-key-id", help="With --cloud: KMS key for SSE-KMS (default: the bucket's default key).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Put files into bronze and run what the stack's S3 rules start.

    Emits the S3 'Object Created' event, routes it through every enabled s3 rule with the
    deployed pattern, runs each matched job with the runner's arguments and retry policy,
    then routes the Glue state change (after-job rules). Exit 1 if any run failed; a file
    that matches no rule is kept and reported (exit 0).

    Example: lake upload ./orders.csv sales/2024-06-01.csv ./cat.json s3://data-lake-dev-bronze/products/cat.json
    """
    if len(items) % 2:
        raise LakeError("give FILE KEY pairs, e.g. lake upload ./orders.csv sales/2024-06-01.csv", exit_code=2)
    pairs = list(zip(items[::2], items[1::2], strict=True))
    if cloud:
        _upload_cloud(pairs, kms_key_id, as_json)
        return
    reporter = Reporter(err)
    lake = open_lake(reporter)
    try:
        keys = [lake.parse_target(target) for _file, target in pairs]  # refuse before storing anything
        for file, _target in pairs:
            if not Path(file).is_file():
                raise LakeError(f"{file}: no such file")
        _choose_jit(sum(Path(file).stat().st_size for file, _target in pairs))
        results = []
        with reporter.working("Uploading to local bronze and running matched jobs ..."):
            for (file, _target), key in zip(pairs, keys, strict=True):
                dispatch = lake.dispatch(lake.put_object(file, key))
                results.append(dispatch)
                if not as_json:
                    report_dispatch(dispatch, lake.bronze, size=Path(file).stat().st_size)
        runs = [run for dispatch in results for run in dispatch.runs]
        if as_json:
            print_json({"uploads": [dispatch_json(d, lake.bronze) for d in results], "runs": runs})
        elif runs:
            print_run_results(runs, lake.home)
        failed = [run for run in runs if run["state"] == "FAILED"]
        if failed:
            err.print(f"[red]error[/]: {len(failed)} run(s) failed: "
                      + ", ".join(f"{r['job']} ({r['run_id']})" for r in failed))
            raise typer.Exit(1)
    finally:
        lake.close()


def _upload_cloud(pairs: list[tuple[str, str]], kms_key_id: str | None, as_json: bool) -> None:
    from data_platform.local.cloud import Cloud

    cloud = Cloud(load(), SETTINGS.region)
    results = []
    for file, target in pairs:
        key, matches = cloud.upload(Path(file), target, kms_key_id=kms_key_id)
        results.append({"bucket": cloud.bronze, "key": key,
                        "will_start": [{"rule": m.rule, "job": m.job} for m in matches]})
        if not as_json:
            out.print(f"uploaded [bold]s3://{cloud.bronze}/{key}[/]")
            for match in matches:
                out.print(f"  EventBridge rule [cyan]{match.rule}[/] will start [cyan]{match.job}[/]")
            if not matches:
                warn(f"no s3 rule matches {key}; nothing will start")
    if as_json:
        print_json(results)


@app.command()
def run(
    job: Annotated[str, typer.Argument(help="Job name (a key of `jobs` in the stack).")],
    key: Annotated[Optional[str], typer.Option(  # noqa: UP007
        "--key", help="Process this bronze object; without it the job processes every pending object.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the runs as JSON.")] = False,
) -> None:
    """Start a job by hand (trigger_source manual), through the same runner.

    Example: lake run customer_import    |    lake run sales_etl --key sales/2024-06-01.csv
    """
    reporter = Reporter(err)
    lake = open_lake(reporter)
    try:
        lake.known_job(job)
        with reporter.working(f"Running {job} ..."):
            runs = lake.run_manual(job, key)
        _print_runs(runs, lake.home, as_json)
    finally:
        lake.close()


def _print_runs(runs: list[dict[str, Any]], home: Path, as_json: bool) -> None:
    if as_json:
        print_json(runs)
    else:
        print_run_results(runs, home)
    if any(r["state"] == "FAILED" for r in runs):
        raise typer.Exit(1)


@app.command()
def replay(
    prefix: Annotated[str, typer.Option("--prefix", help="Key prefix of the objects to replay, e.g. sales/.")],
    since: Annotated[Optional[str], typer.Option(  # noqa: UP007
        "--since", help="Only objects modified at or after this date/time (ISO, UTC if no zone).")] = None,
    cloud: Annotated[bool, typer.Option("--cloud", help="Start the deployed runners (Step Functions) instead.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would start; start nothing.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Re-emit 'Object Created' for objects already in bronze (safe: jobs are idempotent).

    Example: lake replay --prefix sales/ --since 2024-06-01
    """
    since_at = parse_time(since, "--since") if since else None
    if cloud:
        from data_platform.local.cloud import Cloud

        started = Cloud(load(), SETTINGS.region).replay(prefix, since_at, dry_run=dry_run)
        if as_json:
            print_json(started)
            return
        table = Table(title="Runner executions" + (" (dry run)" if dry_run else ""), title_justify="left")
        for column in ("key", "rule", "job", "execution"):
            table.add_column(column, overflow="fold")
        for item in started:
            table.add_row(item["key"], item["rule"], item["job"], item["execution_arn"] or item["state_machine"])
        out.print(table)
        if not started:
            warn(f"no object under '{prefix}' matched an s3 rule")
        return
    reporter = Reporter(err)
    lake = open_lake(reporter)
    try:
        if dry_run:
            objects = [o for o in lake.bronze_objects(prefix)
                       if since_at is None or o.mtime_ns >= since_at.timestamp() * 1e9]
            plan = [{"key": o.key, "matched": [{"rule": m.rule, "job": m.job}
                                               for m in lake.route(lake.object_created_event(o))]} for o in objects]
            if as_json:
                print_json(plan)
            for item in [] if as_json else plan:
                targets = ", ".join(f"{m['rule']} -> {m['job']}" for m in item["matched"])
                out.print(f"{escape(item['key'])}: {targets or 'no rule matches'}")
            return
        with reporter.working(f"Replaying s3://{lake.bronze}/{prefix} ..."):
            results = lake.replay(prefix, since_at)
        runs = [run for dispatch in results for run in dispatch.runs]
        if as_json:
            print_json({"replayed": [dispatch_json(d, lake.bronze) for d in results], "runs": runs})
        else:
            for dispatch in results:
                report_dispatch(dispatch, lake.bronze)
            if not results:
                warn(f"no objects under s3://{lake.bronze}/{prefix}")
            if runs:
                print_run_results(runs, lake.home)
        if any(r["state"] == "FAILED" for r in runs):
            raise typer.Exit(1)
    finally:
        lake.close()


# ------------------------------------------------------------------------------------------
# watch / tick / schedules


@app.command()
def watch(
    once: Annotated[bool, typer.Option("--once", help="One poll pass (and one schedule tick), then exit.")] = False,
    interval: Annotated[float, typer.Option("--interval", min=0.1, help="Seconds between polls.")] = 0.5,
    settle: Annotated[float, typer.Option("--settle", min=0.0,
                                          help="A file the file system did not report complete (renamed into "
                                               "place or closed after writing) is routed only when its mtime is "
                                               "this many seconds old.")] = 0.5,
    schedules_on: Annotated[bool, typer.Option("--schedules/--no-schedules",
                                               help="Also fire the stack's schedules.")] = True,
    warm: Annotated[bool, typer.Option("--warm/--no-warm",
                                       help="Start Spark and warm it up (training runs in a scratch lake) "
                                            "before the first file arrives.")] = True,
) -> None:
    """Watch local bronze for new or changed files and fire the stack's schedules.

    Keeps one warm SparkSession; file-system notifications wake it as soon as a file is
    complete (polling every --interval is the fallback). Stops cleanly on Ctrl-C or SIGTERM
    (a second one aborts the run in progress). The clock is LAKE_NOW when set (tests), else
    the system clock.

    Example: lake watch     |     cp orders.csv .lake/data-lake-dev-bronze/sales/
    """
    from data_platform.local.watch import BronzeEvents, Scheduler, Watcher, clock_from_env, watch_loop

    reporter = Reporter(err)
    lake = open_lake(reporter)
    stop, wake = threading.Event(), threading.Event()
    events = None
    try:
        clock = clock_from_env()
        watcher = Watcher(lake, settle_seconds=settle)
        # One fire per schedule per cycle: catching up after downtime interleaves with polls.
        scheduler = Scheduler(lake, max_catch_up=1) if schedules_on else None
        if warm and not once:
            _warm_spark(reporter, lake)
        if not once:
            events = BronzeEvents(watcher, wake)
            if not events.start():
                err.print(f"[yellow]note[/]: no file-system notifications ({events.error}); polling every {interval}s")
                events = None
        err.print(f"Watching [bold]{lake.bucket_dir(lake.bronze)}[/]" + ("" if once else " (Ctrl-C to stop)"))

        def on_poll(result: Any) -> None:
            for dispatch in result.dispatches:
                report_dispatch(dispatch, lake.bronze)
                if dispatch.runs:
                    print_run_results(dispatch.runs, lake.home)

        def on_tick(result: Any) -> None:
            _report_tick(result, lake.home)

        if once:
            poll = watcher.poll()
            on_poll(poll)
            tick_result = scheduler.tick(clock.now()) if scheduler else None
            if tick_result:
                on_tick(tick_result)
            if poll.settling:
                err.print(f"[yellow]note[/]: {len(poll.settling)} file(s) still settling (newer than "
                          f"--settle {settle}s); the next poll routes them")
            if poll.failed or (tick_result and tick_result.failed):
                raise typer.Exit(1)
            return
        _install_stop_handlers(stop, wake)
        watch_loop(watcher, scheduler, clock, interval=interval, stop=stop, on_poll=on_poll, on_tick=on_tick,
                   wake=wake)
        err.print("Stopped.")
    finally:
        if events is not None:
            events.stop()
        lake.close()


def _warm_spark(reporter: Reporter, lake: Any) -> None:
    from data_platform.local.lake import train, warm_up

    with reporter.working("Starting Spark (once; later runs reuse it) ..."):
        warm_up()
    with reporter.working("Warming up: training runs in a scratch lake (later runs are faster) ..."):
        note = train(lake.stack)
    if note:
        err.print(f"[yellow]note[/]: {note}")


def _install_stop_handlers(stop: threading.Event, wake: threading.Event) -> None:
    def handler(signum: int, _frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt  # second signal: abort the run in progress
        stop.set()
        wake.set()
        err.print(f"{signal.Signals(signum).name}: finishing the current run, then stopping "
                  "(send again to abort it)")

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def _report_tick(result: Any, home: Path) -> None:
    for name in result.initialized:
        err.print(f"schedule {name}: no earlier tick recorded; counting from now "
                  "(pass --since to fire earlier instants)")
    for fire, runs in result.fired:
        out.print(f"schedule [cyan]{fire.schedule}[/] fired at {fire.instant:%Y-%m-%dT%H:%M:%SZ} -> [cyan]{fire.job}[/]")
        print_run_results(runs, home)
    for name in result.more_due:
        err.print(f"[yellow]note[/]: schedule {name} has more fire times due; the next tick fires them")


@app.command()
def tick(
    now: Annotated[Optional[str], typer.Option(  # noqa: UP007
        "--now", envvar="LAKE_NOW", help="The current instant (ISO; UTC if no zone) (default: the clock).")] = None,
    since: Annotated[Optional[str], typer.Option(  # noqa: UP007
        "--since", help="Fire instants after this (ISO) (default: each schedule's last recorded fire).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what is due; fire and record nothing.")] = False,
    max_catch_up: Annotated[int, typer.Option("--max-catch-up", min=1,
                                              help="Fire at most this many instants per schedule.")] = 24,
    as_json: Annotated[bool, typer.Option("--json", help="Print fires and runs as JSON.")] = False,
) -> None:
    """Fire every schedule whose fire time falls in (since, now] - the scheduler, by hand.

    The last fire per schedule is recorded, so ticking the same window twice fires once.

    Example: lake tick --since 2024-01-01T01:59Z --now 2024-01-01T02:00Z
    """
    from data_platform.local.watch import Scheduler

    now_at = parse_time(now, "--now") if now else datetime.now(UTC)
    since_at = parse_time(since, "--since") if since else None
    if since_at is not None and since_at >= now_at:
        raise LakeError(f"--since {since} is not before --now {now_at:%Y-%m-%dT%H:%M:%SZ}", exit_code=2)
    reporter = Reporter(err)
    lake = open_lake(reporter, clock=lambda: now_at)
    try:
        with reporter.working(f"Ticking schedules at {now_at:%Y-%m-%dT%H:%M:%SZ} ..."):
            result = Scheduler(lake, max_catch_up=max_catch_up).tick(now_at, since_at, dry_run=dry_run)
        fires = result.due if dry_run else [fire for fire, _runs in result.fired]
        if as_json:
            print_json({
                "now": f"{now_at:%Y-%m-%dT%H:%M:%SZ}",
                "dry_run": dry_run,
                "fired": [{"schedule": f.schedule, "job": f.job, "instant": f"{f.instant:%Y-%m-%dT%H:%M:%SZ}"}
                          for f in fires],
                "initialized": result.initialized,
                "more_due": result.more_due,
                "runs": [run for _fire, runs in result.fired for run in runs],
            })
        elif dry_run:
            for fire in fires:
                out.print(f"due: {fire.schedule} at {fire.instant:%Y-%m-%dT%H:%M:%SZ} -> {fire.job}")
        else:
            _report_tick(result, lake.home)
        if not fires and not as_json:
            err.print("no schedule is due in that window")
        if result.failed:
            raise typer.Exit(1)
    finally:
        lake.close()


@app.command()
def schedules(
    count: Annotated[int, typer.Option("--next", "-n", min=1, max=100, help="Fire times per schedule.")] = 3,
    after: Annotated[Optional[str], typer.Option(  # noqa: UP007
        "--after", help="Start after this instant (ISO) (default: now).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Each schedule's next fire times, in UTC and in the schedule's time zone.

    Example: lake schedules --next 5 --after 2024-01-01T00:00Z
    """
    from zoneinfo import ZoneInfo

    from data_platform.contract.schedules import describe, next_fire_times

    after_at = parse_time(after, "--after") if after else datetime.now(UTC)
    stack = load()
    rows = []
    for name, sched in sorted(stack.platform.schedules.items()):
        times = next_fire_times(sched.expression, after_at, count, sched.timezone) if sched.enabled else []
        zone = ZoneInfo(sched.timezone)
        rows.append({
            "schedule": name, "job": sched.job, "expression": sched.expression, "timezone": sched.timezone,
            "enabled": sched.enabled, "description": describe(sched.expression),
            "next_utc": [f"{t:%Y-%m-%dT%H:%M:%SZ}" for t in times],
            "next_local": [t.astimezone(zone).isoformat() for t in times],
        })
    if as_json:
        print_json(rows)
        return
    table = Table(title=f"Schedules of stack {stack.stack} (after {after_at:%Y-%m-%dT%H:%M:%SZ})",
                  title_justify="left")
    for column in ("schedule", "job", "expression", "next (UTC)", "next (schedule zone)"):
        table.add_column(column, overflow="fold")
    for row in rows:
        local = [f"{t[:16].replace('T', ' ')} {row['timezone']}" for t in row["next_local"]]
        table.add_row(row["schedule"] + ("" if row["enabled"] else " (disabled)"), row["job"],
                      f"{row['expression']}\n{row['description']}",
                      "\n".join(t.replace("T", " ") for t in row["next_utc"]), "\n".join(local))
    out.print(table)


# ------------------------------------------------------------------------------------------
# runs / alerts / validate / synth / demo


def _read_history(read: Any) -> list[dict[str, Any]]:
    """Read from the home's history; a home without one has no runs (and is not created)."""
    from data_platform.local.history import DB_NAME, STATE_DIR, History

    if not (SETTINGS.home / STATE_DIR / DB_NAME).is_file():
        return []
    with History.for_home(SETTINGS.home) as history:
        return read(history)


@app.command()
def runs(
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON (a list of runs, newest first).")] = False,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Show at most this many runs.")] = 20,
    job: Annotated[Optional[str], typer.Option("--job", help="Only runs of this job.")] = None,  # noqa: UP007
    cloud: Annotated[bool, typer.Option("--cloud", help="Runs of the deployed Glue jobs (GetJobRuns).")] = False,
) -> None:
    """The run history, newest first.

    Example: lake runs --job sales_etl --limit 5    |    lake runs --json
    """
    # The local history needs no stack config (loading it is the slow part of this command).
    stack = load() if (cloud or job) else None
    if stack is not None and job and job not in stack.platform.jobs:
        raise LakeError(f"unknown job '{job}'; known jobs: {', '.join(sorted(stack.platform.jobs))}", exit_code=2)
    if cloud and stack is not None:
        from data_platform.local.cloud import Cloud

        rows, warnings = Cloud(stack, SETTINGS.region).runs(limit=limit, job=job)
        for warning in warnings:
            warn(warning)
        title = f"Glue job runs of stack {stack.stack}"
    else:
        rows = _read_history(lambda history: history.runs(limit=limit, job=job))
        title = f"Runs in {SETTINGS.home}"
    if as_json:
        print_json(rows)
    elif rows:
        print_history(rows, title, None if cloud else SETTINGS.home)
    else:
        err.print("no runs yet")


@app.command()
def alerts(
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Show at most this many alerts.")] = 20,
) -> None:
    """The alerts outbox: the local twin of the SNS alert topic (failed runs).

    Example: lake alerts --json
    """
    rows = _read_history(lambda history: history.alerts(limit=limit))
    if as_json:
        print_json(rows)
        return
    if not rows:
        err.print("no alerts")
        return
    table = Table(title=f"Alerts in {SETTINGS.home}", title_justify="left")
    for column in ("id", "created_at", "topic", "subject", "message"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(str(row["id"]), row["created_at"], row["topic"], row["subject"], row["message"])
    out.print(table)


# ------------------------------------------------------------------------------------------
# tables: history, rollback, maintenance


@app.command()
def history(
    dataset: Annotated[str, typer.Argument(help="Dataset (a silver or gold table of the stack), e.g. sales.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the snapshots as JSON (oldest first).")] = False,
) -> None:
    """The table's snapshots: which run committed each, from which source objects, rows added
    and removed, and which are rolled back. Read from the table's Iceberg metadata (no Spark).

    Example: lake history sales    |    lake history sales --json
    """
    from data_platform.local.tables import load_table, snapshot_history, table_of

    table = table_of(load().platform, dataset)
    loaded = load_table(SETTINGS.home, table.database, table.dataset)
    records = snapshot_history(loaded) if loaded is not None else []
    if as_json:
        print_json([record.to_dict() for record in records])
        return
    if not records:
        err.print(f"table {table.database}.{table.dataset} has no snapshots yet")
        return
    view = Table(title=f"{table.database}.{table.dataset} in {SETTINGS.home}", title_justify="left", box=box.SIMPLE_HEAD)
    for column, justify in (("snapshot", "left"), ("committed (UTC)", "left"), ("operation", "left"),
                            ("run_id", "left"), ("sources", "left"), ("+rows", "right"), ("-rows", "right"),
                            ("rows", "right"), ("state", "left")):
        view.add_column(column, justify=justify, overflow="fold", no_wrap=column in ("snapshot", "run_id"))
    for record in records:
        state = "[green]current[/]" if record.current else ("" if record.in_current_history else "[yellow]rolled back[/]")
        sources = ", ".join(source.get("key", "") for source in record.sources)
        view.add_row(str(record.snapshot_id), record.committed_at.replace("T", " ").removesuffix("Z"),
                     record.operation, escape(record.run_id or ""), escape(sources), str(record.rows_added),
                     str(record.rows_removed), str(record.total_rows), state)
    out.print(view)


@app.command()
def rollback(
    dataset: Annotated[str, typer.Argument(help="Dataset (a silver or gold table of the stack), e.g. sales.")],
    to_run: Annotated[Optional[str], typer.Option(  # noqa: UP007
        "--to-run", help="Restore the table as this run committed it (a run id from `lake history`).")] = None,
    to_snapshot: Annotated[Optional[int], typer.Option(  # noqa: UP007
        "--to-snapshot", help="Restore this snapshot (an id from `lake history`).")] = None,
    last: Annotated[Optional[int], typer.Option(  # noqa: UP007
        "--last", help="Undo the newest N commits (loads) of the table.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Undo bad loads: the table's current snapshot becomes an earlier one (Iceberg's
    rollback_to_snapshot; nothing is deleted), and the job's ledger follows, so the objects of
    the undone runs are pending again and the next scheduled or manual run processes them.

    Example: lake rollback sales --to-run local-20240601T101500-1a2b3c4d    |    lake rollback sales --last 1
    """
    from data_platform.local.tables import rollback as rollback_table
    from data_platform.local.tables import rollback_target, table_of

    if sum(choice is not None for choice in (to_run, to_snapshot, last)) != 1:
        raise LakeError("give exactly one of --to-run RUN_ID, --to-snapshot SNAPSHOT_ID or --last N", exit_code=2)
    cfg = load().platform
    table = table_of(cfg, dataset)
    target = rollback_target(SETTINGS.home, table, to_run=to_run, to_snapshot=to_snapshot, last=last)
    reporter = Reporter(err)
    with reporter.working(f"Rolling {table.database}.{table.dataset} back to snapshot {target} ..."):
        result = rollback_table(SETTINGS.home, table, target)
    if as_json:
        print_json(result.to_dict())
        return
    out.print(f"[green]rolled back[/] {table.database}.{table.dataset}: snapshot {result.from_snapshot} -> "
              f"{result.to_snapshot}")
    out.print(f"  recorded in {escape(_rel(str(SETTINGS.home / table.bucket / result.record), SETTINGS.home))}")
    if result.runs:
        out.print(f"  runs undone: {escape(', '.join(result.runs))}")
        keys = sorted({o["key"] for o in result.objects})
        out.print(f"  pending again: {escape(', '.join(keys))}")
        out.print(f"  process them again with: lake run {table.job}")
    downstream = sorted(t.job for t in cfg.after_job.values() if t.upstream == table.job and t.enabled)
    for job in downstream:
        out.print(f"  {job} was computed from the undone data: recompute it with: lake run {job}")


@app.command()
def maintain(
    dataset: Annotated[Optional[str], typer.Argument(  # noqa: UP007
        help="Dataset to maintain (default: every silver and gold table).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
) -> None:
    """Iceberg's table maintenance, as the stack's maintenance job does it in the cloud:
    rewrite_data_files (compaction), expire_snapshots and remove_orphan_files, with the stack's
    `retention` settings.

    Example: lake maintain    |    lake maintain sales --json
    """
    from data_platform.local.tables import dataset_tables, maintain as maintain_tables, table_of

    cfg = load().platform
    tables = [table_of(cfg, dataset)] if dataset else list(dataset_tables(cfg).values())
    reporter = Reporter(err)
    with reporter.working("Maintaining tables ..."):
        results = maintain_tables(SETTINGS.home, tables, cfg.retention)
    if as_json:
        print_json([r.to_dict() for r in results])
        return
    if not results:
        err.print("no table to maintain yet")
        return
    view = Table(title=f"Maintenance in {SETTINGS.home}", title_justify="left", box=box.SIMPLE_HEAD)
    for column in ("table", "files rewritten", "files added", "snapshots expired", "files deleted", "orphans removed"):
        view.add_column(column, justify="left" if column == "table" else "right")
    for r in results:
        view.add_row(r.table.split(".", 1)[1], str(r.rewritten_files), str(r.added_files), str(r.expired_snapshots),
                     str(r.deleted_files), str(len(r.orphan_files)))
    out.print(view)


@app.command()
def validate(
    as_json: Annotated[bool, typer.Option("--json", help="Print problems as JSON.")] = False,
) -> None:
    """Load and check the stack config; errors and warnings name the YAML key.

    Exit 1 on errors, 0 when valid (even with warnings).

    Example: lake --stack prod validate
    """
    from data_platform.config import ConfigError, load_stack, stack_file

    project_dir = resolve_project_dir(SETTINGS.project_dir, SETTINGS.stack)
    source = stack_file(SETTINGS.stack, project_dir)
    try:
        stack = load_stack(SETTINGS.stack, project_dir)
        problems = list(stack.warnings)
    except ConfigError as error:
        stack, problems = None, list(error.problems)
    errors = [p for p in problems if p.severity.value == "error"]
    if as_json:
        print_json({"file": str(source), "valid": stack is not None,
                    "problems": [{"severity": p.severity.value, "path": p.path, "message": p.message}
                                 for p in problems]})
    else:
        for problem in problems:
            color = "red" if problem.severity.value == "error" else "yellow"
            err.print(f"[{color}]{problem.severity.value}[/]: {escape(problem.path)}: {escape(problem.message)}")
        if stack is not None:
            cfg = stack.platform
            out.print(f"[green]ok[/]: {source}: {len(cfg.jobs)} jobs, {len(cfg.s3_rules)} s3 rules, "
                      f"{len(cfg.schedules)} schedules, {len(cfg.after_job)} after-job rules"
                      + (f", {len(problems)} warning(s)" if problems else ""))
        else:
            err.print(f"[red]invalid[/]: {source}: {len(errors)} error(s)")
    if stack is None:
        raise typer.Exit(1)


@app.command()
def synth(
    as_json: Annotated[bool, typer.Option("--json", help="Print the resources as JSON.")] = False,
) -> None:
    """Show the AWS resources `pulumi up` would create for the stack (no cloud calls).

    Example: lake --stack prod synth --json
    """
    from data_platform import synth as synth_module

    argv = ["--stack", SETTINGS.stack, "--project-dir", str(resolve_project_dir(SETTINGS.project_dir, SETTINGS.stack))]
    if as_json:
        argv.append("--json")
    code = synth_module.main(argv)
    if code:
        raise typer.Exit(code)


@app.command()
def demo(
    keep: Annotated[bool, typer.Option("--keep", help="Do not reset the demo home first.")] = False,
) -> None:
    """Reset the lake home, generate sample files for every dataset, and run the whole flow.

    Uploads through the same path as `lake upload`, fires the daily schedule through the same
    path as `lake tick`, then shows silver and gold rows, the quarantine and the run history.

    Example: lake --home .lake-demo demo
    """
    from data_platform.local.demo import run_demo

    stack = load()
    reporter = Reporter(err)
    code = run_demo(stack, SETTINGS.home, out=out, err=err, reporter=reporter, reset=not keep)
    if code:
        raise typer.Exit(code)


# ------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point: user errors become one line on stderr, never a traceback."""
    from data_platform.config import ConfigError

    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        app(args=args, prog_name="lake", standalone_mode=True)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    except LakeError as error:
        if debug:
            raise
        err.print(f"[red]error[/]: {escape(str(error))}")
        return error.exit_code
    except ConfigError as error:
        if debug:
            raise
        err.print(f"[red]error[/]: {escape(str(error))}\n(run `lake validate` for errors and warnings)")
        return 1
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    except Exception as error:  # noqa: BLE001 - the promise is: no traceback without --debug
        if debug:
            raise
        err.print(f"[red]error[/]: {type(error).__name__}: {escape(str(error))} "
                  "(run with --debug for the traceback)")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
