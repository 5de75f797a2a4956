"""A throw-away local lake for the job tests: bucket folders under one directory, named as the
stack names them (data_platform.naming), and jobs run in this process on the test session."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

from data_platform.contract.naming import Names
from etl.base import RunSummary
from etl.catalog import table_identifier
from etl.runtime import run_job
from etl.session import table_session


class LocalLake:
    def __init__(self, root: Path, env: str = "dev") -> None:
        self.root = Path(root)
        self.env = env
        self.names = Names("data-lake", env)  # the seed stacks' name_prefix
        self.bronze, self.silver, self.gold = (self.names.bucket(layer) for layer in ("bronze", "silver", "gold"))
        for bucket in (self.bronze, self.silver, self.gold):
            (self.root / bucket).mkdir(parents=True, exist_ok=True)

    def put(self, key: str, data: bytes | str) -> Path:
        """Upload to bronze (as a source system would; jobs themselves never write there)."""
        path = self.root / self.bronze / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        return path

    def arguments(self, **overrides: str) -> dict[str, str]:
        values = {
            "env": self.env,
            "storage_root": str(self.root),
            "bronze_bucket": self.bronze,
            "silver_bucket": self.silver,
            "gold_bucket": self.gold,
        }
        values.update(overrides)
        return values

    def run(self, job: str, spark: SparkSession, **overrides: str) -> RunSummary:
        return run_job(job, self.arguments(**overrides), spark)

    def upload_event(self, job: str, spark: SparkSession, key: str, **overrides: str) -> RunSummary:
        """What the S3 rule does: run `job` for the object `key`."""
        return self.run(job, spark, trigger_source="s3_event", source_bucket=self.bronze, source_key=key, **overrides)

    def after_job(self, job: str, spark: SparkSession, upstream: RunSummary, **overrides: str) -> RunSummary:
        """What an after-job rule does: run `job` for the `upstream` run that succeeded."""
        return self.run(
            job,
            spark,
            trigger_source="job_succeeded",
            upstream_job=self.names.glue_job(upstream.job),
            upstream_run_id=upstream.run_id,
            **overrides,
        )

    def hashes(self, bucket: str) -> dict[str, str]:
        base = self.root / bucket
        return {
            p.relative_to(base).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(base.rglob("*"))
            if p.is_file()
        }

    def files(self, bucket: str, prefix: str = "") -> list[str]:
        return [k for k in self.hashes(bucket) if k.startswith(prefix)]

    @property
    def database(self) -> str:
        return self.names.glue_database()

    def read(self, spark: SparkSession, dataset: str, schema: StructType, layer: str = "silver") -> DataFrame:
        """The dataset's table at its current snapshot (`layer` is where its data lives; the
        table name alone identifies it)."""
        del layer
        session = table_session(spark, str(self.root))
        return session.table(table_identifier(self.database, dataset)).select(*schema.fieldNames())

    def table_partitions(self, spark: SparkSession, dataset: str) -> list[str]:
        """The partition folders (`order_date=2024-01-05`, '' when unpartitioned) of the data
        files in the dataset's current snapshot."""
        session = table_session(spark, str(self.root))
        paths = [
            r[0]
            for r in session.sql(f"SELECT file_path FROM {table_identifier(self.database, dataset)}.files").collect()
        ]
        folders = {p.split(f"/{dataset}/data/", 1)[1].rpartition("/")[0] for p in paths}
        return sorted(folders)

    def json(self, bucket: str, key: str) -> Any:
        return json.loads((self.root / bucket / key).read_text())
