"""Which bronze objects a run processes, and the cheap checks each must pass before it is read.

- An `s3_event` run (or a `manual` run that names a key) processes the one object its trigger
  names; it must be in the bronze bucket, match the job's prefix and suffix, and exist.
- A `schedule` (or `manual`) run processes every object under the job's prefix that the
  ledger (etl.ledger, the local twin of Glue job bookmarks) has not recorded yet.
- `job_succeeded` starts only a job that follows another, which plans its own input
  (`BaseGlueJob.plan_inputs`, e.g. sales_daily).

Then each object passes the job's `check_source`. A refused object is recorded in the ledger
as rejected (with its etag), so a later run does not pick it up again and again; a fixed
re-upload (new etag) is pending again. In a batch the others go on; a run for one named
object fails with the refusal.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from etl import ledger
from etl.args import TriggerSource
from etl.base import InputError, JobContext, one_line
from etl.storage import ObjectInfo

log = logging.getLogger("etl")

SourceCheck = Callable[[JobContext, ObjectInfo], None]  # raises InputError to refuse an object


def planned_objects(ctx: JobContext, *, job: str, ledger_bucket: str) -> list[ObjectInfo]:
    """The bronze objects this run processes, from its trigger."""
    args = ctx.args
    if args.trigger_source is TriggerSource.S3_EVENT or (
        args.trigger_source is TriggerSource.MANUAL and args.source_key
    ):
        return [named_object(ctx, job=job)]
    if args.trigger_source is TriggerSource.JOB_SUCCEEDED:
        raise InputError(f"job {job} is not started by another job (trigger job_succeeded)")
    return pending_objects(ctx, job=job, ledger_bucket=ledger_bucket)


def named_object(ctx: JobContext, *, job: str) -> ObjectInfo:
    """The object the trigger names, refused unless it is one of `job`'s inputs and exists."""
    args = ctx.args
    key = args.source_key or ""
    bucket = args.source_bucket or args.bronze_bucket
    if bucket != args.bronze_bucket:
        raise InputError(f"{key}: bucket {bucket} is not the bronze bucket {args.bronze_bucket}", key)
    if not (key.startswith(ctx.source_prefix) and key.endswith(ctx.source_suffix)):
        raise InputError(f"{key}: not an input of {job} (expected {ctx.source_prefix}*{ctx.source_suffix})", key)
    try:
        info = ctx.storage.head(bucket, key)
    except ValueError as error:
        raise InputError(f"{key!r}: {error}", key) from None
    if info is None:
        raise InputError(f"{key}: no such object in bucket {bucket}", key)
    return info


def pending_objects(ctx: JobContext, *, job: str, ledger_bucket: str) -> list[ObjectInfo]:
    """Every object under the job's prefix (and with its suffix) that no ledger entry of `job`
    in `ledger_bucket` records."""
    args = ctx.args
    candidates = [
        o for o in ctx.storage.list_objects(args.bronze_bucket, ctx.source_prefix) if o.key.endswith(ctx.source_suffix)
    ]
    done = ledger.processed_objects(ctx.storage, ledger_bucket, job)
    return ledger.pending_objects(candidates, done)


def screen(ctx: JobContext, check: SourceCheck, *, job: str, ledger_bucket: str) -> list[tuple[ObjectInfo, str]]:
    """Run `check` on every planned object; returns the refused ones with why, after taking
    them out of `ctx.inputs` and recording them in the ledger. Raises the refusal when every
    object is refused."""
    refused: list[tuple[ObjectInfo, str]] = []
    first: InputError | None = None
    for obj in ctx.inputs:
        try:
            check(ctx, obj)
        except InputError as error:
            refused.append((obj, one_line(error)))
            first = first or error
    if first is None:
        return []
    ledger.record_rejected(ctx.storage, ledger_bucket, job, ctx.run_id, refused)
    if len(refused) == len(ctx.inputs):
        if len(refused) > 1:
            raise InputError(f"all {len(refused)} inputs were refused; first: {first}", first.source_key)
        raise first
    for obj, reason in refused:
        log.warning("run %s refuses %s: %s", ctx.run_id, obj.key, reason)
    bad = {obj.key for obj, _ in refused}
    ctx.inputs = [o for o in ctx.inputs if o.key not in bad]
    return refused
