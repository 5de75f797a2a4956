"""Reading bronze: cheap pre-read checks in Python, then one explicit-schema Spark read.

Spark reads garbage politely (gzip bytes as text, invalid UTF-8 as U+FFFD, a wrong header
by position), so each format is checked first and a file that is not what its name says is
refused with a message naming the key and the problem (`InputError`).
"""

from __future__ import annotations

import codecs
import csv
import json
import re
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from typing import IO

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from etl.base import ROW_SEQ, InputError, JobContext
from etl.storage import ObjectInfo

_CHUNK = 1 << 20
_MAGIC = {
    b"\x1f\x8b": "gzip-compressed",
    b"PK\x03\x04": "a zip archive",
    b"BZh": "bzip2-compressed",
    b"\x28\xb5\x2f\xfd": "zstd-compressed",
    b"PAR1": "a Parquet file",
}


def string_schema(columns: Sequence[str]) -> StructType:
    return StructType([StructField(c, StringType(), True) for c in columns])


def sniff_binary(key: str, head: bytes, expected: str) -> None:
    for magic, what in _MAGIC.items():
        if head.startswith(magic):
            raise InputError(f"{key}: the file is {what}, not {expected}; upload it uncompressed", key)


@dataclass(frozen=True)
class TextScan:
    first_line: str  # BOM and a trailing CR removed
    has_quotes: bool  # a '"' occurs somewhere: fields may hold quoted newlines


def check_utf8_text(stream: IO[bytes], key: str, expected: str) -> TextScan:
    """Stream-decode the whole object as UTF-8; return its first line and whether it quotes."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    first_line: list[str] = []
    have_line = False
    offset = 0
    saw_text = False
    has_quotes = False
    while chunk := stream.read(_CHUNK):
        if offset == 0:
            sniff_binary(key, chunk, expected)
        try:
            text = decoder.decode(chunk)
        except UnicodeDecodeError as error:
            bad = offset + error.start
            raise InputError(
                f"{key}: not UTF-8 text (invalid byte 0x{chunk[error.start]:02x} at offset {bad}); "
                "re-export it as UTF-8",
                key,
            ) from None
        if "\x00" in text:
            raise InputError(f"{key}: contains NUL bytes, it looks binary, not {expected}", key)
        saw_text = saw_text or bool(text.strip())
        has_quotes = has_quotes or '"' in text
        if not have_line:
            head, newline, _ = text.partition("\n")
            first_line.append(head)
            have_line = bool(newline)
        offset += len(chunk)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise InputError(
            f"{key}: not UTF-8 text (truncated character at the end); re-export it as UTF-8", key
        ) from None
    if not saw_text:
        raise InputError(f"{key}: the file is empty", key)
    return TextScan("".join(first_line).rstrip("\r"), has_quotes)


@dataclass(frozen=True)
class CsvLayout:
    """How one CSV file is laid out: its header in file order, and whether it needs
    multi-line parsing (a quoted field may span lines; such files cannot be split)."""

    header: tuple[str, ...]
    multiline: bool


def check_csv(stream: IO[bytes], key: str, columns: Sequence[str]) -> CsvLayout:
    """The file is UTF-8 CSV whose header names every required column exactly once.

    Columns are matched by NAME: any order is fine and unknown extra columns are ignored
    (an exporter adding a column must not stop the feed); a missing or repeated required
    column refuses the file.
    """
    scan = check_utf8_text(stream, key, "CSV text")
    try:
        names = next(csv.reader([scan.first_line]), [])
    except csv.Error as error:
        raise InputError(f"{key}: CSV header {scan.first_line[:200]!r} cannot be parsed ({error})", key) from None
    header = tuple(name.strip() for name in names)
    missing = [c for c in columns if c not in header]
    if missing:
        raise InputError(
            f"{key}: CSV header is {scan.first_line[:200]!r}; it lacks {', '.join(missing)} "
            f"(expected the columns {','.join(columns)}, in any order, comma-separated)",
            key,
        )
    repeated = sorted({c for c in columns if header.count(c) > 1})
    if repeated:
        raise InputError(f"{key}: CSV header names {', '.join(repeated)} more than once; keep one of each", key)
    return CsvLayout(header, scan.has_quotes)


def _file_schema(header: Sequence[str], columns: Sequence[str]) -> StructType:
    """The file's own column order; unknown columns get placeholder names (never selected)."""
    wanted = set(columns)
    return string_schema([name if name in wanted else f"_extra_{i}" for i, name in enumerate(header)])


