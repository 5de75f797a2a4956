"""The stack's buckets as folders under the lake home: keys refused where S3 or a local file
system would refuse them, objects written whole.

A bucket is `<home>/<bucket name>`, an object is the file at its key. Names starting with
`.` are never keys (temporary files, the lake's own state), so a reader or `lake watch` never
sees half a file.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from data_platform.local import LakeError
from etl.storage import etag

MAX_KEY_BYTES = 1024  # S3's limit
MAX_SEGMENT_BYTES = 255  # a file name on every common filesystem


def validate_key(key: str) -> str:
    """Refuse keys that are not plain relative S3 keys, or cannot be stored as a local file.

    Spaces, '+', '=' and unicode are fine (S3 allows them; EventBridge passes them as-is).
    """
    if not key:
        raise LakeError("the key is empty; give a key such as sales/2024-01-01.csv")
    if "\x00" in key:
        raise LakeError(f"key {key!r} contains a NUL byte")
    if key.startswith("/") or key.startswith("\\"):
        raise LakeError(f"key {key!r} is absolute; keys are relative to the bucket, e.g. sales/day.csv")
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise LakeError(f"key is {len(key.encode('utf-8'))} bytes; S3 allows at most {MAX_KEY_BYTES}")
    segments = key.split("/")
    for segment in segments:
        if segment == "":
            raise LakeError(f"key {key!r} has an empty segment ('//' or a trailing '/'); name a file")
        if segment in (".", "..") or ".." in segment.split("\\"):
            raise LakeError(f"key {key!r} contains a '{segment}' segment; keys may not climb out of the bucket")
        if segment.startswith("."):
            raise LakeError(
                f"key {key!r}: names starting with '.' are reserved locally (temporary files); rename the segment"
            )
        if len(segment.encode("utf-8")) > MAX_SEGMENT_BYTES:
            raise LakeError(
                f"key {key!r}: the segment '{segment[:20]}...' is longer than "
                f"{MAX_SEGMENT_BYTES} bytes, which no local filesystem stores"
            )
    return key


@dataclass(frozen=True)
class StoredObject:
    bucket: str
    key: str
    path: Path
    size: int
    etag: str
    mtime_ns: int
    replaced: bool = False  # the key held an object before (S3 would keep it as a noncurrent version)


def parse_target(target: str, bucket: str, *, why: str = "") -> str:
    """`KEY` or `s3://<bucket>/KEY` -> KEY; any other bucket is refused (`why` says why)."""
    if target.startswith("s3://"):
        named, _, key = target[len("s3://") :].partition("/")
        if named != bucket:
            raise LakeError(
                f"{target}: bucket '{named}' is not this stack's bronze bucket '{bucket}'" + (f"; {why}" if why else "")
            )
        return validate_key(key)
    return validate_key(target)


class BucketFolder:
    """One bucket's folder under the lake home."""

    def __init__(self, home: Path, bucket: str) -> None:
        self.bucket = bucket
        self.root = home / bucket

    def object_path(self, key: str) -> Path:
        """The file holding `key`; refused if it would resolve outside the bucket folder."""
        validate_key(key)
        bucket_dir = self.root.resolve()
        path = bucket_dir / key
        # A symlinked folder inside the bucket could still point elsewhere: resolve and re-check.
        if not path.resolve().is_relative_to(bucket_dir):
            raise LakeError(f"key {key!r} resolves outside bucket {self.bucket} (a symlink?); refusing it")
        return path

    def put(self, source: Path | str, key: str, *, before_visible: Callable[[int, int], object]) -> StoredObject:
        """Copy `source` to `key`: temp file + fsync + os.replace, so a reader never sees half a
        file; `before_visible(size, mtime_ns)` runs before the rename (which keeps both).
        Overwriting is allowed (like S3); nothing is deleted."""
        source = Path(source)
        if not source.is_file():
            raise LakeError(f"{source}: no such file" if not source.exists() else f"{source}: not a file")
        dest = self.object_path(key)
        if dest.is_dir():
            raise LakeError(f"key {key!r} is a folder in local bronze (other keys start with '{key}/')")
        replaced = dest.is_file()
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise LakeError(
                f"key {key!r}: a parent of it is an object in local bronze; S3 allows that, a folder on disk cannot"
            ) from None
        digest = hashlib.md5(usedforsecurity=False)
        fd, tmp_name = tempfile.mkstemp(prefix=".upload-", suffix=".tmp", dir=dest.parent)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out, source.open("rb") as src:
                for chunk in iter(lambda: src.read(1 << 20), b""):
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            stat = tmp.stat()
            before_visible(stat.st_size, stat.st_mtime_ns)
            os.replace(tmp, dest)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return StoredObject(self.bucket, key, dest, stat.st_size, digest.hexdigest(), stat.st_mtime_ns, replaced)

    def stored(self, key: str, *, with_etag: bool = True) -> StoredObject:
        path = self.object_path(key)
        if not path.is_file():
            raise LakeError(f"s3://{self.bucket}/{key} does not exist in local bronze ({path})")
        stat = path.stat()
        return StoredObject(
            self.bucket, key, path, stat.st_size, etag(path, stat) if with_etag else "", stat.st_mtime_ns
        )

    def objects(self, prefix: str = "") -> list[StoredObject]:
        """Objects under `prefix`, sorted by key; hidden/temp files skipped. No md5 here (the
        watcher lists often); `stored` computes it when an object is routed."""
        found: list[StoredObject] = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            for name in filenames:
                if name.startswith("."):
                    continue
                path = Path(dirpath) / name
                key = path.relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    stat = path.stat()
                    found.append(StoredObject(self.bucket, key, path, stat.st_size, "", stat.st_mtime_ns))
        return sorted(found, key=lambda o: o.key)
