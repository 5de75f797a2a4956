"""The warm engine (data_platform.local.engine) through the real CLI, on real Spark.

The suite runs `lake` with LAKE_ENGINE=off (tests/conftest.py); these tests turn the engine on
for their own commands, and the `engines` fixture stops every engine they started (killing
what does not stop), so no JVM outlives the test.

The tests that start an engine are marked `spark`. Each engine is a JVM start (tens of seconds on 2 busy cores), so each test starts as few as it
can: parity and the relayed stage events share one upload.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from data_platform.cli.demo import sample_files
from data_platform.config import load_stack
from data_platform.local.class_archive import training_csv
from data_platform.local.engine import (
    EngineClient,
    EngineServer,
    code_fingerprint,
    idle_minutes_from_env,
    log_path,
    socket_path,
    warm_runs_from_env,
)
from data_platform.local.history import Owner
from data_platform.local.tables import read_rows

pytestmark = [pytest.mark.cli]

REPO = Path(__file__).resolve().parents[1]
LAKE = Path(sys.executable).with_name("lake")
CFG = load_stack("dev", REPO).platform
VOLATILE_COLUMNS = {"_ingested_at", "_run_id"}  # when and by which run a row was written


def lake_env(engine: str = "on", **extra: str) -> dict[str, str]:
    """The environment of a `lake` under test. Its engine does not train while idle (training
    is tested without Spark, below): a test's engine works only when its test asks."""
    env = {k: v for k, v in os.environ.items() if k not in ("LAKE_HOME", "LAKE_NOW", "LAKE_FAULT")}
    return {
        **env,
        "LAKE_ENGINE": engine,
        "LAKE_ENGINE_WARM_RUNS": "0",
        "LAKE_RETRY_SCALE": "0",
        "COLUMNS": "200",
        **extra,
    }


def lake(home: Path, *args: str, env: dict[str, str] | None = None, **popen: Any) -> subprocess.CompletedProcess[str]:
    command = [str(LAKE)] if LAKE.exists() else [sys.executable, "-m", "data_platform.cli"]
    return subprocess.run(
        [*command, "--home", str(home), *args],
        capture_output=True,
        text=True,
        timeout=900,
        cwd=home.parent,
        env=env or lake_env(),
        **popen,
    )


def start_lake(home: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    command = [str(LAKE)] if LAKE.exists() else [sys.executable, "-m", "data_platform.cli"]
    return subprocess.Popen(
        [*command, "--home", str(home), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=home.parent,
        env=env or lake_env(),
    )


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent) counts as gone.
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().rsplit(")", 1)[-1].split()[0] == "Z")


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout}s: {what}")


def engine_pids(home: Path) -> list[int]:
    """Engine processes serving `home` (from /proc, whatever the engine says of itself)."""
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            words = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"data_platform.local.engine" in words and str(home.resolve()).encode() in words:
            pids.append(int(cmdline.parent.name))
    return [pid for pid in pids if alive(pid)]


@pytest.fixture
def engines() -> Iterator[list[Path]]:
    """Homes whose engines the test starts; each is stopped (or killed) at the end."""
    homes: list[Path] = []
    yield homes
    for home in homes:
        EngineClient(home).stop(timeout=60)
        for pid in engine_pids(home):
            with_children = [pid, *_children(pid)]
            for each in with_children:
                try:
                    os.kill(each, signal.SIGKILL)
                except ProcessLookupError:
                    pass


