"""`lake demo`: the guided demo (the script is `data_platform.cli.demo`)."""

from __future__ import annotations

from typing import Annotated

import typer

from data_platform.cli.render import Reporter, err, out
from data_platform.cli.settings import SETTINGS, load


def demo(
    keep: Annotated[bool, typer.Option("--keep", help="Do not reset the demo home first.")] = False,
) -> None:
    """Reset the lake home, generate sample files for every dataset, and run the whole flow.

    Uploads through the same path as `lake upload`, fires the daily schedule through the same
    path as `lake tick`, then shows silver and gold rows, the quarantine and the run history.

    Example: lake --home .lake-demo demo
    """
    from data_platform.cli.demo import run_demo
    from data_platform.local.engine import EngineClient, engine_enabled

    stack = load()
    reporter = Reporter(err)
    # On the home's warm engine unless LAKE_ENGINE=off (then run_demo starts Spark here).
    job_fn = EngineClient(SETTINGS.home, stack=stack).run if engine_enabled() else None
    code = run_demo(stack, SETTINGS.home, out=out, err=err, reporter=reporter, reset=not keep, job_fn=job_fn)
    if code:
        raise typer.Exit(code)
