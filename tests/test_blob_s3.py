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
from records.backup import BackupError, create_backup, restore_backup, verify_backup
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
    finally:
        records.close()
    assert os.environ["AWS_ENDPOINT_URL_S3"].startswith("http://127.0.0.1:")


def test_a_backup_copies_the_buckets_ciphertext_and_restores_into_a_folder_or_an_empty_bucket(bucket, tmp_path):
    settings = make_settings(tmp_path / "clinic", blob_url=f"s3://{bucket}/backed")
    records = sv.open_records(settings)
    try:
        admin = sv.add_user(records, SYSTEM, "admin", PASSWORD, "admin")
        staff = sv.add_user(records, admin, "sam", PASSWORD, "staff")
        output = sv.process(records, staff, sv.upload_media(records, staff, grace_hopper_path(), "jane_doe.jpg").id)
        preview = sv.preview_output(records, staff, output.id)
    finally:
        records.close()
    in_bucket = {key.rsplit("/", 1)[1]: body for key, body in objects(bucket).items() if key.startswith("backed/")}

    summary = create_backup(settings, tmp_path / "backup", SYSTEM)
    assert summary["counts"]["blobs"] == 2 and summary["problems"] == []
    copied = {p.name: p.read_bytes() for p in (tmp_path / "backup" / "blobs").glob("??/*")}
    assert copied == in_bucket                                            # the ciphertext, byte for byte
    assert verify_backup(tmp_path / "backup", settings.key_file)["counts"]["blobs"] == 2

    # into a data folder: the blobs land in its blobs folder
    local = make_settings(tmp_path / "local").with_(key_file=settings.key_file)
    restore_backup(tmp_path / "backup", local, SYSTEM)
    assert {p.name for p in local.blob_dir.glob("??/*")} == set(in_bucket)
    assert _preview(local, output.id) == preview

    # into an empty prefix of a bucket: the blobs go there, none into the data folder
    shared = make_settings(tmp_path / "shared", blob_url=f"s3://{bucket}/restored").with_(key_file=settings.key_file)
    restore_backup(tmp_path / "backup", shared, SYSTEM)
    restored = {k.rsplit("/", 1)[1]: b for k, b in objects(bucket).items() if k.startswith("restored/")}
    assert restored == in_bucket
    assert not [p for p in shared.data_dir.rglob("*") if p.is_file() and p.parent.parent.name == "blobs"]
    assert _preview(shared, output.id) == preview

    # a bucket prefix that holds blobs already is refused, and nothing is restored
    again = make_settings(tmp_path / "again", blob_url=f"s3://{bucket}/restored").with_(key_file=settings.key_file)
    with pytest.raises(BackupError, match="already holds blobs"):
        restore_backup(tmp_path / "backup", again, SYSTEM)
    assert not again.data_dir.exists()


def test_a_restore_that_fails_leaves_no_blob_in_the_bucket(bucket, tmp_path, monkeypatch):
    settings = make_settings(tmp_path / "clinic", blob_url=f"s3://{bucket}/checked")
    records = sv.open_records(settings)
    try:
        staff = sv.add_user(records, sv.add_user(records, SYSTEM, "admin", PASSWORD, "admin"), "sam", PASSWORD,
                            "staff")
        sv.upload_media(records, staff, grace_hopper_path(), "jane_doe.jpg")
    finally:
        records.close()
    create_backup(settings, tmp_path / "backup", SYSTEM)
    target = make_settings(tmp_path / "site", blob_url=f"s3://{bucket}/failed").with_(key_file=settings.key_file)
    database = tmp_path / "site" / "elsewhere.db"   # refused before anything is copied: outside the data folder
    with pytest.raises(BackupError, match="outside the data folder"):
        restore_backup(tmp_path / "backup", target.with_(database_url=f"sqlite:///{database}"), SYSTEM)
    (blob,) = (tmp_path / "backup" / "blobs").glob("??/*")
    damaged = bytearray(blob.read_bytes())
    damaged[-3] ^= 0xFF
    blob.chmod(0o600)
    blob.write_bytes(bytes(damaged))
    with pytest.raises(BackupError):   # found before any blob left for the bucket
        restore_backup(tmp_path / "backup", target, SYSTEM)
    assert not [k for k in objects(bucket) if k.startswith("failed/")] and not target.data_dir.exists()

    blob.write_bytes(bytes(damaged[:-3] + bytes([damaged[-3] ^ 0xFF]) + damaged[-2:]))   # mended
    import records.backup.restore as restore

    def full_disk(staging, final):   # the last step fails, after the blobs went into the bucket
        assert [k for k in objects(bucket) if k.startswith("failed/")]
        raise BackupError(f"{final}: cannot be put in place (No space left on device)")
    monkeypatch.setattr(restore, "publish", full_disk)
    with pytest.raises(BackupError, match="No space left"):
        restore_backup(tmp_path / "backup", target, SYSTEM)
    assert not [k for k in objects(bucket) if k.startswith("failed/")] and not target.data_dir.exists()


def _preview(settings, output_id: str) -> bytes:
    records = sv.open_records(settings, housekeep=False)
    try:
        return sv.preview_output(records, SYSTEM, output_id)
    finally:
        records.close()
