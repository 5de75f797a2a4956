"""Job arguments, parsed the way AWS Glue passes them (`--KEY value`).

The cloud runner (Step Functions -> Glue) and the local runner pass the same keys, so a job
never knows where it runs. Glue adds its own arguments (`--JOB_ID`, `--TempDir`,
`--job-bookmark-option`, `--enable-metrics`, ...); they are kept in `extra` and ignored.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType

# The trigger sources and the default names are the contract's (data_platform.contract, which
# the Glue zip carries): the runner that passes the arguments and the job that parses them
# share one definition.
from data_platform.contract.data_docs import check_execution_name
from data_platform.contract.naming import DATA_LAYERS, DEFAULT_NAME_PREFIX, Names
from data_platform.contract.runs import TriggerSource

__all__ = ["JobArguments", "TriggerSource", "argument_pairs", "default_run_id", "parse_job_arguments"]


_KNOWN_KEYS = {
    "JOB_NAME": "job_name",
    "JOB_RUN_ID": "job_run_id",
    "env": "env",
    "trigger_source": "trigger_source",
    "source_bucket": "source_bucket",
    "source_key": "source_key",
    "bronze_bucket": "bronze_bucket",
    "silver_bucket": "silver_bucket",
    "gold_bucket": "gold_bucket",
    "database": "database",
    "source_prefix": "source_prefix",
    "source_suffix": "source_suffix",
    "storage_root": "storage_root",
    "max_drop_ratio": "max_drop_ratio",
    "upstream_job": "upstream_job",
    "upstream_run_id": "upstream_run_id",
    "data_docs_bucket": "data_docs_bucket",
    "data_docs_prefix": "data_docs_prefix",
    "execution_name": "execution_name",
}

# Run ids and names end up inside object keys, so they may not contain "/" or spaces.
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
_ENV = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_JOB_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$")
# Glue (and Athena) database names: lowercase letters, digits and underscores.
_DATABASE = re.compile(r"^[a-z0-9_]{1,255}$")


def default_run_id(now: datetime | None = None) -> str:
    """`local-<UTC yyyymmddTHHMMSS>-<6 hex>`: sortable by start time, unique per process."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"local-{moment:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class JobArguments:
    job_name: str = ""
    job_run_id: str = field(default_factory=default_run_id)
    env: str = "local"
    trigger_source: TriggerSource = TriggerSource.MANUAL
    source_bucket: str | None = None
    source_key: str | None = None
    bronze_bucket: str = ""
    silver_bucket: str = ""
    gold_bucket: str = ""
    database: str = ""  # the catalog database of the silver/gold tables
    source_prefix: str | None = None
    source_suffix: str | None = None
    storage_root: str = "s3://"
    max_drop_ratio: float = 0.05
    upstream_job: str | None = None
    upstream_run_id: str | None = None
    # Where the gate's validations are rendered as Data Docs (both or neither: without them a
    # run writes none), and the runner execution that started the run (names its page's link).
    data_docs_bucket: str | None = None
    data_docs_prefix: str | None = None
    execution_name: str | None = None
    extra: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def from_mapping(cls, values: Mapping[str, str]) -> JobArguments:
        """Build from `{"JOB_NAME": ..., "env": ...}` (keys without the leading `--`)."""
        known: dict[str, object] = {}
        extra: dict[str, str] = {}
        for raw_key, value in values.items():
            key = raw_key[2:] if raw_key.startswith("--") else raw_key
            if key in _KNOWN_KEYS:
                known[_KNOWN_KEYS[key]] = value
            else:
                extra[key] = "" if value is None else str(value)
        return _build(known, extra)

    def bucket_defaults(self) -> dict[str, str]:
        return {"bronze": self.bronze_bucket, "silver": self.silver_bucket, "gold": self.gold_bucket}


def parse_job_arguments(argv: Sequence[str]) -> JobArguments:
    """Parse `--KEY value` / `--KEY=value` pairs; a `--flag` with no value maps to ""."""
    return JobArguments.from_mapping(argument_pairs(argv))


def argument_pairs(argv: Sequence[str]) -> dict[str, str]:
    pairs: dict[str, str] = {}
    tokens = list(argv)
    index = 0
    while index < len(tokens):
        token = tokens[index]
        index += 1
        if not token.startswith("--"):
            continue  # the script name Glue puts first, or a stray positional: ignored
        key, sep, inline = token[2:].partition("=")
        if not key:
            raise ValueError(f"malformed argument {token!r}: expected --KEY value")
        if sep:
            pairs[key] = inline
        elif index < len(tokens) and not tokens[index].startswith("--"):
            pairs[key] = tokens[index]
            index += 1
        else:
            pairs[key] = ""
    return pairs


def _build(known: dict[str, object], extra: dict[str, str]) -> JobArguments:
    values = {k: (v.strip() if isinstance(v, str) else v) for k, v in known.items()}
    # Empty strings mean "not given" (Step Functions passes every key, some empty).
    values = {k: v for k, v in values.items() if v not in ("", None)}

    env = str(values.get("env", "local"))
    if not _ENV.match(env):
        raise ValueError(f"--env {env!r} is invalid: use lowercase letters, digits and '-'")
    values["env"] = env

    raw_trigger = str(values.get("trigger_source", TriggerSource.MANUAL))
    try:
        values["trigger_source"] = TriggerSource(raw_trigger)
    except ValueError:
        allowed = ", ".join(t.value for t in TriggerSource)
        raise ValueError(f"--trigger_source {raw_trigger!r} is unknown: use one of {allowed}") from None

    if "max_drop_ratio" in values:
        values["max_drop_ratio"] = _ratio(str(values["max_drop_ratio"]))

    run_id = str(values.setdefault("job_run_id", default_run_id()))
    if not _RUN_ID.match(run_id):
        raise ValueError(f"--JOB_RUN_ID {run_id!r} is invalid: letters, digits, '_.:-' only, max 128")
    job_name = str(values.get("job_name", ""))
    if job_name and not _JOB_NAME.match(job_name):
        raise ValueError(f"--JOB_NAME {job_name!r} is invalid: letters, digits, '_.-' only")

    names = Names(DEFAULT_NAME_PREFIX, env)
    for layer in DATA_LAYERS:
        bucket = str(values.setdefault(f"{layer}_bucket", names.bucket(layer)))
        if not _BUCKET.match(bucket):
            raise ValueError(f"--{layer}_bucket {bucket!r} is not a valid bucket name")
    database = str(values.setdefault("database", names.glue_database()))
    if not _DATABASE.match(database):
        raise ValueError(f"--database {database!r} is invalid: lowercase letters, digits and '_' only")
    if "source_bucket" in values and not _BUCKET.match(str(values["source_bucket"])):
        raise ValueError(f"--source_bucket {values['source_bucket']!r} is not a valid bucket name")

    root = str(values.get("storage_root", "s3://"))
    if not (root.rstrip("/") in ("s3:", "s3") or root.startswith("/")):
        raise ValueError(f"--storage_root {root!r} must be 's3://' or an absolute local directory")

    _check_trigger(values)
    _check_data_docs(values)
    if "upstream_run_id" in values and not _RUN_ID.match(str(values["upstream_run_id"])):
        raise ValueError(f"--upstream_run_id {values['upstream_run_id']!r} is invalid")
    return JobArguments(**values, extra=MappingProxyType(dict(extra)))  # type: ignore[arg-type]


def _check_trigger(values: dict[str, object]) -> None:
    trigger = values["trigger_source"]
    if trigger is TriggerSource.S3_EVENT and "source_key" not in values:
        raise ValueError("--trigger_source s3_event needs --source_key (the object that was created)")
    if trigger is TriggerSource.JOB_SUCCEEDED and "upstream_run_id" not in values:
        raise ValueError("--trigger_source job_succeeded needs --upstream_run_id (the upstream run)")


def _check_data_docs(values: dict[str, object]) -> None:
    given = [key for key in ("data_docs_bucket", "data_docs_prefix") if key in values]
    if len(given) == 1:
        other = "data_docs_prefix" if given == ["data_docs_bucket"] else "data_docs_bucket"
        raise ValueError(f"--{given[0]} needs --{other} (where the Data Docs go: both or neither)")
    if "data_docs_bucket" in values and not _BUCKET.match(str(values["data_docs_bucket"])):
        raise ValueError(f"--data_docs_bucket {values['data_docs_bucket']!r} is not a valid bucket name")
    if "data_docs_prefix" in values:
        prefix = str(values["data_docs_prefix"])
        # Segments between slashes, each a plain name: no absolute path, no `..`, no backslash.
        folders = prefix.split("/")[:-1]
        if not folders or prefix[-1] != "/" or any(f in ("", ".", "..") or "\\" in f or "\x00" in f for f in folders):
            raise ValueError(
                f"--data_docs_prefix {prefix!r} is invalid: a relative folder ending in '/', e.g. data-docs/dev/"
            )
    if "execution_name" in values:
        problem = check_execution_name(str(values["execution_name"]))
        if problem:
            raise ValueError(f"--execution_name: {problem}")


def _ratio(raw: str) -> float:
    try:
        ratio = float(raw)
    except ValueError:
        raise ValueError(f"--max_drop_ratio {raw!r} is not a number (use e.g. 0.05)") from None
    if not 0.0 <= ratio <= 1.0:
        raise ValueError(f"--max_drop_ratio {raw!r} must be between 0 and 1")
    return ratio
