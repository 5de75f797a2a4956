"""Local runtime safety: keys stay inside the lake home, no shell, no XML entities, SQL parameters.

Refusals are cheap (the CLI refuses a key before any job starts, so no JVM); the hostile but
valid keys (shell metacharacters, SQL quotes) go through one real `lake upload`.
"""

from __future__ import annotations

import ast
import io
import re
import time
from pathlib import Path

import pytest

from . import (
    BRONZE,
    REPO,
    assert_no_traceback,
    bronze_hashes,
    files_under,
    history_rows,
    lake,
    read_dataset,
    runs,
    upload_args,
)
from .corpus import BILLION_LAUGHS, CANARY, sales_csv, sales_row, xxe_parameter_entity_xml, xxe_xml

SOURCE_DIRS = [REPO / "data_platform", REPO / "etl"]


def python_files() -> list[Path]:
    return sorted(p for d in SOURCE_DIRS for p in d.rglob("*.py"))


# ---- keys cannot escape the lake home -----------------------------------------------------------


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("safety")
    home = root / "a" / "b" / "home"
    outside = root / "outside"
    outside.mkdir()
    (outside / "victim.csv").write_text("do not overwrite\n")
    sample = root / "sample.csv"
    sample.write_text(sales_csv([sales_row("SAFE", n) for n in range(5)]))
    # symlinks planted inside bronze that point out of the lake
    bronze = home / BRONZE
    (bronze / "sales").mkdir(parents=True)
    (bronze / "sales" / "linkdir").symlink_to(outside, target_is_directory=True)
    (bronze / "sales" / "victim.csv").symlink_to(outside / "victim.csv")
    return {"root": root, "home": home, "outside": outside, "sample": sample}


ESCAPES = [
    ("dotdot", "sales/../../../../escaped.csv", "'..'"),
    ("dotdot_middle", "sales/x/../../../escaped.csv", "'..'"),
    ("dot_segment", "sales/./escaped.csv", "'.'"),
    ("absolute", "/tmp/escaped-absolute.csv", "absolute"),
    ("backslash_dotdot", "sales\\..\\..\\..\\escaped.csv", ".."),
    ("empty_segment", "sales//escaped.csv", "empty segment"),
    ("symlinked_dir", "sales/linkdir/escaped.csv", "outside"),
    ("symlinked_file", "sales/victim.csv", "outside"),
    ("other_bucket", "s3://some-other-bucket/sales/escaped.csv", "bronze"),
    ("s3_dotdot", "s3://data-lake-dev-bronze/sales/../../escaped.csv", "'..'"),
]


@pytest.mark.parametrize(("name", "key", "message"), ESCAPES, ids=[e[0] for e in ESCAPES])
def test_key_cannot_escape_the_lake_home(sandbox, name, key, message):
    root, home = sandbox["root"], sandbox["home"]
    state = str(home / "_lake")  # the run history may be created by the refused command: not data

    def data_files() -> set[str]:
        return {p for p in files_under(root) if not p.startswith(state)}

    before_files = data_files()
    before_bronze = bronze_hashes(home)
    victim_text = (sandbox["outside"] / "victim.csv").read_text()
    result = lake(home, "upload", str(sandbox["sample"]), key, timeout=120)
    assert_no_traceback(result)
    assert result.returncode != 0, result.describe()
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) <= 2 and any(message in line for line in lines), result.describe()
    assert data_files() == before_files, f"{key}: files appeared: {data_files() - before_files}"
    assert bronze_hashes(home) == before_bronze
    assert (sandbox["outside"] / "victim.csv").read_text() == victim_text
    assert not Path("/tmp/escaped-absolute.csv").exists()
    assert "Spark" not in result.output and result.seconds < 60, "a refused key must not start a job"


# ---- no shell ----------------------------------------------------------------------------------


