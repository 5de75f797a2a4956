"""Object storage the jobs use: S3 on AWS, a folder per bucket on a laptop.

One interface, two implementations, so the job code is the same in both places. A local
"lake home" holds one folder per bucket: bucket B, key K is the file `<root>/<B>/<K>`.

Safety, enforced here rather than trusted to each job:
- keys may not escape their bucket (absolute keys, `..` segments, NUL are refused);
- buckets named in `read_only_buckets` (the job passes its bronze bucket) can never be
  written, replaced or deleted: bronze is the system of record.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol, runtime_checkable


@dataclass(frozen=True, order=True)
class ObjectInfo:
    key: str
    size: int
    etag: str

    def to_dict(self) -> dict[str, object]:
        return {"key": self.key, "size": self.size, "etag": self.etag}


@runtime_checkable
class Storage(Protocol):
    def spark_path(self, bucket: str, key: str = "") -> str: ...
    def list_objects(self, bucket: str, prefix: str) -> list[ObjectInfo]: ...
    def read_bytes(self, bucket: str, key: str) -> bytes: ...
    def open_stream(self, bucket: str, key: str) -> IO[bytes]: ...
    def write_bytes(self, bucket: str, key: str, data: bytes) -> None: ...
    def exists(self, bucket: str, key: str) -> bool: ...
    def head(self, bucket: str, key: str) -> ObjectInfo | None: ...
    def replace_from(self, src_bucket: str, src_key: str, dst_bucket: str, dst_key: str) -> None: ...
    def delete_prefix(self, bucket: str, prefix: str) -> int: ...


def check_key(key: str, *, allow_empty: bool = False) -> str:
    """Refuse keys that could leave the bucket; return the key unchanged."""
    if not isinstance(key, str):
        raise ValueError(f"object key must be a string, got {type(key).__name__}")
    if not key and not allow_empty:
        raise ValueError("object key is empty")
    if "\x00" in key:
        raise ValueError(f"object key {key!r} contains a NUL byte")
    if key.startswith("/") or key.startswith("\\"):
        raise ValueError(f"object key {key!r} is absolute; keys are relative to the bucket")
    if any(part == ".." for part in key.replace("\\", "/").split("/")):
        raise ValueError(f"object key {key!r} contains a '..' segment")
    return key


def check_bucket(bucket: str) -> str:
    if not bucket or "/" in bucket or "\\" in bucket or bucket in (".", "..") or "\x00" in bucket:
        raise ValueError(f"bucket name {bucket!r} is invalid")
    return bucket


class _Guard:
    def __init__(self, read_only_buckets: Iterable[str]) -> None:
        self.read_only_buckets = frozenset(read_only_buckets)

    def _writable(self, bucket: str, action: str, key: str) -> None:
        check_bucket(bucket)
        if bucket in self.read_only_buckets:
            raise PermissionError(
                f"refusing to {action} s3://{bucket}/{key}: bucket {bucket} is read-only for jobs "
                "(bronze is never modified, moved or deleted)"
            )


class LocalStorage(_Guard):
    """Buckets are folders under `root`. Writes are atomic: temp file, then os.replace."""

    def __init__(self, root: str | os.PathLike[str], read_only_buckets: Iterable[str] = ()) -> None:
        super().__init__(read_only_buckets)
        self.root = Path(root).resolve()

    def _path(self, bucket: str, key: str, *, allow_empty: bool = False) -> Path:
        check_bucket(bucket)
        check_key(key, allow_empty=allow_empty)
        bucket_dir = self.root / bucket
        path = (bucket_dir / key) if key else bucket_dir
        # A symlink inside the lake could still point outside it; resolve and re-check.
        resolved = path.resolve()
        if resolved != bucket_dir.resolve() and not resolved.is_relative_to(bucket_dir.resolve()):
            raise ValueError(f"object key {key!r} resolves outside bucket {bucket}")
        return path

    def spark_path(self, bucket: str, key: str = "") -> str:
        return str(self._path(bucket, key, allow_empty=True))

    def list_objects(self, bucket: str, prefix: str) -> list[ObjectInfo]:
        bucket_dir = self._path(bucket, "", allow_empty=True)
        check_key(prefix, allow_empty=True)
        start = bucket_dir / prefix.rsplit("/", 1)[0] if "/" in prefix else bucket_dir
        if not start.is_dir():
            return []
        found: list[ObjectInfo] = []
        for dirpath, dirnames, filenames in os.walk(start):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            for name in filenames:
                if name.startswith("."):
                    continue
                path = Path(dirpath) / name
                key = path.relative_to(bucket_dir).as_posix()
                if key.startswith(prefix):
                    stat = path.stat()
                    found.append(ObjectInfo(key, stat.st_size, etag(path, stat)))
        return sorted(found)

    def head(self, bucket: str, key: str) -> ObjectInfo | None:
        path = self._path(bucket, key)
        if not path.is_file():
            return None
        stat = path.stat()
        return ObjectInfo(key, stat.st_size, etag(path, stat))

    def read_bytes(self, bucket: str, key: str) -> bytes:
        return self._path(bucket, key).read_bytes()

    def open_stream(self, bucket: str, key: str) -> IO[bytes]:
        return self._path(bucket, key).open("rb")

    def write_bytes(self, bucket: str, key: str, data: bytes) -> None:
        self._writable(bucket, "write", key)
        path = self._path(bucket, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def exists(self, bucket: str, key: str) -> bool:
        return self._path(bucket, key).is_file()

    def replace_from(self, src_bucket: str, src_key: str, dst_bucket: str, dst_key: str) -> None:
        # The source is moved away, so it must be writable too.
        self._writable(src_bucket, "move", src_key)
        self._writable(dst_bucket, "replace", dst_key)
        src = self._path(src_bucket, src_key)
        dst = self._path(dst_bucket, dst_key)
        dst.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(src, dst)  # atomic within one filesystem
        except OSError:
            # Different filesystems: copy next to the target, then rename atomically.
            fd, tmp = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".tmp", dir=dst.parent)
            os.close(fd)
            shutil.copyfile(src, tmp)
            os.replace(tmp, dst)
            src.unlink()

    def delete_prefix(self, bucket: str, prefix: str) -> int:
        self._writable(bucket, "delete", prefix)
        if not prefix:
            raise ValueError("refusing to delete a whole bucket (empty prefix)")
        bucket_dir = self._path(bucket, "", allow_empty=True)
        deleted = 0
        for info in self._all_files(bucket_dir, prefix):
            info.unlink()
            deleted += 1
        _prune_empty_dirs(bucket_dir, prefix)
        return deleted

    def _all_files(self, bucket_dir: Path, prefix: str) -> list[Path]:
        check_key(prefix)
        start = bucket_dir / prefix.rsplit("/", 1)[0] if "/" in prefix else bucket_dir
        if not start.is_dir():
            return []
        paths = []
        for dirpath, _dirs, filenames in os.walk(start):
            for name in filenames:  # hidden files too: staging leaves .crc files behind
                path = Path(dirpath) / name
                if path.relative_to(bucket_dir).as_posix().startswith(prefix):
                    paths.append(path)
        return paths


def _prune_empty_dirs(bucket_dir: Path, prefix: str) -> None:
    start = bucket_dir / prefix.rsplit("/", 1)[0] if "/" in prefix else bucket_dir
    if not start.is_dir():
        return
    for dirpath, _dirs, _files in sorted(os.walk(start), key=lambda t: -len(t[0])):
        path = Path(dirpath)
        if path != bucket_dir and not any(path.iterdir()):
            path.rmdir()


def etag(path: Path, stat: os.stat_result) -> str:
    """The ETag S3 gives an object uploaded in one part (its MD5; a fingerprint here, not a
    safeguard), computed once per version of the file.

    S3 computes an ETag once, when the object is written, and lists it for free; here it is
    the MD5 of the file. A scheduled run lists every object under its prefix, so a home with
    a long history hashed all of it in every run (101 daily files of 5,000 rows: 38 MB, 53 ms
    of each run, more every day; 1 ms once hashed). A process keeps each digest (the warm
    engine serves many runs) for one version of the file: its path, inode, size and
    modification and change times. Writing the file again, in place or by a rename over it
    (how every writer here writes), changes them. Local bronze (data_platform.local.buckets)
    gives its objects the same ETag."""
    return _md5_of_version(str(path), stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)


@functools.lru_cache(maxsize=65_536)
def _md5_of_version(path: str, _inode: int, _size: int, _mtime_ns: int, _ctime_ns: int) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, lambda: hashlib.md5(usedforsecurity=False)).hexdigest()


class S3Client(Protocol):
    """The calls S3Storage makes of a boto3 S3 client (boto3 takes keyword arguments only)."""

    def get_paginator(self, operation_name: str) -> Any: ...
    def head_object(self, **kwargs: Any) -> dict[str, Any]: ...
    def get_object(self, **kwargs: Any) -> dict[str, Any]: ...
    def put_object(self, **kwargs: Any) -> dict[str, Any]: ...
    def copy_object(self, **kwargs: Any) -> dict[str, Any]: ...
    def delete_object(self, **kwargs: Any) -> dict[str, Any]: ...
    def delete_objects(self, **kwargs: Any) -> dict[str, Any]: ...


class S3Storage(_Guard):
    """S3 through boto3. A PUT and a copy are each atomic per object."""

    def __init__(self, client: S3Client | None = None, read_only_buckets: Iterable[str] = ()) -> None:
        super().__init__(read_only_buckets)
        if client is None:
            import boto3

            client = boto3.client("s3")
        self.client = client

    def spark_path(self, bucket: str, key: str = "") -> str:
        check_bucket(bucket)
        check_key(key, allow_empty=True)
        return f"s3://{bucket}/{key}"

    def list_objects(self, bucket: str, prefix: str) -> list[ObjectInfo]:
        check_bucket(bucket)
        check_key(prefix, allow_empty=True)
        paginator = self.client.get_paginator("list_objects_v2")
        found = []
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                found.append(ObjectInfo(item["Key"], int(item["Size"]), item["ETag"].strip('"')))
        return sorted(found)

    def head(self, bucket: str, key: str) -> ObjectInfo | None:
        from botocore.exceptions import ClientError

        check_bucket(bucket)
        check_key(key)
        try:
            meta = self.client.head_object(Bucket=bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return ObjectInfo(key, int(meta["ContentLength"]), meta["ETag"].strip('"'))

    def read_bytes(self, bucket: str, key: str) -> bytes:
        return self.open_stream(bucket, key).read()

    def open_stream(self, bucket: str, key: str) -> IO[bytes]:
        check_bucket(bucket)
        check_key(key)
        return self.client.get_object(Bucket=bucket, Key=key)["Body"]

    def write_bytes(self, bucket: str, key: str, data: bytes) -> None:
        self._writable(bucket, "write", key)
        check_key(key)
        self.client.put_object(Bucket=bucket, Key=key, Body=data)

    def exists(self, bucket: str, key: str) -> bool:
        return self.head(bucket, key) is not None

    def replace_from(self, src_bucket: str, src_key: str, dst_bucket: str, dst_key: str) -> None:
        self._writable(src_bucket, "move", src_key)
        self._writable(dst_bucket, "replace", dst_key)
        check_key(src_key)
        check_key(dst_key)
        self.client.copy_object(Bucket=dst_bucket, Key=dst_key, CopySource={"Bucket": src_bucket, "Key": src_key})
        self.client.delete_object(Bucket=src_bucket, Key=src_key)

    def delete_prefix(self, bucket: str, prefix: str) -> int:
        self._writable(bucket, "delete", prefix)
        if not prefix:
            raise ValueError("refusing to delete a whole bucket (empty prefix)")
        keys = [info.key for info in self.list_objects(bucket, prefix)]
        for start in range(0, len(keys), 1000):
            batch = [{"Key": key} for key in keys[start : start + 1000]]
            self.client.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
        return len(keys)


def storage_for(root: str, read_only_buckets: Iterable[str] = ()) -> Storage:
    """`s3://` -> S3Storage; an absolute directory -> LocalStorage rooted there."""
    if root.rstrip("/") in ("s3:", "s3"):
        return S3Storage(read_only_buckets=read_only_buckets)
    if os.path.isabs(root):
        return LocalStorage(root, read_only_buckets=read_only_buckets)
    raise ValueError(f"storage root {root!r} must be 's3://' or an absolute local directory")
