"""inventory_sync: bronze `inventory/updates/*.xml` -> silver `inventory`, one row per
(sku, store_id).

Input: `<inventory snapshot_ts="..."><item sku="..." store_id="..." on_hand="..."/>...`.
Spark 3.5 has no XML reader (and no Maven jars on the laptop), so files are parsed in Python
with defusedxml, streaming (`iterparse`, elements cleared as they are read), and DTDs are
refused outright: that closes billion-laughs and external-entity attacks, which become input
errors. Values stay strings here and are cast in the transform, like the CSV jobs.

Latest rule: the greatest `snapshot_ts` wins, also against silver (re-running an old file
never overwrites a newer count); on a tie the later source object, then this run.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from datetime import datetime
from typing import IO
from xml.etree.ElementTree import ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException
from pyspark.sql import DataFrame
from pyspark.sql.types import IntegerType, LongType, StringType, StructField, StructType, TimestampType

from etl import quality as q
from etl.base import ROW_SEQ, InputError, JobContext
from etl.job import BaseGlueJob
from etl.readers import sniff_binary
from etl.transforms import LINEAGE_FIELDS, blank_to_null, latest_per_key, try_cast

INVENTORY_BRONZE_COLUMNS = ("snapshot_ts", "sku", "store_id", "on_hand")
INVENTORY_RAW_SCHEMA = StructType(
    [
        *[StructField(c, StringType(), True) for c in INVENTORY_BRONZE_COLUMNS],
        StructField("_source_key", StringType(), True),
        StructField(ROW_SEQ, LongType(), True),
    ]
)
INVENTORY_SILVER_SCHEMA = StructType(
    [
        StructField("sku", StringType(), True),
        StructField("store_id", StringType(), True),
        StructField("on_hand", IntegerType(), True),
        StructField("snapshot_ts", TimestampType(), True),
        *LINEAGE_FIELDS,
    ]
)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]  # ignore an XML namespace


def parse_inventory_xml(
    stream: IO[bytes], key: str
) -> Iterator[tuple[str | None, str | None, str | None, str | None, str, int]]:
    """Yield (snapshot_ts, sku, store_id, on_hand, key, position) per `<item>`, streaming."""
    head = stream.read(8)
    sniff_binary(key, head, "XML")
    if not head.strip():
        rest = stream.read(1 << 16)
        if not rest.strip():
            raise InputError(f"{key}: the file is empty", key)
        head += rest
    source = _Prefixed(head, stream)
    snapshot_ts: str | None = None
    root = None
    position = 0
    try:
        for event, element in SafeET.iterparse(source, events=("start", "end"), forbid_dtd=True):
            if root is None:
                root = element
                if _local(root.tag) != "inventory":
                    raise InputError(f"{key}: root element is <{_local(root.tag)}>, expected <inventory>", key)
                snapshot_ts = root.get("snapshot_ts")
                continue
            if event == "end" and _local(element.tag) == "item":
                yield (snapshot_ts, element.get("sku"), element.get("store_id"), element.get("on_hand"), key, position)
                position += 1
                root.clear()  # keep memory flat: the items already read are not needed
    except DefusedXmlException as error:
        raise InputError(
            f"{key}: XML with a DTD or entity declarations is refused ({type(error).__name__}); send plain XML",
            key,
        ) from None
    except ParseError as error:
        raise InputError(f"{key}: invalid XML: {error}", key) from None


class _Prefixed:
    """A binary stream with already-read bytes put back in front."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self._head = head
        self._rest = rest

    def read(self, size: int = -1) -> bytes:
        if self._head:
            data, self._head = self._head, b""
            if size is None or size < 0:
                return data + self._rest.read()
            return data if len(data) >= size else data + self._rest.read(size - len(data))
        return self._rest.read(size)


def type_inventory(df: DataFrame) -> DataFrame:
    return df.select(
        blank_to_null("sku").alias("sku"),
        blank_to_null("store_id").alias("store_id"),
        try_cast("on_hand", "int").alias("on_hand"),
        try_cast("snapshot_ts", "timestamp").alias("snapshot_ts"),
        "_source_key",
        ROW_SEQ,
    )


def latest_inventory(df: DataFrame) -> DataFrame:
    """Latest count per (sku, store_id): newest snapshot, then later object, then later item."""
    return latest_per_key(df, ["sku", "store_id"], ["snapshot_ts", "_source_key", ROW_SEQ]).drop(ROW_SEQ)


def inventory_raw_rules() -> list[q.Rule]:
    return [*q.columns_present(INVENTORY_BRONZE_COLUMNS), q.row_count_at_least(1)]


def inventory_quality_rules(now: datetime) -> list[q.Rule]:
    return [
        q.not_null("sku"),
        q.not_null("store_id"),
        q.not_null("on_hand", name="on_hand_parses"),
        q.between("on_hand", min_value=0, name="on_hand_not_negative"),
        q.not_null("snapshot_ts", name="snapshot_ts_parses"),
        q.between("snapshot_ts", max_value=q.latest_plausible(now), name="snapshot_ts_not_in_future"),
    ]


class InventorySync(BaseGlueJob):
    name = "inventory_sync"
    dataset = "inventory"
    layer = "silver"
    default_source_prefix = "inventory/updates/"
    default_source_suffix = ".xml"
    schema = INVENTORY_SILVER_SCHEMA
    key_columns = ("sku", "store_id")
    partition_columns = ()
    latest_order = ("snapshot_ts", "_source_key", "_origin")

    def extract(self, ctx: JobContext) -> DataFrame:
        rows: list[tuple] = []
        for obj in ctx.inputs:
            with closing(self.storage.open_stream(self.args.bronze_bucket, obj.key)) as stream:
                rows.extend(parse_inventory_xml(stream, obj.key))
        return self.spark.createDataFrame(rows, INVENTORY_RAW_SCHEMA)

    def transform(self, df: DataFrame) -> DataFrame:
        return latest_inventory(type_inventory(df))

    def raw_rules(self) -> list[q.Rule]:
        return inventory_raw_rules()

    def quality_rules(self) -> list[q.Rule]:
        return inventory_quality_rules(self.now)
