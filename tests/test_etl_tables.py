"""etl.tables: the precedence rules (pure) and one-commit writes to a local Iceberg table."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from pyspark.testing import assertDataFrameEqual

from etl.session import table_session
from etl.storage import ObjectInfo
from etl.tables import (
    SUMMARY_JOB,
    SUMMARY_RUN_ID,
    SUMMARY_SOURCES,
    Commit,
    DatasetSpec,
    IcebergTable,
    mark_merge_winners,
    sql_literal,
)
from etl.tables.commits import Committer

pytestmark = pytest.mark.spark

SCHEMA = "id string, value int, day date, _source_key string, _ingested_at timestamp, _run_id string"
T0, T1 = datetime(2024, 1, 1), datetime(2024, 2, 1)


def rows(spark, data):
    return spark.createDataFrame(data, SCHEMA)


def winners(spark, existing, incoming, latest_order=("_origin", "_source_key")):
    marked = mark_merge_winners(
        rows(spark, existing), rows(spark, incoming), ["id"], ["id", "value", "day"], latest_order
    )
    return marked.filter("_winner").drop("_winner")


def test_merge_keeps_the_existing_row_when_the_same_object_brings_the_same_values(spark):
    existing = [("a", 1, date(2024, 1, 1), "k1", T0, "r0")]
    incoming = [("a", 1, date(2024, 1, 1), "k1", T1, "r1")]
    expected = spark.createDataFrame([("a", 1, date(2024, 1, 1), "k1", T0, "r0", 0)], SCHEMA + ", _origin int")
    assertDataFrameEqual(winners(spark, existing, incoming), expected)


def test_merge_takes_the_incoming_row_when_values_or_source_differ(spark):
    existing = [
        ("a", 1, date(2024, 1, 1), "k1", T0, "r0"),
        ("b", 2, date(2024, 1, 1), "k1", T0, "r0"),
        ("c", 3, date(2024, 1, 1), "k1", T0, "r0"),
    ]
    incoming = [
        ("a", 9, date(2024, 1, 2), "k1", T1, "r1"),  # same object re-uploaded with a change
        ("b", 2, date(2024, 1, 1), "k2", T1, "r1"),  # same values from another object
        ("d", 4, date(2024, 1, 1), "k2", T1, "r1"),  # new key
    ]
    expected = spark.createDataFrame(
        [
            ("a", 9, date(2024, 1, 2), "k1", T1, "r1", 1),
            ("b", 2, date(2024, 1, 1), "k2", T1, "r1", 1),
            ("c", 3, date(2024, 1, 1), "k1", T0, "r0", 0),
            ("d", 4, date(2024, 1, 1), "k2", T1, "r1", 1),
        ],
        SCHEMA + ", _origin int",
    )
    assertDataFrameEqual(winners(spark, existing, incoming), expected)


def test_a_latest_order_on_data_lets_an_older_incoming_row_lose(spark):
    existing = [("a", 5, date(2024, 1, 9), "k2", T0, "r0")]
    incoming = [("a", 1, date(2024, 1, 1), "k1", T1, "r1")]
    expected = spark.createDataFrame([("a", 5, date(2024, 1, 9), "k2", T0, "r0", 0)], SCHEMA + ", _origin int")
    assertDataFrameEqual(winners(spark, existing, incoming, ("day", "_source_key", "_origin")), expected)


def test_partition_values_become_sql_literals_that_cannot_break_out_of_the_statement():
    from pyspark.sql.types import DateType, IntegerType, StringType

    assert sql_literal(date(2024, 1, 5), DateType()) == "DATE'2024-01-05'"
    assert sql_literal(7, IntegerType()) == "CAST(7 AS int)"
    assert sql_literal("it's a \\ test", StringType()) == "'it\\'s a \\\\ test'"
    with pytest.raises(ValueError):
        sql_literal(None, StringType())


# ---- writes to a table ------------------------------------------------------------------------


@pytest.fixture()
def table(spark, tmp_path):
    session = table_session(spark, str(tmp_path))
    spec = DatasetSpec(
        "data_lake_test", "things", str(tmp_path / "silver" / "things"), rows(session, []).schema, ("id",), ("day",)
    )
    return IcebergTable(session, spec)


def table_in(spark, tmp_path, path: str) -> tuple:
    """(a session, its table `things_<path>`) in a lake of its own under tmp_path/path."""
    session = table_session(spark, str(tmp_path / path))
    spec = DatasetSpec(
        "data_lake_test", f"things_{path}", str(tmp_path / path / "things"), rows(session, []).schema, ("id",), ("day",)
    )
    return session, IcebergTable(session, spec)


def commit(run_id: str, *keys: str) -> Commit:
    return Commit(run_id=run_id, job="things_etl", sources=tuple(ObjectInfo(k, 10, f"etag-{k}") for k in keys))


def content(table: IcebergTable) -> list[tuple]:
    return sorted(tuple(r) for r in table.read().select("id", "value", "day", "_source_key", "_run_id").collect())


def snapshots(table: IcebergTable) -> list[dict]:
    query = f"SELECT snapshot_id, operation, summary FROM {table.spec.identifier}.snapshots ORDER BY committed_at"
    return [row.asDict() for row in table.spark.sql(query).collect()]


def changed_files(table: IcebergTable, snapshot_id: int) -> list[tuple[int, date]]:
    """(status, day) of each data file entry a snapshot added (1) or deleted (2)."""
    query = (
        f"SELECT status, data_file.partition.day AS day FROM {table.spec.identifier}.entries "
        f"WHERE snapshot_id = {snapshot_id}"
    )
    return sorted((r["status"], r["day"]) for r in table.spark.sql(query).collect())


def test_the_table_is_created_from_the_spec_as_an_iceberg_v2_table_partitioned_like_the_dataset(table):
    table.ensure()
    spark, identifier = table.spark, table.spec.identifier
    properties = dict(spark.sql(f"SHOW TBLPROPERTIES {identifier}").collect())
    assert properties["format-version"] == "2"
    assert properties["write.merge.mode"] == "copy-on-write"
    described = {r["col_name"]: r["data_type"] for r in spark.sql(f"DESCRIBE TABLE EXTENDED {identifier}").collect()}
    assert described["_partition"] == "struct<day:date>"
    assert described["Location"].endswith("/silver/things")
    assert [(f.name, f.dataType.simpleString()) for f in table.read().schema.fields] == [
        (f.name, f.dataType.simpleString()) for f in table.spec.schema.fields
    ]


def test_a_first_write_appends_and_its_snapshot_names_the_run_the_job_and_the_sources(spark, table):
    result = table.merge(
        rows(table.spark, [("a", 1, date(2024, 1, 1), "k1", T0, "r0"), ("b", 2, date(2024, 1, 2), "k1", T0, "r0")]),
        commit("r0", "k1"),
        keys_unique=True,
        incoming_rows=2,
    )
    assert (result.operation, result.rows_written) == ("append", 2)
    assert result.partitions == [{"day": "2024-01-01"}, {"day": "2024-01-02"}]
    [snapshot] = snapshots(table)
    assert snapshot["snapshot_id"] == result.snapshot_id
    assert snapshot["summary"][SUMMARY_RUN_ID] == "r0"
    assert snapshot["summary"][SUMMARY_JOB] == "things_etl"
    assert json.loads(snapshot["summary"][SUMMARY_SOURCES]) == [{"key": "k1", "size": 10, "etag": "etag-k1"}]


@pytest.mark.parametrize("keys_unique", [True, False])
def test_a_first_write_reports_what_the_general_write_path_reports(spark, tmp_path, keys_unique):
    """A write into an empty table with its row count known reads what it added from the
    snapshot's metadata; a write without a row count measures the rows first. Both must agree,
    null partition values and repeated keys included."""
    data = [
        ("a", 1, date(2024, 1, 1), "k1", T0, "r0"),
        ("b", 2, None, "k1", T0, "r0"),
        ("c", 3, date(2024, 1, 3), "k1", T0, "r0"),
    ]
    if not keys_unique:
        data.append(("a", 4, date(2024, 1, 2), "k2", T0, "r0"))  # repeated key: k2 wins
    results = []
    for path, count in (("counted", len(data)), ("measured", None)):
        session, target = table_in(spark, tmp_path, path)
        result = target.merge(
            rows(session, data), commit("r0", "k1", "k2"), keys_unique=keys_unique, incoming_rows=count
        )
        results.append(
            (result.operation, result.rows_written, result.partitions, result.base_snapshot_id, content(target))
        )
    assert results[0] == results[1]
    assert results[0][1] == 3
    assert {"day": None} in results[0][2]


@pytest.mark.parametrize(
    ("column_type", "values"),
    [
        ("date", [date(2024, 1, 1), None, date(1969, 12, 31)]),
        ("string", ["x", None, "a'b"]),
        ("int", [1, None, -2]),
        ("bigint", [2**40, None, 3]),
        ("boolean", [True, None, False]),
        # Not read from the manifests (etl.jvm lists the types it converts): the metadata query.
        ("timestamp", [T0, None, T1]),
        ("decimal(10,2)", [Decimal("1.50"), None, Decimal("-2.00")]),
        (None, [1, 2, 3]),  # unpartitioned
    ],
)
def test_what_a_snapshot_added_is_what_its_entries_metadata_table_shows(spark, tmp_path, column_type, values):
    """`Committer.added` reads the added data files from Iceberg's manifests in the driver; the
    rows and partition values must be those Spark's `entries` table gives for the snapshot."""
    session = table_session(spark, str(tmp_path))
    kind = column_type or "int"
    schema = session.createDataFrame([], f"id string, p {kind}").schema
    parts = ("p",) if column_type else ()
    spec = DatasetSpec("data_lake_test", "typed_parts", str(tmp_path / "typed_parts"), schema, ("id",), parts)
    IcebergTable(session, spec).ensure()
    data = [(f"k{i}", value) for i, value in enumerate(values) for _ in range(i + 1)]  # 1, 2, 3 rows
    session.createDataFrame(data, schema).writeTo(spec.identifier).append()
    committer = Committer(session, spec)
    snapshot_id = committer.current_snapshot_id()
    assert snapshot_id is not None

    rows_added, partitions = committer.added(snapshot_id)

    entries = session.sql(
        f"SELECT data_file.record_count AS n{', data_file.partition.p AS p' if parts else ''} "
        f"FROM {spec.identifier}.entries WHERE snapshot_id = {snapshot_id} AND status = 1"
    ).collect()
    assert rows_added == sum(e["n"] for e in entries) == 6
    expected = {(e["p"],) for e in entries} if parts else {()}
    assert sorted(partitions, key=repr) == sorted(expected, key=repr)
    assert len(partitions) == (3 if parts else 1)
    assert committer.added_records(snapshot_id) == 6


