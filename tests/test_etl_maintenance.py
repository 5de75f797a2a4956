"""etl.maintenance: Iceberg maintenance procedures and rollback with the ledger following it."""

from __future__ import annotations

import os
import time

import pytest
from support.etl_lake import LocalLake

from etl import ledger
from etl.maintenance import Retention, RollbackError, maintain, rollback_table, snapshot_of_run
from etl.session import table_session
from etl.storage import LocalStorage

pytestmark = pytest.mark.spark

HEADER = "order_id,order_ts,store_id,customer_id,sku,quantity,unit_price,currency"
SALES = "lake.data_lake_dev.sales"
BUSINESS = (
    "order_id",
    "order_ts",
    "store_id",
    "sku",
    "quantity",
    "unit_price",
    "currency",
    "order_date",
    "_source_key",
)


def snapshot_rows(lake: LocalLake, spark, columns=None) -> list[tuple]:
    """The table's current snapshot as Iceberg readers see it (pyiceberg, no Spark)."""
    from pyiceberg.catalog.sql import SqlCatalog

    from etl.catalog import CATALOG, pyiceberg_catalog_properties

    table = SqlCatalog(CATALOG, **pyiceberg_catalog_properties(lake.root)).load_table("data_lake_dev.sales")
    arrow = table.scan().to_arrow()
    names = columns or arrow.column_names
    return sorted(tuple(row[c] for c in names) for row in arrow.to_pylist())


def pending(lake: LocalLake) -> list[str]:
    storage = LocalStorage(lake.root)
    done = ledger.processed_objects(storage, lake.silver, "sales_etl")
    return [o.key for o in ledger.pending_objects(storage.list_objects(lake.bronze, "sales/"), done)]


def test_rollback_restores_the_previous_snapshot_exactly_and_reprocessing_reproduces_the_load(spark, tmp_path):
    lake = LocalLake(tmp_path)
    lake.put(
        "sales/good.csv",
        f"{HEADER}\no1,2024-01-05T10:00:00Z,s1,c,A,2,10.00,EUR\no2,2024-01-06T10:00:00Z,s1,c,A,1,1.00,EUR\n",
    )
    good = lake.run("sales_etl", spark, trigger_source="schedule")
    after_good = snapshot_rows(lake, spark)
    # A bad load: o1 restated with a wrong price and a new order.
    lake.put(
        "sales/bad.csv",
        f"{HEADER}\no1,2024-01-05T10:00:00Z,s1,c,A,2,99.00,EUR\no3,2024-01-07T10:00:00Z,s2,c,B,1,3.00,EUR\n",
    )
    bad = lake.run("sales_etl", spark, trigger_source="schedule")
    after_bad = snapshot_rows(lake, spark, BUSINESS)
    assert (good.state, bad.state) == ("SUCCEEDED", "SUCCEEDED")
    assert pending(lake) == []

    session = table_session(spark, str(tmp_path))
    target = snapshot_of_run(session, SALES, good.run_id)
    result = rollback_table(
        session,
        LocalStorage(tmp_path),
        identifier=SALES,
        bucket=lake.silver,
        job="sales_etl",
        to_snapshot=target,
        rollback_id="rb-1",
    )

    assert snapshot_rows(lake, spark) == after_good  # every column, lineage stamps included
    assert result.runs == [bad.run_id]
    assert [o["key"] for o in result.objects] == ["sales/bad.csv"]
    assert pending(lake) == ["sales/bad.csv"]  # the ledger follows the table

    again = lake.run("sales_etl", spark, trigger_source="schedule")
    assert (again.state, again.source_keys) == ("SUCCEEDED", ["sales/bad.csv"])
    assert snapshot_rows(lake, spark, BUSINESS) == after_bad
    assert pending(lake) == []


def test_a_run_that_committed_nothing_after_the_target_is_un_recorded_too(spark, tmp_path):
    """A re-sent object whose rows were already stored commits nothing; it read a snapshot the
    rollback removes, so its object must be pending again as well."""
    lake = LocalLake(tmp_path)
    lake.put("sales/a.csv", f"{HEADER}\no1,2024-01-05T10:00:00Z,s1,c,A,2,10.00,EUR\n")
    first = lake.upload_event("sales_etl", spark, "sales/a.csv")
    lake.put("sales/b.csv", f"{HEADER}\no2,2024-01-06T10:00:00Z,s1,c,A,1,1.00,EUR\n")
    lake.upload_event("sales_etl", spark, "sales/b.csv")
    lake.put("sales/b-copy.csv", f"{HEADER}\no2,2024-01-06T10:00:00Z,s1,c,A,1,1.00,EUR\n")
    copy = lake.upload_event("sales_etl", spark, "sales/b-copy.csv")
    assert copy.state == "SUCCEEDED"

    session = table_session(spark, str(tmp_path))
    result = rollback_table(
        session,
        LocalStorage(tmp_path),
        identifier=SALES,
        bucket=lake.silver,
        job="sales_etl",
        to_snapshot=snapshot_of_run(session, SALES, first.run_id),
        rollback_id="rb-2",
    )
    assert set(pending(lake)) == {"sales/b.csv", "sales/b-copy.csv"}
    assert len(result.runs) == 2


