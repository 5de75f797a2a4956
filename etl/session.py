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


def _driver_java_options() -> str:
    options = LOCAL_SPARK_CONF["spark.driver.extraJavaOptions"]
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