def read_csv(
    spark: SparkSession,
    files: Sequence[tuple[str, str, CsvLayout]],
    columns: Sequence[str],
    spark_root: str,
) -> DataFrame:
    """All files (`(key, spark path, layout)`), one Spark read per distinct layout (usually
    one): the required columns by name, every one a string, plus `_source_key` and `_row_seq`."""
    groups: dict[CsvLayout, list[tuple[str, str]]] = {}
    for key, path, layout in files:
        groups.setdefault(layout, []).append((key, path))
    frames = []
    for layout, group in groups.items():
        keys, paths = [k for k, _ in group], [p for _, p in group]
        df = (
            spark.read.schema(_file_schema(layout.header, columns))
            .option("header", True)
            .option("mode", "PERMISSIVE")
            .option("encoding", "UTF-8")
            .option("multiLine", layout.multiline)
            .option("escape", '"')  # RFC 4180: a quote inside a quoted field is doubled
            .csv(paths)
        )
        frames.append(with_source(df.select(*columns), spark_root, keys))
    if not frames:
        frames.append(with_source(spark.createDataFrame([], string_schema(columns)), spark_root, []))
    df = frames[0]
    for other in frames[1:]:
        df = df.unionByName(other)
    return with_row_seq(df)


def with_row_seq(df: DataFrame) -> DataFrame:
    # monotonically_increasing_id grows with the position in a file (splits are read in
    # order), which is what "the last occurrence in a file wins" needs.
    return df.withColumn(ROW_SEQ, F.monotonically_increasing_id())


def with_source(df: DataFrame, spark_root: str, keys: Sequence[str]) -> DataFrame:
    """`df` (one read of the objects `keys`) with each row's `_source_key`. A read of one
    object gets that key as a constant; a read of several finds each row's object from
    `input_file_name()`: a URL decode and two regular expressions per row, which cost more
    than the CSV parse itself, so the common case of one object skips them."""
    key = F.lit(keys[0]) if len(keys) == 1 else source_key_column(spark_root)
    return df.withColumn("_source_key", key)


def source_key_column(spark_root: str) -> Column:
    """The bronze key of each row, from `input_file_name()` (URL-encoded by Spark).

    `spark_root` is `Storage.spark_path(bucket)`; the scheme is dropped on both sides so that
    `file:///lake/b/k` and `/lake/b/k` (or `s3://b/k`) compare equal.
    """
    base = re.sub(r"^[A-Za-z0-9]+:/*", "/", spark_root.rstrip("/") + "/")
    if not base.startswith("/"):
        base = "/" + base
    decoded = F.expr("url_decode(replace(input_file_name(), '+', '%2B'))")
    normalized = F.regexp_replace(decoded, r"^[A-Za-z0-9]+:/*", "/")
    return F.when(normalized.startswith(base), normalized.substr(len(base) + 1, 1 << 30))


# ---- JSON -------------------------------------------------------------------------------------


def json_layout(stream: IO[bytes], key: str) -> str:
    """`array` or `lines`, from the first non-space byte (no schema inference)."""
    while chunk := stream.read(4096):
        sniff_binary(key, chunk, "JSON")
        stripped = chunk.lstrip(b" \t\r\n\xef\xbb\xbf")
        if not stripped:
            continue
        first = stripped[:1]
        if first == b"[":
            return "array"
        if first == b"{":
            return "lines"
        raise InputError(f"{key}: not JSON (starts with {first!r}; expected '[' or '{{')", key)
    raise InputError(f"{key}: the file is empty", key)


