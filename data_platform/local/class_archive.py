"""Build the JVM class archive that makes a fresh `lake` process start faster.

`python -m data_platform.local.class_archive` runs one training pipeline (`lake upload` of a
small sales file into a throw-away lake home: sales_etl, its quality gate, the quarantine,
the Parquet write, then sales_daily) in a JVM started with `-XX:ArchiveClassesAtExit`, and
moves the archive to `etl.session.class_archive_path()` (inside the virtualenv). Every later
local SparkSession maps those classes instead of loading them one by one (see
`etl.session`). `make setup` runs this once per virtualenv; run it again after changing the
Java or PySpark version (a stale archive is ignored by the JVM, not harmful).

Exit status 0 when the archive is in place, 1 (with the reason on stderr) otherwise: the
platform works the same without it, only its first run in a process is slower.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

TRAINING_KEY = "sales/class-archive-training.csv"


def training_csv(rows: int = 200) -> str:
    """Sales rows over a few days, a quoted field and one row the gate quarantines."""
    from etl.jobs.sales_etl import SALES_BRONZE_COLUMNS

    lines = [",".join(SALES_BRONZE_COLUMNS)]
    for n in range(rows):
        day = 1 + n % 5
        lines.append(
            f'ORD-{n:05d},2024-01-0{day}T10:{n % 60:02d}:00Z,S{n % 7},C{n % 13},"SKU-{n % 11}",'
            f"{1 + n % 4},{(n % 50) + 0.99:.2f},EUR"
        )
    lines.append("ORD-BAD,2024-01-01T10:00:00Z,S1,C1,SKU-1,-3,1.00,EUR")  # quantity_positive breaks
    return "\n".join(lines) + "\n"


def build(target: Path, *, timeout: float = 600) -> None:
    """Run the training pipeline in a child process and install its archive at `target`."""
    from etl.session import CDS_DUMP_ENV, CDS_ENV

    target.parent.mkdir(parents=True, exist_ok=True)
    dump = target.with_name(target.name + ".partial")
    dump.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="lake-class-archive-") as work:
        csv = Path(work) / "train.csv"
        csv.write_text(training_csv(), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if k not in ("LAKE_HOME", "LAKE_NOW")}
        # In this process (LAKE_ENGINE=off): the JVM writes the archive when it exits, and
        # the local engine's JVM would outlive the training command.
        env.update({CDS_DUMP_ENV: str(dump), CDS_ENV: "off", "LAKE_ENGINE": "off"})
        command = [
            sys.executable,
            "-c",
            "from data_platform.cli.app import main; main()",
            "--home",
            str(Path(work) / "lake"),
            "upload",
            str(csv),
            TRAINING_KEY,
        ]
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"the training run failed (exit {done.returncode}): {(done.stderr or done.stdout)[-800:]}")
    if not dump.is_file() or dump.stat().st_size == 0:
        raise RuntimeError("the JVM wrote no class archive (Java 13 or later is needed for -XX:ArchiveClassesAtExit)")
    os.replace(dump, target)


def main(argv: list[str] | None = None) -> int:
    from etl.session import class_archive_path

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--if-missing", action="store_true", help="do nothing when the archive exists")
    options = parser.parse_args(argv)
    target = Path(class_archive_path())
    if options.if_missing and target.is_file():
        return 0
    try:
        build(target)
    except (OSError, RuntimeError, subprocess.TimeoutExpired) as error:
        print(f"note: no JVM class archive ({error}); local runs work, fresh processes start slower", file=sys.stderr)
        return 1
    print(f"JVM class archive: {target} ({target.stat().st_size / 2**20:.0f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
