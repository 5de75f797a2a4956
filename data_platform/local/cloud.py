"""Cloud mode: the same `lake` commands against the deployed stack, through boto3.

- upload: put the file in the stack's real bronze bucket; EventBridge does the rest.
- runs:   Glue `GetJobRuns` for each of the stack's Glue jobs, in the local table's shape.
- replay: list bronze objects and start each matching rule's runner state machine with the
          runner input the rule's input transformer would have sent.

Credentials come from the usual AWS environment (profile, env vars, SSO, instance role).
Routing for replay uses the same patterns and matcher as the local twin (`lake.route`).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from data_platform.config import StackConfig
from data_platform.contract import events
from data_platform.contract.runs import s3_event_transformer
from data_platform.local import LakeError
from data_platform.local.buckets import parse_target
from data_platform.local.lake import RuleMatch, route


def _session(region: str | None):
    import boto3

    return boto3.session.Session(region_name=region) if region else boto3.session.Session()


@dataclass
class Cloud:
    """boto3 clients for one stack; `region` is --region, else the stack's aws:region."""

    stack: StackConfig
    region: str | None = None
    client_factory: Callable[[str], Any] | None = None

    def __post_init__(self) -> None:
        self.region = self.region or self.stack.region
        self.cfg = self.stack.platform
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            factory = self.client_factory or _session(self.region).client
            self._clients[service] = factory(service)
        return self._clients[service]

    @property
    def bronze(self) -> str:
        return self.cfg.bucket_name("bronze")

    def resolved_region(self) -> str:
        region = self.region or self.client("sts").meta.region_name
        if not region:
            raise LakeError("no AWS region: pass --region, set aws:region in the stack or AWS_REGION")
        return region

    # -- upload ---------------------------------------------------------------------------

    def encryption_args(self, kms_key_id: str | None = None) -> dict[str, Any]:
        """SSE-KMS headers that name the bucket's own key.

        `ServerSideEncryption: aws:kms` WITHOUT a key id would use the AWS managed `aws/s3`
        key, not the environment's key; so the key comes from --kms-key-id or the bucket's
        default encryption. If that cannot be read, no header is sent and the bucket default
        (SSE-KMS with the environment's key and a bucket key) applies anyway.
        """
        if kms_key_id:
            return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_id}
        from botocore.exceptions import ClientError

        try:
            config = self.client("s3").get_bucket_encryption(Bucket=self.bronze)
        except ClientError:
            return {}
        for rule in config.get("ServerSideEncryptionConfiguration", {}).get("Rules", []):
            default = rule.get("ApplyServerSideEncryptionByDefault", {})
            if default.get("SSEAlgorithm") == "aws:kms" and default.get("KMSMasterKeyID"):
                return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": default["KMSMasterKeyID"]}
        return {}

    def upload(self, source: Path, target: str, *, kms_key_id: str | None = None) -> tuple[str, list[RuleMatch]]:
        """Upload to the real bronze bucket; returns (key, rules that will start jobs)."""
        key = self.parse_target(target)
        if not Path(source).is_file():
            raise LakeError(f"{source}: no such file")
        extra = self.encryption_args(kms_key_id)
        self.client("s3").upload_file(str(source), self.bronze, key, ExtraArgs=extra or None)
        preview = events.s3_object_created_event(self.bronze, key, Path(source).stat().st_size)
        return key, route(self.cfg, preview)

    def parse_target(self, target: str) -> str:
        return parse_target(target, self.bronze)

    # -- runs -----------------------------------------------------------------------------

    def runs(self, *, limit: int = 20, job: str | None = None) -> tuple[list[GlueJobRun], list[str]]:
        """(runs newest first, warnings) from Glue GetJobRuns for the stack's jobs."""
        from botocore.exceptions import ClientError

        glue = self.client("glue")
        rows: list[GlueJobRun] = []
        warnings: list[str] = []
        for name in sorted(self.cfg.jobs):
            if job and name != job:
                continue
            glue_job = self.cfg.names.glue_job(name)
            try:
                response = glue.get_job_runs(JobName=glue_job, MaxResults=max(1, min(limit, 200)))
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code", "")
                if code == "EntityNotFoundException":
                    warnings.append(f"Glue job {glue_job} does not exist (is the stack deployed?)")
                    continue
                raise
            rows.extend(GlueJobRun.from_glue(name, run) for run in response.get("JobRuns", []))
        rows.sort(key=lambda row: row.started_at or "", reverse=True)
        return rows[:limit], warnings

    # -- replay ---------------------------------------------------------------------------

    def replay(self, prefix: str, since: datetime | None = None, *, dry_run: bool = False) -> list[dict[str, Any]]:
        """Start the runner of every matching rule for each bronze object under `prefix`."""
        region = self.resolved_region()
        account = self.client("sts").get_caller_identity()["Account"]
        paginator = self.client("s3").get_paginator("list_objects_v2")
        # One token per replay: a second replay starts new executions instead of colliding.
        stamp = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"
        started: list[dict[str, Any]] = []
        transformer = s3_event_transformer()
        for page in paginator.paginate(Bucket=self.bronze, Prefix=prefix):
            for item in page.get("Contents", []):
                modified = item["LastModified"]
                if since is not None and modified.astimezone(UTC) < since:
                    continue
                event = events.s3_object_created_event(
                    self.bronze,
                    item["Key"],
                    int(item["Size"]),
                    etag=item.get("ETag", "").strip('"') or "0" * 32,
                    region=region,
                    account=account,
                )
                for match in route(self.cfg, event):
                    run_input = transformer.apply(event)
                    arn = f"arn:aws:states:{region}:{account}:stateMachine:{self.cfg.names.runner(match.job)}"
                    entry = {
                        "key": item["Key"],
                        "rule": match.rule,
                        "job": match.job,
                        "state_machine": arn,
                        "input": run_input,
                        "execution_arn": None,
                    }
                    if not dry_run:
                        name = _execution_name(stamp, item["Key"], match.rule)
                        response = self.client("stepfunctions").start_execution(
                            stateMachineArn=arn, name=name, input=json.dumps(run_input)
                        )
                        entry["execution_arn"] = response["executionArn"]
                    started.append(entry)
        return started


