"""Jobs on this process's one SparkSession: the local runner's job function, and the warm-up
that starts Spark before the first run needs it."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

_warm = threading.Event()


def _import_quality_libraries() -> None:
    try:
        import great_expectations
        import great_expectations.expectations  # noqa: F401
    except Exception:  # noqa: BLE001 - the job reports a missing library itself, clearly
        pass


def warm_up() -> None:
    """Start the process's SparkSession and import Great Expectations at the same time.

    Both take seconds; the JVM starts in its own process while this one waits, so importing
    GE in a thread meanwhile hides most of its import time (the first run is the slow one).
    """
    if _warm.is_set():
        return
    importer = threading.Thread(target=_import_quality_libraries, name="import-gx", daemon=True)
    importer.start()
    from etl.session import local_spark

    local_spark()
    importer.join()
    _warm.set()


def spark_job_fn(job: str, arguments: Mapping[str, str]) -> Mapping[str, Any]:
    """Run `job` in this process on the process's one SparkSession (imported lazily)."""
    from etl.runtime import run_job
    from etl.session import local_spark

    warm_up()
    return run_job(job, arguments, spark=local_spark()).to_dict()
