"""The bad-input corpus: generated into a temporary directory, never committed as binaries.

Each `Case` is one file, the bronze key it is uploaded under and the outcome the platform
promises for it:

- `accepted`: every row reaches silver (`expect_keys`);
- `partial`: the rows in `expect_keys` reach silver, the rows in `expect_quarantined` go to
  quarantine with the named rules (each partial file stays under the 5% drop threshold);
- `failed`: the run fails (gate `fail`, escalation or unreadable input): nothing of the file
  reaches silver, a quarantine/rejection record names the key;
- `refused`: the key itself is refused by `lake upload`: nothing is written anywhere.

Business keys are unique per case (`<TAG>-<n>`), so several cases can be uploaded in one CLI
invocation and still be judged one by one from the silver contents.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

SALES_HEADER = ("order_id", "order_ts", "store_id", "customer_id", "sku", "quantity", "unit_price", "currency")

ACCEPTED, PARTIAL, FAILED, REFUSED = "accepted", "partial", "failed", "refused"

# A string that must never show up in the lake or in output: the XXE payload points at a
# file holding it.
CANARY = "CANARY-7f3c9e-secret-never-read"


@dataclass(frozen=True)
class Case:
    name: str
    key: str
    dataset: str | None
    outcome: str
    what: str  # the promise, one phrase (goes into RELIABILITY.md)
    expect_keys: frozenset[str] = frozenset()  # business keys that must land in silver
    expect_quarantined: frozenset[str] = frozenset()  # keys that must go to quarantine only
    rules: frozenset[str] = frozenset()  # rules expected to name the quarantined rows
    message: str = ""  # substring (case-insensitive) the one-line message must contain
    # failed cases: "rejected" (unreadable input: rejected.json, bronze keeps the bytes) or
    # "validation" (the gate failed: validation.json and every row in rows.jsonl)
    record: str = ""
    batch: str = "main"  # cases in the same batch share one CLI invocation

    @property
    def filename(self) -> str:
        return self.name + "." + self.key.rsplit(".", 1)[-1]


@dataclass
class Corpus:
    root: Path
    cases: list[Case] = field(default_factory=list)

    def path(self, case: Case) -> Path:
        return self.root / case.filename

    def by_name(self, name: str) -> Case:
        return next(c for c in self.cases if c.name == name)


# ---- row builders -------------------------------------------------------------------------------


def order_ts(n: int) -> str:
    """Timestamps spread over three days (three order_date partitions)."""
    day = 5 + n % 3
    return f"2024-03-{day:02d}T{8 + n % 10:02d}:{n % 60:02d}:00Z"


def sales_row(tag: str, n: int, **override: str) -> dict[str, str]:
    row = {
        "order_id": f"{tag}-{n:04d}",
        "order_ts": order_ts(n),
        "store_id": f"S{n % 7:03d}",
        "customer_id": f"C{n:05d}",
        "sku": f"SKU-{n % 13:04d}",
        "quantity": str(1 + n % 5),
        "unit_price": f"{2 + n % 9}.{n % 100:02d}",
        "currency": "EUR",
    }
    row.update(override)
    return row


def csv_line(row: dict[str, str], columns: tuple[str, ...] = SALES_HEADER) -> str:
    return ",".join(_csv_field(row.get(c, "")) for c in columns)


def _csv_field(value: str) -> str:
    if any(ch in value for ch in ',"\n\r'):
        return '"' + value.replace('"', '""') + '"'
    return value


def sales_csv(rows: list[dict[str, str]], columns: tuple[str, ...] = SALES_HEADER, newline: str = "\n") -> str:
    return newline.join([",".join(columns), *[csv_line(r, columns) for r in rows]]) + newline


def keys(tag: str, numbers) -> frozenset[str]:
    return frozenset(f"{tag}-{n:04d}" for n in numbers)


def product(tag: str, n: int, **override) -> dict:
    record = {
        "sku": f"{tag}-{n:04d}",
        "name": f"Product {n}",
        "category": ["food", "drink", "home"][n % 3],
        "price": round(1.5 + n, 2),
        "currency": "EUR",
        "active": n % 4 != 0,
        "attributes": {"colour": "red", "size": str(n % 3)},
    }
    record.update(override)
    return record


def inventory_xml(tag: str, numbers, snapshot_ts: str = "2024-03-05T06:00:00Z") -> str:
    items = "\n".join(f'  <item sku="{tag}-{n:04d}" store_id="S{n % 5:03d}" on_hand="{n * 3}"/>' for n in numbers)
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<inventory snapshot_ts="{snapshot_ts}">\n{items}\n</inventory>\n'


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE inventory [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<inventory snapshot_ts="2024-03-05T06:00:00Z">
  <item sku="&lol9;" store_id="S001" on_hand="1"/>
</inventory>
"""