def test_reprocessing_the_same_rows_commits_nothing(spark, table):
    data = [("a", 1, date(2024, 1, 1), "k1", T0, "r0")]
    table.merge(rows(table.spark, data), commit("r0", "k1"))
    again = table.merge(rows(table.spark, [("a", 1, date(2024, 1, 1), "k1", T1, "r1")]), commit("r1", "k1"))
    assert (again.operation, again.rows_written, again.snapshot_id) == ("none", 0, None)
    assert len(snapshots(table)) == 1
    assert content(table) == [("a", 1, date(2024, 1, 1), "k1", "r0")]


def test_a_restated_key_moves_in_one_merge_commit_that_touches_only_its_two_partitions(spark, table):
    table.merge(
        rows(
            table.spark,
            [
                ("a", 1, date(2024, 1, 1), "k1", T0, "r0"),
                ("b", 2, date(2024, 1, 2), "k1", T0, "r0"),
                ("c", 3, date(2024, 1, 3), "k1", T0, "r0"),
            ],
        ),
        commit("r0", "k1"),
    )
    result = table.merge(rows(table.spark, [("a", 5, date(2024, 1, 2), "k2", T1, "r1")]), commit("r1", "k2"))
    assert (result.operation, result.rows_written) == ("merge", 1)
    assert result.partitions == [{"day": "2024-01-01"}, {"day": "2024-01-02"}]
    assert content(table) == [
        ("a", 5, date(2024, 1, 2), "k2", "r1"),
        ("b", 2, date(2024, 1, 2), "k1", "r0"),
        ("c", 3, date(2024, 1, 3), "k1", "r0"),
    ]
    assert len(snapshots(table)) == 2
    # Copy-on-write: the old files of both partitions are replaced; day 3 is not touched.
    touched = {day for _status, day in changed_files(table, result.snapshot_id)}
    assert touched == {date(2024, 1, 1), date(2024, 1, 2)}


