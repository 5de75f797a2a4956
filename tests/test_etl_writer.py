from __future__ import annotations

import json
from datetime import date, datetime

import pytest
from pyspark.sql import functions as F
from pyspark.testing import assertDataFrameEqual

from etl.storage import LocalStorage
from etl.writer import AtomicParquetWriter, DatasetSpec, mark_merge_winners, partition_dir, partition_values

pytestmark = pytest.mark.spark

SCHEMA = "id string, value int, day date, _source_key string, _ingested_at timestamp, _run_id string"
T0, T1 = datetime(2024, 1, 1), datetime(2024, 2, 1)
SILVER = "data-lake-dev-silver"


def rows(spark, data):
    return spark.createDataFrame(data, SCHEMA)


def winners(spark, existing, incoming, latest_order=("_origin", "_source_key")):
    marked = mark_merge_winners(rows(spark, existing), rows(spark, incoming), ["id"], ["id", "value", "day"], latest_order)
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


def test_partition_dirs_are_named_like_spark_names_them():
    assert partition_dir(["day"], [date(2024, 1, 5)]) == "day=2024-01-05"
    assert partition_dir(["a", "b"], ["x/y:z", None]) == "a=x%2Fy%3Az/b=__HIVE_DEFAULT_PARTITION__"


def test_partition_values_are_read_back_from_directory_names():
    assert partition_values(["day"], "day=2024-01-05") == ("2024-01-05",)
    odd = ["x/y:z=%é", "a#b?c", None]
    assert partition_values(["a", "b", "c"], partition_dir(["a", "b", "c"], odd)) == tuple(odd)
    with pytest.raises(ValueError, match="does not name"):
        partition_values(["day"], "month=2024-01")


def test_merge_moves_a_restated_key_and_rewrites_only_changed_partitions(spark, tmp_path):
    storage = LocalStorage(tmp_path)
    spec = DatasetSpec(SILVER, "things", rows(spark, []).schema, ("id",), ("day",))
    first = AtomicParquetWriter(spark, storage, spec, "r0").merge(
        rows(spark, [("a", 1, date(2024, 1, 1), "k1", T0, "r0"), ("b", 2, date(2024, 1, 2), "k1", T0, "r0")])
    )
    untouched = (tmp_path / SILVER / "things/day=2024-01-02/part-00000.snappy.parquet").read_bytes()
    (tmp_path / SILVER / "_staging/things/killed-run/day=2024-01-01").mkdir(parents=True)  # left by a crash

    second = AtomicParquetWriter(spark, storage, spec, "r1").merge(rows(spark, [("a", 1, date(2024, 1, 3), "k2", T1, "r1")]))

    assert (first.rows_written, second.rows_written) == (2, 1)
    assert second.partitions == [{"day": "2024-01-01"}, {"day": "2024-01-03"}]
    assert second.deleted == ["things/day=2024-01-01/"]
    assert sorted(p.relative_to(tmp_path / SILVER).as_posix() for p in (tmp_path / SILVER).rglob("*") if p.is_file()) == [
        "_stats/things/key_ranges.json",
        "things/day=2024-01-02/part-00000.snappy.parquet",
        "things/day=2024-01-03/part-00000.snappy.parquet",
    ]
    assert (tmp_path / SILVER / "things/day=2024-01-02/part-00000.snappy.parquet").read_bytes() == untouched
    stored = spark.read.schema(spec.schema).parquet(str(tmp_path / SILVER / "things")).select(*spec.columns)
    assertDataFrameEqual(stored, rows(spark, [("a", 1, date(2024, 1, 3), "k2", T1, "r1"), ("b", 2, date(2024, 1, 2), "k1", T0, "r0")]))


