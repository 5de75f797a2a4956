"""Training runs before `lake watch` waits for files: the first real file is then handled at
warm speed."""

from __future__ import annotations

import tempfile
from pathlib import Path

from data_platform.config import StackConfig
from data_platform.local import LakeError
from data_platform.local.history import History
from data_platform.local.lake import LocalLake
from data_platform.local.runner import JobFn, LocalRunner
from data_platform.local.spark import spark_job_fn, warm_up

# A JVM runs new code slowly until its compilers have seen it run: the first run of a fresh
# `lake watch` takes several times as long as the tenth. A few training runs before watching
# move that cost to start-up, so the first real file is handled at warm speed.
TRAINING_RUNS = 4
# Rows of a training upload: a file of about the size users upload also trains the paths that
# run per row (parsing, typing, Parquet encoding), which a tiny file leaves cold; the first
# real upload after training is then faster too (bench/RESULTS.md, run J).
TRAINING_ROWS = 5000


def train(stack: StackConfig, runs: int = TRAINING_RUNS, *, job_fn: JobFn | None = None) -> str | None:
    """Upload a small generated sales file `runs` times into a scratch lake home (deleted
    afterwards; the real home, its history and its alerts are not touched; its runner is its
    own). None when done, else a note saying why not."""
    from data_platform.local.class_archive import TRAINING_KEY, training_csv

    if job_fn is None:
        warm_up()
    try:
        with tempfile.TemporaryDirectory(prefix="lake-training-") as scratch:
            source = Path(scratch) / "training.csv"
            source.write_text(training_csv(TRAINING_ROWS), encoding="utf-8")
            home = Path(scratch) / "lake"
            history = History.for_home(home)
            lake = LocalLake(stack, home, history=history, runner=LocalRunner(history, job_fn or spark_job_fn))
            try:
                for n in range(runs):
                    key = TRAINING_KEY.replace(".csv", f"-{n}.csv")
                    dispatch = lake.upload(source, key)
                    if not dispatch.runs:
                        return f"no warm-up: no rule of stack {stack.stack} routes {key}"
                    if dispatch.failed:
                        failed = next(run for run in dispatch.runs if run.failed)
                        return f"warm-up run of {failed.job} failed ({failed.error}); continuing cold"
            finally:
                lake.close()
    except (OSError, LakeError) as error:
        return f"no warm-up: {error}"
    return None
