"""sales_daily: gold `sales_daily` from silver `sales`, one row per (order_date, store_id,
currency), partitioned by `order_date`.

Currency: amounts in different currencies are never added up; revenue is per currency (the
currency is part of the key), converting is a reporting concern with its own rates.

Which dates: after `sales_etl` succeeds (`job_succeeded`) only the dates its run manifest
lists as changed (`--upstream_run_id`); on a manual or scheduled run every date in silver or
gold. Each recomputed date replaces the whole gold partition (one commit); a date that no
longer has sales (its orders moved) loses its gold partition. Each gold row's `_source_key`
names the silver table snapshot it was computed from (`<database>.sales@<snapshot id>`).
"""

from __future__ import annotations

from datetime import date

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import DateType, DecimalType, LongType, StringType, StructField, StructType

from etl import ledger
from etl import quality as q
from etl.args import TriggerSource
from etl.base import InputError, JobContext
from etl.catalog import table_identifier
from etl.job import BaseGlueJob
from etl.jobs.sales_etl import SALES_SILVER_SCHEMA, SalesEtl
from etl.storage import ObjectInfo
from etl.tables.spec import WriteResult
from etl.transforms import LINEAGE_FIELDS

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


def daily_sales(sales: DataFrame) -> DataFrame:
    """Silver sales rows -> one row per (order_date, store_id, currency)."""
    return sales.groupBy("order_date", "store_id", "currency").agg(
        F.countDistinct("order_id").cast("long").alias("orders"),
        F.sum("quantity").cast("long").alias("units"),
        F.sum("amount").cast("decimal(24,2)").alias("revenue"),
        F.max("_source_key").alias("_source_key"),
    )


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

    def plan_inputs(self, ctx: JobContext) -> list[ObjectInfo]:
        """The upstream run's manifest (job_succeeded), or nothing (manual and scheduled runs
        read the tables); sets `self.dates`, the dates to recompute."""
        args, storage = self.args, self.storage
        silver = args.silver_bucket
        if args.trigger_source is TriggerSource.S3_EVENT:
            raise InputError(f"{self.name} reads silver, it is not started by bronze uploads", args.source_key)
        if args.trigger_source is TriggerSource.JOB_SUCCEEDED:
            upstream_job = upstream_job_key(args.upstream_job, self.upstream.name)
            key = ledger.manifest_key(upstream_job, args.upstream_run_id or "")
            manifest = ledger.read_manifest(storage, silver, upstream_job, args.upstream_run_id or "")
            if manifest is None:
                raise InputError(f"no run manifest s3://{silver}/{key} for upstream run {args.upstream_run_id}", key)
            self.dates = sorted(
                {date.fromisoformat(p["order_date"]) for p in manifest.get("partitions", []) if p.get("order_date")}
            )
            info = storage.head(silver, key)
            return [info] if info is not None else []
        self.dates = sorted(
            self._dates_in(self.silver_table) | self._dates_in(table_identifier(args.database, self.dataset))
        )
        return []

    @property
    def silver_table(self) -> str:
        return table_identifier(self.args.database, self.upstream.dataset)

    def _dates_in(self, identifier: str) -> set[date]:
        """The `order_date` partitions a table holds (from its metadata: no data file is read)."""
        if not self.spark.catalog.tableExists(identifier):
            return set()
        rows = self.spark.sql(f"SELECT partition.order_date AS d FROM {identifier}.partitions").collect()
        return {r["d"] for r in rows if r["d"] is not None}

    def runs_without_inputs(self) -> bool:
        return bool(self.dates)  # a manual run, or dates whose sales all moved away

    def check_source(self, ctx: JobContext, obj: ObjectInfo) -> None:
        """The manifest was written by sales_etl; nothing to sniff."""

    def extract(self, ctx: JobContext) -> DataFrame:
        empty = self.spark.createDataFrame([], SALES_SILVER_SCHEMA).select(*SALES_COLUMNS_USED, "_source_key")
        if not self.dates or not self.spark.catalog.tableExists(self.silver_table):
            return empty
        # One snapshot for the whole computation, named in every gold row it produces.
        snapshot = self.spark.sql(f"SELECT snapshot_id FROM {self.silver_table}.refs WHERE name = 'main'").first()
        if snapshot is None:
            return empty
        sales = self.spark.read.option("snapshot-id", int(snapshot[0])).table(self.silver_table)
        return (
            sales.filter(F.col("order_date").isin(self.dates))
            .select(*SALES_COLUMNS_USED)
            .withColumn("_source_key", F.lit(f"{self.silver_table.split('.', 1)[1]}@{snapshot[0]}"))
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
        return self.table.replace_partitions(df, [(d,) for d in self.dates], self.commit_info(ctx))

    def ledger_entries(self, ctx: JobContext) -> list[ObjectInfo]:
        return list(ctx.inputs)