def test_replace_partitions_drops_partitions_without_rows(spark, tmp_path):
    storage = LocalStorage(tmp_path)
    spec = DatasetSpec(SILVER, "daily", rows(spark, []).schema, ("id", "day"), ("day",))
    writer = AtomicParquetWriter(spark, storage, spec, "r0")
    writer.replace_partitions(rows(spark, [("a", 1, date(2024, 1, 1), "k", T0, "r0"), ("a", 1, date(2024, 1, 2), "k", T0, "r0")]), [(date(2024, 1, 1),), (date(2024, 1, 2),)])

    result = AtomicParquetWriter(spark, storage, spec, "r1").replace_partitions(
        rows(spark, [("z", 7, date(2024, 1, 2), "k", T1, "r1")]).filter(F.col("id") != "z"), [(date(2024, 1, 2),)]
    )

    assert (result.files, result.deleted) == ([], ["daily/day=2024-01-02/"])
    stored = spark.read.schema(spec.schema).parquet(str(tmp_path / SILVER / "daily")).select(*spec.columns)
    assertDataFrameEqual(stored, rows(spark, [("a", 1, date(2024, 1, 1), "k", T0, "r0")]))


def _stored(spark, tmp_path, spec):
    return spark.read.schema(spec.schema).parquet(str(tmp_path / SILVER / spec.dataset)).select(*spec.columns)


def test_a_first_write_with_repeated_keys_keeps_one_winner_per_key(spark, tmp_path):
    """Into an empty dataset the writer skips the per-key window only when keys are unique;
    a repeated key still gets exactly one (deterministic) winner."""
    spec = DatasetSpec(SILVER, "things", rows(spark, []).schema, ("id",), ("day",))
    incoming = [("a", 1, date(2024, 1, 1), "k1", T0, "r0"), ("a", 2, date(2024, 1, 2), "k2", T0, "r0"),
                ("b", 3, date(2024, 1, 2), "k1", T0, "r0")]
    result = AtomicParquetWriter(spark, LocalStorage(tmp_path), spec, "r0").merge(rows(spark, incoming))
    assert result.rows_written == 2
    # greatest _source_key wins (latest_order), so k2's row for "a", in day 2024-01-02
    assertDataFrameEqual(_stored(spark, tmp_path, spec), rows(spark, incoming[1:]))
    assert result.partitions == [{"day": "2024-01-02"}]


def test_the_insert_only_path_writes_what_the_general_merge_writes(spark, tmp_path):
    spec = DatasetSpec(SILVER, "things", rows(spark, []).schema, ("id",), ("day",))
    incoming = [(f"k{n}", n, date(2024, 1, 1 + n % 3), "src", T0, "r0") for n in range(12)]
    fast_root, general_root = tmp_path / "fast", tmp_path / "general"
    fast = AtomicParquetWriter(spark, LocalStorage(fast_root), spec, "r0").merge(rows(spark, incoming), keys_unique=True,
                                                                                incoming_rows=len(incoming))  # one task
    # the general path: the same rows merged through mark_merge_winners (an empty existing frame)
    general_writer = AtomicParquetWriter(spark, LocalStorage(general_root), spec, "r0")
    general_writer._insert_only = lambda *_a, **_k: None  # force the window merge
    general = general_writer.merge(rows(spark, incoming))
    assert (fast.rows_written, fast.partitions, fast.files) == (general.rows_written, general.partitions, general.files)
    for file in fast.files:
        assert (fast_root / SILVER / file).read_bytes() == (general_root / SILVER / file).read_bytes()


def _files(root):
    return sorted(p.relative_to(root / SILVER).as_posix() for p in (root / SILVER).rglob("*.parquet"))


