"""Every file in the bad-input corpus goes through `lake upload` and gets its promised outcome.

One lake home for the module, filled in four CLI invocations (each starts one JVM):
seed -> main corpus -> the 10 MB line on its own (its own memory figure) -> refused keys.
Between invocations the home is snapshotted (bronze sha256, silver rows and file hashes), so
each case is judged from the outside: its run in `lake runs --json`, its rows in silver (by
`_source_key`, every Parquet file read with pyarrow), its quarantine record, its bronze bytes.
"""

from __future__ import annotations

import csv
import http.server
import io
import threading
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from . import (
    BRONZE,
    GB,
    KEY_COLUMNS,
    SILVER,
    LakeResult,
    assert_no_traceback,
    bronze_hashes,
    comparable,
    dataset_hashes,
    duplicates,
    files_under,
    grep_tree,
    invalid_rows,
    lake,
    quarantine_records,
    read_dataset,
    runs,
    sha256_file,
    upload_args,
)
from .corpus import ACCEPTED, CANARY, FAILED, PARTIAL, REFUSED, Case, Corpus, build, write_secret

pytestmark = [pytest.mark.cli, pytest.mark.slow]

DATASETS = ("sales", "products", "inventory")
# Peak RSS of a whole `lake upload` process tree: Python, the JVM (heap capped at 2 GiB by
# LAKE_DRIVER_MEMORY's default) and Spark's Python workers.
MEMORY_BOUND = 4 * GB  # any batch of the corpus
BIG_LINE_BOUND = 3 * GB  # the invocation holding only the 10 MB single line
MESSAGE_LIMIT = 500  # characters in a one-line error


class _Recorder(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):
        type(self).hits.append(self.path)
        body = f"<!ENTITY leak '{CANARY}'>".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args):
        pass


@dataclass
class Snapshot:
    bronze: dict[str, str]
    rows: dict[str, list[dict[str, Any]]]
    files: dict[str, dict[str, str]]

    @classmethod
    def take(cls, home: Path) -> Snapshot:
        return cls(
            bronze_hashes(home),
            {d: read_dataset(home, d) for d in DATASETS},
            {d: dataset_hashes(home, d) for d in DATASETS},
        )


@dataclass
class Lab:
    root: Path
    home: Path
    corpus: Corpus
    batches: dict[str, LakeResult] = field(default_factory=dict)
    snapshots: dict[str, Snapshot] = field(default_factory=dict)
    refused: dict[str, LakeResult] = field(default_factory=dict)
    outside_before: set[str] = field(default_factory=set)
    runs: list[dict[str, Any]] = field(default_factory=list)
    http_hits: list[str] = field(default_factory=list)

    def cases(self, batch: str) -> list[Case]:
        return [c for c in self.corpus.cases if c.batch == batch]

    def batch_of(self, case: Case) -> LakeResult:
        return self.refused[case.name] if case.outcome == REFUSED else self.batches[case.batch]

    def runs_for(self, case: Case) -> list[dict[str, Any]]:
        return [r for r in self.runs if r.get("source_key") == case.key]


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> Lab:
    root = tmp_path_factory.mktemp("bad-input")
    home = root / "nest" / "deeper" / "home"  # `..` escapes would land in root/nest/...: visible
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    _Recorder.hits = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        corpus = build(
            root / "corpus",
            secret_file=write_secret(root / "secret.txt"),
            http_url=f"http://127.0.0.1:{server.server_address[1]}",
        )
        lab = Lab(root, home, corpus)
        lab.outside_before = files_under(root)
        for batch in ("seed", "main", "big"):
            pairs = [(corpus.path(c), c.key) for c in lab.cases(batch)]
            lab.batches[batch] = lake(home, *upload_args(pairs))
            lab.snapshots[batch] = Snapshot.take(home)
        for case in lab.cases("refused"):
            lab.refused[case.name] = lake(home, "upload", str(corpus.path(case)), case.key)
        lab.snapshots["refused"] = Snapshot.take(home)
        lab.runs = runs(home)
        lab.http_hits = list(_Recorder.hits)
        _print_figures(lab)
        yield lab
    finally:
        server.shutdown()