def check_json_records(stream: IO[bytes], key: str, layout: str, field_types: dict[str, tuple[type, ...]]) -> None:
    """Every record is a JSON object whose known fields have the declared JSON types."""
    text_stream = codecs.getreader("utf-8-sig")(stream)
    try:
        if layout == "array":
            records = json.load(text_stream)
            if not isinstance(records, list):
                raise InputError(f"{key}: expected a JSON array of objects", key)
            for index, record in enumerate(records):
                _check_record(record, key, f"element {index}", field_types)
        else:
            for number, line in enumerate(text_stream, start=1):
                if line.strip():
                    _check_record(json.loads(line), key, f"line {number}", field_types)
    except UnicodeDecodeError as error:
        raise InputError(f"{key}: not UTF-8 text ({error.reason}); re-export it as UTF-8", key) from None
    except json.JSONDecodeError as error:
        where = f"line {number}" if layout == "lines" else f"line {error.lineno} column {error.colno}"
        raise InputError(f"{key}: invalid JSON at {where}: {error.msg}", key) from None


def _check_record(record: object, key: str, where: str, field_types: dict[str, tuple[type, ...]]) -> None:
    if not isinstance(record, dict):
        raise InputError(f"{key}: {where} is {type(record).__name__}, expected a JSON object", key)
    for name, allowed in field_types.items():
        value = record.get(name)
        if value is None:
            continue
        # bool is an int in Python: a boolean is never accepted as a number.
        ok = isinstance(value, allowed) and not (isinstance(value, bool) and bool not in allowed)
        if not ok:
            wanted = " or ".join(_type_name(t) for t in allowed)
            raise InputError(f"{key}: {where}: field {name!r} is {json.dumps(value)[:60]}, expected {wanted}", key)


def _type_name(kind: type) -> str:
    return {str: "a string", int: "a number", float: "a number", bool: "true/false", dict: "an object"}.get(
        kind, kind.__name__
    )


def read_json(
    spark: SparkSession, files: Sequence[tuple[str, str]], schema: StructType, layout: str, spark_root: str
) -> DataFrame:
    """The JSON objects `files` (`(key, spark path)`) of one layout, plus `_source_key` and
    `_row_seq` (see read_csv)."""
    paths = [path for _, path in files]
    df = spark.read.schema(schema).option("multiLine", layout == "array").option("mode", "PERMISSIVE").json(paths)
    return with_row_seq(with_source(df, spark_root, [key for key, _ in files]))


class CsvSource:
    """Mixin for a `BaseGlueJob` whose bronze input is CSV holding `bronze_columns`:
    `check_source` checks each file and remembers its layout, `extract` reads them all."""

    bronze_columns: tuple[str, ...]

    def check_source(self, ctx: JobContext, obj: ObjectInfo) -> None:
        super().check_source(ctx, obj)  # type: ignore[misc]
        with closing(self.storage.open_stream(self.args.bronze_bucket, obj.key)) as stream:  # type: ignore[attr-defined]
            self._layouts()[obj.key] = check_csv(stream, obj.key, self.bronze_columns)

    def extract(self, ctx: JobContext) -> DataFrame:
        bucket, storage, layouts = self.args.bronze_bucket, self.storage, self._layouts()  # type: ignore[attr-defined]
        files = [(o.key, storage.spark_path(bucket, o.key), layouts[o.key]) for o in ctx.inputs]
        ctx.constant_source_key = ctx.inputs[0].key if len(ctx.inputs) == 1 else None
        return read_csv(self.spark, files, self.bronze_columns, storage.spark_path(bucket))  # type: ignore[attr-defined]

    def _layouts(self) -> dict[str, CsvLayout]:
        return self.__dict__.setdefault("_csv_layouts", {})