def test_new_keys_are_appended_without_rewriting_stored_files_and_a_restatement_compacts(spark, tmp_path):
    """Incremental cost: a run bringing only new keys adds one file per touched partition and
    leaves every stored file as it was; a later run restating a key rewrites that partition
    as one base file again."""
    storage = LocalStorage(tmp_path)
    spec = DatasetSpec(SILVER, "things", rows(spark, []).schema, ("id",), ("day",))
    AtomicParquetWriter(spark, storage, spec, "r0").merge(
        rows(spark, [("a", 1, date(2024, 1, 1), "k0", T0, "r0"), ("b", 2, date(2024, 1, 2), "k0", T0, "r0")])
    )
    base = {f: (tmp_path / SILVER / f).read_bytes() for f in _files(tmp_path)}

    late = [("c", 3, date(2024, 1, 1), "k1", T1, "r1"), ("d", 4, date(2024, 1, 3), "k1", T1, "r1")]
    appended = AtomicParquetWriter(spark, storage, spec, "r1").merge(rows(spark, late), keys_unique=True)

    assert appended.rows_written == 2
    assert appended.files == ["things/day=2024-01-01/part-r1.snappy.parquet", "things/day=2024-01-03/part-00000.snappy.parquet"]
    assert _files(tmp_path) == sorted([*base, *appended.files])
    assert {f: (tmp_path / SILVER / f).read_bytes() for f in base} == base
    assertDataFrameEqual(_stored(spark, tmp_path, spec), rows(spark, [
        ("a", 1, date(2024, 1, 1), "k0", T0, "r0"), ("b", 2, date(2024, 1, 2), "k0", T0, "r0"), *late]))

    # the same input again: every key is stored, the merge finds nothing to change
    again = AtomicParquetWriter(spark, storage, spec, "r2").merge(rows(spark, late), keys_unique=True)
    assert (again.rows_written, again.files) == (0, [])
    assert _files(tmp_path) == sorted([*base, *appended.files])

    restated = AtomicParquetWriter(spark, storage, spec, "r3").merge(
        rows(spark, [("c", 30, date(2024, 1, 1), "k3", T1, "r3")]), keys_unique=True
    )
    assert restated.files == ["things/day=2024-01-01/part-00000.snappy.parquet"]
    assert "things/day=2024-01-01/part-r1.snappy.parquet" not in _files(tmp_path)
    assertDataFrameEqual(_stored(spark, tmp_path, spec).filter("day = '2024-01-01'"), rows(spark, [
        ("a", 1, date(2024, 1, 1), "k0", T0, "r0"), ("c", 30, date(2024, 1, 1), "k3", T1, "r3")]))


def test_a_partition_with_the_most_appended_files_is_compacted_by_the_next_write(spark, tmp_path, monkeypatch):
    monkeypatch.setattr("etl.writer.MAX_APPENDED_FILES", 2)
    storage = LocalStorage(tmp_path)
    spec = DatasetSpec(SILVER, "things", rows(spark, []).schema, ("id",), ())  # unpartitioned
    written = []
    for n in range(4):
        written.append((f"id{n}", n, date(2024, 1, 1), f"k{n}", T0, f"r{n}"))
        AtomicParquetWriter(spark, storage, spec, f"r{n}").merge(rows(spark, written[-1:]), keys_unique=True)
        assertDataFrameEqual(_stored(spark, tmp_path, spec), rows(spark, written))
        if n < 3:
            assert len(_files(tmp_path)) == n + 1
    assert _files(tmp_path) == ["things/part-00000.snappy.parquet"]


def test_the_key_and_declared_distinct_columns_are_written_without_a_dictionary(spark, tmp_path):
    """Parquet dictionaries are kept for repeating values and skipped for the key and the
    columns a dataset declares nearly distinct (a dictionary Parquet would throw away).
    `value` repeats here, so only the setting can keep its dictionary out."""
    import pyarrow.parquet as pq

    spec = DatasetSpec(SILVER, "things", rows(spark, []).schema, ("id",), ("day",), distinct_columns=("value",))
    assert spec.plain_columns == ("id", "value")
    incoming = [(f"k{n}", n % 3, date(2024, 1, 1), "src", T0, "r0") for n in range(50)]
    result = AtomicParquetWriter(spark, LocalStorage(tmp_path), spec, "r0").merge(rows(spark, incoming))
    [file] = result.files
    chunks = pq.ParquetFile(tmp_path / SILVER / file).metadata.row_group(0)
    dictionary = {chunks.column(i).path_in_schema: chunks.column(i).has_dictionary_page for i in range(chunks.num_columns)}
    assert dictionary == {"id": False, "value": False, "_source_key": True, "_ingested_at": True, "_run_id": True}
    assertDataFrameEqual(_stored(spark, tmp_path, spec), rows(spark, incoming))


