"""`lake watch`, `lake tick`, `lake schedules`: the bronze watcher and the scheduler's clock."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypedDict

import typer
from rich.table import Table

from data_platform.cli.render import Reporter, err, out, print_json, print_run_results, report_dispatch, report_tick
from data_platform.cli.run_board import DEFAULT_RECENT
from data_platform.cli.settings import SETTINGS, load, open_lake, parse_time
from data_platform.local import LakeError


def watch(
    once: Annotated[bool, typer.Option("--once", help="One poll pass (and one schedule tick), then exit.")] = False,
    interval: Annotated[float, typer.Option("--interval", min=0.1, help="Seconds between polls.")] = 0.5,
    settle: Annotated[
        float,
        typer.Option(
            "--settle",
            min=0.0,
            help="A file the file system did not report complete (renamed into "
            "place or closed after writing) is routed only when its mtime is "
            "this many seconds old.",
        ),
    ] = 0.5,
    schedules_on: Annotated[
        bool, typer.Option("--schedules/--no-schedules", help="Also fire the stack's schedules.")
    ] = True,
    warm: Annotated[
        bool,
        typer.Option(
            "--warm/--no-warm",
            help="Start Spark and warm it up (training runs in a scratch lake) before the first file arrives.",
        ),
    ] = True,
    recent: Annotated[
        int,
        typer.Option(
            "--recent",
            min=0,
            help="On a terminal, the live table shows the runs in flight and this many finished ones.",
        ),
    ] = DEFAULT_RECENT,
) -> None:
    """Watch local bronze for new or changed files and fire the stack's schedules.

    Runs on the home's warm engine (LAKE_ENGINE=off: one SparkSession in this process),
    warmed up with training runs first (unless the engine is warm already); file-system notifications wake it as soon as a file is
    complete (polling every --interval is the fallback). On a terminal, a live table shows the
    runs in flight (state, current stage, rows, time) and the most recent finished ones; in a
    pipe, one plain line per event. Stops cleanly on Ctrl-C or SIGTERM (a second one aborts
    the run in progress). The clock is LAKE_NOW when set (tests), else the system clock.

    Example: lake watch     |     cp orders.csv .lake/data-lake-dev-bronze/sales/
    """
    from data_platform.local.watch import Scheduler, Watcher, clock_from_env

    # The live table needs the terminal to itself: --debug streams logs onto it, and --once
    # stops after one pass, so both print plain lines. Its messages then share its console.
    live = not once and out.is_terminal and not SETTINGS.debug
    reporter = Reporter(out if live else err)
    lake = open_lake(reporter)
    try:
        clock = clock_from_env()
        watcher = Watcher(lake, settle_seconds=settle)
        # One fire per schedule per cycle: catching up after downtime interleaves with polls.
        scheduler = Scheduler(lake, max_catch_up=1) if schedules_on else None
        if once:
            err.print(f"Watching [bold]{lake.bucket_dir(lake.bronze)}[/]")
            _watch_once(lake, watcher, scheduler, clock, settle)
        else:
            _watch_until_stopped(
                lake,
                watcher,
                scheduler,
                clock,
                interval=interval,
                warm=warm,
                reporter=reporter,
                recent=recent,
                live=live,
            )
    finally:
        lake.close()


def _report_poll(lake: Any, result: Any) -> None:
    for dispatch in result.dispatches:
        report_dispatch(dispatch, lake.bronze)
        if dispatch.runs:
            print_run_results(dispatch.runs, lake.home)


def _watch_once(lake: Any, watcher: Any, scheduler: Any, clock: Any, settle: float) -> None:
    """One poll pass and one schedule tick; exit 1 if a run failed."""
    poll = watcher.poll()
    _report_poll(lake, poll)
    tick_result = scheduler.tick(clock.now()) if scheduler else None
    if tick_result:
        report_tick(tick_result, lake.home)
    if poll.settling:
        err.print(
            f"[yellow]note[/]: {len(poll.settling)} file(s) still settling (newer than "
            f"--settle {settle}s); the next poll routes them"
        )
    if poll.failed or (tick_result and tick_result.failed):
        raise typer.Exit(1)


def _watch_until_stopped(
    lake: Any,
    watcher: Any,
    scheduler: Any,
    clock: Any,
    *,
    interval: float,
    warm: bool,
    reporter: Reporter,
    recent: int,
    live: bool,
) -> None:
    """Warm Spark, then poll and tick (woken by file-system notifications) until a signal."""
    from data_platform.local.watch import BronzeEvents, watch_loop

    stop, wake = threading.Event(), threading.Event()
    events = None
    try:
        if warm:
            _warm_spark(reporter, lake)
        events = BronzeEvents(watcher, wake)
        if not events.start():
            err.print(f"[yellow]note[/]: no file-system notifications ({events.error}); polling every {interval}s")
            events = None
        err.print(f"Watching [bold]{lake.bucket_dir(lake.bronze)}[/] (Ctrl-C to stop)")
        if live:
            _watch_live(lake, watcher, scheduler, clock, interval=interval, stop=stop, wake=wake, recent=recent)
        else:
            _install_stop_handlers(stop, wake, _say_on_stderr)
            watch_loop(
                watcher,
                scheduler,
                clock,
                interval=interval,
                stop=stop,
                on_poll=lambda r: _report_poll(lake, r),
                on_tick=lambda r: report_tick(r, lake.home),
                wake=wake,
            )
        err.print("Stopped.")
    finally:
        if events is not None:
            events.stop()


def _watch_live(
    lake: Any,
    watcher: Any,
    scheduler: Any,
    clock: Any,
    *,
    interval: float,
    stop: threading.Event,
    wake: threading.Event,
    recent: int,
) -> None:
    """The watch loop under the live table of runs; events are printed above it."""
    from data_platform.cli.run_board import RunBoard
    from data_platform.cli.watch_view import LiveRuns, poll_lines, tick_lines
    from data_platform.local.watch import watch_loop

    view = LiveRuns(out, RunBoard(recent))
    _install_stop_handlers(stop, wake, view.notify)
    with view.showing(capture_stderr=err.is_terminal):
        watch_loop(
            watcher,
            scheduler,
            clock,
            interval=interval,
            stop=stop,
            on_poll=lambda r: view.print(poll_lines(r, lake.bronze, lake.home)),
            on_tick=lambda r: view.print(tick_lines(r, lake.home)),
            wake=wake,
        )


def _warm_spark(reporter: Reporter, lake: Any) -> None:
    from data_platform.local.engine import EngineClient, engine_enabled
    from data_platform.local.spark import warm_up
    from data_platform.local.training import train

    if engine_enabled():  # the home's engine, which later `lake upload`s find warm too
        with reporter.working("Starting the engine (once; later runs and commands reuse it) ..."):
            status = EngineClient(lake.home, stack=lake.stack).ensure_started()
        if status.get("warm"):  # it has run enough jobs already (or trained itself while idle)
            return
        job_fn = lake.runner.job_fn
    else:
        with reporter.working("Starting Spark (once; later runs reuse it) ..."):
            warm_up()
        job_fn = None
    with reporter.working("Warming up: training runs in a scratch lake (later runs are faster) ..."):
        note = train(lake.stack, job_fn=job_fn)
    if note:
        err.print(f"[yellow]note[/]: {note}")


def _say_on_stderr(message: str) -> None:
    err.print(message, markup=False)


def _install_stop_handlers(stop: threading.Event, wake: threading.Event, say: Callable[[str], None]) -> None:
    def handler(signum: int, _frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt  # second signal: abort the run in progress
        stop.set()
        wake.set()
        say(f"{signal.Signals(signum).name}: finishing the current run, then stopping (send again to abort it)")

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def tick(
    now: Annotated[
        str | None,
        typer.Option(
            "--now", envvar="LAKE_NOW", help="The current instant (ISO; UTC if no zone) (default: the clock)."
        ),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Fire instants after this (ISO) (default: each schedule's last recorded fire)."),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what is due; fire and record nothing.")] = False,
    max_catch_up: Annotated[
        int, typer.Option("--max-catch-up", min=1, help="Fire at most this many instants per schedule.")
    ] = 24,
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
            print_json(
                {
                    "now": f"{now_at:%Y-%m-%dT%H:%M:%SZ}",
                    "dry_run": dry_run,
                    "fired": [
                        {"schedule": f.schedule, "job": f.job, "instant": f"{f.instant:%Y-%m-%dT%H:%M:%SZ}"}
                        for f in fires
                    ],
                    "initialized": result.initialized,
                    "more_due": result.more_due,
                    "runs": [run.to_dict() for _fire, runs in result.fired for run in runs],
                }
            )
        elif dry_run:
            for fire in fires:
                out.print(f"due: {fire.schedule} at {fire.instant:%Y-%m-%dT%H:%M:%SZ} -> {fire.job}")
        else:
            report_tick(result, lake.home)
        if not fires and not as_json:
            err.print("no schedule is due in that window")
        if result.failed:
            raise typer.Exit(1)
    finally:
        lake.close()


class _ScheduleRow(TypedDict):
    """One schedule in `lake schedules` (the JSON object `--json` prints)."""

    schedule: str
    job: str
    expression: str
    timezone: str
    enabled: bool
    description: str
    next_utc: list[str]
    next_local: list[str]


def schedules(
    count: Annotated[int, typer.Option("--next", "-n", min=1, max=100, help="Fire times per schedule.")] = 3,
    after: Annotated[str | None, typer.Option("--after", help="Start after this instant (ISO) (default: now).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Each schedule's next fire times, in UTC and in the schedule's time zone.

    Example: lake schedules --next 5 --after 2024-01-01T00:00Z
    """
    from zoneinfo import ZoneInfo

    from data_platform.contract.schedules import describe, next_fire_times

    after_at = parse_time(after, "--after") if after else datetime.now(UTC)
    stack = load()
    rows: list[_ScheduleRow] = []
    for name, sched in sorted(stack.platform.schedules.items()):
        times = next_fire_times(sched.expression, after_at, count, sched.timezone) if sched.enabled else []
        zone = ZoneInfo(sched.timezone)
        rows.append(
            {
                "schedule": name,
                "job": sched.job,
                "expression": sched.expression,
                "timezone": sched.timezone,
                "enabled": sched.enabled,
                "description": describe(sched.expression),
                "next_utc": [f"{t:%Y-%m-%dT%H:%M:%SZ}" for t in times],
                "next_local": [t.astimezone(zone).isoformat() for t in times],
            }
        )
    if as_json:
        print_json(rows)
        return
    table = Table(title=f"Schedules of stack {stack.stack} (after {after_at:%Y-%m-%dT%H:%M:%SZ})", title_justify="left")
    # The zone column only when some schedule runs in another zone than UTC (else it repeats UTC).
    zoned = any(row["timezone"] not in ("UTC", "Etc/UTC") for row in rows)
    columns = ("schedule", "job", "expression", "next (UTC)", *(("next (schedule zone)",) if zoned else ()))
    for column in columns:
        # Names never break mid-word: too long for the terminal, they end in an ellipsis
        # (`--json` has them whole); the expression's description may wrap at spaces.
        identifier = column in ("schedule", "job")
        table.add_column(column, overflow="ellipsis" if identifier else "fold", no_wrap=identifier)
    for row in rows:
        local = [f"{t[:16].replace('T', ' ')} {row['timezone']}" for t in row["next_local"]]
        cells = [
            row["schedule"] + ("" if row["enabled"] else " (disabled)"),
            row["job"],
            f"{row['expression']}\n{row['description']}",
            "\n".join(t.replace("T", " ") for t in row["next_utc"]),
        ]
        table.add_row(*cells, *(("\n".join(local),) if zoned else ()))
    out.print(table)
