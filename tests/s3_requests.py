"""Every S3 request a job run makes, recorded, and each turned into what IAM authorizes.

`RequestLog` hooks a boto3 client (botocore's `provide-client-params` and `after-call`
events give the operation, its parameters and the HTTP status). `MirroredStorage` is the job's
storage for a whole run: every storage call goes to `etl.storage.S3Storage` against moto
(recorded as the storage layer's), and the same objects live in a local folder where Spark
reads and writes them. What Spark itself does on S3 is added as its S3 file systems do it:
before reading or overwriting a path, a HEAD of `key`, a HEAD of `key/` and a LIST of
`key/`, then a GET of each object there; the files a Spark write leaves are PUTs, the files it
removes DELETEs (found by comparing the folder with moto before each storage call).

Silver and gold are Iceberg tables: their data, manifest and metadata files appear in the
folder as the local catalog's commits write them (PUTs) and remove them (DELETEs: old metadata
after a commit, expired snapshots' files). The files Iceberg reads are found by their access
time: `begin_run` sets the access time of every table file to 0, so the kernel (relatime)
updates it on the next read, and `end_run` replays each read as a GET. A table whose metadata
was read or newly written was loaded (and, with a new metadata file, committed) by the run:
`glue_calls` turns that into the Glue Data Catalog calls Iceberg's GlueCatalog makes for it.

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

from iam_eval import Request

from etl.storage import LocalStorage, ObjectInfo, S3Storage

STORAGE, SPARK = "storage", "spark"
TABLE_AREAS = ("data", "metadata")  # a table's files: <dataset>/data/..., <dataset>/metadata/...


@dataclass(frozen=True)
class S3Call:
    origin: str  # "storage" (etl.storage through boto3) or "spark" (its file system)
    operation: str  # botocore operation name, e.g. "HeadObject"
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
                self.calls.append(
                    S3Call(self.origin, model.name, context.get("recorded_params", {}), http_response.status_code)
                )

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
        return [
            Request("s3:GetObject", _object(source["Bucket"], source["Key"]), TLS),
            Request("s3:PutObject", _object(bucket, p["Key"]), TLS),
        ]
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


def table_of(key: str) -> str | None:
    """The dataset whose table file `key` is (`sales/metadata/v2.metadata.json` -> `sales`)."""
    parts = key.split("/")
    return parts[0] if len(parts) > 2 and parts[1] in TABLE_AREAS and not parts[0].startswith("_") else None


@dataclass(frozen=True)
class TableActivity:
    """What one run did to the tables, as seen on storage: (bucket, dataset) pairs."""

    loaded: frozenset[tuple[str, str]]  # its current metadata was read, or a new one written
    committed: frozenset[tuple[str, str]]  # a new metadata file was written


@dataclass(frozen=True)
class GlueCall:
    operation: str  # GetDatabase | GetTable | UpdateTable
    database: str
    table: str = ""


def glue_calls(activity: TableActivity, database: str) -> list[GlueCall]:
    """The Glue Data Catalog calls Iceberg's GlueCatalog (1.7.1) makes for a run
    (aws/src/main/java/org/apache/iceberg/aws/glue/GlueCatalog.java, GlueTableOperations.java):
    a run that commits first checks its database (`CREATE NAMESPACE IF NOT EXISTS`:
    GetDatabase); every table it loads is a GetTable; a commit refreshes the table (GetTable)
    and swaps its metadata location with UpdateTable."""
    calls = [GlueCall("GetDatabase", database)] if activity.committed else []
    calls += [GlueCall("GetTable", database, dataset) for _, dataset in sorted(activity.loaded)]
    for _, dataset in sorted(activity.committed):
        calls += [GlueCall("GetTable", database, dataset), GlueCall("UpdateTable", database, dataset)]
    return calls


def glue_authorizations(call: GlueCall, region: str, account: str) -> list[Request]:
    """A Data Catalog call is authorized on the catalog, the database and (for a table call) the
    table, each by its ARN (https://docs.aws.amazon.com/glue/latest/dg/glue-specifying-resource-arns.html)."""
    head = f"arn:aws:glue:{region}:{account}"
    resources = [f"{head}:catalog", f"{head}:database/{call.database}"]
    if call.table:
        resources.append(f"{head}:table/{call.database}/{call.table}")
    return [Request(f"glue:{call.operation}", resource, TLS) for resource in resources]


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
        self._tables_before: dict[tuple[str, str], tuple[int, int]] = {}

    # -- what Iceberg does to the tables ----------------------------------------------------

    def begin_run(self) -> None:
        """Mark every table file unread: access time 0, modification time kept."""
        self.sync()
        self._tables_before = {where: stat for where, stat in self._mirrored.items() if table_of(where[1])}
        for (bucket, key), (_, mtime_ns) in self._tables_before.items():
            os.utime(self.root / bucket / key, ns=(0, mtime_ns))

    def end_run(self) -> TableActivity:
        """Replay the reads of table files as GETs, record the run's writes and deletes, and
        say which tables the run loaded and committed."""
        read = []
        for (bucket, key), _stat in sorted(self._tables_before.items()):
            path = self.root / bucket / key
            if path.exists() and os.stat(path).st_atime_ns > 0:
                read.append((bucket, key))
        with self.log.as_origin(SPARK):
            for bucket, key in read:
                self.client.get_object(Bucket=bucket, Key=key)["Body"].read()
        self.sync()
        written = [where for where in self._mirrored if where not in self._tables_before]
        committed = {(b, table_of(k)) for b, k in written if table_of(k) and k.endswith(".metadata.json")}
        loaded = {(b, table_of(k)) for b, k in read if k.endswith(".metadata.json")} | committed
        return TableActivity(frozenset(loaded), frozenset(committed))  # type: ignore[arg-type]

    def list_table(self, bucket: str, dataset: str) -> None:
        """What `remove_orphan_files` does on S3: list every object under the table's location."""
        with self.log.as_origin(SPARK):
            self.client.list_objects_v2(Bucket=bucket, Prefix=f"{dataset}/")

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
                            stat.st_size,
                            stat.st_mtime_ns,
                        )
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
