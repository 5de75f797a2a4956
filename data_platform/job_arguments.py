"""The contract's job arguments of one stack's jobs, read from its typed config.

`data_platform.contract.runs` builds arguments from plain values; this is where the stack
config provides them, for the cloud (the Glue job's DefaultArguments, `components.glue_job`)
and the local runtime (each run's arguments, `local.lake`) alike.
"""

from __future__ import annotations

from collections.abc import Mapping

from data_platform.config import JobKind, PlatformConfig
from data_platform.contract import runs
from data_platform.contract.data_docs import data_docs_arguments
from data_platform.contract.naming import DATA_LAYERS


def default_job_arguments(cfg: PlatformConfig, job: str) -> dict[str, str]:
    """Arguments fixed per job (Glue `DefaultArguments` minus Glue's own `--enable-*` flags)."""
    job_cfg = cfg.jobs[job]
    if job_cfg.kind is JobKind.MAINTENANCE:
        retention = cfg.retention
        own = runs.maintenance_arguments(
            tables=cfg.datasets(),
            snapshot_days=retention.snapshot_days,
            min_snapshots=retention.min_snapshots,
            orphan_file_days=retention.orphan_file_days,
        )
    else:
        source = job_cfg.source
        if source is None:
            raise ValueError("an etl job needs its source (config validation refuses one without)")
        own = runs.dataset_job_arguments(
            source_prefix=source.prefix, source_suffix=source.suffix, max_drop_ratio=job_cfg.max_drop_ratio
        )
        # Where its gate's validations are rendered (the maintenance job has no gate).
        own.update(data_docs_arguments(bucket=cfg.bucket_name("artifacts"), env=cfg.environment))
    return runs.default_job_arguments(
        env=cfg.environment,
        buckets={layer: cfg.bucket_name(layer) for layer in DATA_LAYERS},
        database=cfg.names.glue_database(),
        job_arguments=own,
        configured=job_cfg.arguments,
    )


def job_run_arguments(cfg: PlatformConfig, job: str, run_input: Mapping[str, str]) -> dict[str, str]:
    """All arguments one run of `job` sees: defaults overlaid with the runner's per-run ones."""
    if job not in cfg.jobs:
        raise KeyError(f"unknown job '{job}'; known jobs: {', '.join(sorted(cfg.jobs))}")
    return runs.job_run_arguments(cfg.names.glue_job(job), default_job_arguments(cfg, job), run_input)