def _shell_calls(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = ast.unparse(node.func)
        if name in (
            "os.system",
            "os.popen",
            "system",
            "popen",
            "pty.spawn",
            "os.execlp",
            "os.spawnlp",
            "commands.getoutput",
            "subprocess.getoutput",
            "subprocess.getstatusoutput",
        ):
            found.append(f"{name}() at line {node.lineno}")
        for keyword in node.keywords:
            if keyword.arg == "shell" and not (
                isinstance(keyword.value, ast.Constant) and keyword.value.value is False
            ):
                found.append(f"{name}(shell=...) at line {node.lineno}")
    return found


def test_no_shell_is_ever_invoked():
    offenders = {}
    for path in python_files():
        calls = _shell_calls(ast.parse(path.read_text(), str(path)))
        if calls:
            offenders[str(path.relative_to(REPO))] = calls
    assert offenders == {}
    text = "\n".join(p.read_text() for p in python_files())
    assert not re.search(r"shell\s*=\s*True|os\.system\(|os\.popen\(", text)


@pytest.fixture(scope="module")
def hostile_keys(tmp_path_factory) -> dict:
    """Valid S3 keys full of shell and SQL metacharacters, through one real upload."""
    root = tmp_path_factory.mktemp("hostile")
    home, cwd = root / "home", root / "cwd"
    cwd.mkdir()
    keys = {
        "subshell": "sales/$(touch pwned).csv",
        "backticks": "sales/`touch pwned2`.csv",
        "semicolon": "sales/a; touch pwned3 #.csv",
        "pipe": "sales/b | touch pwned4 &.csv",
        "sql": "sales/'); DROP TABLE runs;--.csv",
        "sql_quotes": "sales/x' OR '1'='1.csv",
        "percent_dots": "sales/%2e%2e/pct.csv",
    }
    pairs = []
    for n, (name, key) in enumerate(keys.items()):
        path = root / f"{name}.csv"
        path.write_text(sales_csv([sales_row(f"H{n}", i) for i in range(5)]))
        pairs.append((path, key))
    result = lake(home, *upload_args(pairs), cwd=cwd)
    return {"root": root, "home": home, "cwd": cwd, "keys": keys, "result": result, "runs": runs(home)}


def test_shell_metacharacters_in_keys_run_nothing(hostile_keys):
    result = hostile_keys["result"]
    assert_no_traceback(result)
    pwned = [p for p in hostile_keys["root"].rglob("pwned*")] + [p for p in Path.cwd().glob("pwned*")]
    assert pwned == [], f"a key was run by a shell: {pwned}"
    for key in hostile_keys["keys"].values():
        assert (hostile_keys["home"] / BRONZE / key).is_file(), f"{key!r} not stored verbatim"


def test_hostile_keys_are_stored_verbatim_in_history_and_silver(hostile_keys):
    by_key = {}
    for run in hostile_keys["runs"]:
        by_key.setdefault(run["source_key"], []).append(run)
    for key in hostile_keys["keys"].values():
        assert [r["state"] for r in by_key.get(key, []) if r["job"] == "sales_etl"] == ["SUCCEEDED"], (
            key,
            by_key.get(key),
        )
    sources = {r["_source_key"] for r in read_dataset(hostile_keys["home"], "sales")}
    assert set(hostile_keys["keys"].values()) <= sources, set(hostile_keys["keys"].values()) - sources


def test_sql_injection_key_leaves_the_history_intact(hostile_keys):
    rows = history_rows(hostile_keys["home"])  # the runs table still exists and is readable
    assert any(r["source_key"] == "sales/'); DROP TABLE runs;--.csv" for r in rows)
    again = runs(hostile_keys["home"])
    assert len(again) == len(hostile_keys["runs"]) > 0


# ---- SQL is parameterised ----------------------------------------------------------------------------

SQL_WORDS = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|WHERE|VALUES|SET|DROP|CREATE)\b", re.IGNORECASE)


def _formatted_sql(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            constant = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
            if SQL_WORDS.search(constant) and re.search(r"\b(FROM|INTO|WHERE|SET)\b", constant, re.IGNORECASE):
                found.append(f"f-string SQL at line {node.lineno}: {ast.unparse(node)[:80]}")
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
            if (
                isinstance(node.left, ast.Constant)
                and isinstance(node.left.value, str)
                and SQL_WORDS.search(node.left.value)
            ):
                found.append(f"%-formatted SQL at line {node.lineno}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
            target = node.func.value
            if isinstance(target, ast.Constant) and isinstance(target.value, str) and SQL_WORDS.search(target.value):
                found.append(f".format() SQL at line {node.lineno}")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("execute", "executemany", "executescript")
            and node.args
        ):
            sql = node.args[0]
            if isinstance(sql, ast.JoinedStr):
                found.append(f"execute(f-string) at line {node.lineno}")
    return found


def test_history_sql_uses_parameters_only():
    offenders = {}
    for path in python_files():
        text = path.read_text()
        if "sqlite3" not in text and "execute(" not in text:
            continue
        problems = _formatted_sql(ast.parse(text, str(path)))
        if problems:
            offenders[str(path.relative_to(REPO))] = problems
    assert offenders == {}
    history = (REPO / "data_platform" / "local" / "history.py").read_text()
    assert "?" in history and ".execute(" in history


# ---- the XML parser refuses entities -------------------------------------------------------------


@pytest.mark.parametrize("payload", ["billion_laughs", "xxe_file", "xxe_parameter", "internal_entity"])
def test_xml_parser_refuses_entities(tmp_path, payload):
    from etl.base import InputError
    from etl.jobs.inventory_sync import parse_inventory_xml

    secret = tmp_path / "secret.txt"
    secret.write_text(CANARY)
    text = {
        "billion_laughs": BILLION_LAUGHS,
        "xxe_file": xxe_xml(secret.as_uri()),
        "xxe_parameter": xxe_parameter_entity_xml("http://127.0.0.1:9/dtd"),
        "internal_entity": '<?xml version="1.0"?><!DOCTYPE inventory [<!ENTITY a "A">]>'
        '<inventory snapshot_ts="2024-01-01T00:00:00Z"><item sku="&a;" store_id="1" on_hand="1"/>'
        "</inventory>",
    }[payload]
    started = time.monotonic()
    with pytest.raises(InputError) as caught:
        list(parse_inventory_xml(io.BytesIO(text.encode()), f"inventory/updates/{payload}.xml"))
    assert time.monotonic() - started < 2
    message = str(caught.value)
    assert "\n" not in message and CANARY not in message and "lollol" not in message
    assert "DTD" in message or "entit" in message.lower()
