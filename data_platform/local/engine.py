"""The warm engine: one long-lived process per lake home that keeps Spark, Iceberg and Great
Expectations loaded, so a `lake upload`/`run`/`replay`/`tick`/`demo` in a new process hands its
runs over instead of starting a JVM (the Gradle daemon's model).

What runs where. The CLI process keeps everything the runner does: the run history, the
job's slots, retries, alerts, after-job chaining (`LocalRunner`, unchanged). Only the job
function moves: `job_fn_for(home)` returns `EngineClient.run`, a `JobFn` that sends
`(job, arguments)` to the engine and returns the summary the engine's `spark_job_fn` made.
So the run history and the outputs are the same whether a run went through the engine or not,
by construction (tests/test_engine.py compares them).

Why a local socket to a Python worker, not Spark Connect. Spark 3.5 ships a Connect server,
but a Connect client has no py4j gateway: `etl.jvm` reaches into the JVM on purpose (the
Iceberg commit properties through `CommitMetadata`, freeing local checkpoints, a one-call
`isInCollection`), and the quality gate runs Great Expectations' Spark engine, which expects
a classic `SparkSession`. Porting those would change the job code that runs on Glue. A worker
that runs the very `spark_job_fn` the CLI runs in-process changes no job code, keeps GX warm
as well as the JVM, and its protocol is a few JSON lines.

Protocol: a Unix domain socket; each request is one JSON line, each reply one or more JSON
lines. `run` answers with the job's stage events as they happen (the CLI re-publishes them
to its own `etl.progress` listeners, so the live stage view works as before) and then the
summary; `status` and `stop` answer at once, also while a run is going.

- One run at a time (`_run_lock`): job code sets session-wide SQL settings, so two runs in
  one session would step on each other. Across CLI processes the runner's slots still decide
  which runs may start; the engine only serialises what reaches it.
- Crash safety: a connection lost mid-run raises `EngineLost` in the job function, which the
  runner records as an `internal` failure (Glue's retry, then FAILED with the message); the
  next run starts a new engine. A client that goes away mid-run (Ctrl-C, killed) makes the
  engine cancel the run's Spark jobs, as the end of an in-process run's JVM would.
- One engine per home: the socket's address is derived from the home (a short path in a
  per-user runtime folder: Unix socket paths are limited to about 104-108 bytes), and who
  starts one holds `<home>/_lake/engine.lock`, so two CLI processes starting at once end up
  with one engine. `<home>/_lake/engine.json` records its pid and address.
- Version safety: the engine answers with a fingerprint of the code it runs (the sources of
  `data_platform` and `etl`, the interpreter, PySpark's version); a client with another
  fingerprint (after a `git pull`, say) stops it and starts a fresh one.
- Idle timeout: `LAKE_ENGINE_IDLE_MINUTES` (default 15) after the last run the engine exits
  and gives its memory back. `LAKE_ENGINE=off` runs jobs in the CLI process as before.
- Training while idle: a JVM runs new code slowly until its compilers have seen it run (a
  fresh engine's sixth upload is markedly faster than its second: bench/RESULTS.md).
  `lake watch` trains before it waits for files; an engine started by any other command
  trains itself once idle for TRAINING_IDLE_S, with the training runs of `data_platform.local.training`
  (a scratch lake home, deleted afterwards; the real home is not touched), until it has run
  `LAKE_ENGINE_WARM_RUNS` jobs (default 8, counting its clients' runs; 0 turns training off).
  It trains with the stack the last client sent. A run asked for meanwhile waits for the
  training job in progress only: no training job starts while a run is asked for or going,
  nor within TRAINING_IDLE_S of a run's end, nor once the engine is stopping.
- Its log: `<home>/.logs/engine.log` (Spark's own log stays in `<home>/.logs/spark.log`).

`python -m data_platform.local.engine serve --home HOME` is what the client starts (detached,
in its own session, so it outlives the command that started it).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from data_platform.local import LakeError
from data_platform.local.history import Owner
from data_platform.local.runner import JobFn

if TYPE_CHECKING:
    from data_platform.config import StackConfig

log = logging.getLogger("data_platform.engine")
_N = TypeVar("_N", int, float)

ENGINE_ENV = "LAKE_ENGINE"  # "off": jobs run in the CLI process
IDLE_ENV = "LAKE_ENGINE_IDLE_MINUTES"
DEFAULT_IDLE_MINUTES = 15.0
WARM_RUNS_ENV = "LAKE_ENGINE_WARM_RUNS"
# Job runs after which a fresh engine runs the pipeline at about its warm speed: four
# training uploads of `lake watch` (sales_etl and its after-job each); see bench/RESULTS.md.
DEFAULT_WARM_RUNS = 8
# Idle this long before the engine trains: commands that follow each other (a script, the
# demo) find it free; a command that comes later waits for at most one training job.
TRAINING_IDLE_S = 2.0
START_TIMEOUT_S = 120.0  # the engine binds its socket before it starts Spark: seconds, normally
STOP_TIMEOUT_S = 120.0  # `stop` lets the current run finish first
# The reply to a run that waited for its turn while the engine was told to stop: it never
# started, so the client may hand it to another engine.
REFUSED_STOPPING = "refused_stopping"
_MAX_SOCKET_PATH = 100  # sun_path is 108 bytes on Linux, 104 on macOS


class EngineLost(RuntimeError):
    """The engine went away during a request (killed, crashed, out of memory)."""


class _ClientFirst(RuntimeError):
    """Ends a training upload between two of its jobs: a client is waiting."""


# ------------------------------------------------------------------------------------------
# Settings and where things are


def engine_enabled() -> bool:
    value = os.environ.get(ENGINE_ENV, "on").strip().lower()
    if value not in ("on", "off", "1", "0", "true", "false", ""):
        raise LakeError(f"{ENGINE_ENV}={value!r}: use on or off")
    return value not in ("off", "0", "false")


def idle_minutes_from_env() -> float:
    return _from_env(
        IDLE_ENV,
        DEFAULT_IDLE_MINUTES,
        float,
        "is not a number of minutes, e.g. 15 or 0.5",
        lambda minutes: minutes > 0,
        f"must be > 0 (use {ENGINE_ENV}=off to run without an engine)",
    )


def warm_runs_from_env() -> int:
    return _from_env(
        WARM_RUNS_ENV,
        DEFAULT_WARM_RUNS,
        int,
        "is not a whole number of runs, e.g. 8 (0: no training)",
        lambda runs: runs >= 0,
        "must be >= 0 (0: no training)",
    )


def _from_env(
    name: str, default: _N, parse: Callable[[str], _N], not_one: str, ok: Callable[[_N], bool], rule: str
) -> _N:
    raw = os.environ.get(name, str(default))
    try:
        value = parse(raw)
    except ValueError:
        raise LakeError(f"{name} '{raw}' {not_one}") from None
    if not ok(value):
        raise LakeError(f"{name} '{raw}' {rule}")
    return value


def _runtime_dir() -> Path:
    """A folder only this user can enter: other users must not reach the engine's socket."""
    candidates = [os.environ.get("XDG_RUNTIME_DIR", ""), tempfile.gettempdir(), "/tmp"]
    for base in filter(None, candidates):
        folder = Path(base) / f"lake-{os.getuid()}"
        if len(str(folder)) + 22 > _MAX_SOCKET_PATH:
            continue
        try:
            folder.mkdir(mode=0o700, exist_ok=True)
            info = folder.stat()
        except OSError:
            continue
        if info.st_uid == os.getuid():
            os.chmod(folder, 0o700)
            return folder
    raise LakeError(f"no private runtime folder for the engine's socket; set {ENGINE_ENV}=off")


