"""The local run history: one SQLite file per lake home, shared by every `lake` process.

It holds what the cloud keeps in several services: the runs (Step Functions executions and
Glue job runs), the concurrency slots Glue counts against `MaxConcurrentRuns`, the last fire
of every schedule (so a restarted watcher neither double-fires nor skips), the bronze objects
the watcher has already routed, and the alerts outbox (the local twin of the SNS topic).

Why SQLite and how it is used safely from several processes (`lake upload` while
`lake watch` runs):
- WAL mode, so readers (`lake runs`) never block the writer, and a `busy_timeout`, so a writer
  waits for another instead of failing with "database is locked";
- every read-modify-write is one short `BEGIN IMMEDIATE` transaction: the write lock is taken
  before the read, so two processes cannot both see a free slot and both take it;
- one connection per process (or thread), parameters only, never string-formatted SQL;
- nothing is held open across a job run: a run is recorded when it starts and when it ends,
  so a crash leaves a RUNNING row that the next process marks FAILED (its pid is dead).
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from data_platform.contract.runs import ACTIVE_RUN_STATES, ErrorKind, RunState, utc_stamp
from data_platform.local.records import ALERT_FIELDS, RUN_FIELDS, AlertRecord, JobOutcome, RunRecord
from etl.catalog import LOCAL_STATE_DIR

STATE_DIR = LOCAL_STATE_DIR  # beside the local Iceberg catalog (etl.catalog)
DB_NAME = "history.sqlite3"
SCHEMA_VERSION = "3"  # 2: runs.outputs (table@snapshot) replaces runs.output_paths (files); 3: runs.stages

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    job TEXT NOT NULL,
    glue_job TEXT NOT NULL,
    env TEXT NOT NULL,
    trigger_source TEXT NOT NULL,
    trigger_name TEXT NOT NULL DEFAULT '',
    source_bucket TEXT NOT NULL DEFAULT '',
    source_key TEXT NOT NULL DEFAULT '',
    upstream_job TEXT NOT NULL DEFAULT '',
    upstream_run_id TEXT NOT NULL DEFAULT '',
    event_id TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    rows_read INTEGER,
    rows_written INTEGER,
    rows_quarantined INTEGER,
    quarantine_path TEXT,
    outputs TEXT NOT NULL DEFAULT '[]',
    stages TEXT NOT NULL DEFAULT '[]',
    rules_failed TEXT NOT NULL DEFAULT '{}',
    warnings TEXT NOT NULL DEFAULT '{}',
    error TEXT,
    error_kind TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    proc_start TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS runs_by_start ON runs (started_at);
CREATE INDEX IF NOT EXISTS runs_by_job ON runs (job, started_at);
CREATE TABLE IF NOT EXISTS slots (
    run_id TEXT PRIMARY KEY,
    glue_job TEXT NOT NULL,
    pid INTEGER NOT NULL,
    host TEXT NOT NULL,
    proc_start TEXT NOT NULL DEFAULT '',
    acquired_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS slots_by_job ON slots (glue_job);
CREATE TABLE IF NOT EXISTS schedule_fires (
    stack TEXT NOT NULL,
    schedule TEXT NOT NULL,
    last_fire TEXT NOT NULL,
    PRIMARY KEY (stack, schedule)
);
CREATE TABLE IF NOT EXISTS seen_objects (
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    seen_at TEXT NOT NULL,
    PRIMARY KEY (bucket, key)
);
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    topic TEXT NOT NULL,
    subject TEXT NOT NULL,
    message TEXT NOT NULL,
    job TEXT NOT NULL DEFAULT '',
    run_id TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL DEFAULT ''
);
"""

_JSON_COLUMNS = ("outputs", "rules_failed", "warnings", "stages")
# Column names are constants of this module, never user input; values are always parameters.
_SELECT_RUNS = "SELECT " + ", ".join(RUN_FIELDS) + " FROM runs"
_SELECT_ALERTS = "SELECT " + ", ".join(ALERT_FIELDS) + " FROM alerts"


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """UTC, second precision, `Z` suffix: sortable as text and what AWS prints."""
    return utc_stamp(moment)


