"""LocalLake with a fake job function: routing, arguments, chaining, alerts, keys, replay.

No Spark here: the job is a callable that records its arguments. What the job itself does is
tested in the etl tests; what is tested here is that the local path hands it exactly what
the cloud path would.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from support.faults import FaultPlan, FaultyRunner

from data_platform import job_arguments
from data_platform.config import StackConfig, load_stack
from data_platform.contract import alerts, events, runs
from data_platform.local import LakeError
from data_platform.local.buckets import validate_key
from data_platform.local.lake import LocalLake
from data_platform.local.training import train

REPO = Path(__file__).resolve().parents[1]


class FakeJobs:
    """Records (job, arguments); answers SUCCEEDED unless told otherwise per job."""

    def __init__(self, answers: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self.answers = dict(answers or {})
        self.calls: list[tuple[str, dict[str, str]]] = []

    def __call__(self, job: str, arguments: Mapping[str, str]) -> Mapping[str, Any]:
        self.calls.append((job, dict(arguments)))
        return self.answers.get(
            job,
            {
                "state": "SUCCEEDED",
                "rows_read": 2,
                "rows_written": 2,
                "rows_quarantined": 0,
                "outputs": [f"data_lake_dev.{job}@1"],
            },
        )

    @property
    def jobs(self) -> list[str]:
        return [job for job, _ in self.calls]


@pytest.fixture(scope="module")
def stack() -> StackConfig:
    return load_stack("dev", REPO)


@pytest.fixture
def fake() -> FakeJobs:
    return FakeJobs()


@pytest.fixture
def lake(stack: StackConfig, tmp_path: Path, fake: FakeJobs, monkeypatch: pytest.MonkeyPatch) -> LocalLake:
    monkeypatch.delenv("LAKE_FAULT", raising=False)
    monkeypatch.setenv("LAKE_RETRY_SCALE", "0")
    lake = LocalLake(stack, tmp_path / "home", job_fn=fake)
    yield lake
    lake.close()


def a_file(tmp_path: Path, name: str = "input.csv", body: bytes = b"a,b\n1,2\n") -> Path:
    path = tmp_path / name
    path.write_bytes(body)
    return path


def matching_key(stack: StackConfig, rule: str, stem: str = "2024-06-01 store+1 ü") -> str:
    cfg = stack.platform.s3_rules[rule]
    return f"{cfg.prefix or ''}{stem}{cfg.suffix or ''}"


# ------------------------------------------------------------------------------------------
# routing and arguments


def test_buckets_are_folders_named_like_the_stack_buckets(lake: LocalLake, stack: StackConfig) -> None:
    for purpose in ("bronze", "silver", "gold"):
        assert (lake.home / stack.platform.bucket_name(purpose)).is_dir()


@pytest.mark.parametrize("rule", ["sales_file_trigger", "product_catalog_trigger", "inventory_updates_trigger"])
def test_each_s3_rule_runs_its_job_with_the_runner_arguments(
    lake: LocalLake, fake: FakeJobs, stack: StackConfig, tmp_path: Path, rule: str
) -> None:
    key = matching_key(stack, rule)
    dispatch = lake.upload(a_file(tmp_path), key)
    job = stack.platform.s3_rules[rule].job
    assert [(m.rule, m.job) for m in dispatch.matched] == [(rule, job)]
    run = dispatch.runs[0]
    called_job, arguments = fake.calls[0]
    expected_input = runs.s3_event_transformer().apply(dispatch.event)
    expected = {
        **job_arguments.job_run_arguments(stack.platform, job, expected_input),
        "--JOB_RUN_ID": run.run_id,
        "--storage_root": str(lake.home),
        "--execution_name": run.run_id,  # locally the runner's execution is the run
    }
    assert (called_job, arguments) == (job, expected)
    assert (arguments["--data_docs_bucket"], arguments["--data_docs_prefix"]) == (
        stack.platform.bucket_name("artifacts"),
        f"data-docs/{stack.platform.environment}/",
    )
    assert arguments["--source_key"] == key
    assert arguments["--source_bucket"] == stack.platform.bucket_name("bronze")
    assert (run.state, run.trigger_name, run.source_key) == ("SUCCEEDED", rule, key)
    assert (lake.bucket_dir(lake.bronze) / key).read_bytes() == b"a,b\n1,2\n"


def test_sales_daily_runs_after_sales_etl_succeeds(
    lake: LocalLake, fake: FakeJobs, stack: StackConfig, tmp_path: Path
) -> None:
    dispatch = lake.upload(a_file(tmp_path), "sales/2024-06-01.csv")
    assert fake.jobs == ["sales_etl", "sales_daily"]
    sales, daily = dispatch.runs
    arguments = fake.calls[1][1]
    assert arguments["--trigger_source"] == "job_succeeded"
    assert arguments["--upstream_run_id"] == sales.run_id
    assert arguments["--upstream_job"] == stack.platform.names.glue_job("sales_etl")
    assert (daily.trigger_name, daily.upstream_run_id) == ("sales_daily", sales.run_id)


def test_a_failed_run_starts_nothing_downstream_and_raises_an_alert(
    stack: StackConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LAKE_FAULT", raising=False)
    fake = FakeJobs(
        {
            "sales_etl": {
                "state": "FAILED",
                "error": "rule currency_iso_4217 failed for 40% of rows",
                "error_kind": "data_quality",
            }
        }
    )
    lake = LocalLake(stack, tmp_path / "home", job_fn=fake)
    dispatch = lake.upload(a_file(tmp_path), "sales/bad.csv")
    assert fake.jobs == ["sales_etl"]
    assert dispatch.failed
    [alert] = lake.history.alerts()
    run_id = dispatch.runs[0].run_id
    assert alert.subject == f"Runner {stack.platform.names.runner('sales_etl')} execution FAILED"
    assert run_id in alert.message and "currency_iso_4217" in alert.message
    # Where the run's Data Docs link would be: its file path in the home's artifacts folder.
    link = tmp_path / "home" / "data-lake-dev-artifacts" / "data-docs" / "dev" / "site" / "runs" / f"{run_id}.html"
    assert alert.message.endswith(f": {link}")
    assert alert.topic == stack.platform.names.alert_topic()
    lake.close()


def test_a_run_whose_data_docs_were_not_written_says_so_under_the_run_table(stack: StackConfig, tmp_path: Path) -> None:
    """The run succeeded and is reported as such; the missing Data Docs are a warning line."""
    from io import StringIO

    from rich.console import Console

    from data_platform.cli.render import print_history

    answer = {"state": "SUCCEEDED", "rows_read": 3, "rows_written": 2, "rows_quarantined": 1}
    fake = FakeJobs({"sales_etl": {**answer, "warnings": {"data_docs_not_written": 1}}})
    lake = LocalLake(stack, tmp_path / "home", job_fn=fake)
    sales, daily = lake.upload(a_file(tmp_path), "sales/2024-06-01.csv").runs
    assert (sales.state, daily.state) == ("SUCCEEDED", "SUCCEEDED")
    screen = StringIO()
    print_history([sales, daily], "Runs", lake.home, console=Console(file=screen, width=200))
    warned = [line for line in screen.getvalue().splitlines() if "warning" in line]
    assert warned == [
        f"{sales.run_id}  warning: its Data Docs were not written (the job log says why); "
        "`lake docs` renders them from its quarantine"
    ]
    lake.close()


def test_a_run_with_nothing_to_do_still_counts_as_succeeded_downstream(stack: StackConfig, tmp_path: Path) -> None:
    fake = FakeJobs({"sales_etl": {"state": "NO_INPUT"}})
    lake = LocalLake(stack, tmp_path / "home", job_fn=fake)
    lake.run_manual("sales_etl")
    assert fake.jobs == ["sales_etl", "sales_daily"]  # Glue reports SUCCEEDED for such a run
    lake.close()


@pytest.mark.parametrize(
    "key, nearest",
    [
        ("sales/2024-06-01.txt", "sales_file_trigger"),  # wrong suffix
        ("archive/sales/2024-06-01.csv", "sales_file_trigger"),  # wrong prefix, right suffix
        ("products/catalog.jsonl", "product_catalog_trigger"),
        ("inventory/2024.xml", "inventory_updates_trigger"),
    ],
)
def test_a_key_no_rule_matches_runs_nothing_and_names_the_nearest_rule(
    lake: LocalLake, fake: FakeJobs, tmp_path: Path, key: str, nearest: str
) -> None:
    dispatch = lake.upload(a_file(tmp_path), key)
    assert (dispatch.matched, dispatch.runs, fake.calls) == ([], [], [])
    assert dispatch.no_match is not None and dispatch.no_match.nearest_rule == nearest
    assert f'"{key}"' in dispatch.no_match.reason  # describe_mismatch quotes the key
    assert (lake.bucket_dir(lake.bronze) / key).is_file()  # the file is kept


def test_another_bucket_is_refused(lake: LocalLake, fake: FakeJobs, tmp_path: Path) -> None:
    with pytest.raises(LakeError, match="not this stack's bronze bucket"):
        lake.upload(a_file(tmp_path), "s3://other-bucket/sales/x.csv")
    assert fake.calls == []


def test_an_s3_url_of_the_bronze_bucket_is_accepted(lake: LocalLake, fake: FakeJobs, tmp_path: Path) -> None:
    dispatch = lake.upload(a_file(tmp_path), f"s3://{lake.bronze}/sales/x.csv")
    assert dispatch.key == "sales/x.csv" and fake.jobs[0] == "sales_etl"


def test_overwriting_a_key_replaces_it_like_s3(lake: LocalLake, tmp_path: Path) -> None:
    assert not lake.upload(a_file(tmp_path, body=b"v1\n"), "sales/x.csv").replaced
    second = lake.upload(a_file(tmp_path, body=b"v2\n"), "sales/x.csv")
    assert second.replaced
    assert (lake.bucket_dir(lake.bronze) / "sales/x.csv").read_bytes() == b"v2\n"
    assert not [p for p in (lake.bucket_dir(lake.bronze) / "sales").iterdir() if p.name.startswith(".")]


def test_unknown_job_lists_the_known_ones(lake: LocalLake) -> None:
    with pytest.raises(LakeError, match="unknown job 'nope'; known jobs: customer_import, inventory_sync") as info:
        lake.run_manual("nope")
    assert info.value.exit_code == 2


def test_a_manual_run_with_a_key_passes_it(lake: LocalLake, fake: FakeJobs, tmp_path: Path) -> None:
    lake.put_object(a_file(tmp_path), "customers/2024.csv")
    lake.run_manual("customer_import", "customers/2024.csv")
    arguments = fake.calls[0][1]
    assert (arguments["--trigger_source"], arguments["--source_key"]) == ("manual", "customers/2024.csv")
    with pytest.raises(LakeError, match="does not exist"):
        lake.run_manual("customer_import", "customers/missing.csv")


# ------------------------------------------------------------------------------------------
# keys


@pytest.mark.parametrize("key", ["sales/a b.csv", "sales/a+b=c.csv", "sales/ünïcødé/日本.csv", "sales/x..y.csv"])
def test_plain_keys_are_accepted(key: str) -> None:
    assert validate_key(key) == key


@pytest.mark.parametrize(
    "key, message",
    [
        ("", "empty"),
        ("/etc/passwd", "absolute"),
        ("../outside.csv", "'..'"),
        ("sales/../../outside.csv", "'..'"),
        ("sales/./x.csv", "'.'"),
        ("sales//x.csv", "empty segment"),
        ("sales/", "empty segment"),
        ("sales/x\x00.csv", "NUL"),
        ("sales/.hidden.csv", "reserved"),
        ("sales/" + "x" * 300 + ".csv", "255 bytes"),
        ("k" * 1100, "1024"),
    ],
)
def test_unsafe_keys_are_refused(key: str, message: str) -> None:
    with pytest.raises(LakeError, match=message):
        validate_key(key)


def test_a_symlink_cannot_lead_a_key_out_of_the_home(lake: LocalLake, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, lake.bucket_dir(lake.bronze) / "sales")
    with pytest.raises(LakeError, match="outside bucket"):
        lake.upload(a_file(tmp_path), "sales/x.csv")
    assert list(outside.iterdir()) == []


def test_a_missing_source_file_is_a_clear_error(lake: LocalLake, tmp_path: Path) -> None:
    with pytest.raises(LakeError, match="no such file"):
        lake.upload(tmp_path / "nope.csv", "sales/x.csv")


# ------------------------------------------------------------------------------------------
# replay and crash recovery


def test_replay_re_emits_objects_under_a_prefix(lake: LocalLake, fake: FakeJobs, tmp_path: Path) -> None:
    lake.put_object(a_file(tmp_path), "sales/a.csv")
    lake.put_object(a_file(tmp_path), "sales/b.csv")
    lake.put_object(a_file(tmp_path), "products/p.json")
    results = lake.replay("sales/")
    assert [d.key for d in results] == ["sales/a.csv", "sales/b.csv"]
    assert fake.jobs == ["sales_etl", "sales_daily"] * 2
    future = contract_time("2999-01-01T00:00Z")
    assert lake.replay("sales/", since=future) == []


def contract_time(text: str):
    from data_platform.local.history import parse_iso

    return parse_iso(text)


def test_runs_left_running_by_a_dead_process_are_failed_and_alerted(stack: StackConfig, tmp_path: Path) -> None:
    import socket
    import subprocess
    import sys

    from data_platform.local.history import History, Owner

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    home = tmp_path / "home"
    with History.for_home(home, owner=Owner(child.pid, socket.gethostname(), "")) as crashed:
        crashed.create_run(
            run_id="r-crashed",
            job="sales_etl",
            glue_job="data-lake-dev-sales_etl",
            env="dev",
            run_input=runs.runner_input("manual"),
        )
    lake = LocalLake(stack, home, job_fn=FakeJobs())
    assert lake.history.get_run("r-crashed").state == "FAILED"
    assert [a.run_id for a in lake.history.alerts()] == ["r-crashed"]
    lake.close()


class FailsFirst(FakeJobs):
    """Fails the first `times` attempts of every run with a transient (internal) error."""

    def __init__(self, times: int) -> None:
        super().__init__()
        self.times = times

    def __call__(self, job: str, arguments: Mapping[str, str]) -> Mapping[str, Any]:
        answer = super().__call__(job, arguments)
        if len(self.calls) <= self.times:
            return {"state": "FAILED", "error": f"executor lost (attempt {len(self.calls)})", "error_kind": "internal"}
        return answer


@pytest.mark.parametrize(("failures", "alerts", "state"), [(1, 0, "SUCCEEDED"), (2, 1, "FAILED")])
def test_one_alert_per_failed_run_not_per_attempt(
    stack: StackConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failures: int, alerts: int, state: str
) -> None:
    """dev's product_catalog has max_retries 1: a transient failure that recovers on the re-run
    alerts nobody; one that fails both attempts is one failed run, one alert."""
    monkeypatch.delenv("LAKE_FAULT", raising=False)
    monkeypatch.setenv("LAKE_RETRY_SCALE", "0")
    assert stack.platform.jobs["product_catalog"].max_retries == 1
    jobs = FailsFirst(failures)
    lake = LocalLake(stack, tmp_path / "home", job_fn=jobs)
    [run] = lake.upload(a_file(tmp_path), matching_key(stack, "product_catalog_trigger")).runs
    assert (run.state, run.attempts, len(jobs.calls)) == (state, 2, 2)
    found = lake.history.alerts()
    assert len(found) == alerts
    if alerts:
        assert run.run_id in found[0].message and "executor lost (attempt 2)" in found[0].message
    lake.close()


def test_the_alert_text_is_the_cloud_rule_s(stack: StackConfig) -> None:
    """The outbox message is what the cloud rule's input transformer makes of the runner's
    execution status change; the cause carries Glue's run id and error message."""
    runner = "arn:aws:states:eu-west-1:123456789012:stateMachine:data-lake-dev-sales_etl-runner"
    cause = alerts.glue_run_cause("data-lake-dev-sales_etl", "r-1", "FAILED", 'bad "rows"')
    event = alerts.execution_status_change_event(runner, "r-1", "FAILED", error="States.TaskFailed", cause=cause)
    assert events.matches(alerts.runner_failure_pattern([runner]), event)
    assert alerts.alert_message(event, "/lake/data-lake-dev-artifacts/data-docs/dev") == (
        f"Runner {runner} execution r-1 FAILED after its retries. Error: States.TaskFailed. "
        'Cause: {"Id": "r-1", "JobName": "data-lake-dev-sales_etl", "JobRunState": "FAILED", '
        '"ErrorMessage": "bad \\"rows\\""}. Validation page (Data Docs; a run whose quality gate dropped or '
        "failed rows has one): /lake/data-lake-dev-artifacts/data-docs/dev/site/runs/r-1.html"
    )


