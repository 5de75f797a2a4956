"""The SparkSession a job runs in when it is not on AWS Glue.

On Glue the entry script builds the session from a GlueContext; everywhere else (the local
runtime, tests, benchmarks) this module builds one local session per process and reuses it,
so a warm `lake watch` pays the JVM start once.
"""

from __future__ import annotations

import os
import sys
import threading

from pyspark.sql import SparkSession

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
    "spark.driver.memory": os.environ.get("LAKE_DRIVER_MEMORY", "2g"),
    "spark.driver.extraJavaOptions": "-Duser.timezone=UTC -XX:+UseG1GC",
    "spark.executor.extraJavaOptions": "-Duser.timezone=UTC",
    "spark.sql.legacy.timeParserPolicy": "CORRECTED",
    # A job caches its typed rows once and scans them about 15 times. Uncompressed column
    # batches are built in about half the time (2,000,000 sales rows: 3.3 s vs 5.7 s, on a
    # 2.8 s read-and-type) and take 245 MB instead of 143 MB.
    "spark.sql.inMemoryColumnarStorage.compressed": "false",
    # Partition discovery lists directories in the driver up to this many paths per level;
    # above it Spark starts a listing job, which on a local disk costs more than it saves.
    "spark.sql.sources.parallelPartitionDiscovery.threshold": "4096",
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
# instead of loading and verifying ~15,000 classes one by one, which takes seconds off every
# fresh `lake` process (`make setup` builds it: python -m data_platform.local.class_archive).
# A missing, stale or foreign archive is ignored by the JVM (-Xshare:auto).
CDS_ENV = "LAKE_SPARK_CDS"  # a path overrides the archive's location; "off" disables it
CDS_DUMP_ENV = "LAKE_SPARK_CDS_DUMP"  # set by the archive builder: where the JVM writes it


def class_archive_path() -> str:
    override = os.environ.get(CDS_ENV, "")
    if override and override != "off":
        return override
    import pyspark

    return os.path.join(sys.prefix, "var", "data-lake", f"spark-{pyspark.__version__}-classes.jsa")


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
# (C1). About 3 s less for a 10,000-row upload; about a quarter slower on big inputs, so a
# long-running `lake watch` and big uploads keep the default.
JIT_ENV = "LAKE_JIT"


def _jit_options() -> str:
    return "-XX:TieredStopAtLevel=1" if os.environ.get(JIT_ENV) == "quick" else ""


def _driver_java_options() -> str:
    options = " ".join(filter(None, [LOCAL_SPARK_CONF["spark.driver.extraJavaOptions"], _class_sharing_options(),
                                     _jit_options()]))
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
        session = builder.getOrCreate()
        session.sparkContext.setLogLevel("ERROR")
        return session