def parse_iso(text: str) -> datetime:
    """Parse an ISO-8601 instant; a naive value is taken as UTC (like AWS event times)."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"'{text}' is not an ISO-8601 time; use e.g. 2024-01-01T02:00Z") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# ------------------------------------------------------------------------------------------
# Process identity: a slot or a run belongs to a live process, or it is stale.


def _proc_start(pid: int) -> str:
    """The kernel's start time of `pid` (Linux), so a recycled pid is not mistaken for ours."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    # Field 22 (starttime); the command name (field 2) may contain spaces, so split after ')'.
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else ""


@dataclass(frozen=True)
class Owner:
    pid: int
    host: str
    proc_start: str

    @classmethod
    def current(cls) -> Owner:
        pid = os.getpid()
        return cls(pid, socket.gethostname(), _proc_start(pid))

    def is_alive(self) -> bool:
        if self.host != socket.gethostname():
            return True  # another machine sharing the home: we cannot tell, so never steal
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass  # exists, owned by someone else
        return not self.proc_start or _proc_start(self.pid) in ("", self.proc_start)


# ------------------------------------------------------------------------------------------


def _retry_while_locked(step: Callable[[], Any], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        try:
            step()
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.5)


class _Database:
    """One SQLite file shared by every process of a lake home: WAL, short write transactions."""

    def __init__(self, path: Path | str, *, busy_timeout_ms: int = 30_000) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: no implicit transactions; every write is an explicit short one.
        self._db = sqlite3.connect(self.path, timeout=busy_timeout_ms / 1000, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        # Switching a new database to WAL takes an exclusive lock without waiting on the busy
        # timeout: processes opening a fresh home at once get "database is locked" at once.
        _retry_while_locked(lambda: self._db.execute("PRAGMA journal_mode = WAL"), busy_timeout_ms / 1000)
        self._db.execute("PRAGMA synchronous = NORMAL")
        _retry_while_locked(self._create_schema, busy_timeout_ms / 1000)

    def close(self) -> None:
        self._db.close()

    def _create_schema(self) -> None:
        # executescript commits on its own; the statements are idempotent (IF NOT EXISTS).
        self._db.executescript(_SCHEMA)
        with self._write() as db:
            columns = {row[1] for row in db.execute("PRAGMA table_info(runs)")}
            if "outputs" not in columns:  # a history from before silver was Iceberg
                db.execute("ALTER TABLE runs ADD COLUMN outputs TEXT NOT NULL DEFAULT '[]'")
            if "stages" not in columns:  # a history from before runs recorded their stages
                db.execute("ALTER TABLE runs ADD COLUMN stages TEXT NOT NULL DEFAULT '[]'")
            db.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (SCHEMA_VERSION,),
            )

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction; the write lock is taken before anything is read."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")


