"""`lake demo`: sample files for every dataset, pushed through the real local path.

The samples go through `LocalLake.put_object` + `dispatch` (what `lake upload` does) and the
daily customer import fires through `Scheduler.tick` (what `lake tick` does), all in one
process on one SparkSession, so the demo pays the JVM start once.

Sample data is deterministic (fixed dates in the past, fixed rows) so the demo's output is
the same on every machine. Each sales file has one bad row among ~30 (below the 5% drop
threshold, so it is quarantined and the rest continue); one sales file lacks the required
`currency` column, so that run fails and its whole input is quarantined.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from data_platform.cli.render import print_history
from data_platform.config import StackConfig
from data_platform.contract import events
from data_platform.local import LakeError
from data_platform.local.history import STATE_DIR
from data_platform.local.tables import read_rows, row_count

SAMPLES_DIR = "_samples"  # under the home; "_" cannot start a bucket name
STORES = ("berlin", "hamburg", "munich")
SKUS = ("SKU-1001", "SKU-1002", "SKU-1003", "SKU-2001", "SKU-2002")
PRICES = {"SKU-1001": "19.99", "SKU-1002": "4.50", "SKU-1003": "120.00", "SKU-2001": "7.25", "SKU-2002": "64.90"}


@dataclass(frozen=True)
class Sample:
    key: str
    body: bytes
    note: str
    expect_failure: bool = False


def _sales_csv(
    day: str,
    store: str,
    rows: int,
    *,
    bad_row: int | None,
    bad: str = "quantity",
    with_currency: bool = True,
    first_order: int = 1,
) -> bytes:
    header = ["order_id", "order_ts", "store_id", "customer_id", "sku", "quantity", "unit_price"]
    if with_currency:
        header.append("currency")
    lines = [",".join(header)]
    for i in range(rows):
        n = first_order + i
        sku = SKUS[n % len(SKUS)]
        quantity = str(1 + n % 4)
        currency = "EUR"
        if i == bad_row and bad == "quantity":
            quantity = "-3"  # quantity_positive: dropped to quarantine
        if i == bad_row and bad == "currency":
            currency = "EURO"  # currency_iso_4217: dropped to quarantine
        values = [
            f"{store[:3].upper()}-{n:05d}",
            f"{day}T{8 + i % 10:02d}:{(7 * i) % 60:02d}:00Z",
            store,
            f"C-{100 + n % 12}",
            sku,
            quantity,
            PRICES[sku],
        ]
        if with_currency:
            values.append(currency)
        lines.append(",".join(values))
    return ("\n".join(lines) + "\n").encode()


def _product(sku: str, name: str, category: str | None, price: float, active: bool = True) -> dict[str, Any]:
    return {
        "sku": sku,
        "name": name,
        "category": category,
        "price": price,
        "currency": "EUR",
        "active": active,
        "attributes": {"brand": "Acme"},
    }


def _inventory_xml(snapshot: str, items: list[tuple[str, str, int]]) -> bytes:
    body = "\n".join(f'  <item sku="{sku}" store_id="{store}" on_hand="{on_hand}"/>' for sku, store, on_hand in items)
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<inventory snapshot_ts="{snapshot}">\n{body}\n</inventory>\n'.encode()
    )


def sample_files() -> list[Sample]:
    """One or more files for every dataset of the seed stack, plus one bad file."""
    products_jsonl = (
        "\n".join(
            json.dumps(p)
            for p in [
                _product("SKU-1001", "Espresso beans 1kg", "coffee", 19.99),
                _product("SKU-1002", "Oat milk 1l", "dairy-free", 4.5),
                _product("SKU-1003", "Burr grinder", "equipment", 120.0),
            ]
        )
        + "\n"
    )
    products_array = json.dumps(
        [
            _product("SKU-2001", "Green tea 100g", "tea", 7.25),
            _product("SKU-2002", "Cast-iron teapot", None, 64.9),  # category missing: a warning only
            _product("SKU-1002", "Oat milk 1l (new recipe)", "dairy-free", 4.75),
        ],
        indent=1,
    )
    customers = ["customer_id,full_name,email,country_code,signup_date"] + [
        f"C-{100 + i},Customer {i},customer{i}@example.com,{('DE', 'AT', 'CH', 'NL')[i % 4]},2023-0{1 + i % 9}-1{i % 10}"
        for i in range(12)
    ]
    return [
        Sample(
            "sales/2024-06-01/store-berlin.csv",
            _sales_csv("2024-06-01", "berlin", 30, bad_row=7),
            "30 orders, one with a negative quantity",
        ),
        Sample(
            "sales/2024-06-02/store-hamburg.csv",
            _sales_csv("2024-06-02", "hamburg", 32, bad_row=11, bad="currency", first_order=40),
            "32 orders, one with an invalid currency",
        ),
        Sample("products/catalog-2024-06-01.json", products_jsonl.encode(), "3 products, JSON Lines"),
        Sample("products/catalog-2024-06-02.json", products_array.encode(), "3 products, one JSON array"),
        Sample(
            "inventory/updates/2024-06-02T0600.xml",
            _inventory_xml(
                "2024-06-02T06:00:00Z",
                [(sku, store, 10 + 3 * i) for i, (sku, store) in enumerate((s, st) for s in SKUS for st in STORES[:2])],
            ),
            "stock counts, XML",
        ),
        Sample(
            "customers/customers-2024-06-02.csv",
            ("\n".join(customers) + "\n").encode(),
            "12 customers (no s3 rule: the daily schedule imports them)",
        ),
        Sample(
            "sales/2024-06-03/store-munich.csv",
            _sales_csv("2024-06-03", "munich", 10, bad_row=None, with_currency=False, first_order=80),
            "BAD: the required currency column is missing",
            expect_failure=True,
        ),
    ]


def reset_home(home: Path) -> None:
    """Delete a previous demo home - only if it is one (holds the lake's state folder)."""
    if not home.exists():
        return
    if not home.is_dir():
        raise LakeError(f"{home} exists and is not a folder; pick another --home for the demo")
    entries = [p for p in home.iterdir()]
    if entries and not (home / STATE_DIR).is_dir():
        raise LakeError(
            f"{home} is not empty and is not a lake home (no {STATE_DIR}/ inside); "
            "refusing to delete it. Pick another --home for the demo"
        )
    from data_platform.local.engine import stop_engine

    # The home's engine holds its catalog open: a fresh home gets a fresh engine.
    stop_engine(home)
    shutil.rmtree(home)


def run_demo(
    stack: StackConfig,
    home: Path,
    *,
    out: Console,
    err: Console,
    reporter: Any,
    reset: bool = True,
    job_fn: Callable[..., Any] | None = None,
) -> int:
    """Run the demo; 0 when every run ended as expected (the bad file is expected to fail)."""
    from data_platform.local.lake import LocalLake

    started = datetime.now(UTC)
    if reset:
        reset_home(home)
    lake = LocalLake(stack, home, job_fn=job_fn, progress=reporter.update)
    try:
        samples = sample_files()
        _check_samples_route(lake, samples)
        out.rule(f"[bold]1. Upload {len(samples)} files to local bronze ({lake.bronze})")
        if job_fn is None:
            from data_platform.local.spark import warm_up

            with reporter.working("Starting local Spark (once; every run reuses it) ..."):
                warm_up()
        unexpected = _upload_samples(lake, samples, out, reporter)
        out.rule("[bold]2. The daily schedule fires (what `lake tick` does)")
        unexpected += _fire_daily_schedule(lake, out, reporter)
        out.rule("[bold]3. Silver and gold")
        _show_datasets(lake, out)
        out.rule("[bold]4. Quarantine")
        _show_quarantine(lake, out)
        out.rule("[bold]5. Run history (lake runs) and alerts (lake alerts)")
        print_history(lake.history.runs(limit=None), f"Runs in {lake.home}", lake.home, out)
        for alert in lake.history.alerts(limit=None):
            out.print(f"  [red]alert[/] {escape(alert.subject)}: {escape(alert.message)}")
        elapsed = (datetime.now(UTC) - started).total_seconds()
        out.rule(f"[bold]Done in {elapsed:.0f}s")
        out.print(
            f"Explore: lake --home {home} runs | alerts | schedules ; "
            f"drop files into {lake.bucket_dir(lake.bronze)} while `lake --home {home} watch` runs."
        )
        for item in unexpected:
            err.print(f"[red]unexpected[/]: {escape(item)}")
        return 1 if unexpected else 0
    finally:
        lake.close()


def _upload_samples(lake: Any, samples: list[Sample], out: Console, reporter: Any) -> list[str]:
    """What `lake upload` does, for each sample; returns the runs that did not end as expected."""
    folder = lake.home / SAMPLES_DIR
    folder.mkdir(exist_ok=True)
    unexpected: list[str] = []
    with reporter.working("Uploading samples; each matched job runs on local Spark ..."):
        for sample in samples:
            source = folder / sample.key.replace("/", "__")
            source.write_bytes(sample.body)
            dispatch = lake.dispatch(lake.put_object(source, sample.key))
            targets = ", ".join(f"{m.rule} -> {m.job}" for m in dispatch.matched) or "no s3 rule"
            states = ", ".join(f"{r.job} {r.state}" for r in dispatch.runs)
            out.print(
                f"  {escape(sample.key)}  [dim]({sample.note})[/]\n    {targets}"
                + (f"  =>  {states}" if states else "")
            )
            failed = [r for r in dispatch.runs if r.failed]
            if bool(failed) != sample.expect_failure:
                unexpected.append(
                    f"{sample.key}: " + (", ".join(f"{r.job}: {r.error}" for r in failed) or "expected a failed run")
                )
    return unexpected


def _fire_daily_schedule(lake: Any, out: Console, reporter: Any) -> list[str]:
    """What `lake tick` does at the daily schedule's latest fire; returns the failed runs."""
    from data_platform.local.watch import Scheduler

    sched_name, fire_at = _daily_fire(lake)
    if not sched_name:
        return []
    with reporter.working(f"Firing {sched_name} at {fire_at:%Y-%m-%d %H:%M}Z ..."):
        result = Scheduler(lake).tick(fire_at, fire_at - timedelta(minutes=1))
    unexpected: list[str] = []
    for fire, runs in result.fired:
        out.print(
            f"  {fire.schedule} fired at {fire.instant:%Y-%m-%dT%H:%M}Z -> {fire.job}: "
            + ", ".join(f"{r.state} ({r.rows_written} rows)" for r in runs)
        )
        unexpected.extend(f"{r.job}: {r.error}" for r in runs if r.failed)
    return unexpected


def _check_samples_route(lake: Any, samples: list[Sample]) -> None:
    """Fail early (and clearly) if the stack's rules no longer match the demo's keys."""
    for sample in samples:
        event = events.s3_object_created_event(lake.bronze, sample.key, len(sample.body))
        if sample.key.startswith("customers/"):
            continue
        if not lake.route(event):
            raise LakeError(
                f"demo sample {sample.key} matches no s3 rule of stack {lake.stack.stack}; "
                "the demo expects the seed rules (sales/, products/, inventory/updates/)"
            )


def _daily_fire(lake: Any) -> tuple[str | None, datetime]:
    """The schedule that imports customers and its most recent fire instant."""
    from data_platform.contract.schedules import next_fire_times

    for name, sched in sorted(lake.cfg.schedules.items()):
        if sched.enabled and sched.job == "customer_import":
            after = datetime.now(UTC) - timedelta(days=8)
            times = next_fire_times(sched.expression, after, 400, sched.timezone)
            past = [t for t in times if t <= datetime.now(UTC)]
            return name, (past[-1] if past else times[0])
    return None, datetime.now(UTC)


def _show_datasets(lake: Any, out: Console, rows: int = 5) -> None:
    """The first rows of each job's table at its current snapshot (read through its Iceberg
    metadata with pyiceberg, as any reader of the catalog would)."""
    database = lake.cfg.names.glue_database()
    for _job, job_cfg in sorted(lake.cfg.dataset_jobs.items()):
        total = row_count(lake.home, database, job_cfg.dataset)
        columns, records = read_rows(lake.home, database, job_cfg.dataset, limit=rows)
        if total is None:
            out.print(f"  {job_cfg.layer.value}/{job_cfg.dataset}: [yellow]no table yet[/]")
            continue
        shown = [c for c in columns if not c.startswith("_")]
        view = Table(
            title=f"{job_cfg.layer.value} {database}.{job_cfg.dataset}: {total} rows (first {len(records)})",
            title_justify="left",
        )
        for column in shown:
            view.add_column(column, overflow="ellipsis")
        for record in records:
            view.add_row(*[escape(_cell(record[c])) for c in shown])
        out.print(view)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list) and all(isinstance(v, tuple) and len(v) == 2 for v in value):
        value = dict(value)  # an Arrow map column arrives as (key, value) pairs
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    return str(value)


def _show_quarantine(lake: Any, out: Console) -> None:
    found = False
    for layer in ("silver", "gold"):
        root = lake.bucket_dir(lake.cfg.bucket_name(layer)) / "_quarantine"
        if not root.is_dir():
            continue
        for validation in sorted(root.glob("*/*/*.json")):
            found = True
            record = json.loads(validation.read_text())
            rel = validation.parent.relative_to(lake.home).as_posix()
            failed = ", ".join(f"{k}={v}" for k, v in (record.get("failed_rules") or {}).items())
            reason = record.get("reason") or f"{record.get('rows_quarantined', '?')} row(s) dropped"
            out.print(
                f"  {escape(rel)}/\n    {escape(str(reason))}" + (f"\n    rules: {escape(failed)}" if failed else "")
            )
    if not found:
        out.print("  (empty)")
