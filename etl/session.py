"""The SparkSession a job runs in when it is not on AWS Glue.

On Glue the entry script builds the session from a GlueContext; everywhere else (the local
runtime, tests, benchmarks) this module builds one local session per process and reuses it,
so a warm `lake watch` pays the JVM start once.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pyspark.sql import SparkSession

from etl.catalog import CATALOG, ICEBERG_EXTENSIONS, local_catalog_conf, local_catalog_path, prepare_local_catalog
from etl.jars import ICEBERG_VERSION, local_classpath
from etl.jvm import start_callback_server

_lock = threading.Lock()

# Settings chosen for a 2-core laptop: few shuffle partitions (the default 200 makes tiny
# tasks dominate), UTC everywhere so dates never depend on the host's zone, no UI port.
LOCAL_SPARK_CONF: dict[str, str] = {
    "spark.sql.shuffle.partitions": os.environ.get("LAKE_SHUFFLE_PARTITIONS", "4"),
    "spark.default.parallelism": "4",
    "spark.sql.session.timeZone": "UTC",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.sources.partitionOverwriteMode": "dynamic",
    "spark.sql.parquet.compression.codec": "snappy",
    "spark.sql.adaptive.enabled": "true",
    # Spark keeps the Java classes it generates for queries in a cache keyed by their source
    # (a static setting, default 100 classes). The cache is Guava's, which splits it into 4
    # segments that each evict their least recently used entries past a quarter of the
    # maximum (https://github.com/google/guava/issues/2442). One sales_etl and one sales_daily
    # run make about 80 classes, so a warm session (the engine, `lake watch`) evicted and
    # compiled again 8 and 23 of them in every run, each then run interpreted until the JIT
    # caught up (bench/RESULTS.md, runs N). A thousand classes hold every job's with room.
    "spark.sql.codegen.cache.maxEntries": "1000",
    "spark.driver.memory": os.environ.get("LAKE_DRIVER_MEMORY", "2g"),
    # The throughput (parallel) collector: a local run is a batch with no pause-time goal,
    # the case the JDK's guide gives it for ("Selecting a Collector",
    # https://docs.oracle.com/en/java/javase/17/gctuning/available-collectors.html). It took
    # less time and CPU than G1 at 10,000 and 2,000,000 rows (bench/RESULTS.md).
    "spark.driver.extraJavaOptions": "-Duser.timezone=UTC -XX:+UseParallelGC",
    "spark.executor.extraJavaOptions": "-Duser.timezone=UTC",
    "spark.sql.legacy.timeParserPolicy": "CORRECTED",
    # A job caches its typed rows once and scans them many times. Uncompressed column batches
    # are built much faster and take more memory (bench/RESULTS.md has the figures).
    "spark.sql.inMemoryColumnarStorage.compressed": "false",
    # Partition discovery lists directories in the driver up to this many paths per level;
    # above it Spark starts a listing job, which on a local disk costs more than it saves.
    "spark.sql.sources.parallelPartitionDiscovery.threshold": "4096",
    # Arrow moves rows to pandas column by column: the quality gate validates small frames
    # with Great Expectations' pandas engine (etl.quality), which is faster than its Spark one.
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    # Silver and gold are Iceberg tables (etl.catalog): its SQL extensions (MERGE INTO, CALL).
    "spark.sql.extensions": ICEBERG_EXTENSIONS,
    # Iceberg's vectorized (Arrow) Parquet reader crashed the JVM (SIGSEGV in the symbol table,
    # `refcount has gone to zero`) on a MERGE INTO with OpenJDK 17.0.15 on Linux, reproducibly,
    # and never with the row reader. Local reads are small (key lookups, a gold recompute), so
    # the row reader costs little. Glue keeps AWS's default.
    "spark.sql.iceberg.vectorization.enabled": "false",
}


# With LAKE_LOG_DIR set (the `lake` CLI sets it to `<home>/.logs` unless --debug), Spark's own
# log (log4j2, Java stack traces included) goes to `spark.log` there instead of the terminal.
_LOG4J2_TO_FILE = """\
status = error
rootLogger.level = warn
rootLogger.appenderRef.file.ref = file
appender.file.type = File
appender.file.name = file
appender.file.fileName = {path}
appender.file.append = true
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = %d{{yyyy-MM-dd HH:mm:ss}} %p %c{{1}}: %m%n%ex
logger.parquet.name = org.apache.parquet
logger.parquet.level = error
"""


# Class data sharing (CDS): the JVM maps the classes a pipeline run loads from an archive
# instead of loading and verifying ~15,000 classes one by one, which shortens the start of
# every fresh `lake` process (`make setup` builds it: python -m data_platform.local.class_archive).
# A missing, stale or foreign archive is ignored by the JVM (-Xshare:auto).
CDS_ENV = "LAKE_SPARK_CDS"  # a path overrides the archive's location; "off" disables it
CDS_DUMP_ENV = "LAKE_SPARK_CDS_DUMP"  # set by the archive builder: where the JVM writes it


def class_archive_path() -> str:
    override = os.environ.get(CDS_ENV, "")
    if override and override != "off":
        return override
    import pyspark

    # Named after what is on the JVM's classpath: an archive of another set is not reused.
    return os.path.join(
        sys.prefix, "var", "data-lake", f"spark-{pyspark.__version__}-iceberg-{ICEBERG_VERSION}-classes.jsa"
    )


def _class_sharing_options() -> str:
    quiet = "-Xlog:cds=off -Xlog:cds+dynamic=off"
    if dump := os.environ.get(CDS_DUMP_ENV):
        return f"-XX:ArchiveClassesAtExit={dump} {quiet}"
    archive = class_archive_path()
    if os.environ.get(CDS_ENV) == "off" or not os.path.isfile(archive):
        return ""
    return f"-XX:SharedArchiveFile={archive} -Xshare:auto {quiet}"


# A process that runs one small job is over before the JVM's optimizing compiler (C2) pays
# off: `lake upload` of small files sets LAKE_JIT=quick, which stops at the quick compiler
# (C1). That makes small uploads faster and big inputs slower (bench/RESULTS.md), so a
# long-running `lake watch` and big uploads keep the default.
JIT_ENV = "LAKE_JIT"


def _jit_options() -> str:
    return "-XX:TieredStopAtLevel=1" if os.environ.get(JIT_ENV) == "quick" else ""


def _driver_java_options() -> str:
    options = " ".join(
        filter(None, [LOCAL_SPARK_CONF["spark.driver.extraJavaOptions"], _class_sharing_options(), _jit_options()])
    )
    log_dir = os.environ.get("LAKE_LOG_DIR")
    if not log_dir:
        return options
    os.makedirs(log_dir, exist_ok=True)
    config = os.path.join(log_dir, "log4j2.properties")
    with open(config, "w", encoding="utf-8") as handle:
        handle.write(_LOG4J2_TO_FILE.format(path=os.path.join(log_dir, "spark.log").replace("\\", "/")))
    return f"{options} -Dlog4j2.configurationFile={config}"


def local_spark(app_name: str = "data-lake-local") -> SparkSession:
    """Return this process's local SparkSession, creating it on first use."""
    with _lock:
        active = SparkSession.getActiveSession()
        if active is not None:
            return active
        # Python workers must run this interpreter (the venv), not whatever `python3` is first
        # on PATH, or they may miss the project's pinned packages.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        builder = SparkSession.builder.master(os.environ.get("LAKE_SPARK_MASTER", "local[2]"))
        builder = builder.appName(app_name)
        for key, value in LOCAL_SPARK_CONF.items():
            builder = builder.config(key, value)
        builder = builder.config("spark.driver.extraJavaOptions", _driver_java_options())
        # On the JVM's own classpath (not spark.jars): loaded at start like Spark's classes, so
        # the class archive above covers them too.
        builder = builder.config("spark.driver.extraClassPath", local_classpath())
        session = builder.getOrCreate()
        session.sparkContext.setLogLevel("ERROR")
        # py4j's callback server (Iceberg calls back into Python for a commit's properties:
        # etl.jvm.commit_with_properties) starts with the session, before any run can start it
        # in a thread of its own (etl.jvm.start_callback_server has why that matters).
        start_callback_server(session)
        return session