def _print_figures(lab: Lab) -> None:
    print("\nbad-input corpus:", len(lab.corpus.cases), "files")
    for name, result in [*lab.batches.items(), *lab.refused.items()]:
        print(
            f"  batch {name:14} exit {result.returncode}  {result.seconds:6.1f}s  "
            f"peak RSS {result.peak_rss / 2**20:6.0f} MiB"
        )


ALL_CASES = build(
    Path("corpus"), secret_file=Path("/nonexistent/secret"), http_url="http://127.0.0.1:9", write=False
).cases
UPLOADED = [c for c in ALL_CASES if c.outcome != REFUSED]


def _silver_owner(lab: Lab) -> dict[tuple[str, Any], Case]:
    """(dataset, business key) -> the case whose row silver must hold (the last upload wins)."""
    owner: dict[tuple[str, Any], Case] = {}
    for batch in ("seed", "main", "big"):
        for case in lab.cases(batch):
            if case.outcome in (ACCEPTED, PARTIAL):
                for key in case.expect_keys:
                    owner[(case.dataset, key)] = case
    return owner


def _key(dataset: str, row: dict[str, Any]) -> Any:
    return row[KEY_COLUMNS[dataset][0]]


# ---- the corpus itself ----------------------------------------------------------------------------


def test_corpus_covers_the_issue():
    assert len(ALL_CASES) >= 25
    names = {c.name for c in ALL_CASES}
    wanted = {
        "zero_byte",
        "header_only",
        "semicolon",
        "missing_column",
        "extra_columns",
        "reordered_columns",
        "wrong_types",
        "quoted_newlines",
        "utf8_bom",
        "latin1",
        "crlf",
        "gzip_as_csv",
        "truncated_last_line",
        "duplicate_rows",
        "same_order_first",
        "same_order_second",
        "nonpositive_quantity",
        "far_future",
        "ten_mb_line",
        "invalid_json",
        "json_wrong_shape_nested",
        "malformed_xml",
        "billion_laughs",
        "xxe_file",
        "xxe_http",
        "key_space",
        "key_plus",
        "key_unicode",
        "key_dotdot",
    }
    assert wanted <= names, wanted - names


# ---- every invocation --------------------------------------------------------------------------------


@pytest.mark.parametrize("batch", ["seed", "main", "big"])
def test_invocation_is_clean_and_memory_bounded(lab: Lab, batch: str):
    result = lab.batches[batch]
    assert_no_traceback(result)
    assert result.peak_rss < MEMORY_BOUND, result.describe()
    if batch == "seed":
        assert result.returncode == 0, result.describe()
    else:  # some file in the batch failed: the CLI says so with its exit code
        assert result.returncode != 0, result.describe()


def test_ten_mb_single_line_is_bounded(lab: Lab):
    result = lab.batches["big"]
    assert result.peak_rss < BIG_LINE_BOUND, result.describe()
    assert max(len(line) for line in result.output.splitlines()) <= 2000, (
        "a line of the output echoes the 10 MB line instead of summarising it"
    )


# ---- each case ---------------------------------------------------------------------------------


@pytest.mark.parametrize("case", UPLOADED, ids=lambda c: c.name)
def test_case_outcome(lab: Lab, case: Case):
    case = lab.corpus.by_name(case.name)
    found = lab.runs_for(case)
    assert len(found) == 1, f"{case.key}: expected exactly one run, history has {found}"
    run = found[0]
    if case.outcome in (ACCEPTED, PARTIAL):
        assert run["state"] == "SUCCEEDED", f"{case.key} ({case.what}): {run}"
        assert run["error"] in (None, ""), run
    else:
        assert run["state"] == "FAILED", f"{case.key} ({case.what}): {run}"
        error = run["error"] or ""
        assert error and "\n" not in error and len(error) <= MESSAGE_LIMIT, f"not a one-line message: {error!r}"
        assert case.message.lower() in error.lower(), f"{case.key}: message {error!r} should mention {case.message!r}"
        assert not run.get("output_paths"), f"a failed run wrote silver files: {run['output_paths']}"
        assert "Traceback" not in error and 'File "' not in error


def test_upload_output_shows_each_failure_on_one_line(lab: Lab):
    """What the user reads: each failed run's error on one line of `lake upload`'s output
    (not folded across table-cell lines, which `lake runs` avoids by printing errors below)."""
    folded = {}
    for case in UPLOADED:
        case = lab.corpus.by_name(case.name)
        for run in lab.runs_for(case):
            error = run.get("error") or ""
            if run["state"] != "FAILED" or not error:
                continue
            output = lab.batch_of(case).output
            if not any(error[:100] in line for line in output.splitlines()):
                folded[case.key] = error[:100]
    assert folded == {}, f"{len(folded)} errors are not shown on one line of the upload output: {folded}"


