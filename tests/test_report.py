"""`lake report`'s page: rendered by headless Chromium, no console errors, the runs it was given."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from browser import console_errors, headless_chromium, open_file
from selenium.webdriver.common.by import By

from data_platform.local.report import ReportRun, render_report

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def run(
    run_id: str,
    job: str,
    state: str,
    start: str,
    end: str | None,
    *,
    dataset: str = "sales",
    written: int = 0,
    quarantined: int = 0,
    rules: dict | None = None,
    stages: list | None = None,
) -> ReportRun:
    return ReportRun.from_record(
        {
            "run_id": run_id,
            "job": job,
            "state": state,
            "started_at": start,
            "ended_at": end,
            "rows_written": written,
            "rows_quarantined": quarantined,
            "rules_failed": rules or {},
            "stages": stages or [],
        },
        dataset=dataset,
    )


RUNS = [
    run(
        "jr_1",
        "sales_etl",
        "SUCCEEDED",
        "2026-12-01T06:00:00Z",
        "2026-12-01T06:00:12Z",
        written=100,
        quarantined=4,
        rules={"amount_positive": 3, "order_id_not_null": 1},
        stages=[{"name": "extract", "seconds": 1.5}, {"name": "write", "seconds": 7.25}],
    ),
    run(
        "jr_2",
        "sales_etl",
        "SUCCEEDED",
        "2026-12-01T07:00:00Z",
        "2026-12-01T07:00:09Z",
        written=50,
        quarantined=2,
        rules={"amount_positive": 2},
        stages=[{"name": "quality gate", "seconds": 2.0}],
    ),
    run(
        "jr_3",
        "sales_etl",
        "FAILED",
        "2026-12-02T06:00:00Z",
        "2026-12-02T06:00:03Z",
        quarantined=40,
        rules={"order_id_unique": 40},
    ),
    run(
        "jr_4",
        "sales_daily",
        "SUCCEEDED",
        "2026-12-02T06:00:05Z",
        "2026-12-02T06:00:20Z",
        dataset="sales_daily",
        written=7,
    ),
    run("jr_5", "customer_import", "RUNNING", "2026-12-02T08:59:00Z", None, dataset="customers"),
]


@pytest.fixture(scope="module")
def browser():
    with headless_chromium() as driver:
        yield driver


def show(browser, tmp_path, runs, name="report.html"):
    page = tmp_path / name
    page.write_text(render_report(runs, title="Lake report: dev", generated_at=NOW), encoding="utf-8")
    open_file(browser, page)
    return page


def test_the_page_renders_every_run_on_its_jobs_lane_without_console_errors(browser, tmp_path):
    show(browser, tmp_path, RUNS)
    assert console_errors(browser) == []
    bars = browser.find_elements(By.CSS_SELECTOR, "#timeline rect.run")
    assert sorted(b.get_attribute("data-run-id") for b in bars) == ["jr_1", "jr_2", "jr_3", "jr_4", "jr_5"]
    assert {b.get_attribute("data-run-id"): b.get_attribute("data-state") for b in bars}["jr_3"] == "FAILED"
    lanes = [t.text for t in browser.find_elements(By.CSS_SELECTOR, "#timeline text.job")]
    assert lanes == ["customer_import", "sales_daily", "sales_etl"]
    # A failed run is drawn in another colour than a succeeded one.
    fills = {b.get_attribute("data-state"): b.get_attribute("fill") for b in bars}
    assert fills["FAILED"] != fills["SUCCEEDED"]


def test_rows_are_summed_per_day_and_dataset(browser, tmp_path):
    show(browser, tmp_path, RUNS)
    rows = {
        (r.get_attribute("data-day"), r.get_attribute("data-dataset")): [
            c.text for c in r.find_elements(By.TAG_NAME, "td")
        ]
        for r in browser.find_elements(By.CSS_SELECTOR, "#rows-per-day tbody tr")
    }
    assert rows[("2026-12-01", "sales")][2] == "150" and rows[("2026-12-01", "sales")][4] == "6"
    assert rows[("2026-12-02", "sales")][2] == "0" and rows[("2026-12-02", "sales")][4] == "40"
    assert rows[("2026-12-02", "sales_daily")][2] == "7"
    assert ("2026-12-02", "customers") not in rows  # nothing written or quarantined


def test_rules_are_ranked_by_the_rows_they_dropped_across_runs(browser, tmp_path):
    show(browser, tmp_path, RUNS)
    ranked = [
        (r.get_attribute("data-rule"), r.find_elements(By.TAG_NAME, "td")[2].text)
        for r in browser.find_elements(By.CSS_SELECTOR, "#top-rules tbody tr")
    ]
    assert ranked == [("order_id_unique", "40"), ("amount_positive", "5"), ("order_id_not_null", "1")]


def test_the_slowest_stages_come_first(browser, tmp_path):
    show(browser, tmp_path, RUNS)
    stages = [r.get_attribute("data-stage") for r in browser.find_elements(By.CSS_SELECTOR, "#slowest-stages tbody tr")]
    assert stages == ["write", "quality gate", "extract"]


def test_names_are_escaped_so_a_job_name_cannot_inject_markup(browser, tmp_path):
    hostile = run(
        "jr_x",
        "<script>document.title='owned'</script>",
        "FAILED",
        "2026-12-02T06:00:00Z",
        "2026-12-02T06:00:01Z",
        rules={"<img src=x onerror=alert(1)>": 3},
    )
    show(browser, tmp_path, [hostile])
    assert browser.title == "Lake report: dev"
    assert console_errors(browser) == []
    assert "<script>" in browser.find_element(By.ID, "timeline").text


def test_an_empty_history_says_so(browser, tmp_path):
    show(browser, tmp_path, [])
    assert console_errors(browser) == []
    assert "No runs in the history yet" in browser.find_element(By.ID, "timeline").text


def test_the_page_loads_nothing_from_elsewhere(tmp_path):
    html = render_report(RUNS, title="t", generated_at=NOW)
    for marker in ("http://", "https://", "<script", "<link", "src="):
        assert marker not in html
