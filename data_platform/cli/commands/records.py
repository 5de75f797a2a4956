"""`lake runs`, `lake alerts`, `lake report`, `lake docs`: what the run history, the alerts
outbox and the quality gate's validations hold."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.markup import escape
from rich.table import Table

from data_platform.cli.render import err, out, print_history, print_json, rel, warn
from data_platform.cli.settings import SETTINGS, load
from data_platform.local import LakeError
from data_platform.local.docs import validation_pages

Row = TypeVar("Row")


def _read_history(read: Callable[[Any], list[Row]]) -> list[Row]:
    """Read from the home's history; a home without one has no runs (and is not created)."""
    from data_platform.local.history import DB_NAME, STATE_DIR, History

    if not (SETTINGS.home / STATE_DIR / DB_NAME).is_file():
        return []
    with History.for_home(SETTINGS.home) as history:
        return read(history)


def runs(
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON (a list of runs, newest first).")] = False,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Show at most this many runs.")] = 20,
    job: Annotated[str | None, typer.Option("--job", help="Only runs of this job.")] = None,
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
        pages = {} if cloud else validation_pages(SETTINGS.home, [row.run_id for row in rows if row.run_id])
        print_json(
            [
                {**row.to_dict(), **({"validation_page": pages[row.run_id]} if row.run_id in pages else {})}
                for row in rows
            ]
        )
    elif rows:
        print_history(rows, title, None if cloud else SETTINGS.home)
    else:
        err.print("no runs yet")


def alerts(
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Show at most this many alerts.")] = 20,
) -> None:
    """The alerts outbox: the local twin of the SNS alert topic (failed runs).

    Example: lake alerts --json
    """
    rows = _read_history(lambda history: history.alerts(limit=limit))
    if as_json:
        print_json([row.to_dict() for row in rows])
        return
    if not rows:
        err.print("no alerts")
        return
    table = Table(title=f"Alerts in {SETTINGS.home}", title_justify="left")
    for column in ("id", "created_at", "topic", "subject", "message"):
        table.add_column(column, overflow="ellipsis")
    for row in rows:
        table.add_row(str(row.id), row.created_at, row.topic, row.subject, row.message)
    out.print(table)
    # A path is one long word that a table cell cuts short: each run's page on a line of its own.
    pages = validation_pages(SETTINGS.home, [row.run_id for row in rows])
    for row in (row for row in rows if row.run_id in pages):
        out.print(f"{row.run_id}  validation: {escape(rel(pages[row.run_id], SETTINGS.home))}", soft_wrap=True)


REPORT_RUNS = 5000  # the newest runs a report draws (a page stays small enough to open anywhere)


def report(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Where to write the page (default: <home>/report.html).")
    ] = None,
) -> None:
    """Write one self-contained HTML page of the run history: a timeline of runs per job,
    rows written and quarantined per day and dataset, the rules that drop most rows, the
    slowest stages. Prints the page's path.

    Example: lake report    |    lake report -o /tmp/lake-report.html
    """
    from data_platform.local.report import ReportRun, render_report

    stack = load()
    target = output or SETTINGS.home / "report.html"
    if target.is_dir():
        raise LakeError(f"--output {target} is a directory; name the page's file", exit_code=2)
    if not target.parent.is_dir():
        raise LakeError(f"--output {target}: folder {target.parent} does not exist", exit_code=2)
    jobs = stack.platform.jobs
    rows = _read_history(lambda history: history.runs(limit=REPORT_RUNS))
    runs = [
        ReportRun.from_record(run.to_dict(), dataset=jobs[run.job].dataset if run.job in jobs else None) for run in rows
    ]
    page = render_report(runs, title=f"Lake report: stack {stack.stack}", generated_at=datetime.now(UTC))
    target.write_text(page, encoding="utf-8")
    out.print(str(target.resolve()), markup=False)


def docs() -> None:
    """Refresh the Great Expectations Data Docs of this lake's quality-gate validations (every
    run whose gate dropped or failed rows; each such run already wrote its own page, this also
    renders runs from before that) and print the path of the site's index.

    Example: lake docs
    """
    from data_platform.local.docs import build_local_docs

    stack = load()
    if not SETTINGS.home.is_dir():
        raise LakeError(f"no lake at {SETTINGS.home}: upload a file or run `lake demo` first", exit_code=1)
    out.print(str(build_local_docs(stack.platform, SETTINGS.home).resolve()), markup=False)