@pytest.mark.parametrize("case", UPLOADED, ids=lambda c: c.name)
def test_case_silver_rows(lab: Lab, case: Case):
    """Silver holds exactly the case's valid rows (minus keys a later file restated)."""
    case = lab.corpus.by_name(case.name)
    after = lab.snapshots["refused"].rows[case.dataset]
    owner = _silver_owner(lab)
    expected = {k for k in case.expect_keys if owner.get((case.dataset, k)) is case}
    landed = {_key(case.dataset, r) for r in after if r["_source_key"] == case.key}
    assert landed == expected, (
        f"{case.key} ({case.what}): missing {sorted(expected - landed)[:10]}, "
        f"unexpected {sorted(landed - expected)[:10]}"
    )
    stray = {_key(case.dataset, r) for r in after} & set(case.expect_quarantined)
    assert not stray, f"{case.key}: rows that must be quarantined are in silver: {sorted(stray)}"


@pytest.mark.parametrize(
    "case", [c for c in UPLOADED if c.dataset == "sales" and c.outcome in (ACCEPTED, PARTIAL)], ids=lambda c: c.name
)
def test_case_values_land_in_the_right_columns(lab: Lab, case: Case):
    """Header-driven: each silver value equals the source's value for that column name."""
    case = lab.corpus.by_name(case.name)
    text = lab.corpus.path(case).read_bytes().decode("utf-8-sig")
    source = {r["order_id"]: r for r in csv.DictReader(io.StringIO(text, newline=""))}
    rows = [r for r in lab.snapshots["refused"].rows["sales"] if r["_source_key"] == case.key]
    assert rows or not case.expect_keys
    for row in rows:
        src = source[row["order_id"]]
        expected = {
            "order_ts": datetime.fromisoformat(src["order_ts"].replace("Z", "+00:00")).replace(tzinfo=None),
            "store_id": src["store_id"].strip(),
            "customer_id": src["customer_id"].strip(),
            "sku": src["sku"].strip(),
            "quantity": int(src["quantity"]),
            "unit_price": Decimal(src["unit_price"]),
            "currency": src["currency"].strip().upper(),
        }
        actual = {k: row[k] for k in expected}
        actual["order_ts"] = actual["order_ts"].replace(tzinfo=None)
        assert actual == expected, f"{case.key} order {row['order_id']}"


@pytest.mark.parametrize("case", [c for c in UPLOADED if c.outcome in (PARTIAL, FAILED)], ids=lambda c: c.name)
def test_case_quarantine(lab: Lab, case: Case):
    """Partial: the bad rows, tagged with the rules. Gate failure: validation.json and every
    row. Unreadable input: rejected.json naming the key and the reason (bronze keeps the bytes)."""
    case = lab.corpus.by_name(case.name)
    records = quarantine_records(lab.home, case.dataset)
    run = lab.runs_for(case)[0]
    entry = records.get(run["run_id"])
    assert entry is not None, f"{case.key}: no quarantine folder for run {run['run_id']} (have {sorted(records)})"
    key_column = KEY_COLUMNS[case.dataset][0]
    quarantined = {str(r.get(key_column)): r for r in entry["rows"] if r.get("_source_key") == case.key}
    if case.record == "rejected":
        record = entry.get("rejected")
        assert record is not None, f"{case.key}: expected rejected.json, found {sorted(entry)}"
        assert record["source_key"] == case.key and record["reason"] == run["error"], record
        return
    record = entry.get("validation")
    assert record is not None, f"{case.key}: expected validation.json, found {sorted(entry)}"
    assert case.key in (record.get("source_keys") or []), record
    assert len(entry["rows"]) == (run["rows_quarantined"] or 0), "rows.jsonl does not hold the quarantined rows"
    assert all(r.get("_failed_rules") for r in entry["rows"]), "quarantined rows must name their rules"
    assert set(case.expect_quarantined) <= set(quarantined), (
        f"{case.key}: rows missing from quarantine: {sorted(set(case.expect_quarantined) - set(quarantined))}"
    )
    if case.outcome == PARTIAL:
        assert set(quarantined) == set(case.expect_quarantined), sorted(quarantined)
        for key in case.expect_quarantined:
            rules = set(quarantined[key].get("_failed_rules") or [])
            assert rules & case.rules or not case.rules, f"{case.key} row {key}: rules {rules}, wanted {case.rules}"
    else:
        assert record.get("reason") == run["error"], record
        assert len(entry["rows"]) == (run["rows_read"] or 0), "a failed gate quarantines the whole input"


