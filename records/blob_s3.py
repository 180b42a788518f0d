"""Blobs in an S3-compatible object store, so that several machines share them (`VEIL_BLOB_URL=s3://bucket/prefix`).

The same content-addressed, client-side encrypted blobs as in the data folder (records.store): each object
holds Tink StreamingAead ciphertext bound to its address, encrypted here before it leaves, so the object store
only ever holds ciphertext. An upload appears under its key whole or not at all, so there are no temporary
objects to sweep. The endpoint and the credentials come from boto3's usual settings (AWS_ENDPOINT_URL_S3 or
AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION).

Deleting an unreferenced blob must not race with another process committing a record that names the same
content (see records.store): on PostgreSQL, which several machines share, the keeping/deleting lock is a
PostgreSQL advisory lock (shared and exclusive); on SQLite, one machine's lock file.
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator
from urllib.parse import urlsplit

import boto3
from boto3.exceptions import Boto3Error
from botocore.exceptions import BotoCoreError, ClientError

from records.config import ConfigError
from records.crypto import Keys
from records.store import BlobMissing, EncryptedBlobs, WorkDir

LOCK_KEY = 74659        # the advisory lock's number (the migrations use 74657)


class AdvisoryLocks:
    """The keeping/deleting lock shared by every machine using one PostgreSQL database."""

    def __init__(self, engine):
        self.engine = engine

    def keeping(self):
        return self._locked("pg_advisory_lock_shared", "pg_advisory_unlock_shared")

    def deleting(self):
        return self._locked("pg_advisory_lock", "pg_advisory_unlock")

    @contextmanager
    def _locked(self, take: str, give: str) -> Iterator[None]:
        # a connection of its own: the lock belongs to the connection, not to the transactions done meanwhile
        with self.engine.connect() as connection:
            connection.exec_driver_sql(f"SELECT {take}({LOCK_KEY})")
            connection.commit()
            try:
                yield
            finally:
                connection.exec_driver_sql(f"SELECT {give}({LOCK_KEY})")
                connection.commit()


class S3BlobStore(EncryptedBlobs):
    def __init__(self, url: str, keys: Keys, locks, work_dir: Path):
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise ConfigError("VEIL_BLOB_URL must name an S3 bucket: s3://bucket or s3://bucket/prefix")
        self.bucket, self.prefix = parts.netloc, parts.path.strip("/")
        self.keys, self.locks, self.work_dir = keys, locks, Path(work_dir)
        self.client = boto3.client("s3")

    def key(self, address: str) -> str:
        self.check_address(address)
        return "/".join(p for p in (self.prefix, address[:2], address) if p)

    def _write(self, address: str, plain: BinaryIO) -> None:
        with WorkDir(self.work_dir) as folder:   # locked while alive: housekeeping leaves it alone
            temp = folder / "blob"
            self._encrypt_into(temp, address, plain)   # ciphertext only leaves this machine
            self._call(self.client.upload_file, str(temp), self.bucket, self.key(address))

    def put_ciphertext(self, address: str, source: Path) -> None:
        self._call(self.client.upload_file, str(source), self.bucket, self.key(address))

    def exists(self, address: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self.key(address))
            return True
        except ClientError as exc:
            if _missing(exc):
                return False
            raise _unreachable(exc) from None

    @contextmanager
    def _ciphertext(self, address: str) -> Iterator[BinaryIO]:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self.key(address))["Body"]
        except ClientError as exc:
            if _missing(exc):
                raise BlobMissing(f"blob {address[:12]}… is not in the store") from None
            raise _unreachable(exc) from None
        with body:
            yield body

    def delete(self, address: str) -> bool:
        existed = self.exists(address)
        self._call(self.client.delete_object, Bucket=self.bucket, Key=self.key(address))
        return existed

    def _listing(self) -> Iterator[tuple[str, float]]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=f"{self.prefix}/" if self.prefix else "")
        try:
            for page in pages:
                for item in page.get("Contents", []):
                    address = item["Key"].rsplit("/", 1)[-1]
                    try:
                        self.check_address(address)
                    except ValueError:
                        continue   # not a blob: something else shares the bucket
                    yield address, item["LastModified"].timestamp()
        except ClientError as exc:
            raise _unreachable(exc) from None

    @staticmethod
    def _call(method, *args, **kwargs):
        try:
            return method(*args, **kwargs)
        except (ClientError, BotoCoreError, Boto3Error) as exc:
            raise _unreachable(exc) from None


def _missing(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound")


def _unreachable(exc: Exception) -> OSError:
    """The store's own words, without the object's key (an address is no PHI, but the message need not grow)."""
    code = exc.response.get("Error", {}).get("Code") if isinstance(exc, ClientError) else type(exc).__name__
    return OSError(f"the S3 blob store refused or could not be reached ({code})")
