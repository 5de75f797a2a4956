"""sales_daily: gold `sales_daily` from silver `sales`, one row per (order_date, store_id,
currency), partitioned by `order_date`.

Currency: amounts in different currencies are never added up; revenue is per currency (the
currency is part of the key), converting is a reporting concern with its own rates.

Which dates: after `sales_etl` succeeds (`job_succeeded`) only the dates its run manifest
lists as touched (`--upstream_run_id`); on a manual or scheduled run every date in silver or
gold. Each recomputed date replaces the whole gold partition; a date that no longer has sales
(its orders moved) loses its gold partition. Each gold row's `_source_key` is the silver
partition file it was computed from.
"""

from __future__ import annotations

import re
from datetime import date

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import DateType, DecimalType, LongType, StringType, StructField, StructType

from etl import ledger
from etl import quality as q
from etl.args import TriggerSource
from etl.base import BaseGlueJob, InputError, JobContext, source_key_column
from etl.jobs.sales_etl import SALES_SILVER_SCHEMA, SalesEtl
from etl.storage import ObjectInfo
from etl.transforms import LINEAGE_FIELDS
from etl.writer import AtomicParquetWriter, WriteResult

SALES_DAILY_SCHEMA = StructType(
    [
        StructField("order_date", DateType(), True),
        StructField("store_id", StringType(), True),
        StructField("currency", StringType(), True),
        StructField("orders", LongType(), True),
        StructField("units", LongType(), True),
        StructField("revenue", DecimalType(24, 2), True),
        *LINEAGE_FIELDS,
    ]
)
SALES_COLUMNS_USED = ("order_id", "order_date", "store_id", "currency", "quantity", "amount")
_DATE_DIR = re.compile(r"(?:^|/)order_date=(\d{4}-\d{2}-\d{2})/")


def daily_sales(sales: DataFrame) -> DataFrame:
    """Silver sales rows -> one row per (order_date, store_id, currency)."""
    return sales.groupBy("order_date", "store_id", "currency").agg(
        F.countDistinct("order_id").cast("long").alias("orders"),
        F.sum("quantity").cast("long").alias("units"),
        F.sum("amount").cast("decimal(24,2)").alias("revenue"),
        F.max("_source_key").alias("_source_key"),
    )


def dates_in_keys(keys: list[str]) -> set[date]:
    return {date.fromisoformat(m.group(1)) for k in keys if (m := _DATE_DIR.search(k))}


def upstream_job_key(upstream: str | None, expected: str) -> str:
    """The job key behind the upstream name the trigger passes.

    The after-job rule forwards Glue's `jobName`, the *physical* name (`data-lake-dev-sales_etl`),
    while run manifests are kept per job key (`_runs/sales_etl/`): names end in `-<job key>`.
    """
    if not upstream or upstream == expected or upstream.endswith(f"-{expected}"):
        return expected
    raise InputError(f"sales_daily follows {expected}, but was started after '{upstream}'", upstream)


class SalesDaily(BaseGlueJob):
    name = "sales_daily"
    dataset = "sales_daily"
    layer = "gold"
    schema = SALES_DAILY_SCHEMA
    key_columns = ("order_date", "store_id", "currency")
    partition_columns = ("order_date",)
    upstream = SalesEtl

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.dates: list[date] = []
        self._ledger: list[ObjectInfo] = []

    def plan_inputs(self, ctx: JobContext) -> list[ObjectInfo]:
        """The silver partition files of the dates to recompute (sets `self.dates`)."""
        args, storage = self.args, self.storage
        silver, dataset = args.silver_bucket, self.upstream.dataset
        if args.trigger_source is TriggerSource.S3_EVENT:
            raise InputError(f"{self.name} reads silver, it is not started by bronze uploads", args.source_key)
        silver_files = [o for o in storage.list_objects(silver, f"{dataset}/") if o.key.endswith(".parquet")]
        if args.trigger_source is TriggerSource.JOB_SUCCEEDED:
            upstream_job = upstream_job_key(args.upstream_job, self.upstream.name)
            manifest = ledger.read_manifest(storage, silver, upstream_job, args.upstream_run_id or "")
            key = ledger.manifest_key(upstream_job, args.upstream_run_id or "")
            if manifest is None:
                raise InputError(f"no run manifest s3://{silver}/{key} for upstream run {args.upstream_run_id}", key)
            self.dates = sorted({date.fromisoformat(p["order_date"]) for p in manifest.get("partitions", [])})
            self._ledger = [storage.head(silver, key)]  # type: ignore[list-item]
        else:
            gold_files = storage.list_objects(self.output_bucket, f"{self.dataset}/")
            self.dates = sorted(dates_in_keys([o.key for o in silver_files + gold_files]))
        wanted = set(self.dates)
        inputs = [o for o in silver_files if dates_in_keys([o.key]) & wanted]
        self._ledger = self._ledger or inputs
        return inputs

    def runs_without_inputs(self) -> bool:
        return bool(self.dates)  # dates whose sales all moved away: their gold goes too

    def check_source(self, ctx: JobContext, obj: ObjectInfo) -> None:
        """Silver files were written by sales_etl; nothing to sniff."""

    def extract(self, ctx: JobContext) -> DataFrame:
        silver = self.args.silver_bucket
        if not ctx.inputs:
            return self.spark.createDataFrame([], SALES_SILVER_SCHEMA).select(*SALES_COLUMNS_USED, "_source_key")
        base = self.storage.spark_path(silver, self.upstream.dataset)
        sales = self.spark.read.schema(SALES_SILVER_SCHEMA).option("basePath", base).parquet(base)
        return (
            sales.filter(F.col("order_date").isin(self.dates))
            .select(*SALES_COLUMNS_USED)
            .withColumn("_source_key", source_key_column(self.storage.spark_path(silver)))
        )

    def transform(self, df: DataFrame) -> DataFrame:
        return daily_sales(df)

    def raw_rules(self) -> list[q.Rule]:
        # No row-count rule: a touched date may have lost all its orders (they moved).
        return q.columns_present(SALES_COLUMNS_USED)

    def quality_rules(self) -> list[q.Rule]:
        # Gold is computed from gated silver: a broken row means a bug, so stop, don't drop.
        return [
            q.not_null("order_date", action=q.Action.FAIL),
            q.not_null("store_id", action=q.Action.FAIL),
            q.not_null("revenue", action=q.Action.FAIL),
            q.between("orders", min_value=1, action=q.Action.FAIL, name="orders_positive"),
            q.unique(["order_date", "store_id", "currency"], action=q.Action.FAIL, name="key_unique"),
        ]

    def load(self, ctx: JobContext, df: DataFrame) -> WriteResult:
        writer = AtomicParquetWriter(self.spark, self.storage, self.spec, self.run_id)
        return writer.replace_partitions(df, [(d,) for d in self.dates])

    def ledger_entries(self, ctx: JobContext) -> list[ObjectInfo]:
        return list(self._ledger)