def test_rollback_refuses_targets_outside_the_current_history(spark, tmp_path):
    lake = LocalLake(tmp_path)
    lake.put("sales/a.csv", f"{HEADER}\no1,2024-01-05T10:00:00Z,s1,c,A,2,10.00,EUR\n")
    first = lake.upload_event("sales_etl", spark, "sales/a.csv")
    session = table_session(spark, str(tmp_path))
    current = snapshot_of_run(session, SALES, first.run_id)
    storage = LocalStorage(tmp_path)
    with pytest.raises(RollbackError, match="already the current snapshot"):
        rollback_table(
            session,
            storage,
            identifier=SALES,
            bucket=lake.silver,
            job="sales_etl",
            to_snapshot=current,
            rollback_id="rb",
        )
    with pytest.raises(RollbackError, match="not in the current history"):
        rollback_table(
            session, storage, identifier=SALES, bucket=lake.silver, job="sales_etl", to_snapshot=12345, rollback_id="rb"
        )
    with pytest.raises(RollbackError, match="committed no snapshot"):
        snapshot_of_run(session, SALES, "local-nope")
    assert not storage.list_objects(lake.silver, "_ledger/sales_etl/rb"), "a refused rollback records nothing"


def test_maintenance_compacts_expires_and_removes_orphans_without_changing_the_content(spark, tmp_path):
    lake = LocalLake(tmp_path)
    for day in range(1, 6):  # five daily loads of one order each: five small files in one partition
        lake.put(f"sales/d{day}.csv", f"{HEADER}\no{day},2024-01-05T1{day}:00:00Z,s1,c,A,{day},1.00,EUR\n")
        assert lake.upload_event("sales_etl", spark, f"sales/d{day}.csv").state == "SUCCEEDED"
    session = table_session(spark, str(tmp_path))
    before = snapshot_rows(lake, spark)
    files_before = session.sql(f"SELECT count(*) FROM {SALES}.files").first()[0]
    orphan = tmp_path / lake.silver / "sales" / "data" / "order_date=2024-01-05" / "left-by-a-killed-run.parquet"
    orphan.write_bytes(b"PAR1 nothing PAR1")
    old = time.time() - 10 * 86400
    os.utime(orphan, (old, old))

    # Retention 0 days: every snapshot but the last is old enough to expire.
    result = maintain(session, SALES, Retention(snapshot_days=0, min_snapshots=1, orphan_days=3))

    assert files_before == 5 and result.rewritten_files == 5 and result.added_files == 1
    assert session.sql(f"SELECT count(*) FROM {SALES}.files").first()[0] == 1
    assert result.expired_snapshots == 5  # the five loads; the compaction's snapshot stays
    assert session.sql(f"SELECT count(*) FROM {SALES}.snapshots").first()[0] == 1
    assert [p.rsplit("/", 1)[1] for p in result.orphan_files] == ["left-by-a-killed-run.parquet"]
    assert not orphan.exists()
    assert snapshot_rows(lake, spark) == before


def test_the_maintenance_job_maintains_the_tables_it_is_given_and_skips_missing_ones(spark, tmp_path):
    lake = LocalLake(tmp_path)
    # Iceberg's bin-packing compacts a partition from 5 small files on (min-input-files).
    for day in range(1, 6):
        lake.put(f"sales/d{day}.csv", f"{HEADER}\no{day},2024-01-05T1{day}:00:00Z,s1,c,A,{day},1.00,EUR\n")
        assert lake.upload_event("sales_etl", spark, f"sales/d{day}.csv").state == "SUCCEEDED"
    summary = lake.run(
        "table_maintenance",
        spark,
        tables="sales,products",
        snapshot_retention_days="0",
        min_snapshots="1",
        orphan_retention_days="3",
    )
    assert (summary.state, summary.error) == ("SUCCEEDED", None)
    assert summary.outputs == [
        "data_lake_dev.sales: 5 data files rewritten into 1, 5 snapshots expired, 0 orphan files removed"
    ]


def test_the_maintenance_job_refuses_bad_arguments_before_touching_a_table(spark, tmp_path):
    lake = LocalLake(tmp_path)
    summary = lake.run("table_maintenance", spark, tables="sales", min_snapshots="0")
    assert (summary.state, summary.error_kind) == ("FAILED", "input")
    assert "--min_snapshots '0' is out of range" in summary.error
    summary = lake.run("table_maintenance", spark)
    assert "--tables names no table" in summary.error