def test_new_keys_are_appended_and_no_stored_file_is_rewritten(spark, table):
    table.merge(rows(table.spark, [("a", 1, date(2024, 1, 1), "k1", T0, "r0")]), commit("r0", "k1"), keys_unique=True)
    result = table.merge(
        rows(table.spark, [("b", 2, date(2024, 1, 1), "k2", T1, "r1")]),
        commit("r1", "k2"),
        keys_unique=True,
        incoming_rows=1,
    )
    assert result.operation == "append"
    assert changed_files(table, result.snapshot_id) == [(1, date(2024, 1, 1))]  # one file added, none deleted


STORED = [("k1", 1, date(2024, 1, 1), "f0", T0, "r0"), ("k5", 5, date(2024, 1, 2), "f0", T0, "r0")]


@pytest.mark.parametrize(
    ("incoming", "key_range"),
    [
        # New keys only: appended; one of them in a partition no stored row has, one without a day.
        ([("k6", 6, date(2024, 1, 3), "f1", T1, "r1"), ("k7", 7, None, "f1", T1, "r1")], ("k6", "k7")),
        # A restated key and a new one: merged.
        ([("k1", 9, date(2024, 1, 2), "f1", T1, "r1"), ("k3", 3, date(2024, 1, 1), "f1", T1, "r1")], ("k1", "k3")),
        # Bounds wider than the keys (the gate's range covers the rows it quarantined too).
        ([("k6", 6, date(2024, 1, 1), "f1", T1, "r1")], ("a", "z")),
        ([("k5", 8, date(2024, 1, 2), "f1", T1, "r1")], ("k0", "k9")),
    ],
    ids=["append", "merge", "wide_append", "wide_merge"],
)
def test_a_write_given_its_key_range_runs_no_stats_job_and_writes_what_a_measured_write_does(
    spark, tmp_path, monkeypatch, incoming, key_range
):
    import etl.tables.table as table_module

    measured_stats = table_module.incoming_stats
    outcomes = []
    for path, given in (("measured", None), ("given", key_range)):
        session, target = table_in(spark, tmp_path, path)
        target.merge(rows(session, STORED), commit("r0", "f0"), keys_unique=True, incoming_rows=len(STORED))
        stats_jobs: list[int] = []

        def counted(*args, jobs=stats_jobs, **kwargs):
            jobs.append(1)
            return measured_stats(*args, **kwargs)

        monkeypatch.setattr(table_module, "incoming_stats", counted)
        result = target.merge(
            rows(session, incoming),
            commit("r1", "f1"),
            keys_unique=True,
            incoming_rows=len(incoming),
            first_key_range=given,
        )
        partitions = sorted(result.partitions, key=str)
        outcomes.append((result.operation, result.rows_written, partitions, content(target), len(stats_jobs)))
    measured, given = outcomes
    assert measured[4] == 1 and given[4] == 0
    assert given[:4] == measured[:4]
    assert measured[1] == len(incoming)