@pytest.mark.parametrize("case", UPLOADED, ids=lambda c: c.name)
def test_case_bronze_is_the_uploaded_file(lab: Lab, case: Case):
    case = lab.corpus.by_name(case.name)
    path = lab.home / BRONZE / case.key
    assert path.is_file(), f"{case.key} is not in bronze"
    assert sha256_file(path) == sha256_file(lab.corpus.path(case))


# ---- the lake as a whole -------------------------------------------------------------------------


@pytest.mark.parametrize("dataset", DATASETS)
def test_silver_holds_only_valid_unique_rows(lab: Lab, dataset: str):
    rows = lab.snapshots["refused"].rows[dataset]
    assert rows, f"silver {dataset} is empty: the seed did not land"
    assert invalid_rows(dataset, rows) == []
    assert duplicates(rows, *KEY_COLUMNS[dataset]) == {}


@pytest.mark.parametrize("dataset", DATASETS)
def test_failed_inputs_leave_silver_unchanged(lab: Lab, dataset: str):
    """Rows not written by an accepted/partial file are exactly what the seed left."""
    good = {c.key for c in ALL_CASES if c.outcome in (ACCEPTED, PARTIAL) and c.batch == "main"}
    before = lab.snapshots["seed"].rows[dataset]  # the seed's keys are restated by no other file
    after = [r for r in lab.snapshots["refused"].rows[dataset] if r["_source_key"] not in good]
    assert comparable(after) == comparable(before)
    # invocations holding only failures change no silver byte
    assert lab.snapshots["big"].files[dataset] == lab.snapshots["main"].files[dataset]
    assert lab.snapshots["refused"].files[dataset] == lab.snapshots["big"].files[dataset]


def test_bronze_is_never_modified(lab: Lab):
    order = ["seed", "main", "big", "refused"]
    for earlier, later in zip(order, order[1:], strict=False):
        before, after = lab.snapshots[earlier].bronze, lab.snapshots[later].bronze
        changed = {k for k in before if after.get(k) != before[k]}
        assert not changed, f"bronze objects changed between {earlier} and {later}: {sorted(changed)}"
    uploaded = {c.key for c in UPLOADED}
    assert set(lab.snapshots["refused"].bronze) == uploaded


# ---- XML attacks ---------------------------------------------------------------------------------


def test_xml_entities_are_never_expanded_or_fetched(lab: Lab):
    assert lab.http_hits == [], f"the XML parser fetched external entities: {lab.http_hits}"
    leaks = grep_tree(lab.home / SILVER, CANARY.encode()) + grep_tree(lab.home / "_lake", CANARY.encode())
    assert leaks == [], f"the external entity's file content reached the lake: {leaks}"
    assert CANARY not in lab.batches["main"].output
    expanded = grep_tree(lab.home / SILVER, b"lollollollol") + grep_tree(lab.home / "_lake", b"lollollollol")
    assert expanded == [], f"billion-laughs entities were expanded into {expanded}"


# ---- refused keys ----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", [c for c in ALL_CASES if c.outcome == REFUSED], ids=lambda c: c.name)
def test_refused_key_writes_nothing(lab: Lab, case: Case):
    case = lab.corpus.by_name(case.name)
    result = lab.refused[case.name]
    assert_no_traceback(result)
    assert result.returncode != 0, result.describe()
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert any(case.message in line for line in lines), result.describe()
    assert len(lines) <= 3, f"expected a short refusal, got:\n{result.output}"
    assert lab.snapshots["refused"].bronze == lab.snapshots["big"].bronze
    new_outside = {p for p in files_under(lab.root) - lab.outside_before if not p.startswith(str(lab.home) + "/")}
    assert new_outside == set(), f"files written outside the lake home: {new_outside}"
    assert all(r.get("source_key") != case.key for r in lab.runs)
