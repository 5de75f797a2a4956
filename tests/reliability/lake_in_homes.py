"""One `lake` command in several homes from one process (one JVM), each through the CLI's own
entry point (`data_platform.cli.app.main`), for tests that run the same command in many homes:
a separate process per home would spend most of its time starting a JVM.

Each home gets what a `lake --home HOME ...` process would: its own log files (the logging
set-up of the previous home is undone first) and its own output, captured.

    python -m tests.reliability.lake_in_homes OUT.json HOME [HOME ...] -- ARG [ARG ...]

writes {HOME: {"returncode", "stdout", "stderr", "seconds"}} to OUT.json.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any


def run_in(home: Path, args: list[str]) -> dict[str, Any]:
    from data_platform.cli.app import main

    for handler in logging.root.handlers[:]:
        logging.root.removeHandler(handler)
        handler.close()
    os.environ.pop("LAKE_LOG_DIR", None)
    out, err = io.StringIO(), io.StringIO()
    started = time.monotonic()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["--home", str(home), *args])
    return {
        "returncode": code,
        "stdout": out.getvalue(),
        "stderr": err.getvalue(),
        "seconds": time.monotonic() - started,
    }


def main(argv: list[str]) -> int:
    split = argv.index("--")
    out, homes, args = Path(argv[0]), [Path(h) for h in argv[1:split]], argv[split + 1 :]
    results = {str(home): run_in(home, args) for home in homes}
    out.write_text(json.dumps(results), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
