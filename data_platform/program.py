"""The Pulumi program of one stack: used by `__main__.py` (pulumi up/preview) and by
`data_platform.synth` (the same program under mocks), so what is tested is what deploys."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws

from data_platform.components.catalog import IcebergTableDefinition
from data_platform.components.packaging import ETL_DIR
from data_platform.components.platform import DataPlatform, DataPlatformArgs
from data_platform.config import PlatformConfig, StackConfig

STACK_OUTPUTS: tuple[str, ...] = ("bucket_names", "job_names", "runner_arns", "alert_topic_arn")


def dataset_schemas(cfg: PlatformConfig) -> dict[str, IcebergTableDefinition]:
    """Each dataset job's declared dataset schema, from the etl job classes (the one source of truth)."""
    from etl.jobs import REGISTRY  # imports pyspark types, never starts Spark
    from etl.tables import TABLE_PROPERTIES, iceberg_partition_spec, iceberg_schema

    problems = []
    for job, job_cfg in cfg.dataset_jobs.items():
        job_class = REGISTRY.get(job)
        if job_class is None:
            problems.append(f"job '{job}' is not in etl.jobs.REGISTRY (known: {', '.join(sorted(REGISTRY))})")
        elif (job_class.dataset, str(job_class.layer)) != (job_cfg.dataset, job_cfg.layer.value):
            problems.append(
                f"job '{job}': config writes {job_cfg.layer.value} '{job_cfg.dataset}' but the job class "
                f"declares {job_class.layer} '{job_class.dataset}'"
            )
    if problems:
        raise ValueError("the stack config and the etl jobs disagree:\n  - " + "\n  - ".join(problems))
    definitions = {}
    for job in cfg.dataset_jobs:
        schema = iceberg_schema(REGISTRY[job].schema)
        definitions[job] = IcebergTableDefinition(
            schema, iceberg_partition_spec(schema, REGISTRY[job].partition_columns), dict(TABLE_PROPERTIES)
        )
    return definitions


def build(
    stack: StackConfig, *, tables: Mapping[str, IcebergTableDefinition] | None = None, etl_dir: Path = ETL_DIR
) -> DataPlatform:
    """Declare the stack: an AWS provider carrying the stack's tags, and the DataPlatform."""
    cfg = stack.platform
    # First: a stack config that disagrees with the etl jobs fails before any resource exists.
    schemas = dict(tables) if tables is not None else dataset_schemas(cfg)
    provider = aws.Provider(
        f"{cfg.names.base}-aws",
        region=stack.region,
        # Every taggable resource gets the stack's tags, without each component passing them.
        default_tags={"tags": dict(cfg.tags)},
    )
    return DataPlatform(
        cfg.names.base,
        DataPlatformArgs(config=cfg, tables=schemas, etl_dir=etl_dir),
        opts=pulumi.ResourceOptions(providers=[provider]),
    )


def stack_outputs(platform: DataPlatform) -> dict[str, Any]:
    return {name: getattr(platform, name) for name in STACK_OUTPUTS}
