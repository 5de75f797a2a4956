"""Deterministic bronze inputs for the benchmarks: sales CSVs with a realistic mix.

Same arguments, same bytes: every generator draws from its own `random.Random(seed)`, so a
benchmark run is repeatable and two machines time the same file. Generated files are cached
by their parameters (`ensure_sales_csv`), because 2,000,000 rows take a few seconds of
pure Python to produce and are the same every time.

The mix (what a store feed looks like, and what the `sales_etl` gate has to catch):

- order ids are unique per file family (`<prefix>-<file>-<row>`); timestamps mostly ISO-8601
  with `Z`, some with a space and no zone; hours weighted to shop opening times;
- 120 stores, 5,000 SKUs, quantities mostly 1-3, prices log-uniform 0.99..999.99;
- about 5% of rows have no customer (walk-in; a `warn` rule, the row is kept), some values
  carry stray spaces or a lower-case currency (the job trims and upper-cases);
- `bad_ratio` of rows (default 2%) break a `drop` rule: missing id, duplicated id (the copy
  AND the original are quarantined), unparsable or future timestamp, zero/negative/unparsable
  quantity, negative/unparsable price, unknown or missing currency, missing store or SKU.
  Kept well under the job's default `max_drop_ratio` of 5% so runs pass the gate.
"""

from __future__ import annotations

import math
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

SALES_COLUMNS = ("order_id", "order_ts", "store_id", "customer_id", "sku", "quantity", "unit_price", "currency")
SALES_HEADER = ",".join(SALES_COLUMNS)

# Weighted like a European retailer's feed; every code is in sales_etl's ISO 4217 set.
CURRENCIES = ("EUR",) * 12 + ("USD",) * 4 + ("GBP",) * 2 + ("CHF", "SEK", "PLN", "DKK", "NOK", "CZK")
# Shop hours dominate; a few online orders at night.
HOURS = tuple(range(8, 21)) * 6 + tuple(range(0, 24))

BAD_KINDS = (
    "missing_order_id",
    "duplicate_order_id",
    "bad_ts",
    "future_ts",
    "zero_quantity",
    "negative_quantity",
    "unparsable_quantity",
    "negative_price",
    "unparsable_price",
    "unknown_currency",
    "missing_currency",
    "missing_store",
    "missing_sku",
)

DEFAULT_START = date(2024, 1, 1)


@dataclass(frozen=True)
class SalesSpec:
    """Parameters of one generated sales file (they fully determine its bytes)."""

    rows: int
    seed: int = 0
    start_day: date = DEFAULT_START
    days: int = 30
    bad_ratio: float = 0.02
    id_prefix: str = "ORD"
    late_ratio: float = 0.0  # rows dated the day BEFORE start_day (late arrivals)

    def file_name(self) -> str:
        bad = f"{self.bad_ratio:.4f}".rstrip("0").rstrip(".")
        late = f"-late{self.late_ratio:g}" if self.late_ratio else ""
        return (
            f"sales-{self.id_prefix}-{self.rows}r-s{self.seed}-{self.start_day:%Y%m%d}-{self.days}d-bad{bad}{late}.csv"
        )


def sales_lines(spec: SalesSpec) -> Iterator[str]:
    """The CSV lines (header first, no trailing newline) of `spec`."""
    rng = random.Random(f"sales:{spec.seed}:{spec.id_prefix}")
    yield SALES_HEADER
    start = datetime(spec.start_day.year, spec.start_day.month, spec.start_day.day, tzinfo=UTC)
    log_lo, log_hi = math.log(0.99), math.log(999.99)
    issued: list[str] = []  # a sample of earlier ids, for duplicates
    for index in range(spec.rows):
        order_id = f"{spec.id_prefix}-{spec.seed:04d}-{index:09d}"
        day = -1 if spec.late_ratio and rng.random() < spec.late_ratio else rng.randrange(spec.days)
        moment = start + timedelta(
            days=day, hours=rng.choice(HOURS), minutes=rng.randrange(60), seconds=rng.randrange(60)
        )
        ts = moment.strftime("%Y-%m-%dT%H:%M:%SZ") if rng.random() < 0.9 else moment.strftime("%Y-%m-%d %H:%M:%S")
        store = f"S{rng.randrange(1, 121):03d}"
        customer = "" if rng.random() < 0.05 else f"C{rng.randrange(1, 400_000):07d}"
        sku = f"SKU-{rng.randrange(1, 5001):05d}"
        quantity = str(min(20, 1 + int(rng.expovariate(0.8))))
        price = f"{math.exp(rng.uniform(log_lo, log_hi)):.2f}"
        currency = rng.choice(CURRENCIES)
        noise = rng.random()
        if noise < 0.01:
            currency = currency.lower()
        elif noise < 0.02:
            store = f" {store} "

        if rng.random() < spec.bad_ratio:
            kind = rng.choice(BAD_KINDS)
            if kind == "missing_order_id":
                order_id = ""
            elif kind == "duplicate_order_id" and issued:
                order_id = rng.choice(issued)
            elif kind == "bad_ts":
                ts = rng.choice(("2024-13-45T99:00:00Z", "yesterday", "31/02/2024 10:00"))
            elif kind == "future_ts":
                ts = "2099-01-01T00:00:00Z"
            elif kind == "zero_quantity":
                quantity = "0"
            elif kind == "negative_quantity":
                quantity = str(-rng.randrange(1, 5))
            elif kind == "unparsable_quantity":
                quantity = "two"
            elif kind == "negative_price":
                price = f"-{price}"
            elif kind == "unparsable_price":
                price = "n/a"
            elif kind == "unknown_currency":
                currency = "XXX"
            elif kind == "missing_currency":
                currency = ""
            elif kind == "missing_store":
                store = ""
            elif kind == "missing_sku":
                sku = ""
        elif index % 97 == 0 and len(issued) < 4096:
            issued.append(order_id)
        yield f"{order_id},{ts},{store},{customer},{sku},{quantity},{price},{currency}"


def write_sales_csv(path: str | os.PathLike[str], spec: SalesSpec) -> Path:
    """Write `spec` to `path` atomically (temp file + rename); returns the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    with tmp.open("w", encoding="utf-8", newline="\n") as handle:
        batch: list[str] = []
        for line in sales_lines(spec):
            batch.append(line)
            if len(batch) >= 50_000:
                handle.write("\n".join(batch) + "\n")
                batch.clear()
        if batch:
            handle.write("\n".join(batch) + "\n")
    os.replace(tmp, target)
    return target


def ensure_sales_csv(directory: str | os.PathLike[str], spec: SalesSpec) -> Path:
    """The cached file for `spec` under `directory`, generated on first use."""
    path = Path(directory) / spec.file_name()
    if not path.is_file():
        write_sales_csv(path, spec)
    return path


def incremental_specs(count: int, rows_per_file: int, *, seed: int = 100, late_ratio: float = 0.03) -> list[SalesSpec]:
    """`count` daily store drops: file k holds day k's orders plus a few late ones of day k-1.

    So file k+1 adds one new partition and touches one existing partition: the realistic
    shape of an incremental load whose cost should follow the new file, not the history.
    """
    return [
        SalesSpec(
            rows=rows_per_file,
            seed=seed + k,
            start_day=DEFAULT_START + timedelta(days=k),
            days=1,
            id_prefix="INC",
            late_ratio=late_ratio,
        )
        for k in range(count)
    ]
