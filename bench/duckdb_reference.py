"""The engine reference: what `sales_etl` does to one bronze CSV, in DuckDB, on one machine.

The same work as the Spark job on an empty lake, no more and no less, so the ratio measures
engine + framework overhead rather than a different amount of work:

1. parse: every column read as VARCHAR with an explicit column list (as the job reads
   bronze), then trimmed, blanks to NULL, `TRY_CAST` to the silver types (timestamp,
   INTEGER, DECIMAL(12,2)), currency upper-cased, `amount` and `order_date` derived;
2. check: the job's rule set (`etl/jobs/sales_etl.py`: `sales_raw_rules` and
   `sales_quality_rules`) expressed in SQL, counted in ONE aggregate pass over the parsed
   rows (materialized once as a temp table, like the job's cached frame): not null, unique
   `order_id` within the input (every copy fails, NULL keys skipped), timestamp parses and
   is not in the future, quantity > 0, unit_price >= 0, currency in the ISO set, amount fits;
   warn rules are counted only; the drop ratio escalates exactly as `etl.quality.run_gate`;
3. write: rows breaking a drop rule to quarantine as JSON lines with `_failed_rules`, the
   others to `COPY ... TO ... (FORMAT PARQUET, PARTITION_BY (order_date))`, with the lineage
   columns (`_source_key`, `_ingested_at`, `_run_id`).

It returns the per-rule counts so the harness can check both engines judged the same rows.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

COLUMNS = ("order_id", "order_ts", "store_id", "customer_id", "sku", "quantity", "unit_price", "currency")
MAX_UNIT_PRICE_WITHOUT_WARNING = 100_000


def _currencies() -> tuple[str, ...]:
    # The job's set, so a new market added there is checked here too.
    try:
        from etl.jobs.sales_etl import ISO_4217_CURRENCIES

        return tuple(sorted(ISO_4217_CURRENCIES))
    except ImportError:  # pragma: no cover - the job module is part of the repo
        return ("CHF", "CZK", "DKK", "EUR", "GBP", "NOK", "PLN", "SEK", "USD")


@dataclass
class ReferenceResult:
    rows_in: int
    rows_written: int
    rows_quarantined: int
    failed_rules: dict[str, int] = field(default_factory=dict)  # drop rules that broke
    warnings: dict[str, int] = field(default_factory=dict)
    status: str = "passed"


def drop_rules(latest_allowed: datetime) -> dict[str, str]:
    """Rule name -> SQL predicate TRUE where the row PASSES (names as in sales_etl)."""
    currencies = ", ".join(f"'{c}'" for c in _currencies())
    ts_max = latest_allowed.strftime("%Y-%m-%d %H:%M:%S.%f")
    return {
        "order_id_not_null": "order_id IS NOT NULL",
        "order_id_unique": "order_id IS NULL OR id_count = 1",
        "order_ts_parses": "order_ts IS NOT NULL",
        "order_ts_not_in_future": f"order_ts IS NULL OR order_ts <= TIMESTAMP '{ts_max}'",
        "store_id_not_null": "store_id IS NOT NULL",
        "sku_not_null": "sku IS NOT NULL",
        "quantity_parses": "quantity IS NOT NULL",
        "quantity_positive": "quantity IS NULL OR quantity > 0",
        "unit_price_parses": "unit_price IS NOT NULL",
        "unit_price_not_negative": "unit_price IS NULL OR unit_price >= 0",
        "currency_not_null": "currency IS NOT NULL",
        "currency_iso_4217": f"currency IS NULL OR currency IN ({currencies})",
        "amount_fits": "amount IS NOT NULL",
    }


WARN_RULES = {
    "unit_price_plausible": f"unit_price IS NULL OR unit_price <= {MAX_UNIT_PRICE_WITHOUT_WARNING}",
    "customer_id_not_null": "customer_id IS NOT NULL",
}


def _blank_to_null(column: str) -> str:
    return f"NULLIF(TRIM({column}), '')"


def run_reference(
    csv_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    source_key: str = "sales/input.csv",
    run_id: str = "duckdb-reference",
    max_drop_ratio: float = 0.05,
    threads: int = 2,
    now: datetime | None = None,
) -> ReferenceResult:
    """Parse, check and write `csv_path` into `out_dir/sales` (+ `out_dir/_quarantine`)."""
    now = now or datetime.now(UTC)
    latest_allowed = (now + timedelta(days=1)).replace(tzinfo=None)
    out = Path(out_dir)
    silver, quarantine = out / "sales", out / "_quarantine" / "sales" / run_id
    for path in (silver, quarantine):
        shutil.rmtree(path, ignore_errors=True)
    quarantine.mkdir(parents=True, exist_ok=True)

    con = duckdb.connect()
    try:
        con.execute(f"SET threads = {int(threads)}")
        con.execute("SET preserve_insertion_order = false")  # Spark gives no order either
        con.execute("SET TimeZone = 'UTC'")
        column_types = ", ".join(f"'{c}': 'VARCHAR'" for c in COLUMNS)
        path_sql = str(Path(csv_path)).replace("'", "''")

        # Raw rules: every column present (the explicit column list + header check) and >= 1 row.
        header = con.execute(
            f"SELECT * FROM read_csv('{path_sql}', header = true, all_varchar = true) LIMIT 0"
        ).description
        missing = [c for c in COLUMNS if c not in {d[0] for d in header}]
        if missing:
            raise ValueError(f"{csv_path}: missing columns {missing}")

        ingested = now.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
        parsed = f"""
            SELECT
                order_id,
                TRY_CAST(order_ts AS TIMESTAMP) AS order_ts,
                store_id, customer_id, sku,
                TRY_CAST(quantity AS INTEGER) AS quantity,
                TRY_CAST(unit_price AS DECIMAL(12, 2)) AS unit_price,
                UPPER(currency) AS currency,
                TRY_CAST(TRY_CAST(quantity AS INTEGER)::DECIMAL(10, 0) * TRY_CAST(unit_price AS DECIMAL(12, 2))
                         AS DECIMAL(14, 2)) AS amount,
                CAST(TRY_CAST(order_ts AS TIMESTAMP) AS DATE) AS order_date,
                '{source_key}' AS _source_key,
                TIMESTAMP '{ingested}' AS _ingested_at,
                '{run_id}' AS _run_id
            FROM (
                SELECT {", ".join(f"{_blank_to_null(c)} AS {c}" for c in COLUMNS)}
                FROM read_csv('{path_sql}', header = true, delim = ',', quote = '"',
                              columns = {{{column_types}}}, auto_detect = false)
            )
        """
        # One parse, materialized, used by every check and both writes (the job caches its frame).
        con.execute(
            f"CREATE TEMP TABLE typed AS SELECT *, COUNT(*) OVER (PARTITION BY order_id) AS id_count FROM ({parsed})"
        )
        rules = drop_rules(latest_allowed)
        counts_sql = ", ".join(
            f'COUNT(*) FILTER (WHERE NOT ({sql})) AS "{name}"' for name, sql in {**rules, **WARN_RULES}.items()
        )
        row = con.execute(f"SELECT COUNT(*) AS rows_in, {counts_sql} FROM typed").fetchone()
        names = ["rows_in", *rules, *WARN_RULES]
        counts = dict(zip(names, row, strict=True))
        rows_in = int(counts.pop("rows_in"))
        failed = {n: int(counts[n]) for n in rules if counts[n]}
        warnings = {n: int(counts[n]) for n in WARN_RULES if counts[n]}
        if rows_in < 1:
            return ReferenceResult(0, 0, 0, failed, warnings, status="failed")

        flags = ", ".join(f"CASE WHEN NOT ({sql}) THEN '{name}' END" for name, sql in rules.items() if name in failed)
        failed_list = f"list_filter([{flags}], lambda x: x IS NOT NULL)" if flags else "[]::VARCHAR[]"
        con.execute(
            f"CREATE TEMP TABLE tagged AS SELECT * EXCLUDE (id_count), {failed_list} AS _failed_rules FROM typed"
        )
        rows_quarantined = con.execute("SELECT COUNT(*) FROM tagged WHERE len(_failed_rules) > 0").fetchone()[0]
        if rows_in and rows_quarantined / rows_in > max_drop_ratio:
            return ReferenceResult(rows_in, 0, rows_quarantined, failed, warnings, status="failed")

        q_path = str(quarantine / "rows.jsonl").replace("'", "''")
        con.execute(f"COPY (SELECT * FROM tagged WHERE len(_failed_rules) > 0) TO '{q_path}' (FORMAT JSON)")
        silver_sql = str(silver).replace("'", "''")
        con.execute(
            f"""COPY (SELECT * EXCLUDE (_failed_rules) FROM tagged WHERE len(_failed_rules) = 0)
                TO '{silver_sql}' (FORMAT PARQUET, COMPRESSION SNAPPY, PARTITION_BY (order_date))"""
        )
        rows_written = rows_in - rows_quarantined
        return ReferenceResult(rows_in, rows_written, int(rows_quarantined), failed, warnings)
    finally:
        con.close()
