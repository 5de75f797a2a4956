"""Reliability tests: bad input, faults, load and local-runtime safety, through the real CLI.

Shared harness (no conftest here on purpose: these helpers are plain functions the four test
modules import). Every test drives `lake` in a subprocess, exactly as a user would, and judges
the result from the outside: the lake home's files, `lake runs --json`, `lake alerts --json`.

Cost model: each `lake upload` process starts a JVM (~10 s on 2 cores), so tests batch many
files into one invocation (`lake upload F1 K1 F2 K2 ...`) and share module-scoped homes.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parents[2]
LAKE = REPO / ".venv" / "bin" / "lake"
BRONZE = "data-lake-dev-bronze"
SILVER = "data-lake-dev-silver"
DATABASE = "data_lake_dev"  # the dev stack's catalog database
TRACEBACK = "Traceback (most recent call last)"
GB = 1024**3


@dataclass
class LakeResult:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    peak_rss: int  # bytes, the whole process tree, sampled every 50 ms
    peak_tree: int = 0  # most processes seen at once

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def json(self) -> Any:
        return json.loads(self.stdout)

    def describe(self) -> str:
        return (
            f"$ lake {' '.join(self.args)}\n-> exit {self.returncode} in {self.seconds:.1f}s, "
            f"peak RSS {self.peak_rss / 2**20:.0f} MiB\n--- stdout\n{self.stdout[-4000:]}\n"
            f"--- stderr\n{self.stderr[-4000:]}"
        )


def lake_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("LAKE_FAULT", None)
    env.setdefault("LAKE_RETRY_SCALE", "0.01")
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def tree_rss(proc: psutil.Process) -> tuple[int, int]:
    total, count = 0, 0
    try:
        family = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0, 0
    for member in family:
        try:
            total += member.memory_info().rss
            count += 1
        except psutil.Error:
            pass
    return total, count


def start_lake(
    home: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    stdout=subprocess.PIPE,
    stderr=subprocess.PIPE,
) -> psutil.Popen:
    """Start `lake --home HOME ARGS` in its own session (so a kill reaches its whole tree); with
    `LAKE_FAULT` in `env`, the same CLI with a fault-injecting runner (tests/support/faults.py)."""
    # Imported here: `python -m tests.reliability.seed_homes` imports this package as
    # tests.reliability, where the test tooling is tests.support, not support.
    from support.faults import lake_command

    cwd = cwd or home.parent
    cwd.mkdir(parents=True, exist_ok=True)
    command, run_env = lake_command(lake_env(env), LAKE)
    return psutil.Popen(
        [*command, "--home", str(home), *args],
        stdout=stdout,
        stderr=stderr,
        text=True,
        env=run_env,
        cwd=str(cwd),
        start_new_session=True,
    )


class Background:
    """A `lake` process whose output is collected by threads while the test does other things."""

    def __init__(self, home: Path, *args: str, env: Mapping[str, str] | None = None, cwd: Path | None = None) -> None:
        self.args = list(args)
        self.started = time.monotonic()
        self.proc = start_lake(home, *args, env=env, cwd=cwd)
        self.out: list[str] = []
        self.err: list[str] = []
        self.peak_rss = 0
        self.peak_tree = 0
        self._readers = [
            threading.Thread(target=self._drain, args=(self.proc.stdout, self.out), daemon=True),
            threading.Thread(target=self._drain, args=(self.proc.stderr, self.err), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _drain(stream, sink: list[str]) -> None:
        for line in stream:
            sink.append(line)

    @property
    def output(self) -> str:
        return "".join(self.out) + "".join(self.err)

    def sample(self) -> None:
        rss, count = tree_rss(self.proc)
        self.peak_rss, self.peak_tree = max(self.peak_rss, rss), max(self.peak_tree, count)

    def running(self) -> bool:
        return self.proc.poll() is None

    def wait_until(self, condition, timeout: float, what: str, poll: float = 0.02) -> None:
        """Poll `condition()` (sampling memory) until true; fail if the process ends or time runs out."""
        deadline = time.monotonic() + timeout
        while not condition():
            self.sample()
            if not self.running():
                raise AssertionError(f"lake {' '.join(self.args)} ended before {what}:\n{self.output[-3000:]}")
            if time.monotonic() > deadline:
                kill_tree(self.proc)
                raise AssertionError(f"timed out after {timeout}s waiting for {what}:\n{self.output[-3000:]}")
            time.sleep(poll)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        kill_tree(self.proc, sig)
        self._join()

    def _join(self) -> None:
        for reader in self._readers:
            reader.join(10)

    def finish(self, timeout: float = 600) -> LakeResult:
        deadline = self.started + timeout
        while self.running():
            self.sample()
            if time.monotonic() > deadline:
                kill_tree(self.proc)
                raise AssertionError(
                    f"lake {' '.join(self.args)} did not finish within {timeout}s:\n{self.output[-3000:]}"
                )
            time.sleep(0.05)
        self._join()
        return LakeResult(
            self.args,
            self.proc.returncode,
            "".join(self.out),
            "".join(self.err),
            time.monotonic() - self.started,
            self.peak_rss,
            self.peak_tree,
        )


def lake(
    home: Path, *args: str, env: Mapping[str, str] | None = None, timeout: float = 600, cwd: Path | None = None
) -> LakeResult:
    """Run `lake --home HOME ARGS` to completion, measuring time and peak RSS of its tree."""
    return Background(home, *args, env=env, cwd=cwd).finish(timeout)


def kill_tree(proc: psutil.Popen | psutil.Process, sig: int = signal.SIGKILL) -> None:
    """SIGKILL the process group we started (start_new_session) and anything left of the tree."""
    try:
        members = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        members = [proc]
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
    for member in members:
        try:
            member.send_signal(sig)
        except psutil.Error:
            pass
    try:
        proc.wait(30)
    except psutil.Error:
        pass


def upload_args(pairs: Iterable[tuple[Path, str]]) -> list[str]:
    args = ["upload"]
    for path, key in pairs:
        args += [str(path), key]
    return args


# ---- observing a lake home --------------------------------------------------------------------


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tree_hashes(root: Path, *, skip: Iterable[str] = ()) -> dict[str, str]:
    """{relative posix path: sha256} of every regular file under root (symlinks not followed)."""
    skipped = tuple(skip)
    found: dict[str, str] = {}
    if not root.exists():
        return found
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            if rel.startswith(skipped) or not path.is_file():
                continue
            found[rel] = sha256_file(path)
    return found


def bronze_hashes(home: Path) -> dict[str, str]:
    return tree_hashes(home / BRONZE)


def _table(home: Path, dataset: str) -> Any | None:
    from data_platform.local.tables import load_table

    table = load_table(home, DATABASE, dataset)
    return table if table is not None and table.metadata.current_snapshot_id is not None else None


def dataset_files(home: Path, dataset: str, bucket: str = SILVER) -> list[Path]:
    """The data files of the dataset's table at its current snapshot."""
    del bucket  # the catalog knows where the table lives
    table = _table(home, dataset)
    if table is None:
        return []
    return sorted(Path(task.file.file_path.removeprefix("file:")) for task in table.scan().plan_files())


