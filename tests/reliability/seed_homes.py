"""Seed several lake homes with the same upload in one process (one JVM), for tests that need
many homes in the same starting state.

A lake home cannot be copied: its Iceberg tables record absolute paths (the catalog points at
metadata files, the metadata at data files), so a copy would still read and write the
original's tables. Each home is seeded on its own instead, through the same `LocalLake` the
CLI uses (history, ledger and catalog included).

    python -m tests.reliability.seed_homes SOURCE KEY HOME [HOME ...]
"""

from __future__ import annotations

import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    from data_platform.config import load_stack
    from data_platform.local.lake import LocalLake

    source, key, homes = Path(argv[0]), argv[1], [Path(h) for h in argv[2:]]
    stack = load_stack("dev", Path(__file__).resolve().parents[2])
    for home in homes:
        lake = LocalLake(stack, home)
        try:
            dispatch = lake.upload(source, key)
        finally:
            lake.close()
        if dispatch.failed or not dispatch.runs:
            print(f"seeding {home} failed: {dispatch.runs}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