def test_scan_planning_says_whether_any_data_file_may_hold_a_key_range(spark, table):
    from etl.jvm import data_files_may_hold

    identifier = table.spec.identifier
    table.ensure()
    assert not data_files_may_hold(table.spark, identifier, "id", "a", "z")  # no snapshot yet
    data = [("k100", 5, date(2024, 1, 1), "f1", T0, "r0"), ("k200", 7, date(2024, 1, 2), "f1", T0, "r0")]
    table.merge(rows(table.spark, data), commit("r0", "f1"), keys_unique=True, incoming_rows=2)
    # One file per day: [k100, k100] and [k200, k200]; the gap between them meets neither.
    assert [data_files_may_hold(table.spark, identifier, "id", lo, hi) for lo, hi in [
        ("k000", "k099"), ("k101", "k199"), ("k201", "k999"), ("k000", "k100"), ("k150", "k200"),
    ]] == [False, False, False, True, True]  # fmt: skip
    assert [data_files_may_hold(table.spark, identifier, "value", lo, hi) for lo, hi in [(6, 6), (5, 5), (0, 9)]] == [
        False,
        True,
        True,
    ]


def test_the_lookup_skips_stored_files_whose_key_statistics_miss_the_incoming_keys(spark, table, tmp_path):
    """Growing keys read no stored data file: a stored file is made unreadable, and a write of
    keys outside its min/max must not notice; a write of a key inside its range must."""
    table.merge(
        rows(
            table.spark, [("k100", 1, date(2024, 1, 1), "f1", T0, "r0"), ("k199", 1, date(2024, 1, 1), "f1", T0, "r0")]
        ),
        commit("r0", "f1"),
        keys_unique=True,
    )
    [data_file] = [
        Path(r[0].removeprefix("file:"))
        for r in table.spark.sql(f"SELECT file_path FROM {table.spec.identifier}.files").collect()
    ]
    data_file.write_bytes(b"PAR1 not parquet any more PAR1")
    result = table.merge(
        rows(table.spark, [("k200", 2, date(2024, 1, 2), "f2", T1, "r1")]),
        commit("r1", "f2"),
        keys_unique=True,
        incoming_rows=1,
    )
    assert result.operation == "append"
    with pytest.raises(Exception, match="(?i)parquet|footer|magic|corrupt"):
        table.merge(
            rows(table.spark, [("k150", 3, date(2024, 1, 3), "f3", T1, "r2")]),
            commit("r2", "f3"),
            keys_unique=True,
            incoming_rows=1,
        )