class History(_Database):
    """The SQLite run history of one lake home. One instance per process (or thread)."""

    def __init__(self, path: Path | str, *, owner: Owner | None = None, busy_timeout_ms: int = 30_000) -> None:
        self.owner = owner or Owner.current()
        super().__init__(path, busy_timeout_ms=busy_timeout_ms)

    @classmethod
    def for_home(cls, home: Path | str, **kwargs: Any) -> History:
        return cls(Path(home) / STATE_DIR / DB_NAME, **kwargs)

    def __enter__(self) -> History:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- runs -----------------------------------------------------------------------------

    def create_run(
        self,
        *,
        run_id: str,
        job: str,
        glue_job: str,
        env: str,
        run_input: Mapping[str, str],
        trigger_name: str = "",
        started_at: datetime | None = None,
    ) -> None:
        with self._write() as db:
            db.execute(
                "INSERT INTO runs (run_id, job, glue_job, env, trigger_source, trigger_name, source_bucket,"
                " source_key, upstream_job, upstream_run_id, event_id, state, started_at, attempts, pid, host,"
                " proc_start) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)",
                (
                    run_id,
                    job,
                    glue_job,
                    env,
                    run_input.get("trigger_source", ""),
                    trigger_name,
                    run_input.get("source_bucket", ""),
                    run_input.get("source_key", ""),
                    run_input.get("upstream_job", ""),
                    run_input.get("upstream_run_id", ""),
                    run_input.get("event_id", ""),
                    RunState.WAITING.value,
                    iso(started_at or utc_now()),
                    self.owner.pid,
                    self.owner.host,
                    self.owner.proc_start,
                ),
            )

    def mark_attempt(self, run_id: str, attempt: int) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE runs SET state = ?, attempts = ? WHERE run_id = ?", (RunState.RUNNING.value, attempt, run_id)
            )

    def finish_run(
        self, run_id: str, outcome: JobOutcome, attempts: int, ended_at: datetime | None = None
    ) -> RunRecord:
        with self._write() as db:
            db.execute(
                "UPDATE runs SET state = ?, ended_at = ?, rows_read = ?, rows_written = ?, rows_quarantined = ?,"
                " quarantine_path = ?, outputs = ?, rules_failed = ?, warnings = ?, error = ?,"
                " error_kind = ?, attempts = ?, stages = ? WHERE run_id = ?",
                (
                    outcome.state.value,
                    iso(ended_at or utc_now()),
                    outcome.rows_read,
                    outcome.rows_written,
                    outcome.rows_quarantined,
                    outcome.quarantine_path,
                    json.dumps(list(outcome.outputs)),
                    json.dumps(dict(outcome.rules_failed), default=str),
                    json.dumps(dict(outcome.warnings), default=str),
                    outcome.error,
                    outcome.error_kind.value if outcome.error_kind else None,
                    attempts,
                    json.dumps([dict(stage) for stage in outcome.stages]),
                    run_id,
                ),
            )
        run = self.get_run(run_id)
        assert run is not None
        return run

    def get_run(self, run_id: str) -> RunRecord | None:
        row = self._db.execute(_SELECT_RUNS + " WHERE run_id = ?", (run_id,)).fetchone()
        return _run_record(row) if row else None

    def runs(self, *, limit: int | None = 20, job: str | None = None) -> list[RunRecord]:
        """Newest first. `limit=None` returns every run."""
        sql = _SELECT_RUNS
        params: list[Any] = []
        if job:
            sql += " WHERE job = ?"
            params.append(job)
        sql += " ORDER BY started_at DESC, rowid DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        return [_run_record(row) for row in self._db.execute(sql, params).fetchall()]

    def reap_dead_runs(self) -> list[RunRecord]:
        """Mark WAITING/RUNNING runs whose process died as FAILED and free their slots.

        Returns the reaped runs so the caller can raise alerts for them.
        """
        reaped: list[str] = []
        with self._write() as db:
            rows = db.execute(
                "SELECT run_id, pid, host, proc_start FROM runs WHERE state IN (?, ?)",
                [state.value for state in ACTIVE_RUN_STATES],
            ).fetchall()
            for row in rows:
                owner = Owner(row["pid"], row["host"], row["proc_start"])
                if owner.is_alive():
                    continue
                db.execute(
                    "UPDATE runs SET state = ?, ended_at = ?, error_kind = ?, error = ? WHERE run_id = ?",
                    (
                        RunState.FAILED.value,
                        iso(utc_now()),
                        ErrorKind.INTERNAL.value,
                        f"the lake process running it (pid {owner.pid}) died before the run "
                        "finished; start it again with `lake run` or `lake replay`",
                        row["run_id"],
                    ),
                )
                db.execute("DELETE FROM slots WHERE run_id = ?", (row["run_id"],))
                reaped.append(row["run_id"])
        return [run for run_id in reaped if (run := self.get_run(run_id)) is not None]

    # -- concurrency slots ----------------------------------------------------------------

    def try_acquire_slot(self, glue_job: str, limit: int, run_id: str) -> bool:
        """Take one of `limit` slots of `glue_job` for `run_id`; False when all are held.

        Slots of dead processes on this host are reclaimed first, inside the same
        transaction, so a `kill -9` never leaves a job blocked forever.
        """
        with self._write() as db:
            rows = db.execute(
                "SELECT run_id, pid, host, proc_start FROM slots WHERE glue_job = ?", (glue_job,)
            ).fetchall()
            held = 0
            for row in rows:
                if row["run_id"] == run_id:
                    return True
                if Owner(row["pid"], row["host"], row["proc_start"]).is_alive():
                    held += 1
                else:
                    db.execute("DELETE FROM slots WHERE run_id = ?", (row["run_id"],))
            if held >= limit:
                return False
            db.execute(
                "INSERT INTO slots (run_id, glue_job, pid, host, proc_start, acquired_at) VALUES (?, ?, ?, ?, ?, ?)",
                (run_id, glue_job, self.owner.pid, self.owner.host, self.owner.proc_start, iso(utc_now())),
            )
            return True

    def release_slot(self, run_id: str) -> None:
        with self._write() as db:
            db.execute("DELETE FROM slots WHERE run_id = ?", (run_id,))

    def slots_held(self, glue_job: str) -> int:
        row = self._db.execute("SELECT COUNT(*) FROM slots WHERE glue_job = ?", (glue_job,)).fetchone()
        return int(row[0])

    # -- schedules ------------------------------------------------------------------------

    def last_fire(self, stack: str, schedule: str) -> datetime | None:
        row = self._db.execute(
            "SELECT last_fire FROM schedule_fires WHERE stack = ? AND schedule = ?", (stack, schedule)
        ).fetchone()
        return parse_iso(row[0]) if row else None

    def set_watermark(self, stack: str, schedule: str, moment: datetime) -> None:
        """Record `moment` as the schedule's last fire unless a later one is recorded."""
        self.claim_fire(stack, schedule, moment)

    def claim_fire(self, stack: str, schedule: str, fire_time: datetime) -> bool:
        """Atomically record `fire_time` as fired; False if it (or a later one) already was.

        The claim and the check are one transaction, so a watcher and a `lake tick` racing
        for the same instant fire it once.
        """
        stamp = iso(fire_time)
        with self._write() as db:
            row = db.execute(
                "SELECT last_fire FROM schedule_fires WHERE stack = ? AND schedule = ?", (stack, schedule)
            ).fetchone()
            if row is not None and row[0] >= stamp:
                return False
            db.execute(
                "INSERT INTO schedule_fires (stack, schedule, last_fire) VALUES (?, ?, ?)"
                " ON CONFLICT (stack, schedule) DO UPDATE SET last_fire = excluded.last_fire",
                (stack, schedule, stamp),
            )
            return True

    # -- objects seen by the watcher ------------------------------------------------------

    def claim_object(self, bucket: str, key: str, size: int, mtime_ns: int) -> bool:
        """Record a bronze object version; True if it is new or changed since last seen."""
        with self._write() as db:
            row = db.execute(
                "SELECT size, mtime_ns FROM seen_objects WHERE bucket = ? AND key = ?", (bucket, key)
            ).fetchone()
            if row is not None and row["size"] == size and row["mtime_ns"] == mtime_ns:
                return False
            db.execute(
                "INSERT INTO seen_objects (bucket, key, size, mtime_ns, seen_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (bucket, key) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns,"
                " seen_at = excluded.seen_at",
                (bucket, key, size, mtime_ns, iso(utc_now())),
            )
            return True

    def seen_objects(self, bucket: str) -> dict[str, tuple[int, int]]:
        """key -> (size, mtime_ns) of every object of `bucket` already routed."""
        rows = self._db.execute("SELECT key, size, mtime_ns FROM seen_objects WHERE bucket = ?", (bucket,))
        return {row["key"]: (row["size"], row["mtime_ns"]) for row in rows.fetchall()}

    # -- alerts outbox --------------------------------------------------------------------

    def add_alert(
        self, *, topic: str, subject: str, message: str, job: str = "", run_id: str = "", state: str = ""
    ) -> None:
        with self._write() as db:
            db.execute(
                "INSERT INTO alerts (created_at, topic, subject, message, job, run_id, state)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (iso(utc_now()), topic, subject, message, job, run_id, state),
            )

    def alerts(self, *, limit: int | None = 50) -> list[AlertRecord]:
        sql = _SELECT_ALERTS + " ORDER BY id DESC"
        params: tuple[Any, ...] = ()
        if limit is not None:
            sql += " LIMIT ?"
            params = (int(limit),)
        return [AlertRecord(**dict(row)) for row in self._db.execute(sql, params).fetchall()]


def _run_record(row: sqlite3.Row) -> RunRecord:
    values = {column: row[column] for column in RUN_FIELDS}
    for column in _JSON_COLUMNS:
        values[column] = json.loads(values[column]) if values[column] else None
    return RunRecord.from_values(values)