def _key_ranges(tmp_path, dataset="things"):
    return json.loads((tmp_path / SILVER / f"_stats/{dataset}/key_ranges.json").read_text())["files"]


def test_each_written_file_records_the_range_of_its_keys_and_only_meeting_files_are_read(spark, tmp_path):
    """A daily load of new, growing keys reads no stored file to find restatements; a key
    inside a file's range makes that file (and only it) be read."""
    storage = LocalStorage(tmp_path)
    spec = DatasetSpec(SILVER, "things", rows(spark, []).schema, ("id",), ("day",))
    AtomicParquetWriter(spark, storage, spec, "r0").merge(
        rows(spark, [("k10", 1, date(2024, 1, 1), "s", T0, "r0"), ("k19", 2, date(2024, 1, 1), "s", T0, "r0"),
                     ("k20", 3, date(2024, 1, 2), "s", T0, "r0"), ("k29", 4, date(2024, 1, 2), "s", T0, "r0")]),
        keys_unique=True, incoming_rows=4)
    ranges = _key_ranges(tmp_path)
    for file, entry in ranges.items():
        stored = spark.read.parquet(str(tmp_path / SILVER / file)).agg(F.min("id"), F.max("id")).first()
        assert entry["min"] <= stored[0] and stored[1] <= entry["max"], file
        assert entry["size"] == (tmp_path / SILVER / file).stat().st_size
    assert sorted((e["min"], e["max"]) for e in ranges.values()) == [("k10", "k19"), ("k20", "k29")]

    writer = AtomicParquetWriter(spark, storage, spec, "r1")
    writer.stored_files()
    assert writer._files_to_read("k30", "k39") == []
    assert writer._files_to_read("k25", "k25") == ["things/day=2024-01-02/part-00000.snappy.parquet"]

    # new keys: appended without reading anything stored; a restated key is still found and moved
    writer.merge(rows(spark, [("k30", 5, date(2024, 1, 2), "s2", T1, "r1")]), keys_unique=True, incoming_rows=1)
    AtomicParquetWriter(spark, storage, spec, "r2").merge(
        rows(spark, [("k25", 6, date(2024, 1, 1), "s3", T1, "r2"), ("k19", 7, date(2024, 1, 3), "s3", T1, "r2")]),
        keys_unique=True, incoming_rows=2)
    stored = _stored(spark, tmp_path, spec).select("id", "value", "day")
    assertDataFrameEqual(stored, spark.createDataFrame(
        [("k10", 1, date(2024, 1, 1)), ("k19", 7, date(2024, 1, 3)), ("k20", 3, date(2024, 1, 2)),
         ("k25", 6, date(2024, 1, 1)), ("k29", 4, date(2024, 1, 2)), ("k30", 5, date(2024, 1, 2))], stored.schema))


def test_a_file_changed_behind_the_writer_is_read_whatever_its_recorded_range(spark, tmp_path):
    """The recorded range counts only for the content it was recorded with (size and etag):
    a file rewritten by anything else is read, so a key it holds is never stored twice."""
    storage = LocalStorage(tmp_path)
    spec = DatasetSpec(SILVER, "things", rows(spark, []).schema, ("id",), ("day",))
    AtomicParquetWriter(spark, storage, spec, "r0").merge(
        rows(spark, [("a", 1, date(2024, 1, 1), "s", T0, "r0")]), keys_unique=True, incoming_rows=1)
    [file] = _key_ranges(tmp_path)
    replacement = tmp_path / "replacement"
    rows(spark, [("z", 9, date(2024, 1, 1), "s", T0, "r0")]).drop("day").coalesce(1).write.parquet(str(replacement))
    [part] = replacement.glob("part-*.parquet")
    (tmp_path / SILVER / file).write_bytes(part.read_bytes())  # now holds "z", outside the recorded ["a", "a"]

    AtomicParquetWriter(spark, storage, spec, "r1").merge(
        rows(spark, [("z", 10, date(2024, 1, 2), "s", T1, "r1")]), keys_unique=True, incoming_rows=1)
    stored = _stored(spark, tmp_path, spec).select("id", "value", "day")
    assertDataFrameEqual(stored, spark.createDataFrame([("z", 10, date(2024, 1, 2))], stored.schema))


