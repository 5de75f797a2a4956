"""Silver and gold datasets as Apache Iceberg tables (format version 2): creating a table from
the job's dataset spec, and writing one run's rows in ONE commit.

    spec.py            DatasetSpec; what a commit records (Commit) and a write reports (WriteResult)
    table.py           IcebergTable: creates and checks the table, runs the steps of a write
    merge.py           steps 2 and 3: the stored rows an incoming key meets, the winner per key
    commits.py         step 4: the one commit, its snapshot properties, its log line
    iceberg_schema.py  the table as an Iceberg schema, for the Glue Data Catalog

A run's write (`IcebergTable.merge`):

1. Creates the table if it does not exist yet (schema, partitioning and properties from the
   spec; in the cloud the Pulumi catalog component declares the same table).
2. Looks up the stored rows that hold an incoming business key, reading only data files
   whose column statistics (min/max of the first key column) meet the incoming keys' range:
   with growing keys (order numbers) that is no file at all, which Iceberg's scan planning
   tells in the driver (`etl.jvm.data_files_may_hold`), so no Spark job runs for it. A
   first write into an empty table (its row count known) skips this step and the measuring of
   its rows before it: the commit's own metadata says what it added. A caller that knows the
   row count and bounds of the first key column (a gate that read the rows) skips the
   measuring too; the bounds may be wider than the keys, which only widens the lookup.
3. Applies the dataset's precedence per key (`merge.mark_merge_winners`): the STORED row is kept
   when the incoming row has the same `_source_key` and identical business columns
   (reprocessing a bronze object changes nothing, `_ingested_at`/`_run_id` included);
   otherwise the dataset's `latest_order` decides (greatest wins), then a content hash.
4. Commits: nothing when no incoming row wins (no snapshot); an APPEND when no stored row
   holds an incoming key (the usual daily load: nothing stored is read or rewritten); else a
   `MERGE INTO` on the business key of just the winning rows (a restated key moves to its new
   partition instead of being duplicated; copy-on-write, so every reader sees plain data
   files).

Every commit's snapshot summary carries the run (`lake.run-id`), the job (`lake.job`) and
the source objects with their etags (`lake.sources`), so the table itself answers which
run wrote what; `lake history` and `lake rollback` read them.

What readers see if a run is killed: Iceberg publishes a commit by swapping the table's
metadata pointer in the catalog (a compare-and-swap in the Glue Data Catalog, a SQLite
transaction locally), so a reader sees the table at the previous snapshot or at the new one,
never between. Data files a killed run wrote are not referenced by any snapshot; the
maintenance job's `remove_orphan_files` deletes them.

Concurrency: one writer per table (the stack config refuses `max_concurrent_runs` other
than 1 and two jobs writing one dataset). Iceberg would detect a conflicting concurrent
commit and fail it (serializable isolation), but step 2 and the commit are not one
transaction, so the config keeps writers apart instead of retrying.
"""

# What the rest of the code base imports from here (jobs, the local runtime, the Pulumi program,
# tests); each name's home is its module above.
from etl.tables.commits import sql_literal
from etl.tables.iceberg_schema import iceberg_partition_spec, iceberg_schema
from etl.tables.merge import mark_merge_winners
from etl.tables.spec import (
    SUMMARY_JOB,
    SUMMARY_RUN_ID,
    SUMMARY_SOURCES,
    Commit,
    DatasetSpec,
    WriteResult,
    snapshot_properties,
)
from etl.tables.table import TABLE_PROPERTIES, IcebergTable

__all__ = [
    "SUMMARY_JOB",
    "SUMMARY_RUN_ID",
    "SUMMARY_SOURCES",
    "TABLE_PROPERTIES",
    "Commit",
    "DatasetSpec",
    "IcebergTable",
    "WriteResult",
    "iceberg_partition_spec",
    "iceberg_schema",
    "mark_merge_winners",
    "snapshot_properties",
    "sql_literal",
]