def test_repeated_incoming_keys_keep_one_winner(spark, table):
    incoming = [("a", 1, date(2024, 1, 1), "k1", T0, "r0"), ("a", 2, date(2024, 1, 1), "k2", T0, "r0")]
    table.merge(rows(table.spark, incoming), commit("r0", "k1", "k2"), keys_unique=False)
    assert content(table) == [("a", 2, date(2024, 1, 1), "k2", "r0")]  # the later source object wins


def test_replace_partitions_rewrites_the_listed_partitions_in_one_commit_and_empties_those_without_rows(spark, table):
    table.merge(
        rows(
            table.spark,
            [
                ("a", 1, date(2024, 1, 1), "k1", T0, "r0"),
                ("b", 2, date(2024, 1, 2), "k1", T0, "r0"),
                ("c", 3, date(2024, 1, 3), "k1", T0, "r0"),
            ],
        ),
        commit("r0", "k1"),
    )
    result = table.replace_partitions(
        rows(table.spark, [("d", 4, date(2024, 1, 2), "g", T1, "r1"), ("e", 5, date(2024, 1, 9), "g", T1, "r1")]),
        [(date(2024, 1, 1),), (date(2024, 1, 2),)],
        commit("r1"),
    )
    assert (result.operation, result.rows_written) == ("overwrite", 1)
    assert content(table) == [("c", 3, date(2024, 1, 3), "k1", "r0"), ("d", 4, date(2024, 1, 2), "g", "r1")]
    assert [s["operation"] for s in snapshots(table)] == ["append", "overwrite"]


def test_a_table_whose_columns_differ_from_the_spec_is_refused_with_both_lists(spark, table):
    table.ensure()
    table.spark.sql(f"ALTER TABLE {table.spec.identifier} DROP COLUMN value")
    with pytest.raises(RuntimeError, match=r"declared, not stored: \[\('value', 'int'\)\]"):
        table.merge(rows(table.spark, [("a", 1, date(2024, 1, 1), "k1", T0, "r0")]), commit("r0", "k1"))


def test_a_local_table_is_readable_by_pyiceberg_and_duckdb_from_its_metadata_alone(spark, table, tmp_path):
    from pyiceberg.catalog.sql import SqlCatalog

    from bench.iceberg_readers import duckdb_connection
    from etl.catalog import CATALOG, pyiceberg_catalog_properties

    table.merge(rows(table.spark, [("a", 1, date(2024, 1, 1), "k1", T0, "r0")]), commit("r0", "k1"))
    table.merge(
        rows(table.spark, [("a", 5, date(2024, 1, 2), "k2", T1, "r1"), ("b", 2, date(2024, 1, 1), "k2", T1, "r1")]),
        commit("r1", "k2"),
    )
    expected = content(table)
    loaded = SqlCatalog(CATALOG, **pyiceberg_catalog_properties(tmp_path)).load_table("data_lake_test.things")
    by_pyiceberg = sorted(
        tuple(r[c] for c in ("id", "value", "day", "_source_key", "_run_id"))
        for r in loaded.scan().to_arrow().to_pylist()
    )
    assert by_pyiceberg == expected
    with duckdb_connection() as duck:
        found = duck.execute(
            "SELECT id, value, day, _source_key, _run_id FROM iceberg_scan(?) ORDER BY id", [loaded.metadata_location]
        ).fetchall()
    assert sorted(found) == expected
