"""`lake engine start|status|stop`: the lake home's warm engine (`data_platform.local.engine`).

Nobody needs to start it: the first command that runs a job does. `start` is for warming it
ahead of time (before a demo, in a shell profile); `stop` gives its memory back at once
instead of after the idle timeout (LAKE_ENGINE_IDLE_MINUTES, default 15).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from data_platform.cli.render import Reporter, err, out, print_json
from data_platform.cli.settings import SETTINGS, load

engine_app = typer.Typer(
    name="engine",
    help="The lake home's warm engine (Spark, Iceberg and Great Expectations kept loaded): start, status, stop.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


def _print_status(status: dict[str, Any]) -> None:
    from data_platform.local.engine import code_fingerprint

    running = status.get("running")
    doing = (
        f"running {running['job']} ({running['run_id']}, {running.get('stage') or 'starting'})" if running else "idle"
    )
    out.print(f"engine of {status['home']}: pid {status['pid']}, {doing}", markup=False, highlight=False)
    out.print(
        f"  up {_minutes(status['uptime_s'])}, idle {_minutes(status['idle_s'])} "
        f"(exits after {_minutes(status['idle_timeout_s'])} idle), {status['runs_served']} run(s) served",
        markup=False,
        highlight=False,
    )
    if status.get("warm_runs"):
        warmth = "warm" if status.get("warm") else "training while idle" if status.get("training") else "warming up"
        out.print(
            f"  {warmth}: {status['runs_served'] + status.get('training_runs', 0)} of {status['warm_runs']} runs "
            f"({status.get('training_runs', 0)} training run(s) in a scratch lake)",
            markup=False,
            highlight=False,
        )
    out.print(f"  address {status['address']}", markup=False, highlight=False)
    if status.get("fingerprint") != code_fingerprint():
        out.print("  it runs older code: the next run stops it and starts a new one", markup=False, highlight=False)


@engine_app.command()
def status(as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON.")] = False) -> None:
    """Whether the home's engine runs: pid, uptime, idle time, runs served, address.

    Example: lake engine status
    """
    from data_platform.local.engine import EngineClient

    found = EngineClient(SETTINGS.home).status()
    if as_json:
        print_json(found)
        return
    if found is None:
        out.print(f"no engine is running for {SETTINGS.home}", markup=False, highlight=False)
        return
    _print_status(found)


@engine_app.command()
def start(
    idle_minutes: Annotated[
        float | None,
        typer.Option(
            "--idle-minutes",
            min=0.01,
            help="Exit after this many minutes without a run (default: LAKE_ENGINE_IDLE_MINUTES, else 15). "
            "An engine already running keeps its own.",
        ),
    ] = None,
) -> None:
    """Start the home's engine now (the first run would), and wait until it listens.

    Once idle it trains itself with the stack's training runs in a scratch lake, until it has
    run LAKE_ENGINE_WARM_RUNS jobs (default 8; 0: never), so even the first real run is fast.

    Example: lake engine start --idle-minutes 60
    """
    from data_platform.config import ConfigError
    from data_platform.local.engine import EngineClient

    try:  # the stack it trains with while idle; without one, it trains with its first run's
        stack = load()
    except ConfigError as error:
        stack = None
        err.print(f"[yellow]note[/]: no stack to train with yet ({error}); the first run brings one", highlight=False)
    with Reporter(err).working("Starting the engine ..."):
        found = EngineClient(SETTINGS.home, idle_minutes=idle_minutes, stack=stack).ensure_started()
    _print_status(found)


@engine_app.command()
def stop() -> None:
    """Stop the home's engine (after the run it is doing); the next run starts a new one.

    Example: lake engine stop
    """
    from data_platform.local.engine import EngineClient

    with Reporter(err).working("Stopping the engine ..."):
        pid = EngineClient(SETTINGS.home).stop()
    if pid is None:
        out.print(f"no engine is running for {SETTINGS.home}", markup=False, highlight=False)
    else:
        out.print(f"stopped the engine (pid {pid})", markup=False, highlight=False)