def dataset_hashes(home: Path, dataset: str, bucket: str = SILVER) -> dict[str, str]:
    """Every file under the table's folder (data and metadata): a run that commits nothing and
    writes nothing leaves all of them as they were."""
    return tree_hashes(home / bucket / dataset)


def current_snapshot(home: Path, dataset: str) -> int | None:
    table = _table(home, dataset)
    return None if table is None else table.metadata.current_snapshot_id


def read_dataset(home: Path, dataset: str, bucket: str = SILVER) -> list[dict[str, Any]]:
    """Every row of the dataset's table at its current snapshot, read through its Iceberg
    metadata with pyiceberg (no Spark); an unreadable data file fails the caller."""
    del bucket
    table = _table(home, dataset)
    return [] if table is None else table.scan().to_arrow().to_pylist()


def by_key(rows: list[dict[str, Any]], *columns: str) -> dict[Any, list[dict[str, Any]]]:
    grouped: dict[Any, list[dict[str, Any]]] = {}
    for row in rows:
        key = row[columns[0]] if len(columns) == 1 else tuple(row[c] for c in columns)
        grouped.setdefault(key, []).append(row)
    return grouped


def duplicates(rows: list[dict[str, Any]], *columns: str) -> dict[Any, int]:
    return {k: len(v) for k, v in by_key(rows, *columns).items() if len(v) > 1}


def quarantine_records(home: Path, dataset: str, bucket: str = SILVER) -> dict[str, dict[str, Any]]:
    """{run_id: {"validation"|"rejected": record, "rows": [jsonl rows]}} for one dataset."""
    root = home / bucket / "_quarantine" / dataset
    found: dict[str, dict[str, Any]] = {}
    if not root.exists():
        return found
    for run_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        entry: dict[str, Any] = {"rows": []}
        for name in ("validation.json", "rejected.json"):
            if (run_dir / name).exists():
                entry[name.split(".")[0]] = json.loads((run_dir / name).read_text())
        if (run_dir / "rows.jsonl").exists():
            entry["rows"] = [json.loads(line) for line in (run_dir / "rows.jsonl").read_text().splitlines() if line]
        found[run_dir.name] = entry
    return found


def history_rows(home: Path) -> list[dict[str, Any]]:
    """The runs table read directly (read-only), for polling while a `lake` process writes it."""
    db = home / "_lake" / "history.sqlite3"
    if not db.exists():
        return []
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT run_id, job, source_key, state, attempts FROM runs")]
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()


def runs(home: Path) -> list[dict[str, Any]]:
    result = lake(home, "runs", "--json", *runs_all_flag(home))
    assert result.returncode == 0, result.describe()
    assert TRACEBACK not in result.output, result.describe()
    data = result.json()
    return data["runs"] if isinstance(data, dict) and "runs" in data else data


_RUNS_FLAGS: dict[str, list[str]] = {}