def socket_path(home: Path) -> Path:
    """Short and the same for every process that means this home (it is resolved first)."""
    digest = hashlib.sha256(str(home.resolve()).encode()).hexdigest()[:16]
    return _runtime_dir() / f"{digest}.sock"


def state_dir(home: Path) -> Path:
    return home / "_lake"


def record_path(home: Path) -> Path:
    return state_dir(home) / "engine.json"


def log_path(home: Path) -> Path:
    return home / ".logs" / "engine.log"


@dataclass(frozen=True)
class EngineRecord:
    """What `<home>/_lake/engine.json` says about the engine of the home."""

    pid: int
    host: str
    proc_start: str
    address: str
    fingerprint: str
    started_at: str

    def alive(self) -> bool:
        return Owner(self.pid, self.host, self.proc_start).is_alive()


def read_record(home: Path) -> EngineRecord | None:
    try:
        return EngineRecord(**json.loads(record_path(home).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def code_fingerprint() -> str:
    """The code on disk now, which an engine started now would run: an engine started before a
    `git pull` must not serve after it. Read each time, not cached: a long-running client
    (`lake watch`) compares the engine with what a new engine would run, or it would replace
    the engine on every run after a pull."""
    from importlib.util import find_spec

    # The installed PySpark's version file, found without importing PySpark (the CLI side
    # stays JVM-free) and without reading every installed distribution's metadata, which
    # `importlib.metadata.version` does (about 10 ms of each command that hands a run over).
    pyspark = find_spec("pyspark")
    version_file = Path(pyspark.origin).with_name("version.py") if pyspark and pyspark.origin else None
    digest = hashlib.sha256(f"{sys.executable}\0".encode())
    digest.update(version_file.read_bytes() if version_file and version_file.is_file() else b"no pyspark")
    root = Path(__file__).resolve().parents[2]
    for package in ("data_platform", "etl"):
        for source in sorted((root / package).rglob("*.py")):
            digest.update(str(source.relative_to(root)).encode())
            digest.update(source.read_bytes())
    return digest.hexdigest()[:20]


# ------------------------------------------------------------------------------------------
# The wire: JSON lines


class _Stream(Protocol):
    """A socket's `makefile("rwb")`."""

    def readline(self) -> bytes: ...
    def write(self, data: bytes, /) -> int: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...


def _send(stream: _Stream, message: Mapping[str, Any]) -> None:
    stream.write(json.dumps(message, default=str).encode() + b"\n")
    stream.flush()


def _receive(stream: _Stream) -> dict[str, Any] | None:
    line = stream.readline()
    if not line:
        return None
    message: dict[str, Any] = json.loads(line)
    return message


# ------------------------------------------------------------------------------------------
# The client (in the CLI process)


class EngineClient:
    """Talks to the engine of `home`, starting one when none serves this code. With `stack`,
    its runs and `ensure_started` also tell the engine which stack to train with."""

    def __init__(self, home: Path, *, idle_minutes: float | None = None, stack: StackConfig | None = None) -> None:
        self.home = home.resolve()
        self.idle_minutes = idle_minutes
        self.stack = stack

    def _request(self, op: str, **fields: Any) -> dict[str, Any]:
        request = {"op": op, **fields}
        if self.stack is not None:
            request["stack"] = self.stack.model_dump(mode="json")
        return request

    # -- requests -------------------------------------------------------------------------

    def run(self, job: str, arguments: Mapping[str, str]) -> Mapping[str, Any]:
        """The runner's `JobFn`: run on the engine, relaying its stage events to this process.

        A run that was waiting for its turn when the engine was told to stop (`lake engine
        stop`, or the replacement of an engine of other code) never started there: it is
        handed to the next engine, started here once the stopping one stops listening."""
        from etl.progress import StageEvent, publish

        deadline = time.monotonic() + STOP_TIMEOUT_S
        while True:
            with self._connection(start=True) as (_sock, stream):
                _send(stream, self._request("run", job=job, arguments=dict(arguments)))
                while True:
                    message = self._reply(stream, f"while running {job}")
                    if "stage" in message:
                        publish(StageEvent(**message["stage"]))
                    elif "summary" in message:
                        summary: Mapping[str, Any] = message["summary"]
                        return summary
                    elif REFUSED_STOPPING in message:
                        break
                    else:
                        raise EngineLost(f"the local engine refused the run: {message.get('error', message)}")
            if time.monotonic() > deadline:
                raise EngineLost(
                    f"the local engine kept refusing {job} for {STOP_TIMEOUT_S:.0f}s while stopping; "
                    f"see {log_path(self.home)}"
                )
            log.info("the engine of %s is stopping before %s started; handing it to the next engine", self.home, job)
            time.sleep(0.2)  # the stopping engine closes its socket within a second

    def status(self) -> dict[str, Any] | None:
        """The running engine's status, or None when none serves this home."""
        try:
            with self._connection(start=False) as (_sock, stream):
                _send(stream, {"op": "status"})
                status: dict[str, Any] = self._reply(stream, "asked for its status")["status"]
                return status
        except (EngineLost, OSError):
            return None

    def ensure_started(self) -> dict[str, Any]:
        """Start the engine unless one serves this code; its status."""
        with self._connection(start=True) as (_sock, stream):
            _send(stream, self._request("status"))
            status: dict[str, Any] = self._reply(stream, "asked for its status")["status"]
            return status

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> int | None:
        """Ask the engine to exit after its current run; its pid, or None if none was running."""
        status = self.status()
        if status is None:
            return None
        try:
            with self._connection(start=False) as (_sock, stream):
                _send(stream, {"op": "stop"})
                self._reply(stream, "asked to stop")
        except (EngineLost, OSError):
            pass  # it went away already
        pid = int(status["pid"])
        if not _wait_until(lambda: not _pid_alive(pid, status.get("proc_start", "")), timeout):
            raise LakeError(
                f"the engine (pid {pid}) was asked to stop but still runs after {timeout:.0f}s (a long run "
                f"finishing?); `kill {pid}` stops it after that run, `kill -9 {pid}` at once (the run then fails)"
            )
        return pid

    # -- connecting and starting ----------------------------------------------------------

    @contextlib.contextmanager
    def _connection(self, *, start: bool) -> Iterator[tuple[socket.socket, _Stream]]:
        """A connection to the engine; with `start`, to one that runs this code (started if
        needed), else to whatever engine serves the home."""
        if start:
            sock, stream = self._connect_or_start()
        else:
            found = self._connect()
            if found is None:
                raise EngineLost(f"no engine is running for {self.home}")
            sock, stream = found, found.makefile("rwb")
        try:
            yield sock, stream
        finally:
            with contextlib.suppress(OSError):
                stream.close()
            sock.close()

    def _reply(self, stream: _Stream, doing: str) -> dict[str, Any]:
        try:
            message = _receive(stream)
        except (OSError, ValueError) as error:
            message, reason = None, f" ({type(error).__name__}: {error})"
        else:
            reason = ""
        if message is None:
            raise EngineLost(
                f"the local engine stopped {doing}{reason} (killed or crashed; its log: {log_path(self.home)}); "
                "the next command starts a new one and the run can be re-run"
            )
        return message

    def _connect(self) -> socket.socket | None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(str(socket_path(self.home)))
        except OSError:
            sock.close()
            return None
        return sock

    def _connect_or_start(self) -> tuple[socket.socket, _Stream]:
        found = self._usable_engine()
        if found is not None:
            return found
        state_dir(self.home).mkdir(parents=True, exist_ok=True)
        import fcntl  # POSIX, like the Unix socket itself

        # Whoever holds the lock starts the engine; the others wait, then find it running.
        with (state_dir(self.home) / "engine.lock").open("a") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                found = self._usable_engine(stop_stale=True)
                if found is not None:
                    return found
                self._start()
                found = self._usable_engine()
                if found is None:
                    raise LakeError(f"the local engine started but does not answer; see {log_path(self.home)}")
                return found
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def _usable_engine(self, *, stop_stale: bool = False) -> tuple[socket.socket, _Stream] | None:
        """A connection to an engine of this home that runs this code, its status checked on
        the same connection (an engine that idles out between two connections cannot strand
        the request)."""
        sock = self._connect()
        if sock is None:
            return None
        stream = sock.makefile("rwb")
        try:
            _send(stream, {"op": "status"})
            message = _receive(stream)
        except (OSError, ValueError):
            message = None
        status = (message or {}).get("status")
        if status is not None and status.get("fingerprint") == code_fingerprint():
            return sock, stream
        with contextlib.suppress(OSError):
            stream.close()
        sock.close()
        if status is not None and stop_stale:
            log.info("the engine of %s runs other code; stopping it and starting a new one", self.home)
            self.stop()
        return None

    def _start(self) -> None:
        address = socket_path(self.home)
        idle = self.idle_minutes if self.idle_minutes is not None else idle_minutes_from_env()
        warm_runs = warm_runs_from_env()
        log_file = log_path(self.home)
        log_file.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env["LAKE_LOG_DIR"] = str(log_file.parent)
        # A one-shot process may stop at the quick compiler (etl.session, LAKE_JIT); a
        # long-lived engine is exactly where the optimizing compiler pays off.
        env.pop("LAKE_JIT", None)
        command = [sys.executable, "-m", "data_platform.local.engine", "serve", "--home", str(self.home)]
        command += ["--idle-minutes", str(idle), "--warm-runs", str(warm_runs)]
        with log_file.open("ab") as output:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=output,
                env=env,
                start_new_session=True,  # outlives this command and its terminal's Ctrl-C
                close_fds=True,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise LakeError(
                    f"the local engine exited at start (exit {process.returncode}); see {log_file}, "
                    f"or run without it: {ENGINE_ENV}=off"
                )
            sock = self._connect()
            if sock is not None:
                sock.close()
                return
            time.sleep(0.05)
        process.kill()
        raise LakeError(f"the local engine did not listen on {address} within {START_TIMEOUT_S:.0f}s; see {log_file}")


def _pid_alive(pid: int, proc_start: str) -> bool:
    # An engine this process started (`lake watch` after a `git pull`, say) stays a zombie
    # once it exits until it is reaped here; a zombie still answers os.kill(pid, 0).
    with contextlib.suppress(ChildProcessError):
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    return Owner(pid, socket.gethostname(), proc_start).is_alive()


def _wait_until(condition: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def job_fn_for(home: Path, stack: StackConfig | None = None) -> JobFn:
    """The job function a command of this home uses: the engine's (told `stack`, to train
    with while idle), or (LAKE_ENGINE=off) this process's own Spark."""
    if engine_enabled():
        return EngineClient(home, stack=stack).run
    from data_platform.local.spark import spark_job_fn

    return spark_job_fn


def stop_engine(home: Path) -> int | None:
    """Stop the engine of `home` if one runs (e.g. before its home is deleted)."""
    return EngineClient(home).stop()


# ------------------------------------------------------------------------------------------
# The server (the engine process)


class EngineServer:
    """Serves one home's runs on this process's SparkSession, one at a time."""

    def __init__(self, home: Path, *, idle_minutes: float, warm_runs: int = DEFAULT_WARM_RUNS) -> None:
        self.home = home.resolve()
        self.idle_seconds = idle_minutes * 60
        self.warm_runs = warm_runs
        self.address = socket_path(self.home)
        self.fingerprint = code_fingerprint()
        self.owner = Owner.current()
        self.started = datetime.now(UTC)
        self._run_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._connections = 0  # open client connections: an engine in use is never idle
        self._last_used = time.monotonic()
        # Runs asked for and not yet answered, and when the last one ended: training waits
        # for runs only (a `lake engine status` loop must not keep it from training).
        self._runs_pending = 0
        self._last_run_end = time.monotonic()
        self._runs_served = 0
        self._current: dict[str, Any] | None = None  # job, run_id, stage of the run in progress
        self._stopping = threading.Event()
        self._warming = True  # never idle before Spark is up: the idle time counts from a warm engine
        self._stack: dict[str, Any] | None = None  # the last stack a client sent (JSON): trained with
        self._training = False  # a training job runs now
        self._training_runs = 0  # training jobs done
        self.spark_started = False

    # -- life -----------------------------------------------------------------------------

    def serve(self) -> None:
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        # Only a client that found no engine (under the start lock) starts one: a socket
        # file left here is a dead engine's.
        self.address.unlink(missing_ok=True)
        listener.bind(str(self.address))
        os.chmod(self.address, 0o600)
        listener.listen(16)
        listener.settimeout(1.0)
        self._write_record()
        log.info("engine serving %s on %s (idle timeout %.0fs)", self.home, self.address, self.idle_seconds)
        threading.Thread(target=self._warm_up, name="warm-up", daemon=True).start()
        try:
            while not self._stopping.is_set() and not self._idle_too_long():
                try:
                    conn, _ = listener.accept()
                except TimeoutError:
                    continue
                with self._state_lock:
                    self._connections += 1
                threading.Thread(target=self._handle, args=(conn,), name="connection", daemon=True).start()
        finally:
            self._stopping.set()  # also for an idle exit: no training job starts from now on
            listener.close()
            self._clean_up()
            # A run already holding or waiting for the lock (a `stop` while busy) finishes first.
            with self._run_lock:
                pass
            log.info("engine exits after %d run(s)", self._runs_served)

    def stop(self) -> None:
        self._stopping.set()

    def _idle_too_long(self) -> bool:
        with self._state_lock:
            idle = self._connections == 0 and not self._warming
            return idle and time.monotonic() - self._last_used > self.idle_seconds

    def _warm_up(self) -> None:
        from data_platform.local.spark import warm_up

        try:
            with self._run_lock:
                warm_up()
                self.spark_started = True
        except Exception:  # the first run reports the same problem to its user
            log.exception("warm-up failed")
        with self._state_lock:
            self._warming = False
            self._last_used = time.monotonic()
        if self.spark_started and self.warm_runs > 0:
            self._train_while_idle()

    # -- training while idle (see the module's docstring) ---------------------------------

    def _trained_enough(self) -> bool:
        with self._state_lock:
            return self._runs_served + self._training_runs >= self.warm_runs

    def _run_pending(self) -> bool:
        with self._state_lock:
            return self._runs_pending > 0

    def _train_while_idle(self) -> None:
        """Train, one upload at a time, whenever idle, until warm (or stopping)."""
        while not self._stopping.wait(0.2) and not self._trained_enough():
            with self._state_lock:
                stack = self._stack
                ready = self._runs_pending == 0 and time.monotonic() - self._last_run_end >= TRAINING_IDLE_S
            if stack is None or not ready or not self._run_lock.acquire(blocking=False):
                continue
            try:
                if self._stopping.is_set() or self._run_pending():
                    continue
                note, gave_way = self._train_once(stack)
            finally:
                self._run_lock.release()
            if note is not None and not gave_way:
                log.warning("training while idle stops: %s", note)
                return
        log.info("training while idle: done (%d training job(s))", self._training_runs)

    def _train_once(self, stack: dict[str, Any]) -> tuple[str | None, bool]:
        """One training upload (`train`, runs=1) on this engine's Spark: None when done, else
        why not; and whether it stopped early for a client."""
        from data_platform.config import StackConfig
        from data_platform.local.training import train

        gave_way = threading.Event()

        def training_job(job: str, arguments: Mapping[str, str]) -> Mapping[str, Any]:
            # Between two jobs (sales_etl, then its after-job) a client's run is served first.
            if self._stopping.is_set() or self._run_pending():
                gave_way.set()
                raise _ClientFirst("a client came; the training upload stops here")
            with self._state_lock:
                self._training = True
            try:
                return self._job(job, arguments)
            finally:
                with self._state_lock:
                    self._training = False
                    self._training_runs += 1

        try:
            note = train(StackConfig.model_validate(stack), runs=1, job_fn=training_job)
        except Exception as error:  # noqa: BLE001 - training is an optimisation: log it and stop
            note = f"{type(error).__name__}: {error}"
        return note, gave_way.is_set()

    def _write_record(self) -> None:
        record = EngineRecord(
            pid=self.owner.pid,
            host=self.owner.host,
            proc_start=self.owner.proc_start,
            address=str(self.address),
            fingerprint=self.fingerprint,
            started_at=self.started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        path = record_path(self.home)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        partial.write_text(json.dumps(asdict(record), indent=2), encoding="utf-8")
        os.replace(partial, path)

    def _clean_up(self) -> None:
        """Remove the record and the socket, if they are still this engine's."""
        record = read_record(self.home)
        if record is None or record.pid == self.owner.pid:
            record_path(self.home).unlink(missing_ok=True)
            self.address.unlink(missing_ok=True)

    # -- requests -------------------------------------------------------------------------

    def _handle(self, conn: socket.socket) -> None:
        """Requests of one connection, in order; a `run` is its last."""
        stream = conn.makefile("rwb")
        try:
            while (request := _receive(stream)) is not None:
                op = request.get("op")
                if op == "status":
                    self._remember_stack(request)
                    _send(stream, {"status": self.status()})
                elif op == "stop":
                    _send(stream, {"stopping": True})
                    self.stop()
                elif op == "run":
                    with self._state_lock:
                        self._runs_pending += 1  # first: a run's stack must not start a training job
                    self._remember_stack(request)
                    try:
                        self._run(conn, stream, str(request["job"]), dict(request["arguments"]))
                    finally:
                        with self._state_lock:
                            self._runs_pending -= 1
                            self._last_run_end = time.monotonic()
                    break
                else:
                    _send(stream, {"error": f"unknown request {op!r}"})
        except (OSError, ValueError, KeyError) as error:
            log.warning("request failed: %s: %s", type(error).__name__, error)
        finally:
            with contextlib.suppress(OSError):
                stream.close()
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)  # wakes the thread watching for the client's end
            conn.close()
            with self._state_lock:
                self._connections -= 1
                self._last_used = time.monotonic()

    def _remember_stack(self, request: Mapping[str, Any]) -> None:
        stack = request.get("stack")
        if isinstance(stack, dict):
            with self._state_lock:
                self._stack = stack

    def status(self) -> dict[str, Any]:
        with self._state_lock:
            busy = self._current is not None
            return {
                "pid": self.owner.pid,
                "proc_start": self.owner.proc_start,
                "home": str(self.home),
                "address": str(self.address),
                "fingerprint": self.fingerprint,
                "started_at": self.started.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "uptime_s": round((datetime.now(UTC) - self.started).total_seconds(), 1),
                "idle_s": 0.0 if busy else round(time.monotonic() - self._last_used, 1),
                "idle_timeout_s": self.idle_seconds,
                "runs_served": self._runs_served,
                "running": dict(self._current) if self._current else None,
                "training": self._training,
                "training_runs": self._training_runs,
                "warm_runs": self.warm_runs,
                "warm": self._runs_served + self._training_runs >= self.warm_runs,
            }

    def _run(self, conn: socket.socket, stream: _Stream, job: str, arguments: dict[str, str]) -> None:
        from etl.progress import StageEvent, subscribe

        run_id = arguments.get("--JOB_RUN_ID", "")
        gone, finished = threading.Event(), threading.Event()
        threading.Thread(target=self._watch_client, args=(conn, run_id, gone, finished), daemon=True).start()
        with self._run_lock:
            if self._stopping.is_set() or gone.is_set():
                with contextlib.suppress(OSError):  # the client hands the run to the next engine
                    _send(stream, {REFUSED_STOPPING: True})
                return
            with self._state_lock:
                self._current = {"job": job, "run_id": run_id, "stage": None}

            def relay(event: StageEvent) -> None:
                if event.run_id != run_id or gone.is_set():
                    return
                with self._state_lock:
                    if self._current is not None and event.state == "started":
                        self._current["stage"] = event.stage
                try:
                    _send(stream, {"stage": asdict(event)})
                except OSError:
                    gone.set()

            log.info("run %s %s: started", job, run_id)
            try:
                with subscribe(relay):
                    summary = self._job(job, arguments)
            finally:
                finished.set()
                with self._state_lock:
                    self._current = None
                    self._runs_served += 1
            log.info("run %s %s: %s", job, run_id, summary.get("state"))
            if not gone.is_set():
                _send(stream, {"summary": summary})

    def _job(self, job: str, arguments: Mapping[str, str]) -> Mapping[str, Any]:
        from data_platform.local.spark import spark_job_fn

        self.spark_started = True
        return spark_job_fn(job, arguments)

    def _watch_client(self, conn: socket.socket, run_id: str, gone: threading.Event, finished: threading.Event) -> None:
        """The client sends nothing after its `run`: end-of-file means it went away (Ctrl-C,
        killed). The run's Spark jobs are cancelled then, as the end of an in-process run's
        JVM would end them, so nothing commits for a run its history calls FAILED."""
        try:
            data = conn.recv(1)
        except OSError:
            data = b""
        if data or finished.is_set():
            return
        gone.set()
        with self._state_lock:
            running = self._current is not None and self._current["run_id"] == run_id
        if running:
            log.warning("the client of run %s went away mid-run; cancelling its Spark jobs", run_id)
            with contextlib.suppress(Exception):
                from pyspark import SparkContext

                SparkContext.getOrCreate().cancelAllJobs()


def serve(home: Path, idle_minutes: float, warm_runs: int = DEFAULT_WARM_RUNS) -> None:
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(process)d %(levelname)s %(name)s %(message)s"
    )
    server = EngineServer(home, idle_minutes=idle_minutes, warm_runs=warm_runs)
    # SIGTERM (a system shutdown, `kill`): stop taking requests, let the current run finish.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: server.stop())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # started detached; Ctrl-C in a terminal is not for it
    try:
        server.serve()
    finally:
        if server.spark_started:
            with contextlib.suppress(Exception):
                from pyspark.sql import SparkSession

                SparkSession.builder.getOrCreate().stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m data_platform.local.engine", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser("serve", help="serve the runs of one lake home (what the CLI starts)")
    serve_parser.add_argument("--home", required=True, type=Path)
    serve_parser.add_argument("--idle-minutes", type=float, default=DEFAULT_IDLE_MINUTES)
    serve_parser.add_argument("--warm-runs", type=int, default=DEFAULT_WARM_RUNS)
    options = parser.parse_args(argv)
    serve(options.home, options.idle_minutes, options.warm_runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
