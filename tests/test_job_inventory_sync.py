from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from pyspark.sql.types import StructType
from pyspark.testing import assertDataFrameEqual
from support.etl_lake import LocalLake

from etl.base import InputError
from etl.jobs.inventory_sync import (
    INVENTORY_RAW_SCHEMA,
    INVENTORY_SILVER_SCHEMA,
    inventory_quality_rules,
    latest_inventory,
    parse_inventory_xml,
    type_inventory,
)
from etl.quality import run_gate

pytestmark = pytest.mark.spark

SILVER_NO_INGEST = StructType([f for f in INVENTORY_SILVER_SCHEMA.fields if f.name != "_ingested_at"])
BUSINESS = SILVER_NO_INGEST.fieldNames()


def snapshot(ts: str, *items: tuple[str, str, str]) -> str:
    body = "".join(f'<item sku="{s}" store_id="{st}" on_hand="{n}"/>' for s, st, n in items)
    return f'<?xml version="1.0" encoding="UTF-8"?><inventory snapshot_ts="{ts}">{body}</inventory>'


def test_parse_streams_items_with_the_snapshot_time():
    xml = snapshot("2024-01-05T08:00:00Z", ("A", "s1", "3"), ("B", "s1", "x"))
    assert list(parse_inventory_xml(io.BytesIO(xml.encode()), "inventory/updates/1.xml")) == [
        ("2024-01-05T08:00:00Z", "A", "s1", "3", "inventory/updates/1.xml", 0),
        ("2024-01-05T08:00:00Z", "B", "s1", "x", "inventory/updates/1.xml", 1),
    ]


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<inventory snapshot_ts="2024-01-05T08:00:00Z"><item sku="&lol2;" store_id="s" on_hand="1"/></inventory>"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE inventory [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<inventory snapshot_ts="2024-01-05T08:00:00Z"><item sku="&xxe;" store_id="s" on_hand="1"/></inventory>"""


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        (BILLION_LAUGHS, "XML with a DTD or entity declarations is refused"),
        (XXE, "XML with a DTD or entity declarations is refused"),
        (b"<inventory><item sku='A'", "invalid XML: unclosed token"),
        (b"<stock/>", "root element is <stock>, expected <inventory>"),
        (b"\x1f\x8b\x08\x00", "gzip-compressed"),
        (b"   ", "the file is empty"),
    ],
)
def test_dangerous_or_malformed_xml_is_an_input_error(payload, problem):
    with pytest.raises(InputError) as raised:
        list(parse_inventory_xml(io.BytesIO(payload), "inventory/updates/x.xml"))
    assert str(raised.value).startswith("inventory/updates/x.xml: ") and problem in str(raised.value)


def test_latest_inventory_takes_the_newest_snapshot_per_sku_and_store(spark):
    raw = spark.createDataFrame(
        [
            ("2024-01-05T08:00:00Z", "A", "s1", "3", "inventory/updates/1.xml", 0),
            ("2024-01-05T08:00:00Z", "A", "s1", "4", "inventory/updates/1.xml", 1),
            ("2024-01-06T08:00:00Z", "A", "s2", "9", "inventory/updates/1.xml", 2),
            ("2024-01-04T08:00:00Z", "A", "s2", "1", "inventory/updates/2.xml", 0),
        ],
        INVENTORY_RAW_SCHEMA,
    )
    expected = spark.createDataFrame(
        [
            ("A", "s1", 4, datetime(2024, 1, 5, 8), "inventory/updates/1.xml"),
            ("A", "s2", 9, datetime(2024, 1, 6, 8), "inventory/updates/1.xml"),
        ],
        "sku string, store_id string, on_hand int, snapshot_ts timestamp, _source_key string",
    )
    assertDataFrameEqual(latest_inventory(type_inventory(raw)), expected)


def test_inventory_rules_drop_bad_counts(spark):
    rows = spark.createDataFrame(
        [
            ("A", "s1", 1, datetime(2024, 1, 5), "k", None, "r"),
            ("B", "s1", -1, datetime(2024, 1, 5), "k", None, "r"),
            ("C", None, None, datetime(2030, 1, 1), "k", None, "r"),
        ],
        INVENTORY_SILVER_SCHEMA,
    )
    gate = run_gate(
        rows.cache(), inventory_quality_rules(datetime(2024, 1, 10, tzinfo=UTC)), suite_name="t", max_drop_ratio=1.0
    )
    expected = spark.createDataFrame(
        [("B", ["on_hand_not_negative"]), ("C", ["store_id_not_null", "on_hand_parses", "snapshot_ts_not_in_future"])],
        "sku string, _failed_rules array<string>",
    )
    assertDataFrameEqual(gate.quarantined.select("sku", "_failed_rules"), expected)


def test_scheduled_sync_processes_every_pending_file_once(spark, tmp_path):
    lake = LocalLake(tmp_path)
    lake.put("inventory/updates/1.xml", snapshot("2024-01-05T08:00:00Z", ("A", "s1", "3"), ("B", "s1", "5")))
    lake.put("inventory/updates/2.xml", snapshot("2024-01-04T08:00:00Z", ("A", "s1", "1"), ("A", "s2", "7")))
    bronze_before = lake.hashes(lake.bronze)

    first = lake.run("inventory_sync", spark, trigger_source="schedule")
    second = lake.run("inventory_sync", spark, trigger_source="schedule")

    assert (first.state, first.rows_read, first.rows_written) == ("SUCCEEDED", 4, 3)
    assert (second.state, second.source_keys) == ("NO_INPUT", [])
    expected = spark.createDataFrame(
        [
            ("A", "s1", 3, datetime(2024, 1, 5, 8), "inventory/updates/1.xml", first.run_id),
            ("A", "s2", 7, datetime(2024, 1, 4, 8), "inventory/updates/2.xml", first.run_id),
            ("B", "s1", 5, datetime(2024, 1, 5, 8), "inventory/updates/1.xml", first.run_id),
        ],
        SILVER_NO_INGEST,
    )
    assertDataFrameEqual(lake.read(spark, "inventory", INVENTORY_SILVER_SCHEMA).select(*BUSINESS), expected)
    assert lake.hashes(lake.bronze) == bronze_before


def test_an_xml_bomb_upload_fails_without_touching_silver(spark, tmp_path):
    lake = LocalLake(tmp_path)
    lake.put("inventory/updates/bomb.xml", BILLION_LAUGHS)
    summary = lake.upload_event("inventory_sync", spark, "inventory/updates/bomb.xml")
    assert (summary.state, summary.error_kind) == ("FAILED", "input")
    assert "inventory/updates/bomb.xml" in summary.error
    assert lake.files(lake.silver) == [f"_quarantine/inventory/{summary.run_id}/rejected.json"]
