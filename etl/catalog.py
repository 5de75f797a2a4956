"""The Iceberg catalog that names silver and gold tables: the AWS Glue Data Catalog in the
cloud, a SQLite file under the lake home on a laptop. One Spark catalog name (`lake`), one
identifier scheme (`lake.<database>.<dataset>`), so job code is the same in both places.

Cloud: the Glue job's `--conf` (set by the Pulumi GlueJob component from `glue_catalog_conf`)
configures Iceberg's `GlueCatalog` with `S3FileIO`, as AWS documents for Glue 5.0
(https://docs.aws.amazon.com/glue/latest/dg/aws-glue-programming-etl-format-iceberg.html).
Commits are atomic in the Glue catalog (an optimistic swap of the table's metadata location).

Local: Iceberg's `JdbcCatalog` on `<home>/_lake/catalog.sqlite3`, the same kind of pointer swap in a
SQLite transaction; pyiceberg's `SqlCatalog` reads the same file without a JVM
(`pyiceberg_catalog_properties`). Each table lives where its bucket's folder is, exactly as
in S3: `<home>/<silver bucket>/<dataset>/{data,metadata}/`.
"""

from __future__ import annotations

from pathlib import Path

CATALOG = "lake"
ICEBERG_EXTENSIONS = "org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions"
# The lake home's own state (run history, catalog) lives here; bucket names cannot contain
# "_", so it never collides with a bucket folder.
LOCAL_STATE_DIR = "_lake"
LOCAL_CATALOG_FILE = "catalog.sqlite3"
# A commit waits this long for another process's catalog write (SQLite allows one writer).
LOCAL_BUSY_TIMEOUT_MS = 60_000


def table_identifier(database: str, dataset: str) -> str:
    """`lake.<database>.<dataset>`: how Spark SQL names the table, in Glue and locally."""
    return f"{CATALOG}.{database}.{dataset}"


def _catalog_conf(properties: dict[str, str]) -> dict[str, str]:
    conf = {f"spark.sql.catalog.{CATALOG}": "org.apache.iceberg.spark.SparkCatalog"}
    conf.update({f"spark.sql.catalog.{CATALOG}.{key}": value for key, value in properties.items()})
    return conf


def glue_catalog_conf(warehouse: str) -> dict[str, str]:
    """Spark settings of a Glue job's catalog (its `--conf`); `warehouse` is `s3://<bucket>/`.

    The table cache is off: a run reads the table's current snapshot when it plans, not one
    cached earlier in the same session.
    """
    return {
        "spark.sql.extensions": ICEBERG_EXTENSIONS,
        **_catalog_conf(
            {
                "catalog-impl": "org.apache.iceberg.aws.glue.GlueCatalog",
                "io-impl": "org.apache.iceberg.aws.s3.S3FileIO",
                "warehouse": warehouse,
                "cache-enabled": "false",
            }
        ),
    }


def glue_conf_argument(warehouse: str) -> str:
    """The value of the Glue job parameter `--conf`: Glue passes several settings as one value
    joined with ` --conf ` (the form the AWS page above shows)."""
    return " --conf ".join(f"{key}={value}" for key, value in glue_catalog_conf(warehouse).items())


def local_catalog_path(home: Path | str) -> Path:
    return Path(home) / LOCAL_STATE_DIR / LOCAL_CATALOG_FILE


def _local_warehouse(home: Path) -> str:
    return (home / LOCAL_STATE_DIR / "warehouse").as_uri()


# The JDBC catalog's own tables, schema V1, exactly as Iceberg 1.7.1's JdbcUtil creates them.
# `prepare_local_catalog` creates them and Spark's catalog is told not to
# (`jdbc.init-catalog-tables=false`): Iceberg's own initialization leaves a metadata ResultSet
# open on a pooled SQLite connection, which keeps that connection in an old read transaction
# for good, so it never sees another process's commits (found here: a namespace another
# process had created looked missing, and commits failed with SQLITE_BUSY_SNAPSHOT).
LOCAL_CATALOG_DDL = (
    "CREATE TABLE IF NOT EXISTS iceberg_tables(catalog_name VARCHAR(255) NOT NULL,"
    "table_namespace VARCHAR(255) NOT NULL,table_name VARCHAR(255) NOT NULL,metadata_location VARCHAR(1000),"
    "previous_metadata_location VARCHAR(1000), iceberg_type VARCHAR(5),"
    "PRIMARY KEY (catalog_name, table_namespace, table_name))",
    "CREATE TABLE IF NOT EXISTS iceberg_namespace_properties(catalog_name VARCHAR(255) NOT NULL,"
    "namespace VARCHAR(255) NOT NULL,property_key VARCHAR(255),property_value VARCHAR(1000),"
    "PRIMARY KEY (catalog_name, namespace, property_key))",
)


def prepare_local_catalog(home: Path | str) -> Path:
    """Create the lake home's catalog file with its tables (idempotent); WAL, so readers (the
    CLI, pyiceberg) never wait for a commit."""
    import sqlite3

    path = local_catalog_path(Path(home).resolve())
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=LOCAL_BUSY_TIMEOUT_MS / 1000)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        for statement in LOCAL_CATALOG_DDL:
            db.execute(statement)
        db.commit()
    finally:
        db.close()
    return path


def local_catalog_conf(home: Path | str) -> dict[str, str]:
    """Per-session Spark settings of the lake home's catalog (the extensions are set when the
    process's SparkSession is built, see `etl.session`); `prepare_local_catalog` first."""
    home = Path(home).resolve()
    uri = f"jdbc:sqlite:{local_catalog_path(home)}?busy_timeout={LOCAL_BUSY_TIMEOUT_MS}"
    return _catalog_conf(
        {
            "catalog-impl": "org.apache.iceberg.jdbc.JdbcCatalog",
            "uri": uri,
            # V1 is the schema pyiceberg's SqlCatalog reads and writes too.
            "jdbc.schema-version": "V1",
            "jdbc.init-catalog-tables": "false",
            "warehouse": _local_warehouse(home),
            "cache-enabled": "false",
        }
    )


def pyiceberg_catalog_properties(home: Path | str) -> dict[str, str]:
    """pyiceberg `SqlCatalog(CATALOG, **properties)` on the same file, for readers without a JVM."""
    home = Path(home).resolve()
    return {
        "uri": f"sqlite:///{local_catalog_path(home)}",
        "warehouse": _local_warehouse(home),
        "init_catalog_tables": "false",
    }
