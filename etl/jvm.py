"""The only places the jobs reach past PySpark's public API into the JVM (`_gateway`, `_jvm`,
`_jdf`, `_jc`), each with its reason. Keep every such use in this module.

- `commit_with_properties`: a snapshot records which run made it (run id, job, source objects).
  DataFrame writes pass that as the public `snapshot-property.<key>` write option; SQL
  commands (`MERGE INTO`) cannot, and Iceberg 1.7 takes their summary properties only from a
  thread-local set by the Java helper `org.apache.iceberg.spark.CommitMetadata
  .withCommitProperties(Map, Callable, Class)`
  (https://iceberg.apache.org/javadoc/1.7.1/org/apache/iceberg/spark/CommitMetadata.html).
  Calling it takes the py4j gateway and a Python object implementing
  `java.util.concurrent.Callable`, i.e. PySpark's callback server. In PySpark's pinned-thread
  mode (the default) the callback runs the SQL on the same JVM thread, where the
  thread-local is visible to the commit.
- `start_callback_server`: PySpark's `ensure_callback_server_started` (`pyspark.java_gateway`)
  checks whether the callback server exists, starts it, and only then tells the JVM its port.
  A second thread arriving in between finds a server and goes on; a call the JVM makes to
  Python from another JVM thread meanwhile dials the old port and is refused
  (`java.net.ConnectException: Connection refused`; tests/test_jvm_callbacks.py reproduces
  it). The local engine runs a warm-up and clients' runs in threads of one process, and a run
  there once failed with that error, so every start goes through one lock here.
- `release`: a local checkpoint's blocks belong to the RDD under its one-node plan, which
  `DataFrame.unpersist` does not reach; without this they are freed only when the JVM
  collects the RDD object.
- `is_in_values`: a `unique` drop tests each row's key against the repeated keys the gate
  found (etl.quality), and the gate's search by hash fetches the rows whose key hash repeats
  (etl.gx_sources). `Column.isin(*values)` turns every value into a literal with its own py4j
  call, which is slow for tens of thousands of values; here the list crosses the gateway as
  one JSON string, parsed into a `java.util.ArrayList` by the JVM's Jackson (exact for any
  character and any 64-bit integer), and becomes one `Column.isInCollection` (Spark's InSet).
  PySpark has no public call that takes a Java collection.
- `data_files_may_hold`: before a write looks up stored rows with an incoming key, Iceberg's
  own scan planning (`Table.newScan().filter(...).planFiles()`, in the driver:
  https://iceberg.apache.org/javadoc/1.7.1/org/apache/iceberg/TableScan.html) says whether any
  data file's column statistics meet the incoming keys' range. The daily load of new keys
  meets none, and then needs no Spark job (and no broadcast of its keys) to learn it. PySpark
  has no public call that plans a scan without running it.
- `current_snapshot_id`: every write reads the table's current snapshot before it commits and
  checks after that it moved on. Through SQL (`SHOW TBLPROPERTIES`) each read is a command
  parsed, analysed and run, 25 to 40 ms on a warm session; Iceberg's own
  `Table.currentSnapshot()` on the table as the catalog loads it now takes a few ms
  (https://iceberg.apache.org/javadoc/1.7.1/org/apache/iceberg/Table.html). The value is the one
  the SQL shows: Spark's `current-snapshot-id` table property is read from the same call.
- `added_data_files`, `added_records`: what a write's snapshot added, from Iceberg's own
  `Snapshot.addedDataFiles(FileIO)` and `Snapshot.summary()`
  (https://iceberg.apache.org/javadoc/1.7.1/org/apache/iceberg/Snapshot.html), read in the
  driver. Through the `entries`/`snapshots` metadata tables each was a Spark job whose query
  names the snapshot id: a literal Spark writes into the code it generates, so two classes to
  compile in every run (bench/RESULTS.md).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import date, timedelta
from typing import Any, TypeVar

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

T = TypeVar("T")


class _JavaCallable:
    """A Python function as a `java.util.concurrent.Callable` (py4j callback)."""

    def __init__(self, action: Callable[[], Any]) -> None:
        self.action = action
        self.result: Any = None
        self.error: BaseException | None = None

    def call(self) -> None:
        try:
            self.result = self.action()
        except BaseException as error:
            self.error = error
            raise

    class Java:
        implements = ["java.util.concurrent.Callable"]


_callback_server_lock = threading.Lock()


def start_callback_server(spark: SparkSession) -> None:
    """Start py4j's callback server for `spark`'s gateway unless it runs, and return once the
    JVM knows its port, whichever thread calls (see the module docstring)."""
    from pyspark.java_gateway import ensure_callback_server_started

    with _callback_server_lock:
        ensure_callback_server_started(spark.sparkContext._gateway)


def commit_with_properties(spark: SparkSession, properties: Mapping[str, str], action: Callable[[], T]) -> T:
    """Run `action` (Spark SQL that commits to an Iceberg table) so that the snapshot it
    commits carries `properties` in its summary; its own exceptions are re-raised as they are."""
    start_callback_server(spark)
    jvm = _jvm(spark)
    java_properties = jvm.java.util.HashMap()
    for key, value in properties.items():
        java_properties.put(key, value)
    callable_ = _JavaCallable(action)
    runtime_exception = jvm.java.lang.Class.forName("java.lang.RuntimeException")
    try:
        jvm.org.apache.iceberg.spark.CommitMetadata.withCommitProperties(java_properties, callable_, runtime_exception)
    except Exception:
        if callable_.error is not None:
            raise callable_.error from None
        raise
    return callable_.result


def _jvm(spark: SparkSession) -> Any:
    """The session's py4j view of the JVM, which PySpark sets while a SparkContext is running."""
    jvm = spark.sparkContext._jvm
    assert jvm is not None, "no running SparkContext"
    return jvm