def _execution_name(stamp: str, key: str, rule: str) -> str:
    # Names: 1-80 of [A-Za-z0-9-_]; the digest keeps them unique per (key, rule).
    digest = hashlib.sha256(f"{rule}\0{key}".encode()).hexdigest()[:16]
    return f"replay-{stamp}-{digest}"


def _iso(value: Any) -> str | None:
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return None


@dataclass(frozen=True)
class GlueJobRun:
    """One run of a deployed Glue job (GetJobRuns), in the columns of the local run history.
    Row counts live in the job's run manifest and CloudWatch metrics, not in GetJobRuns."""

    run_id: str | None
    job: str
    glue_job: str | None
    trigger_source: str
    source_key: str
    state: str | None  # Glue's JobRunState
    started_at: str | None
    ended_at: str | None
    rows_read: int | None
    rows_written: int | None
    rows_quarantined: int | None
    quarantine_path: str | None
    error: str | None
    attempts: int

    @classmethod
    def from_glue(cls, job: str, run: dict[str, Any]) -> GlueJobRun:
        arguments = run.get("Arguments", {}) or {}
        return cls(
            run_id=run.get("Id"),
            job=job,
            glue_job=run.get("JobName"),
            trigger_source=arguments.get("--trigger_source", ""),
            source_key=arguments.get("--source_key", ""),
            state=run.get("JobRunState"),
            started_at=_iso(run.get("StartedOn")),
            ended_at=_iso(run.get("CompletedOn")),
            rows_read=None,
            rows_written=None,
            rows_quarantined=None,
            quarantine_path=None,
            error=run.get("ErrorMessage"),
            attempts=int(run.get("Attempt", 0)) + 1,
        )

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}