def started_engine(tmp_path: Path, engines: list[Path], **env: str) -> Path:
    """A new home whose engine `lake engine start` started (with `env` added); stopped at the end."""
    home = tmp_path / "home"
    home.mkdir()
    engines.append(home)
    started = lake(home, "engine", "start", env=lake_env(**env))
    assert started.returncode == 0, started.stderr
    return home


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[-1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def sales_file(folder: Path, name: str, rows: int = 60) -> Path:
    path = folder / name
    path.write_text(training_csv(rows), encoding="utf-8")
    return path


def runs_json(home: Path) -> list[dict[str, Any]]:
    result = lake(home, "runs", "--json", "--limit", "100")
    assert result.returncode == 0, result.stderr
    runs: list[dict[str, Any]] = json.loads(result.stdout)
    return runs


# ------------------------------------------------------------------------------------------
# Without Spark


@pytest.mark.parametrize("depth", [1, 40])
def test_the_socket_path_is_short_and_the_same_for_one_home(tmp_path: Path, depth: int) -> None:
    home = tmp_path.joinpath(*[f"a-rather-long-folder-name-{n}" for n in range(depth)])
    assert len(str(socket_path(home))) < 104
    assert socket_path(home) == socket_path(home / ".." / home.name)
    assert socket_path(home) != socket_path(tmp_path / "other")


@pytest.mark.parametrize(
    ("name", "read", "default", "good", "bad"),
    [
        ("LAKE_ENGINE_IDLE_MINUTES", idle_minutes_from_env, 15, ("0.5", 0.5), ("soon", "0", "-1")),
        ("LAKE_ENGINE_WARM_RUNS", warm_runs_from_env, 8, ("0", 0), ("many", "2.5", "-1")),
    ],
)
def test_engine_settings_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    read: Callable[[], float],
    default: float,
    good: tuple[str, float],
    bad: tuple[str, ...],
) -> None:
    from data_platform.local import LakeError

    monkeypatch.delenv(name, raising=False)
    assert read() == default
    monkeypatch.setenv(name, good[0])
    assert read() == good[1]
    for value in bad:
        monkeypatch.setenv(name, value)
        with pytest.raises(LakeError, match=name):
            read()