_lake_sessions: dict[tuple[int, str], SparkSession] = {}
_catalog_locks: dict[int, Path] = {}  # id(session) -> the lock file of its local catalog
_writes_in_process = threading.RLock()


def table_session(spark: SparkSession, storage_root: str) -> SparkSession:
    """The session a job uses for its tables.

    On Glue (`s3://`) the job's `--conf` configured the catalog: `spark` itself. Locally each
    lake home has its own catalog, so each gets a child session of `spark` (same JVM and
    SparkContext, its own SQL settings) configured for that home; one process can serve
    several homes (tests, the warm-up in a scratch home) without mixing their tables.
    """
    if not storage_root.startswith("/"):
        if spark.conf.get(f"spark.sql.catalog.{CATALOG}", None) is None:
            raise RuntimeError(
                f"the Spark catalog '{CATALOG}' is not configured: the Glue job needs the --conf "
                "settings of etl.catalog.glue_catalog_conf (the GlueJob component sets them)"
            )
        return spark
    home = str(Path(storage_root).resolve())
    key = (id(spark.sparkContext), home)
    with _lock:
        session = _lake_sessions.get(key)
        if session is None:
            prepare_local_catalog(home)
            session = spark.newSession()
            for name, value in local_catalog_conf(home).items():
                session.conf.set(name, value)
            _lake_sessions[key] = session
            _catalog_locks[id(session)] = local_catalog_path(home).with_suffix(".lock")
        return session


@contextmanager
def catalog_writes(spark: SparkSession) -> Iterator[None]:
    """Hold while committing to a table of `spark`'s catalog (and while creating one).

    The local catalog is a SQLite file shared by every `lake` process of a home. SQLite lets
    one connection write at a time, and a commit's statement that read the catalog before
    another process wrote it fails at once with SQLITE_BUSY_SNAPSHOT, which Iceberg's JDBC
    catalog reports as an unknown commit failure (no busy timeout covers it). So local
    commits take an exclusive lock on `<home>/_lake/catalog.lock` first: processes commit one
    after the other; the kernel releases the lock if a process dies. The Glue Data Catalog
    needs nothing of the sort (an optimistic compare-and-swap that Iceberg retries).
    """
    path = _catalog_locks.get(id(spark))
    if path is None:
        yield
        return
    import fcntl  # POSIX (Linux, macOS), as is the local Spark setup; not needed on Glue

    with _writes_in_process, path.open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
