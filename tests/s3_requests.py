"""Every S3 request a job run makes, recorded, and each turned into what IAM authorizes.

`RequestLog` hooks a boto3 client (botocore's `provide-client-params` and `after-call`
events give the operation, its parameters and the HTTP status). `MirroredStorage` is the job's
storage for a whole run: every storage call goes to `etl.storage.S3Storage` against moto
(recorded as the storage layer's), and the same objects live in a local folder where Spark
reads and writes them. What Spark itself does on S3 is added as its S3 file systems do it:
before reading or overwriting a path, a HEAD of `key`, a HEAD of `key/` and a LIST of
`key/`, then a GET of each object there; the files a Spark write leaves are PUTs, the files it
removes DELETEs (found by comparing the folder with moto before each storage call).

`authorizations(call)` maps one request to the IAM requests S3 evaluates for it
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html),
with the request context a ListObjects carries (`s3:prefix`, `s3:delimiter`, `s3:max-keys`:
https://docs.aws.amazon.com/AmazonS3/latest/userguide/amazon-s3-policy-keys.html). A HEAD or
GET that found no object also needs `s3:ListBucket`, evaluated without a prefix, or S3 answers
403 instead of 404 (https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from etl.storage import LocalStorage, ObjectInfo, S3Storage
from iam_eval import Request

STORAGE, SPARK = "storage", "spark"


@dataclass(frozen=True)
class S3Call:
    origin: str                  # "storage" (etl.storage through boto3) or "spark" (its file system)
    operation: str               # botocore operation name, e.g. "HeadObject"
    params: dict[str, Any]
    status: int


@dataclass
class RequestLog:
    calls: list[S3Call] = field(default_factory=list)
    origin: str = STORAGE
    paused: bool = False

    def attach(self, client: Any) -> None:
        def remember(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
            context["recorded_params"] = dict(params)

        def record(http_response: Any, model: Any, context: dict[str, Any], **_: Any) -> None:
            if not self.paused:
                self.calls.append(S3Call(self.origin, model.name, context.get("recorded_params", {}),
                                         http_response.status_code))

        client.meta.events.register("provide-client-params.s3", remember)
        client.meta.events.register("after-call.s3", record)

    @contextmanager
    def as_origin(self, origin: str) -> Iterator[None]:
        before, self.origin = self.origin, origin
        try:
            yield
        finally:
            self.origin = before

    @contextmanager
    def pause(self) -> Iterator[None]:
        self.paused = True
        try:
            yield
        finally:
            self.paused = False


def _bucket(bucket: str) -> str:
    return f"arn:aws:s3:::{bucket}"


def _object(bucket: str, key: str) -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


TLS = {"aws:SecureTransport": "true"}  # boto3 and Spark use HTTPS


def authorizations(call: S3Call) -> list[Request]:
    """The IAM requests S3 authorizes for `call` (action, resource, request context)."""
    p, op = call.params, call.operation
    bucket = p.get("Bucket", "")
    if op in ("HeadObject", "GetObject"):
        found = [Request("s3:GetObject", _object(bucket, p["Key"]), TLS)]
        if call.status == 404:
            found.append(Request("s3:ListBucket", _bucket(bucket), TLS))
        return found
    if op in ("PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"):
        return [Request("s3:PutObject", _object(bucket, p["Key"]), TLS)]
    if op == "CopyObject":
        source = p["CopySource"]
        return [Request("s3:GetObject", _object(source["Bucket"], source["Key"]), TLS),
                Request("s3:PutObject", _object(bucket, p["Key"]), TLS)]
    if op == "DeleteObject":
        return [Request("s3:DeleteObject", _object(bucket, p["Key"]), TLS)]
    if op == "DeleteObjects":
        return [Request("s3:DeleteObject", _object(bucket, o["Key"]), TLS) for o in p["Delete"]["Objects"]]
    if op == "AbortMultipartUpload":
        return [Request("s3:AbortMultipartUpload", _object(bucket, p["Key"]), TLS)]
    if op in ("ListObjectsV2", "ListObjects"):
        context = dict(TLS)
        for param, key in (("Prefix", "s3:prefix"), ("Delimiter", "s3:delimiter"), ("MaxKeys", "s3:max-keys")):
            if p.get(param) is not None:
                context[key] = str(p[param])
        return [Request("s3:ListBucket", _bucket(bucket), context)]
    if op == "HeadBucket":
        return [Request("s3:ListBucket", _bucket(bucket), TLS)]
    raise KeyError(f"no IAM mapping for S3 operation {op}; add it to authorizations()")


class MirroredStorage:
    """`etl.storage.Storage` for a job run under test: S3 (moto) is where every storage call
    goes and is recorded; a local folder holds the same objects for Spark."""

    def __init__(self, root: Path, client: Any, log: RequestLog, read_only_buckets: set[str]) -> None:
        self.local = LocalStorage(root, read_only_buckets)
        self.s3 = S3Storage(client, read_only_buckets)
        self.client = client
        self.log = log
        self.root = Path(root)
        self._mirrored: dict[tuple[str, str], tuple[int, int]] = {}

    # -- what Spark does on S3 ------------------------------------------------------------

    def _local_files(self) -> dict[tuple[str, str], tuple[int, int]]:
        found = {}
        for bucket_dir in self.root.iterdir():
            for dirpath, dirnames, filenames in os.walk(bucket_dir):
                # '.'-files are the local file system's own (checksums, temporaries); S3 has none.
                dirnames[:] = [d for d in dirnames if not d.startswith(".")]
                for name in filenames:
                    if not name.startswith("."):
                        path = Path(dirpath) / name
                        stat = path.stat()
                        found[(bucket_dir.name, path.relative_to(bucket_dir).as_posix())] = (
                            stat.st_size, stat.st_mtime_ns)
        return found

    def sync(self) -> None:
        """Spark's writes since the last storage call, as the PUTs and DELETEs they are on S3."""
        now = self._local_files()
        with self.log.as_origin(SPARK):
            for (bucket, key), stat in sorted(now.items()):
                if self._mirrored.get((bucket, key)) != stat:
                    self.client.put_object(Bucket=bucket, Key=key, Body=(self.root / bucket / key).read_bytes())
            for bucket, key in sorted(set(self._mirrored) - set(now)):
                self.client.delete_object(Bucket=bucket, Key=key)
        self._mirrored = now

    def _spark_opens(self, bucket: str, key: str) -> None:
        from botocore.exceptions import ClientError

        folder = key.rstrip("/") + "/"
        with self.log.as_origin(SPARK):
            for probe in dict.fromkeys((key.rstrip("/"), folder)):
                try:
                    self.client.head_object(Bucket=bucket, Key=probe)
                except ClientError:
                    pass  # recorded with its status; Spark goes on to the listing
            listed = self.client.list_objects_v2(Bucket=bucket, Prefix=folder, Delimiter="/", MaxKeys=1000)
            keys = [o["Key"] for o in listed.get("Contents", [])]
            exact = [key] if (bucket, key) in self._mirrored else []
            for name in exact or keys:
                self.client.get_object(Bucket=bucket, Key=name)["Body"].read()

    def spark_path(self, bucket: str, key: str = "") -> str:
        # A bucket root is only ever a base for naming input files (`source_key_column`); Spark
        # is never handed a whole bucket to read or write.
        if key:
            self.sync()
            self._spark_opens(bucket, key)
        return self.local.spark_path(bucket, key)

    # -- the storage layer ----------------------------------------------------------------

    def list_objects(self, bucket: str, prefix: str) -> list[ObjectInfo]:
        self.sync()
        return self.s3.list_objects(bucket, prefix)

    def read_bytes(self, bucket: str, key: str) -> bytes:
        self.sync()
        return self.s3.read_bytes(bucket, key)

    def open_stream(self, bucket: str, key: str) -> IO[bytes]:
        self.sync()
        return self.s3.open_stream(bucket, key)

    def exists(self, bucket: str, key: str) -> bool:
        self.sync()
        return self.s3.exists(bucket, key)

    def head(self, bucket: str, key: str) -> ObjectInfo | None:
        self.sync()
        return self.s3.head(bucket, key)

    def write_bytes(self, bucket: str, key: str, data: bytes) -> None:
        self.sync()
        self.s3.write_bytes(bucket, key, data)
        self.local.write_bytes(bucket, key, data)
        self._mirrored = self._local_files()

    def replace_from(self, src_bucket: str, src_key: str, dst_bucket: str, dst_key: str) -> None:
        self.sync()
        self.s3.replace_from(src_bucket, src_key, dst_bucket, dst_key)
        self.local.replace_from(src_bucket, src_key, dst_bucket, dst_key)
        self._mirrored = self._local_files()

    def delete_prefix(self, bucket: str, prefix: str) -> int:
        self.sync()
        deleted = self.s3.delete_prefix(bucket, prefix)
        self.local.delete_prefix(bucket, prefix)
        self._mirrored = self._local_files()
        return deleted

    def put_source_object(self, bucket: str, key: str, body: bytes) -> None:
        """A source system's upload to bronze: not a request of the job."""
        with self.log.pause():
            self.client.put_object(Bucket=bucket, Key=key, Body=body)
        path = self.root / bucket / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
        self._mirrored = self._local_files()