def xxe_xml(system_id: str) -> str:
    return f"""<?xml version="1.0"?>
<!DOCTYPE inventory [ <!ENTITY xxe SYSTEM "{system_id}"> ]>
<inventory snapshot_ts="2024-03-05T06:00:00Z">
  <item sku="&xxe;" store_id="S001" on_hand="1"/>
</inventory>
"""


def xxe_parameter_entity_xml(system_id: str) -> str:
    """External DTD through a parameter entity (fetched before any element is read)."""
    return f"""<?xml version="1.0"?>
<!DOCTYPE inventory [ <!ENTITY % remote SYSTEM "{system_id}"> %remote; ]>
<inventory snapshot_ts="2024-03-05T06:00:00Z">
  <item sku="XP-0001" store_id="S001" on_hand="1"/>
</inventory>
"""


TEN_MB = 10 * 1024 * 1024

# ---- the corpus ---------------------------------------------------------------------------------


def build(root: Path, *, secret_file: Path, http_url: str, write: bool = True) -> Corpus:
    """Write every corpus file under `root`; `secret_file`/`http_url` are the XXE targets.
    `write=False` only lists the cases (test collection)."""
    if write:
        root.mkdir(parents=True, exist_ok=True)
    corpus = Corpus(root)
    files: dict[str, bytes] = {}

    def add(case: Case, content: bytes | str) -> None:
        corpus.cases.append(case)
        files[case.filename] = content.encode("utf-8") if isinstance(content, str) else content

    # -- sales: the seed every comparison starts from --
    add(
        Case(
            "sales_seed",
            "sales/seed.csv",
            "sales",
            ACCEPTED,
            "a clean file lands whole",
            expect_keys=keys("SEED", range(60)),
            batch="seed",
        ),
        sales_csv([sales_row("SEED", n) for n in range(60)]),
    )
    # -- rejected or failed wholesale --
    add(
        Case("zero_byte", "sales/zero_byte.csv", "sales", FAILED, "zero-byte file", message="empty", record="rejected"),
        b"",
    )
    add(
        Case(
            "header_only",
            "sales/header_only.csv",
            "sales",
            FAILED,
            "header only, no rows",
            message="row",
            record="validation",
        ),
        ",".join(SALES_HEADER) + "\n",
    )
    add(
        Case(
            "semicolon",
            "sales/semicolon.csv",
            "sales",
            FAILED,
            "wrong delimiter `;`",
            message="header",
            record="rejected",
        ),
        "\n".join([";".join(SALES_HEADER), *[";".join(sales_row("SEMI", n).values()) for n in range(20)]]) + "\n",
    )
    no_currency = SALES_HEADER[:-1]
    add(
        Case(
            "missing_column",
            "sales/missing_column.csv",
            "sales",
            FAILED,
            "required column missing (currency)",
            message="currency",
            record="rejected",
        ),
        sales_csv([sales_row("MISS", n) for n in range(20)], no_currency),
    )
    add(
        Case(
            "gzip_as_csv",
            "sales/gzip_as_csv.csv",
            "sales",
            FAILED,
            "gzip bytes under a .csv name",
            message="gzip",
            record="rejected",
        ),
        gzip.compress(sales_csv([sales_row("GZIP", n) for n in range(20)]).encode(), mtime=0),
    )
    latin1_rows = [sales_row("LAT1", n) for n in range(20)]
    latin1_rows[3]["customer_id"] = "Müller-Lüdenscheidt"
    add(
        Case(
            "latin1",
            "sales/latin1.csv",
            "sales",
            FAILED,
            "Latin-1 bytes (not UTF-8)",
            message="utf-8",
            record="rejected",
        ),
        sales_csv(latin1_rows).encode("latin-1"),
    )
    # A drop rule broken by most rows escalates to fail.
    add(
        Case(
            "all_bad_quantity",
            "sales/all_bad_quantity.csv",
            "sales",
            FAILED,
            "most rows break a drop rule: escalated to fail",
            message="threshold",
            expect_quarantined=keys("ALLQ", range(20)),
            record="validation",
        ),
        sales_csv([sales_row("ALLQ", n, quantity="0") for n in range(20)]),
    )
    add(
        Case(
            "ten_mb_line",
            "sales/ten_mb_line.csv",
            "sales",
            FAILED,
            "a 10 MB single line (no newline)",
            message="header",
            batch="big",
            record="rejected",
        ),
        (b"x" * 1000 + b",") * (TEN_MB // 1001) + b"y" * (TEN_MB % 1001),
    )
    # -- whole file accepted --
    extra = (*SALES_HEADER, "loyalty_tier", "note")
    add(
        Case(
            "extra_columns",
            "sales/extra_columns.csv",
            "sales",
            ACCEPTED,
            "unknown extra columns: accepted, extras ignored",
            expect_keys=keys("XTRA", range(30)),
        ),
        sales_csv([sales_row("XTRA", n, loyalty_tier="gold", note="hi") for n in range(30)], extra),
    )
    reordered = ("currency", "sku", "order_id", "unit_price", "quantity", "customer_id", "store_id", "order_ts")
    add(
        Case(
            "reordered_columns",
            "sales/reordered_columns.csv",
            "sales",
            ACCEPTED,
            "reordered columns land by header name",
            expect_keys=keys("REOR", range(30)),
        ),
        sales_csv([sales_row("REOR", n) for n in range(30)], reordered),
    )
    newline_rows = [sales_row("QNL", n) for n in range(30)]
    newline_rows[5]["customer_id"] = "C-multi\nline, with comma"
    newline_rows[9]["customer_id"] = 'C-"quoted"\r\nvalue'
    add(
        Case(
            "quoted_newlines",
            "sales/quoted_newlines.csv",
            "sales",
            ACCEPTED,
            "quoted newlines inside a field (RFC 4180)",
            expect_keys=keys("QNL", range(30)),
        ),
        sales_csv(newline_rows),
    )
    add(
        Case(
            "utf8_bom",
            "sales/utf8_bom.csv",
            "sales",
            ACCEPTED,
            "UTF-8 byte-order mark",
            expect_keys=keys("BOM", range(30)),
        ),
        b"\xef\xbb\xbf" + sales_csv([sales_row("BOM", n) for n in range(30)]).encode(),
    )
    add(
        Case("crlf", "sales/crlf.csv", "sales", ACCEPTED, "CRLF line endings", expect_keys=keys("CRLF", range(30))),
        sales_csv([sales_row("CRLF", n) for n in range(30)], newline="\r\n"),
    )
    unicode_rows = [sales_row("UNI", n) for n in range(30)]
    unicode_rows[2]["customer_id"] = "Zoë Ørsted 東京 🚀"
    add(
        Case(
            "unicode_values",
            "sales/unicode_values.csv",
            "sales",
            ACCEPTED,
            "non-ASCII UTF-8 values kept verbatim",
            expect_keys=keys("UNI", range(30)),
        ),
        sales_csv(unicode_rows),
    )
    # -- partial: bad rows quarantined, good rows land (each < 5% of its file) --
    wrong = [sales_row("TYPE", n) for n in range(50)]
    wrong[10]["quantity"] = "three"
    wrong[20]["unit_price"] = "12,50"
    add(
        Case(
            "wrong_types",
            "sales/wrong_types.csv",
            "sales",
            PARTIAL,
            "wrong types (text quantity, comma decimal)",
            expect_keys=keys("TYPE", set(range(50)) - {10, 20}),
            expect_quarantined=keys("TYPE", {10, 20}),
            rules=frozenset({"quantity_parses", "unit_price_parses"}),
        ),
        sales_csv(wrong),
    )
    body = sales_csv([sales_row("TRUNC", n) for n in range(40)])
    add(
        Case(
            "truncated_last_line",
            "sales/truncated_last_line.csv",
            "sales",
            PARTIAL,
            "truncated last line",
            expect_keys=keys("TRUNC", range(39)),
            expect_quarantined=keys("TRUNC", {39}),
        ),
        body[: body.rindex("\n", 0, len(body) - 1) + 1] + "TRUNC-0039,2024-03-05T1",
    )
    dup_rows = [sales_row("DUP", n) for n in range(50)]
    dup_rows.append(dict(dup_rows[7]))
    add(
        Case(
            "duplicate_rows",
            "sales/duplicate_rows.csv",
            "sales",
            PARTIAL,
            "duplicate rows (same order_id twice in one file): both quarantined",
            expect_keys=keys("DUP", set(range(50)) - {7}),
            expect_quarantined=keys("DUP", {7}),
            rules=frozenset({"order_id_unique"}),
        ),
        sales_csv(dup_rows),
    )
    qty = [sales_row("QTY", n) for n in range(50)]
    qty[4]["quantity"] = "0"
    qty[8]["quantity"] = "-3"
    add(
        Case(
            "nonpositive_quantity",
            "sales/nonpositive_quantity.csv",
            "sales",
            PARTIAL,
            "zero and negative quantities",
            expect_keys=keys("QTY", set(range(50)) - {4, 8}),
            expect_quarantined=keys("QTY", {4, 8}),
            rules=frozenset({"quantity_positive"}),
        ),
        sales_csv(qty),
    )
    future = [sales_row("FUT", n) for n in range(50)]
    future[3]["order_ts"] = "2999-01-01T00:00:00Z"
    future[6]["order_ts"] = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    add(
        Case(
            "far_future",
            "sales/far_future.csv",
            "sales",
            PARTIAL,
            "far-future timestamps",
            expect_keys=keys("FUT", set(range(50)) - {3, 6}),
            expect_quarantined=keys("FUT", {3, 6}),
            rules=frozenset({"order_ts_not_in_future"}),
        ),
        sales_csv(future),
    )
    # -- the same order id in two files: one row in silver, the later upload's --
    add(
        Case(
            "same_order_first",
            "sales/same_order_first.csv",
            "sales",
            ACCEPTED,
            "same order id in two files (first)",
            expect_keys=keys("TWICE", range(30)),
            batch="main",
        ),
        sales_csv([sales_row("TWICE", n, quantity="1") for n in range(30)]),
    )
    add(
        Case(
            "same_order_second",
            "sales/same_order_second.csv",
            "sales",
            ACCEPTED,
            "same order id in two files (second restates 0000-0004)",
            expect_keys=keys("TWICE", range(5)) | keys("TWICE2", range(25)),
            batch="main",
        ),
        sales_csv(
            [sales_row("TWICE", n, quantity="4") for n in range(5)] + [sales_row("TWICE2", n) for n in range(25)]
        ),
    )
    # -- awkward keys --
    add(
        Case(
            "key_space",
            "sales/with space/order file.csv",
            "sales",
            ACCEPTED,
            "key with spaces",
            expect_keys=keys("KSP", range(20)),
        ),
        sales_csv([sales_row("KSP", n) for n in range(20)]),
    )
    add(
        Case(
            "key_plus",
            "sales/a+b=c%20d.csv",
            "sales",
            ACCEPTED,
            "key with `+`, `=` and `%`",
            expect_keys=keys("KPL", range(20)),
        ),
        sales_csv([sales_row("KPL", n) for n in range(20)]),
    )
    add(
        Case(
            "key_unicode",
            "sales/ünïcödé/東京-2024.csv",
            "sales",
            ACCEPTED,
            "key with unicode",
            expect_keys=keys("KUN", range(20)),
        ),
        sales_csv([sales_row("KUN", n) for n in range(20)]),
    )
    add(
        Case(
            "key_dotdot",
            "sales/../../../escape.csv",
            None,
            REFUSED,
            "key with `..` segments: refused",
            message="..",
            batch="refused",
        ),
        sales_csv([sales_row("ESC", n) for n in range(5)]),
    )
    add(
        Case(
            "key_absolute",
            f"{root.resolve().parent}/absolute-escape.csv",
            None,
            REFUSED,
            "absolute key: refused",
            message="absolute",
            batch="refused",
        ),
        sales_csv([sales_row("ABS", n) for n in range(5)]),
    )
    # -- products (JSON) --
    add(
        Case(
            "products_seed_lines",
            "products/seed_lines.json",
            "products",
            ACCEPTED,
            "JSON Lines products",
            expect_keys=keys("PRD", range(30)),
            batch="seed",
        ),
        "\n".join(json.dumps(product("PRD", n)) for n in range(30)) + "\n",
    )
    add(
        Case(
            "products_array",
            "products/seed_array.json",
            "products",
            ACCEPTED,
            "one JSON array of products",
            expect_keys=keys("PRA", range(30)),
        ),
        json.dumps([product("PRA", n) for n in range(30)], indent=1),
    )
    add(
        Case(
            "invalid_json",
            "products/invalid.json",
            "products",
            FAILED,
            "invalid JSON",
            message="json",
            record="rejected",
        ),
        "\n".join(json.dumps(product("PBAD", n)) for n in range(3)) + '\n{"sku": "PBAD-0003", "name": \n',
    )
    add(
        Case(
            "json_wrong_shape_nested",
            "products/wrong_shape_nested.json",
            "products",
            FAILED,
            "JSON of the wrong shape (array of arrays)",
            message="object",
            record="rejected",
        ),
        json.dumps([[1, 2, 3], ["PWS-0001", "x"]]),
    )
    add(
        Case(
            "json_wrong_shape_types",
            "products/wrong_shape_types.json",
            "products",
            FAILED,
            "JSON of the wrong shape (price is an object, attributes a list)",
            message="price",
            record="rejected",
        ),
        "\n".join(json.dumps(product("PWT", n, price={"amount": n}, attributes=["a"])) for n in range(10)) + "\n",
    )
    add(
        Case(
            "json_wrapper_object",
            "products/wrapper_object.json",
            "products",
            FAILED,
            "JSON of the wrong shape (records wrapped in an object)",
            record="validation",
        ),
        json.dumps({"products": [product("PWO", n) for n in range(10)]}) + "\n",
    )
    # -- inventory (XML) --
    add(
        Case(
            "inventory_seed",
            "inventory/updates/seed.xml",
            "inventory",
            ACCEPTED,
            "a clean inventory snapshot",
            expect_keys=keys("INV", range(20)),
            batch="seed",
        ),
        inventory_xml("INV", range(20)),
    )
    add(
        Case(
            "malformed_xml",
            "inventory/updates/malformed.xml",
            "inventory",
            FAILED,
            "malformed XML",
            message="xml",
            record="rejected",
        ),
        inventory_xml("MXML", range(5)).replace("</inventory>", "</inventor"),
    )
    add(
        Case(
            "billion_laughs",
            "inventory/updates/billion_laughs.xml",
            "inventory",
            FAILED,
            "XML entity expansion (billion laughs): refused",
            message="entit",
            record="rejected",
        ),
        BILLION_LAUGHS,
    )
    add(
        Case(
            "xxe_file",
            "inventory/updates/xxe_file.xml",
            "inventory",
            FAILED,
            "XML external entity (local file): refused, never read",
            message="entit",
            record="rejected",
        ),
        xxe_xml(secret_file.as_uri()),
    )
    add(
        Case(
            "xxe_http",
            "inventory/updates/xxe_http.xml",
            "inventory",
            FAILED,
            "XML external entity (HTTP): refused, never fetched",
            message="entit",
            record="rejected",
        ),
        xxe_xml(http_url + "/xxe-entity"),
    )
    add(
        Case(
            "xxe_parameter",
            "inventory/updates/xxe_parameter.xml",
            "inventory",
            FAILED,
            "XML external DTD via parameter entity: refused, never fetched",
            message="entit",
            record="rejected",
        ),
        xxe_parameter_entity_xml(http_url + "/xxe-dtd"),
    )

    for name, content in files.items() if write else ():
        (root / name).write_bytes(content)
    return corpus


def write_secret(path: Path) -> Path:
    path.write_text(CANARY + "\n")
    return path


if __name__ == "__main__":  # `python -m tests.reliability.corpus DIR`: inspect the corpus by hand
    import sys

    target = Path(sys.argv[1] if len(sys.argv) > 1 else "reliability-corpus")
    target.mkdir(parents=True, exist_ok=True)
    built = build(target, secret_file=write_secret(target / "secret.txt"), http_url="http://127.0.0.1:9")
    for case in built.cases:
        print(f"{case.outcome:9} {case.key!r:45} {built.path(case).stat().st_size:>10} B  {case.what}")
