from __future__ import annotations

import hashlib
import time

import boto3
import pytest
from moto import mock_aws

from etl.storage import LocalStorage, ObjectInfo, S3Storage, storage_for

BRONZE, SILVER = "data-lake-dev-bronze", "data-lake-dev-silver"


@pytest.fixture
def local(tmp_path):
    (tmp_path / BRONZE / "sales").mkdir(parents=True)
    (tmp_path / BRONZE / "sales" / "a.csv").write_bytes(b"abc")
    return LocalStorage(tmp_path, read_only_buckets={BRONZE})


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def test_local_write_list_read_and_atomic_replace(local, tmp_path):
    local.write_bytes(SILVER, "x/_staging/f.bin", b"new")
    local.write_bytes(SILVER, "x/data/f.bin", b"old")
    (tmp_path / SILVER / "x" / "data" / ".f.bin.crc").write_bytes(b"hidden")

    local.replace_from(SILVER, "x/_staging/f.bin", SILVER, "x/data/f.bin")

    assert local.list_objects(SILVER, "x/") == [ObjectInfo("x/data/f.bin", 3, md5(b"new"))]
    assert local.read_bytes(SILVER, "x/data/f.bin") == b"new"
    assert local.spark_path(SILVER, "x/data") == str(tmp_path / SILVER / "x" / "data")
    assert local.delete_prefix(SILVER, "x/") == 2  # the hidden checksum file goes too
    assert local.list_objects(SILVER, "") == [] and not (tmp_path / SILVER / "x").exists()


def test_an_etag_is_the_md5_of_what_the_object_holds_now_however_it_was_rewritten(local, tmp_path):
    """ETags are computed once per version of a file (etl.storage.etag): every way of writing
    the object again must give the new content's MD5, even at the same size."""
    path = tmp_path / BRONZE / "sales" / "a.csv"
    assert local.head(BRONZE, "sales/a.csv") == ObjectInfo("sales/a.csv", 3, md5(b"abc"))
    assert local.head(BRONZE, "sales/a.csv").etag == md5(b"abc")  # asked again: the same

    time.sleep(0.05)  # file times advance by the kernel's clock tick (a few ms)
    with path.open("r+b") as handle:  # in place, same size, same inode
        handle.write(b"abd")
    assert local.head(BRONZE, "sales/a.csv").etag == md5(b"abd")

    staged = tmp_path / BRONZE / "sales" / "staged.tmp"
    staged.write_bytes(b"abe")
    staged.replace(path)  # a rename over it, as every writer of the lake does
    assert [o.etag for o in local.list_objects(BRONZE, "sales/")] == [md5(b"abe")]

    path.unlink()
    path.write_bytes(b"abf")  # deleted and written again
    assert local.head(BRONZE, "sales/a.csv").etag == md5(b"abf")


@pytest.mark.parametrize("key", ["../escape", "/etc/passwd", "a/../../b", "a\x00b"])
def test_keys_may_not_escape_the_bucket(local, key):
    with pytest.raises(ValueError):
        local.write_bytes(SILVER, key, b"x")
    with pytest.raises(ValueError):
        local.read_bytes(SILVER, key)


def test_a_symlink_out_of_the_lake_is_refused(local, tmp_path):
    (tmp_path / SILVER).mkdir()
    (tmp_path / SILVER / "link").symlink_to(tmp_path.parent)
    with pytest.raises(ValueError, match="outside bucket"):
        local.write_bytes(SILVER, "link/x", b"x")


def test_bronze_is_never_written_moved_or_deleted(local, tmp_path):
    before = (tmp_path / BRONZE / "sales" / "a.csv").read_bytes()
    with pytest.raises(PermissionError, match="read-only"):
        local.write_bytes(BRONZE, "sales/b.csv", b"x")
    with pytest.raises(PermissionError):
        local.replace_from(BRONZE, "sales/a.csv", SILVER, "stolen.csv")
    with pytest.raises(PermissionError):
        local.replace_from(SILVER, "x", BRONZE, "sales/a.csv")
    with pytest.raises(PermissionError):
        local.delete_prefix(BRONZE, "sales/")
    assert (tmp_path / BRONZE / "sales" / "a.csv").read_bytes() == before
    assert local.list_objects(BRONZE, "sales/") == [ObjectInfo("sales/a.csv", 3, md5(b"abc"))]


def test_storage_for_picks_the_backend(tmp_path):
    assert isinstance(storage_for(str(tmp_path)), LocalStorage)
    with pytest.raises(ValueError, match="absolute local directory"):
        storage_for("lake")


@mock_aws
def test_s3_storage_round_trip_and_bronze_guard():
    client = boto3.client("s3", region_name="us-east-1")
    for bucket in (BRONZE, SILVER):
        client.create_bucket(Bucket=bucket)
    client.put_object(Bucket=BRONZE, Key="sales/a.csv", Body=b"abc")
    storage = S3Storage(client, read_only_buckets={BRONZE})

    storage.write_bytes(SILVER, "_staging/p.parquet", b"data")
    storage.replace_from(SILVER, "_staging/p.parquet", SILVER, "sales/p.parquet")

    assert storage.list_objects(SILVER, "") == [ObjectInfo("sales/p.parquet", 4, md5(b"data"))]
    assert storage.read_bytes(SILVER, "sales/p.parquet") == b"data"
    assert storage.open_stream(BRONZE, "sales/a.csv").read() == b"abc"
    assert storage.head(BRONZE, "sales/a.csv") == ObjectInfo("sales/a.csv", 3, md5(b"abc"))
    assert (storage.exists(SILVER, "nope"), storage.spark_path(SILVER, "sales")) == (False, f"s3://{SILVER}/sales")
    with pytest.raises(PermissionError):
        storage.write_bytes(BRONZE, "sales/b.csv", b"x")
    with pytest.raises(PermissionError):
        storage.delete_prefix(BRONZE, "sales/")
    with pytest.raises(ValueError):
        storage.write_bytes(SILVER, "../x", b"x")
    assert storage.delete_prefix(SILVER, "sales/") == 1
    assert storage.list_objects(SILVER, "") == []
    assert storage.list_objects(BRONZE, "") == [ObjectInfo("sales/a.csv", 3, md5(b"abc"))]