def test_unreadable_key_ranges_only_mean_every_stored_file_is_read(spark, tmp_path, caplog):
    storage = LocalStorage(tmp_path)
    spec = DatasetSpec(SILVER, "things", rows(spark, []).schema, ("id",), ("day",))
    AtomicParquetWriter(spark, storage, spec, "r0").merge(
        rows(spark, [("a", 1, date(2024, 1, 1), "s", T0, "r0")]), keys_unique=True, incoming_rows=1)
    (tmp_path / SILVER / "_stats/things/key_ranges.json").write_text("{not json")
    writer = AtomicParquetWriter(spark, storage, spec, "r1")
    writer.stored_files()
    assert writer._files_to_read("x", "y") == ["things/day=2024-01-01/part-00000.snappy.parquet"]
    assert "unreadable" in caplog.text
    writer.merge(rows(spark, [("a", 2, date(2024, 1, 2), "s", T1, "r1")]), keys_unique=True, incoming_rows=1)
    stored = _stored(spark, tmp_path, spec).select("id", "value", "day")
    assertDataFrameEqual(stored, spark.createDataFrame([("a", 2, date(2024, 1, 2))], stored.schema))
    assert list(_key_ranges(tmp_path)) == ["things/day=2024-01-02/part-00000.snappy.parquet"]  # rewritten, readable


def test_files_written_without_a_range_get_one_from_the_next_lookup_that_reads_them(spark, tmp_path, monkeypatch):
    """A big first write records no ranges (it skips the counting job); the next small write
    reads those files anyway and records their ranges, so the one after reads none. Partition
    values with characters Spark escapes in directory names are matched too."""
    storage = LocalStorage(tmp_path)
    spec = DatasetSpec(SILVER, "odd", spark.createDataFrame([], "id string, grp string, _source_key string, "
                                                                "_ingested_at timestamp, _run_id string").schema,
                       ("id",), ("grp",))

    def odd_rows(data):
        return spark.createDataFrame([(i, g, "s", T0, "r") for i, g in data], spec.schema)

    monkeypatch.setattr("etl.writer.MAX_BROADCAST_KEYS", 1)
    AtomicParquetWriter(spark, storage, spec, "r0").merge(odd_rows([("k1", "a/b%c"), ("k2", "x y"), ("k3", "x y")]),
                                                          keys_unique=True, incoming_rows=3)
    assert not (tmp_path / SILVER / "_stats/odd/key_ranges.json").exists()
    monkeypatch.setattr("etl.writer.MAX_BROADCAST_KEYS", 500_000)

    AtomicParquetWriter(spark, storage, spec, "r1").merge(odd_rows([("k4", "x y")]), keys_unique=True, incoming_rows=1)
    ranges = _key_ranges(tmp_path, "odd")
    assert {f: (e["min"], e["max"]) for f, e in ranges.items()} == {
        "odd/grp=a%2Fb%25c/part-00000.snappy.parquet": ("k1", "k1"),
        "odd/grp=x y/part-00000.snappy.parquet": ("k2", "k3"),
        "odd/grp=x y/part-r1.snappy.parquet": ("k4", "k4"),
    }
    writer = AtomicParquetWriter(spark, storage, spec, "r2")
    writer.stored_files()
    assert writer._files_to_read("k5", "k9") == []
    assert writer._files_to_read("k1", "k1") == ["odd/grp=a%2Fb%25c/part-00000.snappy.parquet"]
