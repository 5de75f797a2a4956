"""`lake watch` on a terminal: a live table of the runs in flight and the most recent ones.

    Runs: in flight and the 10 most recent

     job          trigger               state      stage          rows    time
     ─────────────────────────────────────────────────────────────────────────
     sales_etl    sales/2024-06-01.csv  SUCCEEDED               10,000   2.1 s
     sales_daily  after sales_etl       RUNNING    quality gate    120   0.6 s

The table is redrawn at every run state change and stage event (`RunBoard`, fed by
`data_platform.local.run_events` and `etl.progress`) and four times a second, so the time
of a running run ticks. What the watcher does besides (a file routed, a key no rule matched,
a schedule fired, a run's error or quarantine) is printed above the table, one line each,
through the table's own console: another console writing to the same terminal would tear
the redrawn table apart. Elsewhere (a pipe, CI, `--once`) `lake watch` prints plain lines
and this view is not used.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from rich import box
from rich.console import Console, ConsoleOptions, JustifyMethod, RenderResult
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from data_platform.cli.render import STATE_STYLE, run_details
from data_platform.cli.run_board import BoardRow, RunBoard
from data_platform.local import run_events
from etl import progress

if TYPE_CHECKING:
    from data_platform.local.records import RunRecord
    from data_platform.local.watch import PollResult, TickResult


def duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    return f"{minutes // 60}h {minutes % 60:02d}m"


COLUMNS = ("job", "trigger", "state", "stage", "rows", "time")
_FRAME = 2 * (len(COLUMNS) - 1) + 2  # two spaces between columns, one at each edge


def _name_widths(job: int, trigger: int, room: int | None) -> tuple[int | None, int | None]:
    """The widest the job and trigger columns may be, when both do not fit in `room`: the
    trigger (a bronze key, often long) gets the larger share, neither less than a few letters."""
    if room is None or job + trigger <= room:
        return None, None
    job_width = min(job, max(9, room // 3))
    return job_width, max(room - job_width, 8)


def runs_table(rows: Sequence[BoardRow], recent: int, notice: str | None = None, width: int | None = None) -> Table:
    """The table of `rows`, fitted to `width` (the terminal's) when given."""
    cells = [
        (
            Text(row.job),
            Text(row.trigger),
            Text(
                str(row.state) + (f" (try {row.attempt})" if row.attempt > 1 else ""),
                style=STATE_STYLE.get(row.state, "white"),
            ),
            Text(row.stage or ""),
            Text("" if row.rows is None else f"{row.rows:,}"),
            Text(duration(row.seconds)),
        )
        for row in rows
    ]
    needed = [max([len(header), *(line[index].cell_len for line in cells)]) for index, header in enumerate(COLUMNS)]
    # Names and keys never break mid-word: when the terminal is too narrow they give way and
    # end in an ellipsis (`lake runs --json` has them whole); state, stage, rows and time,
    # short and bounded, stay whole.
    room = None if width is None else width - _FRAME - sum(needed[2:])
    limits = (*_name_widths(needed[0], needed[1], room), None, None, None, None)
    table = Table(
        title=f"Runs: in flight and the {recent} most recent",
        title_justify="left",
        caption=notice or (None if rows else "no runs yet: drop a file into bronze"),
        caption_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    for header, limit in zip(COLUMNS, limits, strict=True):
        justify: JustifyMethod = "right" if header in ("rows", "time") else "left"
        table.add_column(header, justify=justify, overflow="ellipsis", no_wrap=True, max_width=limit)
    for line in cells:
        table.add_row(*line)
    return table


def poll_lines(result: PollResult, bucket: str, home: Path) -> list[str]:
    """One line per routed file (and one per run error or quarantine), as markup."""
    lines = []
    for dispatch in result.dispatches:
        target = escape(f"s3://{bucket}/{dispatch.key}")
        if dispatch.no_match is not None:
            lines.append(f"[yellow]warning[/]: {escape(dispatch.no_match.message(dispatch.key))}")
        else:
            jobs = ", ".join(f"{match.job} (rule {match.rule})" for match in dispatch.matched)
            lines.append(f"[bold]{target}[/] -> {escape(jobs)}")
        lines.extend(run_details(dispatch.runs, home))
    return lines


def tick_lines(result: TickResult, home: Path) -> list[str]:
    """What a schedule tick did, as markup; its runs are in the table."""
    lines = [f"schedule {escape(name)}: no earlier tick recorded; counting from now" for name in result.initialized]
    for fire, runs in result.fired:
        lines.append(
            f"schedule [cyan]{escape(fire.schedule)}[/] fired at {fire.instant:%Y-%m-%dT%H:%M:%SZ} "
            f"-> [cyan]{escape(fire.job)}[/]"
        )
        lines.extend(run_details(runs, home))
    lines.extend(
        f"[yellow]note[/]: schedule {escape(name)} has more fire times due; the next tick fires them"
        for name in result.more_due
    )
    return lines


class LiveRuns:
    """The live table, and the lines printed above it, on one terminal console."""

    def __init__(self, console: Console, board: RunBoard) -> None:
        self.console = console
        self.board = board
        self._live: Live | None = None

    @contextmanager
    def showing(self, *, capture_stderr: bool) -> Iterator[LiveRuns]:
        """Draw the table until the block ends; the final state stays on the screen.

        `capture_stderr`: print what is written to sys.stderr (Python warnings, say) above the
        table too; only when stderr is this terminal, else it stays where the user sent it."""
        live = Live(
            self,
            console=self.console,
            refresh_per_second=4,
            redirect_stdout=True,
            redirect_stderr=capture_stderr,
        )
        with ExitStack() as stack:
            stack.enter_context(progress.subscribe(self._on_stage))
            stack.enter_context(run_events.subscribe(self._on_run))
            self._live = stack.enter_context(live)
            try:
                yield self
            finally:
                self._live = None

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield runs_table(self.board.rows(), self.board.recent, self.board.notice, options.max_width)

    def print(self, lines: Sequence[str]) -> None:
        for line in lines:
            self.console.print(line, soft_wrap=True)

    def notify(self, message: str) -> None:
        """Show `message` under the table; safe in a signal handler (takes no lock, prints
        nothing: the refresh thread draws it)."""
        self.board.notice = message

    def _on_run(self, run: RunRecord) -> None:
        self.board.run_changed(run)
        self._refresh()

    def _on_stage(self, event: progress.StageEvent) -> None:
        self.board.stage_changed(event)
        self._refresh()

    def _refresh(self) -> None:
        # At once, not at the next tick: a stage can be over in less than a refresh interval.
        live = self._live
        if live is not None:
            live.refresh()