def test_the_alert_names_the_run_link_of_its_execution_whatever_the_folder_is_called(stack: StackConfig) -> None:
    """The Data Docs location is a constant of the template: quotes and backslashes in it are
    escaped like the event's values, and a `<` (a placeholder's start) is refused."""
    runner = "arn:aws:states:eu-west-1:123456789012:stateMachine:data-lake-dev-sales_etl-runner"
    event = alerts.execution_status_change_event(runner, "0f1e2d3c-uuid", "TIMED_OUT")
    message = alerts.alert_message(event, 'C:\\lake "home"\\docs')
    assert message.endswith(': C:\\lake "home"\\docs/site/runs/0f1e2d3c-uuid.html')
    with pytest.raises(ValueError, match="placeholder"):
        alerts.runner_failure_transformer("/tmp/<home>/docs")


# ------------------------------------------------------------------------------------------
# warm-up training (`lake watch`)


def test_training_runs_the_pipeline_in_a_scratch_home_without_faults(
    stack: StackConfig, fake: FakeJobs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)

    # The faulty CLI (tests.support.faulty_lake) swaps the runner a lake builds; training's own
    # runner gets no faults.
    def faulty(*args, **kwargs):
        return FaultyRunner(*args, faults=FaultPlan.parse("transient:sales_etl:5"), **kwargs)

    monkeypatch.setattr("data_platform.local.lake.LocalRunner", faulty)
    assert train(stack, runs=2, job_fn=fake) is None
    assert fake.jobs == ["sales_etl", "sales_daily"] * 2
    roots = {Path(arguments["--storage_root"]) for _job, arguments in fake.calls}
    assert len(roots) == 1 and next(iter(roots)).is_relative_to(tmp_path)
    assert not next(iter(roots)).exists(), "the scratch home was left behind"


def test_training_stops_at_a_failed_run_and_says_so(stack: StackConfig) -> None:
    failing = FakeJobs(
        {
            "sales_etl": {
                "state": "FAILED",
                "error_kind": "data_quality",
                "error": "boom",
                "rows_read": 0,
                "rows_written": 0,
                "rows_quarantined": 0,
            }
        }
    )
    note = train(stack, runs=3, job_fn=failing)
    assert note is not None and "sales_etl" in note and "boom" in note
    assert failing.jobs == ["sales_etl"]
