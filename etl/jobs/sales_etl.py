"""sales_etl: bronze `sales/*.csv` -> silver `sales`, partitioned by `order_date`.

Latest rule: the run being processed wins over what silver holds (a re-sent order restates
it, and may move it to another date); within one run an order_id that occurs twice is
ambiguous and both rows are quarantined (`order_id_unique`).
"""

from __future__ import annotations

from datetime import datetime

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import (
    DateType,
    DecimalType,
    IntegerType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from etl import quality as q
from etl.base import ROW_SEQ
from etl.job import BaseGlueJob
from etl.readers import CsvSource, string_schema
from etl.transforms import LINEAGE_FIELDS, blank_to_null, try_cast

SALES_BRONZE_COLUMNS = ("order_id", "order_ts", "store_id", "customer_id", "sku", "quantity", "unit_price", "currency")
SALES_BRONZE_SCHEMA = string_schema(SALES_BRONZE_COLUMNS)


SALES_SILVER_SCHEMA = StructType(
    [
        StructField("order_id", StringType(), True),
        StructField("order_ts", TimestampType(), True),
        StructField("store_id", StringType(), True),
        StructField("customer_id", StringType(), True),
        StructField("sku", StringType(), True),
        StructField("quantity", IntegerType(), True),
        StructField("unit_price", DecimalType(12, 2), True),
        StructField("currency", StringType(), True),
        StructField("amount", DecimalType(14, 2), True),
        StructField("order_date", DateType(), True),
        *LINEAGE_FIELDS,
    ]
)

# ISO 4217 codes accepted from the stores (extend when a new market opens).
ISO_4217_CURRENCIES = frozenset(
    {
        "AED", "AUD", "BRL", "CAD", "CHF", "CNY", "CZK", "DKK", "EUR", "GBP", "HKD", "HUF", "IDR",
        "ILS", "INR", "JPY", "KRW", "MXN", "MYR", "NOK", "NZD", "PHP", "PLN", "RON", "SAR", "SEK",
        "SGD", "THB", "TRY", "TWD", "USD", "ZAR",
    }
)  # fmt: skip
MAX_UNIT_PRICE_WITHOUT_WARNING = 100_000


def type_sales(df: DataFrame) -> DataFrame:
    """Bronze strings -> typed sales columns; unparsable values become null."""
    cleaned = df.select(
        *[blank_to_null(c).alias(c) for c in SALES_BRONZE_COLUMNS],
        *[c for c in df.columns if c not in SALES_BRONZE_COLUMNS],
    )
    typed = (
        cleaned.withColumn("order_ts", try_cast("order_ts", "timestamp"))
        .withColumn("quantity", try_cast("quantity", "int"))
        .withColumn("unit_price", try_cast("unit_price", "decimal(12,2)"))
        .withColumn("currency", F.upper("currency"))
    )
    amount = F.expr("try_cast(CAST(quantity AS DECIMAL(10,0)) * unit_price AS DECIMAL(14,2))")
    return typed.withColumn("amount", amount).withColumn("order_date", F.to_date("order_ts"))


def sales_raw_rules() -> list[q.Rule]:
    return [*q.columns_present(SALES_BRONZE_COLUMNS), q.row_count_at_least(1)]


def sales_quality_rules(now: datetime) -> list[q.Rule]:
    latest_allowed = q.latest_plausible(now)
    return [
        q.not_null("order_id"),
        q.unique("order_id"),
        q.not_null("order_ts", name="order_ts_parses"),
        q.between("order_ts", max_value=latest_allowed, name="order_ts_not_in_future"),
        q.not_null("store_id"),
        q.not_null("sku"),
        q.not_null("quantity", name="quantity_parses"),
        q.between("quantity", min_value=0, strict_min=True, name="quantity_positive"),
        q.not_null("unit_price", name="unit_price_parses"),
        q.between("unit_price", min_value=0, name="unit_price_not_negative"),
        q.not_null("currency"),
        q.in_set("currency", sorted(ISO_4217_CURRENCIES), name="currency_iso_4217"),
        q.not_null("amount", name="amount_fits"),
        q.between(
            "unit_price", max_value=MAX_UNIT_PRICE_WITHOUT_WARNING, action=q.Action.WARN, name="unit_price_plausible"
        ),
        q.not_null("customer_id", action=q.Action.WARN),
    ]


class SalesEtl(CsvSource, BaseGlueJob):
    bronze_columns = SALES_BRONZE_COLUMNS
    name = "sales_etl"
    dataset = "sales"
    layer = "silver"
    default_source_prefix = "sales/"
    default_source_suffix = ".csv"
    schema = SALES_SILVER_SCHEMA
    key_columns = ("order_id",)
    partition_columns = ("order_date",)
    latest_order = ("_origin", "_source_key")

    def transform(self, df: DataFrame) -> DataFrame:
        return type_sales(df.drop(ROW_SEQ))

    def raw_rules(self) -> list[q.Rule]:
        return sales_raw_rules()

    def quality_rules(self) -> list[q.Rule]:
        return sales_quality_rules(self.now)
