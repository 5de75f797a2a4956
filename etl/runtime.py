"""Run a job in this process: the one entry point for the local runtime, the CLI and Glue.

`run_job` never raises for job or data failures: it returns a FAILED `RunSummary` whose
`error` is one line a user can act on.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from pyspark.sql import SparkSession

from data_platform.contract.runs import RunState
from etl.args import JobArguments, argument_pairs
from etl.base import RunSummary, one_line, utc_timestamp

log = logging.getLogger("etl")


def run_job(job_name: str, arguments: Mapping[str, str], spark: SparkSession | None = None) -> RunSummary:
    """Run `job_name` with Glue-style `arguments` (keys with or without `--`)."""
    from etl.jobs import get_job

    values = {(k[2:] if k.startswith("--") else k): v for k, v in arguments.items()}
    values.setdefault("JOB_NAME", job_name)
    try:
        job_class = get_job(job_name)
        args = JobArguments.from_mapping(values)
    except (KeyError, ValueError) as error:
        return _rejected_invocation(job_name, values, error)
    if spark is None:
        from etl.session import local_spark

        spark = local_spark()
    try:
        job = job_class(args, spark)
    except (ValueError, PermissionError) as error:
        return _rejected_invocation(job_name, values, error)
    return job.run()


def _rejected_invocation(job_name: str, values: Mapping[str, str], error: Exception) -> RunSummary:
    now = utc_timestamp(datetime.now(UTC))
    message = error.args[0] if isinstance(error, KeyError) and error.args else error
    return RunSummary(
        run_id=str(values.get("JOB_RUN_ID") or ""),
        job=job_name,
        env=str(values.get("env") or "local"),
        trigger_source=str(values.get("trigger_source") or "manual"),
        source_keys=[values["source_key"]] if values.get("source_key") else [],
        state=RunState.FAILED,
        error=one_line(f"invalid job arguments: {message}"),
        error_kind="input",
        started_at=now,
        ended_at=now,
    )


def report(summary: RunSummary) -> int:
    """Summary as one JSON line on stdout; on failure the reason on stderr and exit code 1."""
    print(json.dumps(summary.to_dict(), sort_keys=True, default=str), flush=True)
    if summary.succeeded:
        return 0
    print(f"{summary.job} {summary.state}: {summary.error}", file=sys.stderr, flush=True)
    return 1


def run_on_glue(job_name: str, argv: Sequence[str], spark: SparkSession) -> int:
    """What every Glue entry script does after building its session."""
    from etl.metrics import publish_quarantined_rows

    values = _argv_mapping(argv)
    summary = run_job(job_name, values, spark)
    try:
        publish_quarantined_rows(summary, glue_job_name=values.get("JOB_NAME") or job_name)
    except Exception:
        log.exception("could not publish the QuarantinedRows metric")
    return report(summary)


def _argv_mapping(argv: Sequence[str]) -> dict[str, str]:
    return argument_pairs(argv)


def main(argv: Sequence[str] | None = None) -> int:
    # Our own progress at INFO; libraries (GE, py4j) only when they warn.
    logging.basicConfig(
        level=logging.WARNING, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    log.setLevel(logging.INFO)
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        values = _argv_mapping(argv)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    job_name = values.get("JOB_NAME")
    if not job_name:
        print("error: --JOB_NAME is required (e.g. --JOB_NAME sales_etl)", file=sys.stderr)
        return 2
    return report(run_job(job_name, values))


if __name__ == "__main__":
    raise SystemExit(main())
