"""Regenerates tests/bad_configs/*.yaml from Pulumi.dev.yaml plus one mistake each.

Each file is a whole stack file a user could have written; its first line says which key the
error must name and a fragment of the message. Run: python tests/make_bad_configs.py
"""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

HERE = Path(__file__).parent
KEY = "data-lake:platform"


def _set(doc: dict, path: str, value) -> None:
    node = doc
    *parents, last = path.split(".")
    for part in parents:
        node = node[part]
    node[last] = value


def _del(doc: dict, path: str) -> None:
    node = doc
    *parents, last = path.split(".")
    for part in parents:
        node = node[part]
    del node[last]


P = "config.data-lake:platform"
# (file stem, expected key path, expected message fragment, edit function)
CASES = [
    ("typo_top_level_key", f"{P}.job", "unknown key", lambda d: _set(d, "job", {})),
    ("typo_job_field", f"{P}.jobs.sales_etl.worker", "unknown key", lambda d: _set(d, "jobs.sales_etl.worker", 3)),
    (
        "rule_unknown_job",
        f"{P}.s3_rules.sales_file_trigger.job",
        "unknown job 'sales_etll'",
        lambda d: _set(d, "s3_rules.sales_file_trigger.job", "sales_etll"),
    ),
    (
        "schedule_unknown_job",
        f"{P}.schedules.daily_customer_import.job",
        "unknown job 'customers'",
        lambda d: _set(d, "schedules.daily_customer_import.job", "customers"),
    ),
    (
        "after_job_unknown_upstream",
        f"{P}.after_job.sales_daily.upstream",
        "unknown job 'sales'",
        lambda d: _set(d, "after_job.sales_daily.upstream", "sales"),
    ),
    (
        "cron_both_days",
        f"{P}.schedules.daily_customer_import.expression",
        "exactly one of day-of-month and day-of-week",
        lambda d: _set(d, "schedules.daily_customer_import.expression", "cron(0 2 * * * *)"),
    ),
    (
        "cron_five_fields",
        f"{P}.schedules.daily_customer_import.expression",
        "cron(0 2 * * ?)",
        lambda d: _set(d, "schedules.daily_customer_import.expression", "cron(0 2 * * ?)"),
    ),
    (
        "rate_wrong_plural",
        f"{P}.schedules.weekly_inventory_sync.expression",
        "singular",
        lambda d: _set(d, "schedules.weekly_inventory_sync.expression", "rate(1 days)"),
    ),
    (
        "cron_minute_out_of_range",
        f"{P}.schedules.weekly_inventory_sync.expression",
        "out of range",
        lambda d: _set(d, "schedules.weekly_inventory_sync.expression", "cron(61 3 ? * MON *)"),
    ),
    (
        "rule_name_too_long",
        f"{P}.s3_rules.{'sales_file_trigger_for_the_north_western_region_stores_v2'}",
        "at most 64",
        lambda d: d["s3_rules"].update(
            {"sales_file_trigger_for_the_north_western_region_stores_v2": d["s3_rules"].pop("sales_file_trigger")}
        ),
    ),
    (
        "rule_key_uppercase",
        f"{P}.Sales-Trigger",
        "must be lowercase",
        lambda d: d["s3_rules"].update({"Sales-Trigger": d["s3_rules"].pop("sales_file_trigger")}),
    ),
    (
        "duplicate_run_overlap",
        f"{P}.s3_rules.sales_file_trigger_2024",
        "start job 'sales_etl' twice",
        lambda d: _set(d, "s3_rules.sales_file_trigger_2024", {"prefix": "sales/2024/", "job": "sales_etl"}),
    ),
    (
        "worker_type_unknown",
        f"{P}.jobs.sales_etl.worker_type",
        "G.1X",
        lambda d: _set(d, "jobs.sales_etl.worker_type", "G.3X"),
    ),
    (
        "workers_too_few",
        f"{P}.jobs.sales_etl.workers",
        "greater than or equal to 2",
        lambda d: _set(d, "jobs.sales_etl.workers", 1),
    ),
    (
        "flex_on_large_workers",
        f"{P}.jobs.customer_import",
        "FLEX is available only",
        lambda d: (
            _set(d, "jobs.customer_import.execution_class", "FLEX"),
            _set(d, "jobs.customer_import.worker_type", "G.4X"),
        ),
    ),
    (
        "unknown_time_zone",
        f"{P}.schedules.daily_customer_import.timezone",
        "unknown time zone 'Mars/Olympus'",
        lambda d: _set(d, "schedules.daily_customer_import.timezone", "Mars/Olympus"),
    ),
    (
        "bad_alert_email",
        f"{P}.alerts.emails",
        "not an email address",
        lambda d: _set(d, "alerts.emails", ["oncall-at-example.com"]),
    ),
    ("missing_environment", f"{P}.environment", "required key is missing", lambda d: _del(d, "environment")),
    ("environment_uppercase", f"{P}.environment", "should match pattern", lambda d: _set(d, "environment", "Dev")),
    (
        "job_without_module",
        f"{P}.jobs.sales_export",
        "no job module etl/jobs/sales_export.py",
        lambda d: _set(d, "jobs.sales_export", {"dataset": "sales_export", "source": {"prefix": "exports/"}}),
    ),
    (
        "gold_job_reads_bronze",
        f"{P}.jobs.sales_daily.source.layer",
        "a gold job reads silver",
        lambda d: _set(d, "jobs.sales_daily.source.layer", "bronze"),
    ),
    (
        "rule_without_filter",
        f"{P}.s3_rules.sales_file_trigger",
        "needs a prefix or a suffix",
        lambda d: _set(d, "s3_rules.sales_file_trigger", {"job": "sales_etl"}),
    ),
    (
        "drop_ratio_above_one",
        f"{P}.jobs.sales_etl.max_drop_ratio",
        "less than or equal to 1",
        lambda d: _set(d, "jobs.sales_etl.max_drop_ratio", 1.5),
    ),
    (
        "log_retention_not_allowed",
        f"{P}.retention.log_retention_days",
        "Input should be",
        lambda d: _set(d, "retention.log_retention_days", 10),
    ),
    (
        "bucket_override_invalid",
        f"{P}.bucket_names.bronze",
        "lowercase",
        lambda d: _set(d, "bucket_names", {"bronze": "My_Bronze_Bucket"}),
    ),
    (
        "after_job_self_loop",
        f"{P}.after_job.sales_daily",
        "cannot start itself",
        lambda d: _set(d, "after_job.sales_daily.upstream", "sales_daily"),
    ),
    (
        "rule_outside_job_prefix",
        f"{P}.s3_rules.sales_file_trigger",
        "outside job 'sales_etl' input",
        lambda d: _set(d, "s3_rules.sales_file_trigger.prefix", "products/"),
    ),
    (
        "argument_with_dashes",
        f"{P}.jobs.sales_etl.arguments",
        "without leading '--'",
        lambda d: _set(d, "jobs.sales_etl.arguments", {"--log_level": "INFO"}),
    ),
    (
        "timeout_zero",
        f"{P}.jobs.sales_etl.timeout_minutes",
        "greater than or equal to 1",
        lambda d: _set(d, "jobs.sales_etl.timeout_minutes", 0),
    ),
    (
        "schedule_at_in_past_format",
        f"{P}.schedules.daily_customer_import.expression",
        "at(",
        lambda d: _set(d, "schedules.daily_customer_import.expression", "at(2025-13-01T00:00:00)"),
    ),
    (
        "concurrent_writers",
        f"{P}.jobs.sales_etl.max_concurrent_runs",
        "must be 1",
        lambda d: _set(d, "jobs.sales_etl.max_concurrent_runs", 3),
    ),
    (
        "two_jobs_one_dataset",
        f"{P}.jobs.customer_import.dataset",
        "already written by job 'sales_etl'",
        lambda d: _set(d, "jobs.customer_import.dataset", "sales"),
    ),
    (
        "trigger_key_reused",
        f"{P}.after_job.sales_daily",
        "after_job.sales_daily and schedules.sales_daily",
        lambda d: _set(d, "schedules.sales_daily", {"expression": "cron(0 5 * * ? *)", "job": "sales_daily"}),
    ),
    (
        "maintenance_job_with_dataset",
        f"{P}.jobs.table_maintenance.dataset",
        "not allowed on a maintenance job",
        lambda d: _set(d, "jobs.table_maintenance.dataset", "sales"),
    ),
    (
        "rule_starts_maintenance",
        f"{P}.s3_rules.sales_file_trigger.job",
        "it processes no objects",
        lambda d: _set(d, "s3_rules.sales_file_trigger.job", "table_maintenance"),
    ),
    (
        "orphan_days_zero",
        f"{P}.retention.orphan_file_days",
        "greater than or equal to 1",
        lambda d: _set(d, "retention.orphan_file_days", 0),
    ),
    (
        "bookmarks_removed",
        f"{P}.jobs.sales_etl.bookmarks",
        "the job's ledger (_ledger/<job>/)",
        lambda d: _set(d, "jobs.sales_etl.bookmarks", True),
    ),
]


def main() -> None:
    base = yaml.safe_load((HERE.parent / "Pulumi.dev.yaml").read_text())
    for old in HERE.glob("bad_configs/*.yaml"):
        old.unlink()
    for index, (stem, path, fragment, edit) in enumerate(CASES, start=1):
        doc = copy.deepcopy(base)
        edit(doc["config"][KEY])
        header = f"# expect: {path} | {fragment}\n"
        body = yaml.safe_dump(doc, sort_keys=False, width=120)
        (HERE / "bad_configs" / f"{index:02d}_{stem}.yaml").write_text(header + body)
    (HERE / "bad_configs" / f"{len(CASES) + 1}_not_a_mapping.yaml").write_text(
        f"# expect: {P} | must be a mapping\nconfig:\n  aws:region: eu-west-1\n  data-lake:platform: just a string\n"
    )
    (HERE / "bad_configs" / f"{len(CASES) + 2}_invalid_yaml.yaml").write_text(
        "# expect: line 5 | not valid YAML\nconfig:\n  data-lake:platform:\n    environment: dev\n   jobs: [\n"
    )


if __name__ == "__main__":
    main()
