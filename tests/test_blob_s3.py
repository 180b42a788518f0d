"""Blobs that several machines share: with VEIL_BLOB_URL the encrypted blobs live in an S3 bucket, tested
against a real S3 endpoint on loopback (moto's standalone server, started here). The bucket only ever holds
ciphertext; tampering, a missing object and orphans behave as in the data folder; the whole intake works."""
from __future__ import annotations

import os

import boto3
import pytest

from conftest import grace_hopper_path
from queue_fixtures import s3_bucket
from records import services as sv
from records.audit import SYSTEM
from records.backup import BackupError, create_backup
from records.blob_s3 import S3BlobStore
from records.crypto import DecryptionError, Keys
from records.store import BlobMissing, FileLocks
from records_fixtures import PASSWORD, make_settings, quick_password_hashing  # noqa: F401

SECRET = b"a consent PDF's bytes, or a patient's photo"


@pytest.fixture(scope="module")
def bucket(tmp_path_factory):
    with s3_bucket(tmp_path_factory.mktemp("s3")) as name:
        yield name


def objects(bucket: str) -> dict[str, bytes]:
    client = boto3.client("s3")
    listed = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {o["Key"]: client.get_object(Bucket=bucket, Key=o["Key"])["Body"].read() for o in listed}


def test_the_bucket_holds_only_ciphertext_and_tampering_shows(bucket, tmp_path):
    store = S3BlobStore(f"s3://{bucket}/unit", Keys.load_or_create(tmp_path / "keys" / "k.json"),
                        FileLocks(tmp_path), tmp_path / "work")
    address = store.put_bytes(SECRET)
    key = f"unit/{address[:2]}/{address}"
    stored = objects(bucket)[key]
    assert SECRET not in stored and len(stored) > len(SECRET)            # encrypted before it left
    assert store.exists(address) and store.read_bytes(address) == SECRET and list(store.addresses()) == [address]
    store.verify(address)
    assert not list((tmp_path / "work").iterdir())                       # no ciphertext left behind here

    damaged = bytearray(stored)
    damaged[-5] ^= 0xFF
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=bytes(damaged))
    with pytest.raises(DecryptionError, match="was altered"):
        store.verify(address)

    assert store.delete(address) and not store.exists(address)
    with pytest.raises(BlobMissing):
        store.read_bytes(address)
    orphan = store.put_bytes(b"written, never committed")
    assert store.sweep(set(), grace_seconds=3600).orphan_blobs == []     # young: perhaps about to be named
    assert store.sweep(set(), grace_seconds=0).orphan_blobs == [orphan]


def test_intake_keeps_originals_and_outputs_in_the_bucket_and_nothing_in_the_data_folder(bucket, tmp_path):
    settings = make_settings(tmp_path, blob_url=f"s3://{bucket}/clinic")
    records = sv.open_records(settings)
    try:
        admin = sv.add_user(records, SYSTEM, "admin", PASSWORD, "admin")
        staff = sv.add_user(records, admin, "sam", PASSWORD, "staff")
        asset = sv.upload_media(records, staff, grace_hopper_path(), "jane_doe.jpg")
        output = sv.process(records, staff, asset.id)
        assert output.error is None
        keys = set(objects(bucket))
        assert {f"clinic/{a[:2]}/{a}" for a in (asset.original_sha256, output.sha256)} <= keys
        assert grace_hopper_path().read_bytes() not in objects(bucket).values()
        assert sv.preview_output(records, staff, output.id)[:2] == b"\xff\xd8"
        assert not settings.blob_dir.exists() or not [p for p in settings.blob_dir.rglob("*") if p.is_file()]
        with pytest.raises(BackupError, match="S3 bucket"):
            create_backup(settings, tmp_path / "backup", SYSTEM)
    finally:
        records.close()
    assert os.environ["AWS_ENDPOINT_URL_S3"].startswith("http://127.0.0.1:")
