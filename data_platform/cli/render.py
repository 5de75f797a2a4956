"""What `lake` prints: consoles, JSON, the run and history tables, upload reports.

Tables for people, `--json` for programs (every field, keys sorted); long paths and messages
go on lines of their own below a table, so they can be read and grepped.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Console, JustifyMethod
from rich.markup import escape
from rich.table import Table

from data_platform.cli.stage_view import StageView
from data_platform.contract.data_docs import DATA_DOCS_NOT_WRITTEN
from data_platform.contract.runs import RunState

if TYPE_CHECKING:
    from data_platform.local.cloud import GlueJobRun
    from data_platform.local.lake import Dispatch
    from data_platform.local.records import RunRecord


def _console(stderr: bool = False) -> Console:
    # Pipes and CI logs get a wide console so tables do not wrap into unreadable columns.
    width = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 200
    # soft_wrap: a message is one line however long (the terminal wraps it; grep finds it).
    return Console(stderr=stderr, width=width, highlight=False, soft_wrap=True)


out = _console()
err = _console(stderr=True)


class Reporter:
    """What a command is doing, on stderr: on a terminal a spinner naming the running job's
    stage with its ticking time, each finished stage printed above it with time and rows
    (`StageView`); elsewhere (CI logs, tests) plain lines."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._view: StageView | None = None

    @contextmanager
    def working(self, message: str) -> Iterator[Reporter]:
        if not self.console.is_terminal:
            self.console.print(message, markup=False)
        with StageView(self.console).showing(message) as view:
            self._view = view
            try:
                yield self
            finally:
                self._view = None

    def update(self, message: str) -> None:
        if self._view is not None and self.console.is_terminal:
            self._view.relabel(message)
            self.console.print(f"  {message}", markup=False, style="dim")
        else:
            self.console.print(f"  {message}", markup=False)


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=True, default=str, ensure_ascii=False))


def rel(path: str | None, home: Path) -> str:
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


# Looked up by text: a history table's cell, or the JobRunState Glue gives a deployed run.
STATE_STYLE: dict[str, str] = {
    RunState.SUCCEEDED: "green",
    RunState.FAILED: "red",
    RunState.NO_INPUT: "yellow",
    RunState.RUNNING: "cyan",
    RunState.WAITING: "cyan",
}


def _styled_state(state: object) -> str:
    return f"[{STATE_STYLE.get(str(state), 'white')}]{state}[/]"


def run_details(runs: Sequence[RunRecord | GlueJobRun], home: Path | None) -> list[str]:
    """Each run's quarantine path, validation page (Data Docs) and error on a line of its own
    (markup): long paths and messages folded into a table cell are unreadable and cannot be
    grepped."""
    from data_platform.local.docs import validation_pages

    details: list[str] = []
    pages = validation_pages(home, [run.run_id for run in runs if run.run_id]) if home else {}
    for run in runs:
        if run.quarantine_path:
            where = rel(run.quarantine_path, home) if home else run.quarantine_path
            details.append(f"{run.run_id}  quarantine: {escape(where)}")
        if run.run_id in pages:
            details.append(
                f"{run.run_id}  validation: {escape(rel(pages[run.run_id], home) if home else pages[run.run_id])}"
            )
        if run.error:
            details.append(f"{run.run_id}  [red]error[/]: {escape(run.error)}")
        if DATA_DOCS_NOT_WRITTEN in (getattr(run, "warnings", None) or {}):
            details.append(
                f"{run.run_id}  [yellow]warning[/]: its Data Docs were not written (the job log says why); "
                "`lake docs` renders them from its quarantine"
            )
    return details


def _print_with_details(table: Table, details: Sequence[str], console: Console | None = None) -> None:
    console = console or out
    console.print(table)
    if details:
        console.print()
    for line in details:
        console.print(line, soft_wrap=True)  # the terminal wraps it; no line breaks are inserted


def print_run_results(runs: Sequence[RunRecord], home: Path, title: str = "Runs") -> None:
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("run_id", "left"),
        ("job", "left"),
        ("trigger", "left"),
        ("state", "left"),
        ("attempts", "right"),
        ("read", "right"),
        ("written", "right"),
        ("quarantined", "right"),
        ("outputs", "left"),
    )
    for column, justify in columns:
        table.add_column(column, justify=justify, overflow="ellipsis", no_wrap=column in ("run_id", "state"))
    for run in runs:
        table.add_row(
            run.run_id,
            run.job,
            f"{run.trigger_source}:{run.trigger_name}",
            _styled_state(run.state),
            _num(run.attempts),
            _num(run.rows_read),
            _num(run.rows_written),
            _num(run.rows_quarantined),
            escape(_outputs(run.outputs or [])),
        )
    _print_with_details(table, run_details(runs, home))


_HISTORY_COLUMNS = (
    ("run_id", "run_id"),
    ("job", "job"),
    ("trigger_source", "trigger"),
    ("source_key", "source_key"),
    ("state", "state"),
    ("attempts", "tries"),
    ("rows_read", "read"),
    ("rows_written", "written"),
    ("rows_quarantined", "quar."),
    ("started_at", "started (UTC)"),
    ("ended_at", "ended (UTC)"),
)


def print_history(
    runs: Sequence[RunRecord | GlueJobRun], title: str, home: Path | None = None, console: Console | None = None
) -> None:
    """Every history field: a table of the short ones, then each run's quarantine path and
    error on lines of their own. `--json` has every field as data."""
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for field, header in _HISTORY_COLUMNS:
        numeric = field.startswith("rows_") or field == "attempts"
        table.add_column(
            header,
            justify="right" if numeric else "left",
            overflow="ellipsis",
            no_wrap=numeric or field in ("run_id", "state"),
            min_width=16 if field == "source_key" else None,
        )
    for run in runs:
        cells = []
        for field, _header in _HISTORY_COLUMNS:
            value = _num(getattr(run, field))
            if field == "state":
                value = _styled_state(value)
            elif field.endswith("_at"):
                value = value.replace("T", " ").removesuffix("Z")
            else:
                value = escape(value)
            cells.append(value)
        table.add_row(*cells)
    _print_with_details(table, run_details(runs, home), console)


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
        "no_match": None
        if dispatch.no_match is None
        else {"nearest_rule": dispatch.no_match.nearest_rule, "reason": dispatch.no_match.reason},
        "runs": [run.to_dict() for run in dispatch.runs],
    }


def report_tick(result: Any, home: Path) -> None:
    for name in result.initialized:
        err.print(
            f"schedule {name}: no earlier tick recorded; counting from now (pass --since to fire earlier instants)"
        )
    for fire, runs in result.fired:
        out.print(
            f"schedule [cyan]{fire.schedule}[/] fired at {fire.instant:%Y-%m-%dT%H:%M:%SZ} -> [cyan]{fire.job}[/]"
        )
        print_run_results(runs, home)
    for name in result.more_due:
        err.print(f"[yellow]note[/]: schedule {name} has more fire times due; the next tick fires them")
