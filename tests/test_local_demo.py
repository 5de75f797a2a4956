"""The demo's data and flow with a fake job (the Spark version runs in test_cli_pipeline)."""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from data_platform.cli.demo import reset_home, run_demo, sample_files
from data_platform.config import load_stack
from data_platform.contract import events
from data_platform.local import LakeError
from data_platform.local.history import History

REPO = Path(__file__).resolve().parents[1]
STACK = load_stack("dev", REPO)


class QuietReporter:
    def update(self, message: str) -> None:
        pass

    def working(self, message: str):
        import contextlib

        return contextlib.nullcontext(self)


def test_there_is_a_valid_sample_for_every_s3_rule_and_one_bad_file() -> None:
    cfg = STACK.platform
    bronze = cfg.bucket_name("bronze")
    samples = sample_files()
    for rule, rule_cfg in cfg.s3_rules.items():
        pattern = events.s3_object_created_pattern(bronze, rule_cfg.prefix, rule_cfg.suffix)
        assert any(
            events.matches(pattern, events.s3_object_created_event(bronze, s.key, 1))
            for s in samples
            if not s.expect_failure
        ), rule
    [bad] = [s for s in samples if s.expect_failure]
    assert bad.body.splitlines()[0] == b"order_id,order_ts,store_id,customer_id,sku,quantity,unit_price"
    assert any(s.key.startswith(cfg.jobs["customer_import"].source.prefix) for s in samples)


def test_each_sales_sample_stays_below_the_drop_threshold() -> None:
    for sample in sample_files():
        if sample.key.startswith("sales/") and not sample.expect_failure:
            rows = len(sample.body.splitlines()) - 1
            assert 1 / rows < STACK.platform.jobs["sales_etl"].max_drop_ratio


def test_reset_refuses_a_folder_that_is_not_a_lake_home(tmp_path: Path) -> None:
    precious = tmp_path / "thesis"
    precious.mkdir()
    (precious / "chapter1.tex").write_text("...")
    with pytest.raises(LakeError, match="not a lake home"):
        reset_home(precious)
    assert (precious / "chapter1.tex").exists()


def test_reset_deletes_a_previous_lake_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    History.for_home(home).close()
    (home / "data-lake-dev-bronze").mkdir()
    reset_home(home)
    assert not home.exists()


def test_the_demo_flow_with_a_fake_job(tmp_path: Path) -> None:
    calls: list[tuple[str, str]] = []

    def fake(job: str, arguments: Mapping[str, str]) -> Mapping[str, Any]:
        calls.append((job, arguments["--trigger_source"]))
        if arguments.get("--source_key", "").endswith("store-munich.csv"):
            return {"state": "FAILED", "error": "missing column currency", "error_kind": "input"}
        return {"state": "SUCCEEDED", "rows_read": 1, "rows_written": 1, "rows_quarantined": 0}

    buffer = io.StringIO()
    console = Console(file=buffer, width=200)
    home = tmp_path / "demo"
    assert run_demo(STACK, home, out=console, err=console, reporter=QuietReporter(), job_fn=fake) == 0
    assert ("customer_import", "schedule") in calls
    assert [job for job, trigger in calls if trigger == "job_succeeded"] == ["sales_daily", "sales_daily"]
    text = buffer.getvalue()
    for section in (
        "1. Upload",
        "2. The daily schedule fires",
        "3. Silver and gold",
        "4. Quarantine",
        "5. Run history",
    ):
        assert section in text
    # a second run starts from a clean home
    calls.clear()
    assert run_demo(STACK, home, out=console, err=console, reporter=QuietReporter(), job_fn=fake) == 0
    with History.for_home(home) as history:
        assert len(history.runs(limit=None)) == len(calls)