def release(df: DataFrame) -> None:
    """Free what `etl.load.hold` kept (a local checkpoint or a cache)."""
    plan = df._jdf.queryExecution().analyzed()
    if plan.getClass().getSimpleName() == "LogicalRDD":
        plan.rdd().unpersist(False)
    else:
        df.unpersist()


def is_in_values(column: Column, values: Sequence[str] | Sequence[int], spark: SparkSession) -> Column:
    """`column IN (values)` for many string or integer values, in one gateway call (see the
    module docstring)."""
    if not values:
        return F.lit(False)
    jvm = _jvm(spark)
    java_list = jvm.com.fasterxml.jackson.databind.ObjectMapper().readValue(
        json.dumps(list(values)), jvm.java.util.ArrayList._java_lang_class
    )
    return Column(column._jc.isInCollection(java_list))


def _iceberg_table(spark: SparkSession, identifier: str) -> Any:
    """The Iceberg `Table` as the session's catalog loads it now (its cache is off, etl.catalog)."""
    return _jvm(spark).org.apache.iceberg.spark.Spark3Util.loadIcebergTable(spark._jsparkSession, identifier)


def current_snapshot_id(spark: SparkSession, identifier: str) -> int | None:
    """The id of the table's current snapshot; None before its first commit."""
    snapshot = _iceberg_table(spark, identifier).currentSnapshot()
    return None if snapshot is None else int(snapshot.snapshotId())


def data_files_may_hold(spark: SparkSession, identifier: str, column: str, low: str | int, high: str | int) -> bool:
    """False when no data file of the table's current snapshot can hold a `column` value in
    [low, high] by its statistics (the pruning Iceberg applies to a scan with that filter)."""
    jvm = _jvm(spark)
    table = _iceberg_table(spark, identifier)
    expressions = jvm.org.apache.iceberg.expressions.Expressions
    both = getattr(expressions, "and")  # `Expressions.and`: a keyword in Python
    condition = both(expressions.greaterThanOrEqual(column, low), expressions.lessThanOrEqual(column, high))
    tasks = table.newScan().filter(condition).planFiles()
    try:
        return bool(tasks.iterator().hasNext())
    finally:
        tasks.close()


def added_records(spark: SparkSession, identifier: str, snapshot_id: int) -> int:
    """The rows a snapshot added, from its summary (`added-records`)."""
    added = _iceberg_table(spark, identifier).snapshot(snapshot_id).summary().get("added-records")
    return int(added or 0)


# Identity partition values as Iceberg holds them in a data file's partition tuple, by the
# partition column's Iceberg type, and as PySpark returns the same column's values.
_EPOCH = date(1970, 1, 1)
_PARTITION_VALUES: dict[str, Callable[[Any], Any]] = {
    "DATE": lambda days: _EPOCH + timedelta(days=int(days)),  # days since 1970-01-01
    "STRING": str,  # a java.lang.String, or another CharSequence (Avro's Utf8)
    "INTEGER": int,
    "LONG": int,
    "BOOLEAN": bool,
}


def added_data_files(
    spark: SparkSession, identifier: str, snapshot_id: int, partition_columns: Sequence[str]
) -> list[tuple[int, tuple[Any, ...]]] | None:
    """(rows, partition values) of each data file the snapshot added. None when the table's
    partitioning is not identity on `partition_columns` in that order, of a type listed above,
    for every added file (the caller then reads the `entries` metadata table)."""
    table = _iceberg_table(spark, identifier)
    spec = table.spec()
    fields = list(spec.fields())
    if [f.name() for f in fields] != list(partition_columns) or not all(f.transform().isIdentity() for f in fields):
        return None
    kinds = [str(spec.schema().findType(f.sourceId()).typeId().name()) for f in fields]
    if not all(kind in _PARTITION_VALUES for kind in kinds):
        return None
    any_class = _jvm(spark).java.lang.Object._java_lang_class
    files = []
    data_files = table.snapshot(snapshot_id).addedDataFiles(table.io()).iterator()
    while data_files.hasNext():
        data_file = data_files.next()
        if data_file.specId() != spec.specId():
            return None
        partition = data_file.partition()
        values = []
        for position, kind in enumerate(kinds):
            value = partition.get(position, any_class)
            values.append(None if value is None else _PARTITION_VALUES[kind](value))
        files.append((int(data_file.recordCount()), tuple(values)))
    return files