def test_status_and_stop_without_an_engine_say_so(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    for command in ("status", "stop"):
        result = lake(home, "engine", command)
        assert result.returncode == 0, result.stderr
        assert "no engine is running" in result.stdout
    assert json.loads(lake(home, "engine", "status", "--json").stdout) is None


class FakeEngine:
    """Answers `status` on the home's socket as an engine running `fingerprint` would, and
    notes every request (no Spark: what a client does with the answer is under test)."""

    def __init__(self, home: Path, fingerprint: str) -> None:
        import socket

        self.fingerprint = fingerprint
        self.requests: list[str] = []
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        socket_path(home).unlink(missing_ok=True)
        self.listener.bind(str(socket_path(home)))
        self.listener.listen(4)
        self.path = socket_path(home)
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn, conn.makefile("rwb") as stream:
                while line := stream.readline():
                    request = json.loads(line)
                    self.requests.append(request["op"])
                    status = {"pid": os.getpid(), "proc_start": "", "fingerprint": self.fingerprint}
                    stream.write(json.dumps({"status": status} if request["op"] == "status" else {}).encode() + b"\n")
                    stream.flush()

    def close(self) -> None:
        self.listener.close()
        self.path.unlink(missing_ok=True)


def test_an_engine_of_other_code_is_not_used(tmp_path: Path) -> None:
    home = tmp_path / "home"
    client = EngineClient(home)
    current = FakeEngine(home, code_fingerprint())
    try:
        found = client._usable_engine()
        assert found is not None  # the same code: used, on the connection that asked
        found[0].close()
    finally:
        current.close()
    stale = FakeEngine(home, "before-a-git-pull")
    try:
        assert client._usable_engine() is None
        assert stale.requests == ["status"]  # asked, then left alone: replaced only under the start lock
    finally:
        stale.close()


class ScriptedEngine(EngineServer):
    """The real engine server in this process, its Spark replaced by a job the test releases:
    what is under test is how runs wait their turn and what a stop does to them."""

    def __init__(self, home: Path, name: str, *, warm_runs: int = 0) -> None:
        super().__init__(home, idle_minutes=15, warm_runs=warm_runs)
        self.name = name
        self.jobs_run: list[str] = []
        self.arguments: list[dict[str, str]] = []
        self.entered: dict[str, threading.Event] = {}
        self.release = threading.Event()
        self.thread = threading.Thread(target=self.serve, name=f"engine-{name}", daemon=True)

    def start(self) -> ScriptedEngine:
        self.thread.start()
        wait_for(lambda: EngineClient(self.home)._connect(), 30, f"engine {self.name} listens")
        return self

    def _warm_up(self) -> None:
        with self._state_lock:
            self._warming = False
        if self.warm_runs > 0:
            self._train_while_idle()

    def _run(self, conn: Any, stream: Any, job: str, arguments: dict[str, str]) -> None:
        self.entered.setdefault(job, threading.Event()).set()
        super()._run(conn, stream, job, arguments)

    def _job(self, job: str, arguments: Any) -> dict[str, Any]:
        self.jobs_run.append(job)
        self.arguments.append(dict(arguments))
        assert self.release.wait(60)
        return {"job": job, "state": "SUCCEEDED", "served_by": self.name}


def test_a_run_waiting_its_turn_when_the_engine_stops_runs_on_the_next_engine(tmp_path: Path, monkeypatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    first = ScriptedEngine(home, "first").start()
    started: list[ScriptedEngine] = []

    def start_next(_client: EngineClient) -> None:  # what `_start` does, in this process
        engine = ScriptedEngine(home, "next")
        engine.release.set()
        started.append(engine.start())

    monkeypatch.setattr(EngineClient, "_start", start_next)
    results: dict[str, Any] = {}

    def run(job: str) -> None:
        try:
            results[job] = EngineClient(home).run(job, {"--JOB_RUN_ID": f"run-{job}"})
        except Exception as error:  # noqa: BLE001 - the assertion below shows it
            results[job] = error

    running = threading.Thread(target=run, args=("sales_etl",))
    running.start()
    wait_for(lambda: first.jobs_run == ["sales_etl"], 30, "the first run started")
    waiting = threading.Thread(target=run, args=("product_catalog",))
    waiting.start()
    wait_for(lambda: "product_catalog" in first.entered, 30, "the second run waits for its turn")
    first.stop()  # what `lake engine stop` asks
    first.release.set()
    for thread in (running, waiting):
        thread.join(60)
    try:
        assert results["sales_etl"] == {"job": "sales_etl", "state": "SUCCEEDED", "served_by": "first"}
        assert results["product_catalog"] == {"job": "product_catalog", "state": "SUCCEEDED", "served_by": "next"}
        assert first.jobs_run == ["sales_etl"]  # never started on the stopping engine
        assert [engine.jobs_run for engine in started] == [["product_catalog"]]
    finally:
        for engine in [first, *started]:
            engine.stop()
            engine.thread.join(10)


def status_of(home: Path) -> dict[str, Any]:
    status = EngineClient(home).status()
    assert status is not None, f"no engine answers for {home}"
    return status


def training_engine(home: Path, monkeypatch: pytest.MonkeyPatch, *, warm_runs: int) -> ScriptedEngine:
    """A scripted engine that trains as soon as it has been idle for 0.2 s; its jobs succeed
    at once until the test clears `release`."""
    from data_platform.local import engine as engine_module

    monkeypatch.setattr(engine_module, "TRAINING_IDLE_S", 0.2)
    home.mkdir()
    engine = ScriptedEngine(home, "trainer", warm_runs=warm_runs)
    engine.release.set()
    return engine.start()


def test_an_idle_engine_trains_in_a_scratch_lake_with_its_clients_stack_until_warm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = training_engine(tmp_path / "home", monkeypatch, warm_runs=5)
    home = engine.home
    try:
        time.sleep(1.0)  # idle, but no client has said which stack to train with
        assert engine.jobs_run == []
        client = EngineClient(home, stack=load_stack("dev", REPO))
        assert client.run("sales_etl", {"--JOB_RUN_ID": "the-client-run"})["served_by"] == "trainer"
        wait_for(lambda: status_of(home)["warm"], 60, "the engine trains until warm")
        time.sleep(1.0)  # and then stops training
        status = status_of(home)
        assert (status["runs_served"], status["training_runs"], status["training"]) == (1, 4, False)
        assert "warm: 5 of 5 runs (4 training run(s) in a scratch lake)" in lake(home, "engine", "status").stdout
        # The client's run, then two training uploads (sales_etl and the after-job it starts).
        assert engine.jobs_run == ["sales_etl", "sales_etl", "sales_daily", "sales_etl", "sales_daily"]
        training = engine.arguments[1:]
        assert {args["--JOB_RUN_ID"] for args in training}.isdisjoint({"the-client-run"})
        roots = {args["--storage_root"] for args in training}
        assert len(roots) == 2  # a scratch lake per training upload, not the engine's home
        assert all(Path(root).parent.name.startswith("lake-training-") for root in roots)
        assert not any(Path(root).exists() for root in roots)  # deleted afterwards
        assert str(home.resolve()) not in json.dumps(training)
        assert all("class-archive-training" in json.dumps(args) for args in training[::2])  # its sales file
    finally:
        engine.stop()
        engine.thread.join(10)


def test_a_run_asked_for_while_the_engine_trains_waits_for_that_training_job_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = training_engine(tmp_path / "home", monkeypatch, warm_runs=6)
    home = engine.home
    client = EngineClient(home, stack=load_stack("dev", REPO))
    try:
        client.run("sales_etl", {"--JOB_RUN_ID": "first"})
        engine.release.clear()  # the next job, a training run's sales_etl, goes on until released
        wait_for(lambda: engine.jobs_run == ["sales_etl", "sales_etl"], 30, "a training job runs")
        assert status_of(home)["training"] is True
        result: dict[str, Any] = {}
        second = threading.Thread(target=lambda: result.update(client.run("product_catalog", {"--JOB_RUN_ID": "2nd"})))
        second.start()
        wait_for(lambda: "product_catalog" in engine.entered, 30, "the client's run waits for its turn")
        engine.release.set()
        second.join(60)
        assert result["served_by"] == "trainer"
        # The training upload stopped before its after-job: the client's run came next.
        assert engine.jobs_run[:3] == ["sales_etl", "sales_etl", "product_catalog"]
        wait_for(lambda: status_of(home)["warm"], 60, "training resumes once idle")
        assert engine.jobs_run[3:5] == ["sales_etl", "sales_daily"]
    finally:
        engine.release.set()
        engine.stop()
        engine.thread.join(10)


@pytest.mark.parametrize("warm", [True, False])
def test_lake_watch_trains_only_an_engine_that_is_not_warm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, warm: bool
) -> None:
    from data_platform.cli.commands import watching
    from data_platform.cli.render import Reporter, err
    from data_platform.local import training
    from data_platform.local.lake import LocalLake

    monkeypatch.setenv("LAKE_ENGINE", "on")
    stack = load_stack("dev", REPO)
    told: list[Any] = []

    def ensure_started(client: EngineClient) -> dict[str, Any]:
        told.append(client.stack)
        return {"warm": warm}

    monkeypatch.setattr(EngineClient, "ensure_started", ensure_started)
    trained: list[Any] = []
    monkeypatch.setattr(training, "train", lambda stack, *, job_fn: trained.append(job_fn))
    lake = LocalLake(stack, tmp_path / "home", job_fn=lambda job, arguments: {})
    try:
        watching._warm_spark(Reporter(err), lake)
    finally:
        lake.close()
    assert told == [stack]  # the engine learns the stack it may train with
    assert trained == ([] if warm else [lake.runner.job_fn])


# ------------------------------------------------------------------------------------------
# On Spark


def _comparable_runs(home: Path) -> list[dict[str, Any]]:
    """The history without what differs between any two runs: ids, times (a validation page's
    folder too), snapshot ids, the home's path."""
    runs = sorted(runs_json(home), key=lambda run: run["started_at"])
    ids = {run["run_id"]: f"<run {n}>" for n, run in enumerate(runs)}
    text = json.dumps(runs).replace(str(home.resolve()), "<home>")
    for run_id, placeholder in ids.items():
        text = text.replace(run_id, placeholder)
    comparable = []
    for run in json.loads(text):
        for field in ("started_at", "ended_at", "event_id"):
            run.pop(field)
        run["outputs"] = [output.split("@")[0] for output in run["outputs"] or []]
        if run.get("validation_page"):  # its Data Docs page: a folder per run time
            run["validation_page"] = re.sub(r"/\d{8}T\d{6}\.\d+Z/", "/<run time>/", run["validation_page"])
        run["stages"] = [(stage["name"], stage["rows"]) for stage in run["stages"] or []]
        comparable.append(run)
    return comparable


def _table(home: Path, dataset: str) -> list[tuple[Any, ...]]:
    columns, rows = read_rows(home, CFG.names.glue_database(), dataset)
    assert rows, f"no rows in {dataset} of {home}"
    kept = [column for column in columns if column not in VOLATILE_COLUMNS]
    # Gold names the silver snapshot it was computed from (`<table>@<snapshot id>`).
    return sorted(tuple(re.sub(r"@\d+$", "@<snapshot>", str(row[column])) for column in kept) for row in rows)


@pytest.mark.spark
def test_a_run_through_the_engine_matches_one_in_process_and_relays_its_stages(tmp_path: Path, engines) -> None:
    source = sales_file(tmp_path, "orders.csv")
    via_engine, in_process = tmp_path / "engine" / "home", tmp_path / "in-process" / "home"
    via_engine.parent.mkdir()
    in_process.parent.mkdir()
    engines.append(via_engine)

    first = lake(via_engine, "upload", str(source), "sales/orders.csv")
    assert first.returncode == 0, first.stderr
    own = lake(in_process, "upload", str(source), "sales/orders.csv", env=lake_env("off"))
    assert own.returncode == 0, own.stderr

    # The runs went to an engine (not this process's Spark), which is still up...
    status = json.loads(lake(via_engine, "engine", "status", "--json").stdout)
    assert status["runs_served"] == 2  # sales_etl and the after-job sales_daily
    assert engine_pids(via_engine) == [status["pid"]]
    assert engine_pids(in_process) == []
    # ...and their stages came back to the command's stage view, as they happened.
    for stage in ("extract", "raw checks", "quality gate", "write"):
        assert re.search(rf"sales_etl\s+{stage}\s+\d+\.\d\d s", first.stderr), (stage, first.stderr)
    assert re.search(r"sales_daily\s+write\s+\d+\.\d\d s\s+\d+ rows", first.stderr), first.stderr

    assert _comparable_runs(via_engine) == _comparable_runs(in_process)
    for job in ("sales_etl", "sales_daily"):
        dataset = CFG.jobs[job].dataset
        assert dataset is not None, f"{job} writes no dataset"
        assert _table(via_engine, dataset) == _table(in_process, dataset)


def _project_without_retries(folder: Path) -> Path:
    """The dev stack with max_retries 0: a failed attempt is the run's end."""
    folder.mkdir()
    shutil.copy(REPO / "Pulumi.yaml", folder / "Pulumi.yaml")
    text = (REPO / "Pulumi.dev.yaml").read_text(encoding="utf-8")
    assert "max_retries: 1" in text
    (folder / "Pulumi.dev.yaml").write_text(text.replace("max_retries: 1", "max_retries: 0"), encoding="utf-8")
    return folder


@pytest.mark.spark
def test_a_killed_engine_fails_the_run_with_a_message_and_a_rerun_succeeds(tmp_path: Path, engines) -> None:
    project = _project_without_retries(tmp_path / "project")
    home = tmp_path / "home"
    engines.append(home)
    source = sales_file(tmp_path, "orders.csv", rows=2000)
    upload = start_lake(home, "--project-dir", str(project), "upload", str(source), "sales/orders.csv")
    client = EngineClient(home)
    try:
        status = wait_for(
            lambda: (found := client.status()) and found["running"] and found["running"]["stage"] and found,
            600,
            "the engine runs a stage of sales_etl",
        )
        jvms = _children(status["pid"])
        assert jvms, "the engine runs its Spark driver (a JVM) as a child"
        os.kill(status["pid"], signal.SIGKILL)
        _stdout, stderr = upload.communicate(timeout=300)
    finally:
        if upload.poll() is None:
            upload.kill()
    assert upload.returncode == 1, stderr
    [run] = runs_json(home)
    assert run["state"] == "FAILED" and run["error_kind"] == "internal"
    assert "the local engine stopped while running sales_etl" in run["error"], run["error"]
    assert str(log_path(home)) in run["error"]
    # Its JVM follows it (PySpark's gateway exits when its Python process is gone).
    wait_for(lambda: not engine_pids(home) and not any(map(alive, jvms)), 60, "the killed engine's processes are gone")

    rerun = lake(home, "--project-dir", str(project), "replay", "--prefix", "sales/")
    assert rerun.returncode == 0, rerun.stderr
    states = [(run["job"], run["state"]) for run in sorted(runs_json(home), key=lambda r: r["started_at"])]
    assert states == [("sales_etl", "FAILED"), ("sales_etl", "SUCCEEDED"), ("sales_daily", "SUCCEEDED")]
    assert len(engine_pids(home)) == 1  # a new engine served the re-run


_ENGINE_RUN_LINE = re.compile(r"data_platform\.engine run (\S+) (\S+): (\S+)$")


@pytest.mark.spark
def test_commands_at_once_start_one_engine_and_never_run_one_job_concurrently(tmp_path: Path, engines) -> None:
    home = tmp_path / "home"
    engines.append(home)
    product = next(sample for sample in sample_files() if sample.key.startswith("products/"))
    (tmp_path / "catalog.json").write_bytes(product.body)
    sources = [(sales_file(tmp_path, f"orders-{n}.csv"), f"sales/orders-{n}.csv") for n in range(2)]
    sources.append((tmp_path / "catalog.json", product.key))
    # Slow enough retries for the runner that waits for sales_etl's one slot (max_concurrent_runs).
    env = lake_env(LAKE_RETRY_SCALE="0.05")
    uploads = [start_lake(home, "upload", str(source), key, env=env) for source, key in sources]
    for upload in uploads:
        _stdout, stderr = upload.communicate(timeout=900)
        assert upload.returncode == 0, stderr

    log = log_path(home).read_text(encoding="utf-8")
    assert log.count("engine serving") == 1, log  # three commands raced to start it
    events = [match.groups() for line in log.splitlines() if (match := _ENGINE_RUN_LINE.search(line))]
    assert {job for job, _run_id, _what in events} == {"sales_etl", "sales_daily", "product_catalog"}
    sales = [(run_id, what) for job, run_id, what in events if job == "sales_etl"]
    # Each sales_etl run ends before the next one starts.
    assert [what for _run_id, what in sales] == ["started", "SUCCEEDED", "started", "SUCCEEDED"], events
    assert sales[0][0] == sales[1][0] and sales[2][0] == sales[3][0]
    assert {run["state"] for run in runs_json(home)} == {"SUCCEEDED"}


@pytest.mark.spark
def test_an_engine_of_code_changed_since_is_replaced_and_the_run_succeeds(tmp_path: Path, engines) -> None:
    """End to end, what `git pull` then `lake upload` does: the running engine (of the code
    before the change) is stopped and a new one serves the run."""
    # A copy of the code, imported ahead of the installed one, so the test can change it.
    code = tmp_path / "code"
    for package in ("data_platform", "etl"):
        shutil.copytree(REPO / package, code / package, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml"):
        shutil.copy(REPO / name, code / name)
    home = tmp_path / "home"
    engines.append(home)

    def lake_copy(*args: str) -> str:
        result = lake(home, "--project-dir", str(code), *args, env=lake_env(PYTHONPATH=str(code)))
        assert result.returncode == 0, result.stderr
        return result.stdout

    def status() -> dict[str, Any]:
        # Asked through the copy: this process runs the installed code, the engine the copy.
        found: dict[str, Any] = json.loads(lake_copy("engine", "status", "--json"))
        assert found is not None, "an engine serves the home"
        return found

    lake_copy("upload", str(sales_file(tmp_path, "before.csv")), "sales/before.csv")
    before = status()
    assert engine_pids(home) == [before["pid"]]

    job = code / "etl" / "jobs" / "sales_etl.py"
    job.write_text(job.read_text(encoding="utf-8") + "\n# changed by a pull\n", encoding="utf-8")
    lake_copy("upload", str(sales_file(tmp_path, "after.csv")), "sales/after.csv")

    after = status()
    assert after["pid"] != before["pid"] and after["fingerprint"] != before["fingerprint"]
    assert not alive(before["pid"]) and engine_pids(home) == [after["pid"]]
    assert after["runs_served"] == 2  # sales_etl and sales_daily of the second upload
    runs = sorted(runs_json(home), key=lambda r: r["started_at"])
    assert [(r["job"], r["source_key"], r["state"]) for r in runs if r["job"] == "sales_etl"] == [
        ("sales_etl", "sales/before.csv", "SUCCEEDED"),
        ("sales_etl", "sales/after.csv", "SUCCEEDED"),
    ]


@pytest.mark.spark
def test_start_status_and_stop(tmp_path: Path, engines) -> None:
    home = started_engine(tmp_path, engines)
    status = json.loads(lake(home, "engine", "status", "--json").stdout)
    assert status["fingerprint"] == code_fingerprint()
    assert status["address"] == str(socket_path(home))
    assert status["idle_timeout_s"] == 15 * 60
    assert engine_pids(home) == [status["pid"]]
    assert Owner(status["pid"], os.uname().nodename, status["proc_start"]).is_alive()
    shown = lake(home, "engine", "status").stdout
    assert f"pid {status['pid']}" in shown and "0 run(s) served" in shown

    stopped = lake(home, "engine", "stop")
    assert stopped.returncode == 0, stopped.stderr
    assert f"stopped the engine (pid {status['pid']})" in stopped.stdout
    assert not alive(status["pid"])
    assert "no engine is running" in lake(home, "engine", "status").stdout
    assert not (home / "_lake" / "engine.json").exists()


@pytest.mark.spark
def test_a_started_engine_trains_itself_on_spark_and_leaves_its_home_alone(tmp_path: Path, engines) -> None:
    home = started_engine(tmp_path, engines, LAKE_ENGINE_WARM_RUNS="2")

    def warm() -> dict[str, Any] | None:
        status = EngineClient(home).status()
        return status if status and status["warm"] else None

    status = wait_for(warm, 600, "the engine trains itself (one training upload: sales_etl, sales_daily)")
    assert (status["runs_served"], status["training_runs"]) == (0, 2)
    done = "training while idle: done (2 training job(s))"
    wait_for(lambda: done in log_path(home).read_text(encoding="utf-8"), 60, "the training says it is done")
    assert "training while idle stops" not in log_path(home).read_text(encoding="utf-8")
    assert runs_json(home) == []  # the home's history has no run
    assert sorted(path.name for path in home.iterdir()) == [".logs", "_lake"]  # nor any bucket


@pytest.mark.spark
def test_an_idle_engine_exits_after_the_timeout(tmp_path: Path, engines) -> None:
    home = started_engine(tmp_path, engines, LAKE_ENGINE_IDLE_MINUTES="0.02")
    [pid] = engine_pids(home)
    # The idle time counts from a warm engine: Spark's start first, then 1.2 s unused.
    wait_for(lambda: not alive(pid), 300, "the idle engine exits")
    assert not socket_path(home).exists()
    assert not (home / "_lake" / "engine.json").exists()
    assert "engine exits after 0 run(s)" in log_path(home).read_text(encoding="utf-8")
