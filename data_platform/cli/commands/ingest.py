"""`lake upload`, `lake run`, `lake replay`: files into bronze and runs through the runner."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from data_platform.cli.render import (
    Reporter,
    dispatch_json,
    err,
    out,
    print_json,
    print_run_results,
    report_dispatch,
    warn,
)
from data_platform.cli.settings import SETTINGS, load, open_lake, parse_time
from data_platform.local import LakeError

if TYPE_CHECKING:
    from data_platform.local.records import RunRecord

# Up to this many bytes of input, `lake upload` runs its JVM with the quick compiler only
# (etl.session, LAKE_JIT=quick): a one-shot process on small files ends before the
# optimizing compiler pays off (the figure is in bench/RESULTS.md, "Cold start").
QUICK_JIT_MAX_BYTES = 32 * 2**20


def _choose_jit(input_bytes: int) -> None:
    from data_platform.local.engine import engine_enabled

    if engine_enabled():
        return  # the run goes to the long-lived engine, which keeps the optimizing compiler
    from etl.session import JIT_ENV

    if JIT_ENV not in os.environ and input_bytes <= QUICK_JIT_MAX_BYTES:
        os.environ[JIT_ENV] = "quick"


def upload(
    items: Annotated[
        list[str],
        typer.Argument(
            metavar="FILE KEY [FILE KEY ...]", help="Pairs of a local file and its bronze key (or s3://<bronze>/<key>)."
        ),
    ],
    cloud: Annotated[bool, typer.Option("--cloud", help="Upload to the stack's real bronze bucket instead.")] = False,
    kms_key_id: Annotated[
        str | None,
        typer.Option("--kms-key-id", help="With --cloud: KMS key for SSE-KMS (default: the bucket's default key)."),
    ] = None,
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
    # Arguments are checked before the lake home is opened (and created): a command refused
    # for its arguments leaves nothing on disk.
    from data_platform.local.buckets import parse_target

    stack = load()
    bronze = stack.platform.bucket_name("bronze")
    keys = [parse_target(target, bronze, why="files enter the lake through bronze only") for _file, target in pairs]
    for file, _target in pairs:
        if not Path(file).is_file():
            raise LakeError(f"{file}: no such file")
    reporter = Reporter(err)
    lake = open_lake(reporter, stack)
    try:
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
            print_json(
                {"uploads": [dispatch_json(d, lake.bronze) for d in results], "runs": [run.to_dict() for run in runs]}
            )
        elif runs:
            print_run_results(runs, lake.home)
        failed = [run for run in runs if run.failed]
        if failed:
            err.print(
                f"[red]error[/]: {len(failed)} run(s) failed: "
                + ", ".join(f"{run.job} ({run.run_id})" for run in failed)
            )
            raise typer.Exit(1)
    finally:
        lake.close()


def _upload_cloud(pairs: list[tuple[str, str]], kms_key_id: str | None, as_json: bool) -> None:
    from data_platform.local.cloud import Cloud

    cloud = Cloud(load(), SETTINGS.region)
    results = []
    for file, target in pairs:
        key, matches = cloud.upload(Path(file), target, kms_key_id=kms_key_id)
        results.append(
            {"bucket": cloud.bronze, "key": key, "will_start": [{"rule": m.rule, "job": m.job} for m in matches]}
        )
        if not as_json:
            out.print(f"uploaded [bold]s3://{cloud.bronze}/{key}[/]")
            for match in matches:
                out.print(f"  EventBridge rule [cyan]{match.rule}[/] will start [cyan]{match.job}[/]")
            if not matches:
                warn(f"no s3 rule matches {key}; nothing will start")
    if as_json:
        print_json(results)


def run(
    job: Annotated[str, typer.Argument(help="Job name (a key of `jobs` in the stack).")],
    key: Annotated[
        str | None,
        typer.Option("--key", help="Process this bronze object; without it the job processes every pending object."),
    ] = None,
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


def _print_runs(runs: list[RunRecord], home: Path, as_json: bool) -> None:
    if as_json:
        print_json([run.to_dict() for run in runs])
    else:
        print_run_results(runs, home)
    if any(run.failed for run in runs):
        raise typer.Exit(1)


def replay(
    prefix: Annotated[str, typer.Option("--prefix", help="Key prefix of the objects to replay, e.g. sales/.")],
    since: Annotated[
        str | None,
        typer.Option("--since", help="Only objects modified at or after this date/time (ISO, UTC if no zone)."),
    ] = None,
    cloud: Annotated[
        bool, typer.Option("--cloud", help="Start the deployed runners (Step Functions) instead.")
    ] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would start; start nothing.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Re-emit 'Object Created' for objects already in bronze (safe: jobs are idempotent).

    Example: lake replay --prefix sales/ --since 2024-06-01
    """
    since_at = parse_time(since, "--since") if since else None
    if cloud:
        _replay_cloud(prefix, since_at, dry_run=dry_run, as_json=as_json)
        return
    reporter = Reporter(err)
    lake = open_lake(reporter)
    try:
        if dry_run:
            _print_replay_plan(lake, prefix, since_at, as_json)
            return
        with reporter.working(f"Replaying s3://{lake.bronze}/{prefix} ..."):
            results = lake.replay(prefix, since_at)
        runs = [run for dispatch in results for run in dispatch.runs]
        if as_json:
            print_json(
                {"replayed": [dispatch_json(d, lake.bronze) for d in results], "runs": [run.to_dict() for run in runs]}
            )
        else:
            for dispatch in results:
                report_dispatch(dispatch, lake.bronze)
            if not results:
                warn(f"no objects under s3://{lake.bronze}/{prefix}")
            if runs:
                print_run_results(runs, lake.home)
        if any(run.failed for run in runs):
            raise typer.Exit(1)
    finally:
        lake.close()


def _print_replay_plan(lake: Any, prefix: str, since_at: datetime | None, as_json: bool) -> None:
    """`--dry-run`: each object and the rules it would match; nothing starts."""
    objects = [o for o in lake.bronze_objects(prefix) if since_at is None or o.mtime_ns >= since_at.timestamp() * 1e9]
    plan = [
        {"key": o.key, "matched": [{"rule": m.rule, "job": m.job} for m in lake.route(lake.object_created_event(o))]}
        for o in objects
    ]
    if as_json:
        print_json(plan)
        return
    for item in plan:
        targets = ", ".join(f"{m['rule']} -> {m['job']}" for m in item["matched"])
        out.print(f"{escape(item['key'])}: {targets or 'no rule matches'}")


def _replay_cloud(prefix: str, since_at: datetime | None, *, dry_run: bool, as_json: bool) -> None:
    """`--cloud`: start the deployed runners with the runner input each matching rule sends."""
    from data_platform.local.cloud import Cloud

    started = Cloud(load(), SETTINGS.region).replay(prefix, since_at, dry_run=dry_run)
    if as_json:
        print_json(started)
        return
    table = Table(title="Runner executions" + (" (dry run)" if dry_run else ""), title_justify="left")
    for column in ("key", "rule", "job", "execution"):
        table.add_column(column, overflow="ellipsis")
    for item in started:
        table.add_row(item["key"], item["rule"], item["job"], item["execution_arn"] or item["state_machine"])
    out.print(table)
    if not started:
        warn(f"no object under '{prefix}' matched an s3 rule")
