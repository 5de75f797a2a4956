"""product_catalog: bronze `products/*.json` -> silver `products`, one row per sku.

Input: JSON Lines or one JSON array of product objects. The layout is told from the first
non-space byte, and every record's shape is checked in Python first (a record that is not an
object, or a field of the wrong JSON type, is an input error naming the line), then Spark
reads with the explicit schema.

Latest rule: within a run the later source object wins, and within a file the last
occurrence; against silver, the run being processed wins.
"""

from __future__ import annotations

from contextlib import closing

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import (
    BooleanType,
    DecimalType,
    MapType,
    StringType,
    StructField,
    StructType,
)

from etl import quality as q
from etl.base import ROW_SEQ, InputError, JobContext
from etl.job import BaseGlueJob
from etl.jobs.sales_etl import ISO_4217_CURRENCIES
from etl.readers import check_json_records, json_layout, read_json
from etl.storage import ObjectInfo
from etl.transforms import LINEAGE_FIELDS, blank_to_null, latest_per_key

PRODUCTS_BRONZE_SCHEMA = StructType(
    [
        StructField("sku", StringType(), True),
        StructField("name", StringType(), True),
        StructField("category", StringType(), True),
        StructField("price", DecimalType(12, 2), True),
        StructField("currency", StringType(), True),
        StructField("active", BooleanType(), True),
        StructField("attributes", MapType(StringType(), StringType(), True), True),
    ]
)
PRODUCTS_BRONZE_COLUMNS = tuple(PRODUCTS_BRONZE_SCHEMA.fieldNames())

# JSON types each field must have in bronze (null is always allowed; rules judge it).
PRODUCT_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "sku": (str,),
    "name": (str,),
    "category": (str,),
    "price": (int, float),
    "currency": (str,),
    "active": (bool,),
    "attributes": (dict,),
}

PRODUCTS_SILVER_SCHEMA = StructType([*PRODUCTS_BRONZE_SCHEMA.fields, *LINEAGE_FIELDS])
SKU_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


def clean_products(df: DataFrame) -> DataFrame:
    return (
        df.withColumn("sku", blank_to_null("sku"))
        .withColumn("name", blank_to_null("name"))
        .withColumn("category", blank_to_null("category"))
        .withColumn("currency", F.upper(blank_to_null("currency")))
    )


def latest_products(df: DataFrame) -> DataFrame:
    """Last occurrence per sku: later source object first, then later position in the file."""
    return latest_per_key(df, ["sku"], ["_source_key", ROW_SEQ]).drop(ROW_SEQ)


def products_raw_rules() -> list[q.Rule]:
    return [*q.columns_present(PRODUCTS_BRONZE_COLUMNS), q.row_count_at_least(1)]


def products_quality_rules() -> list[q.Rule]:
    return [
        q.not_null("sku"),
        q.matches_regex("sku", SKU_PATTERN, name="sku_format"),
        q.not_null("name"),
        q.not_null("price"),
        q.between("price", min_value=0, name="price_not_negative"),
        q.not_null("currency"),
        q.in_set("currency", sorted(ISO_4217_CURRENCIES), name="currency_iso_4217"),
        q.not_null("active"),
        q.not_null("category", action=q.Action.WARN),
    ]


class ProductCatalog(BaseGlueJob):
    name = "product_catalog"
    dataset = "products"
    layer = "silver"
    default_source_prefix = "products/"
    default_source_suffix = ".json"
    schema = PRODUCTS_SILVER_SCHEMA
    key_columns = ("sku",)
    partition_columns = ()
    latest_order = ("_origin", "_source_key")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._layouts: dict[str, str] = {}

    def check_source(self, ctx: JobContext, obj: ObjectInfo) -> None:
        super().check_source(ctx, obj)
        bucket = self.args.bronze_bucket
        with closing(self.storage.open_stream(bucket, obj.key)) as stream:
            layout = json_layout(stream, obj.key)
        with closing(self.storage.open_stream(bucket, obj.key)) as stream:
            check_json_records(stream, obj.key, layout, PRODUCT_JSON_TYPES)
        self._layouts[obj.key] = layout

    def extract(self, ctx: JobContext) -> DataFrame:
        bucket = self.args.bronze_bucket
        frames = []
        for layout in ("array", "lines"):  # at most two reads, whatever the number of files
            keys = [o.key for o in ctx.inputs if self._layouts.get(o.key) == layout]
            if keys:
                files = [(k, self.storage.spark_path(bucket, k)) for k in keys]
                frames.append(
                    read_json(self.spark, files, PRODUCTS_BRONZE_SCHEMA, layout, self.storage.spark_path(bucket))
                )
        if not frames:
            raise InputError("no readable product files")
        df = frames[0]
        for frame in frames[1:]:
            df = df.unionByName(frame)
        return df

    def transform(self, df: DataFrame) -> DataFrame:
        return latest_products(clean_products(df))

    def raw_rules(self) -> list[q.Rule]:
        return products_raw_rules()

    def quality_rules(self) -> list[q.Rule]:
        return products_quality_rules()