def runs_all_flag(home: Path) -> list[str]:
    """`lake runs` may page (default limit); ask for everything if the CLI has a flag for it."""
    if "flags" not in _RUNS_FLAGS:
        help_text = subprocess.run([str(LAKE), "runs", "--help"], capture_output=True, text=True, env=lake_env()).stdout
        flags: list[str] = []
        if "--all" in help_text:
            flags = ["--all"]
        elif "--limit" in help_text:
            flags = ["--limit", "100000"]
        _RUNS_FLAGS["flags"] = flags
    return _RUNS_FLAGS["flags"]


def alerts(home: Path) -> list[dict[str, Any]]:
    result = lake(home, "alerts", "--json", "--limit", "100000")
    assert result.returncode == 0, result.describe()
    data = result.json()
    return data["alerts"] if isinstance(data, dict) and "alerts" in data else data


def assert_no_traceback(result: LakeResult) -> None:
    for name, text in (("stdout", result.stdout), ("stderr", result.stderr)):
        at = text.find(TRACEBACK)
        if at >= 0:
            excerpt = text[max(0, at - 600) : at + 2500]
            raise AssertionError(
                f"a Python traceback reached the user ({name} of `lake {' '.join(result.args)[:200]}`"
                f"):\n...{excerpt}..."
            )


def files_under(root: Path) -> set[str]:
    return {str(p) for p in root.rglob("*") if p.is_file() or p.is_symlink()}


def grep_tree(root: Path, needle: bytes) -> list[str]:
    hits = []
    for dirpath, _dirs, filenames in os.walk(root):
        for name in filenames:
            path = Path(dirpath) / name
            try:
                if needle in path.read_bytes():
                    hits.append(str(path))
            except OSError:
                pass
    return hits


# ---- what a valid silver row is (the quality rules, restated independently) -------------------

ISO_CURRENCIES = frozenset(
    "AED AUD BRL CAD CHF CNY CZK DKK EUR GBP HKD HUF IDR ILS INR JPY KRW MXN MYR NOK NZD PHP PLN "
    "RON SAR SEK SGD THB TRY TWD USD ZAR".split()
)
KEY_COLUMNS = {"sales": ("order_id",), "products": ("sku",), "inventory": ("sku", "store_id")}


def row_problems(dataset: str, row: Mapping[str, Any]) -> list[str]:
    """Why `row` should not be in silver `dataset` (empty when it is valid)."""
    from datetime import datetime, timedelta
    from decimal import Decimal

    problems = []

    def need(column: str) -> Any:
        if row.get(column) is None:
            problems.append(f"{column} is null")
        return row.get(column)

    horizon = datetime.utcnow() + timedelta(days=1)
    if dataset == "sales":
        for column in ("order_id", "store_id", "sku", "currency", "_source_key", "_run_id"):
            need(column)
        ts, qty, price, amount = need("order_ts"), need("quantity"), need("unit_price"), need("amount")
        if ts is not None:
            if ts.replace(tzinfo=None) > horizon:
                problems.append(f"order_ts {ts} is in the future")
            if str(row.get("order_date")) != ts.date().isoformat():
                problems.append(f"order_date {row.get('order_date')} is not the date of {ts}")
        if qty is not None and qty <= 0:
            problems.append(f"quantity {qty} <= 0")
        if price is not None and price < 0:
            problems.append(f"unit_price {price} < 0")
        if None not in (qty, price, amount) and Decimal(amount) != Decimal(qty) * Decimal(price):
            problems.append(f"amount {amount} != {qty} * {price}")
        if row.get("currency") not in ISO_CURRENCIES:
            problems.append(f"currency {row.get('currency')!r} is not ISO 4217")
    elif dataset == "products":
        sku = need("sku")
        if sku is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", sku):
            problems.append(f"sku {sku!r} has a bad format")
        for column in ("name", "active", "_source_key"):
            need(column)
        price = need("price")
        if price is not None and price < 0:
            problems.append(f"price {price} < 0")
        if row.get("currency") not in ISO_CURRENCIES:
            problems.append(f"currency {row.get('currency')!r} is not ISO 4217")
    elif dataset == "inventory":
        for column in ("sku", "store_id", "_source_key"):
            need(column)
        on_hand, ts = need("on_hand"), need("snapshot_ts")
        if on_hand is not None and on_hand < 0:
            problems.append(f"on_hand {on_hand} < 0")
        if ts is not None and ts.replace(tzinfo=None) > horizon:
            problems.append(f"snapshot_ts {ts} is in the future")
    return problems


def invalid_rows(dataset: str, rows: Iterable[Mapping[str, Any]]) -> list[tuple[str, list[str]]]:
    bad = []
    for row in rows:
        problems = row_problems(dataset, row)
        if problems:
            bad.append((str({k: row.get(k) for k in KEY_COLUMNS[dataset]}), problems))
    return bad


def comparable(rows: Iterable[Mapping[str, Any]]) -> list[tuple]:
    """Rows as sorted tuples (file name excluded), for before/after equality."""
    return sorted(tuple(sorted((k, repr(v)) for k, v in row.items() if k != "__file")) for row in rows)
