"""Content-addressed, encrypted blob storage: in the data folder (here), or in an S3 bucket (records.blob_s3).

A blob's address is the SHA-256 of its plaintext; the file holds Tink StreamingAead ciphertext bound to
that address. A blob appears under its final name only complete (temporary file in the same folder,
fsync, `os.replace`), so a crash leaves at most a temporary file or an unreferenced blob, both of which
`sweep` removes; neither can be mistaken for a live record. Writing the same content again replaces the
file rather than trusting whatever is there.

Because blobs are shared by content, "unreferenced, so delete it" races with another process that has just
written the same content and is about to commit a record naming it (the same photo uploaded twice, one copy
released). A lock file orders the two: whoever writes blobs and commits the records that name them holds it
shared (`keeping`), whoever decides a blob is unreferenced and deletes it holds it exclusively (`deleting`).
Take it before the database transaction, never inside one.
"""
from __future__ import annotations

import fcntl
import hashlib
import io
import os
import re
import shutil
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Iterator

import tink

from records.crypto import DecryptionError, Keys
from deid.models import sha256_file
from deid.output import fsync_path

CHUNK = 1 << 20
_ADDRESS = re.compile(r"[0-9a-f]{64}")
TEMP_PREFIX = ".tmp-"
LOCK_NAME = ".lock"
GATE_NAME = ".lock-gate"


class BlobMissing(FileNotFoundError):
    """A record names a blob that is not in the store (deleted by retention, or lost)."""


class _SyncedFile(io.FileIO):
    """A file that reaches the disk before it closes: Tink's stream closes its destination itself."""

    def close(self) -> None:
        if not self.closed:
            self.flush()
            os.fsync(self.fileno())
        super().close()


@dataclass
class SweepReport:
    temp_files: int = 0
    orphan_blobs: list[str] = field(default_factory=list)
    work_dirs: int = 0


class FileLocks:
    """The keeping/deleting lock of one machine: flock on files of its own opening in `folder` (so threads
    exclude each other too), through a gate: a deleter waits at the gate for the writers inside to finish, and
    writers arriving meanwhile queue behind it instead of keeping it waiting for a gap that never comes."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def keeping(self):
        return self._locked(fcntl.LOCK_SH)

    def deleting(self):
        return self._locked(fcntl.LOCK_EX)

    @contextmanager
    def _locked(self, how: int) -> Iterator[None]:
        with open(self.folder / LOCK_NAME, "a") as lock:
            with open(self.folder / GATE_NAME, "a") as gate:
                fcntl.flock(gate, fcntl.LOCK_EX)
                fcntl.flock(lock, how)
            yield                                      # closing the file releases the lock


class EncryptedBlobs:
    """What every blob store does the same way, whatever holds the ciphertext: addresses, encryption bound to
    the address, checking the content against its address, the keeping/deleting lock, the orphan sweep. A
    store supplies `_store` (ciphertext in a finished local file, to be put under its address at once and
    whole), `_ciphertext` (a readable stream), `exists`, `delete` and `_listing` (address, age)."""

    keys: Keys
    locks: FileLocks

    @staticmethod
    def _context(address: str) -> str:
        return f"veil/blob/{address}"

    @staticmethod
    def check_address(address: str) -> str:
        if not _ADDRESS.fullmatch(address or ""):
            raise ValueError("not a blob address")
        return address

    # -- who may delete ------------------------------------------------------------------------
    def keeping(self):
        """Hold while writing blobs and committing the records that name them: no blob is deleted meanwhile."""
        return self.locks.keeping()

    def deleting(self):
        """Hold while finding unreferenced blobs and deleting them: no record naming one commits meanwhile."""
        return self.locks.deleting()

    # -- writing -------------------------------------------------------------------------------
    def put_file(self, source: Path) -> str:
        address = sha256_file(Path(source))
        with open(source, "rb") as fh:
            self._write(address, fh)
        return address

    def put_bytes(self, data: bytes) -> str:
        address = hashlib.sha256(data).hexdigest()
        self._write(address, io.BytesIO(data))
        return address

    def _encrypt_into(self, temp: Path, address: str, plain: BinaryIO) -> None:
        with self.keys.encrypting_stream(_SyncedFile(temp, "w"), self._context(address)) as out:
            for chunk in iter(lambda: plain.read(CHUNK), b""):
                out.write(chunk)

    def _write(self, address: str, plain: BinaryIO) -> None:
        raise NotImplementedError

    # -- reading -------------------------------------------------------------------------------
    @contextmanager
    def open(self, address: str) -> Iterator[BinaryIO]:
        """The decrypted stream; tampering shows as DecryptionError while reading."""
        with self._ciphertext(self.check_address(address)) as source:
            with self.keys.decrypting_stream(source, self._context(address)) as stream:
                yield stream

    def read_bytes(self, address: str) -> bytes:
        buffer = io.BytesIO()
        self._copy(address, buffer)
        return buffer.getvalue()

    def decrypt_to(self, address: str, destination: Path) -> Path:
        with open(destination, "xb") as out:
            self._copy(address, out)
        return destination

    def verify(self, address: str) -> None:
        """Decrypt the blob and check it against its address, keeping nothing (a whole video is not held in
        memory, nor written out in clear): DecryptionError if it was altered, BlobMissing if it is gone."""
        with open(os.devnull, "wb") as sink:
            self._copy(address, sink)

    def _copy(self, address: str, out: BinaryIO) -> None:
        digest = hashlib.sha256()
        try:
            with self.open(address) as stream:
                for chunk in iter(lambda: stream.read(CHUNK), b""):
                    digest.update(chunk)
                    out.write(chunk)
        except tink.TinkError as exc:
            raise DecryptionError(f"blob {address[:12]}… was altered or is not Veil's") from exc
        if digest.hexdigest() != address:
            raise DecryptionError(f"blob {address[:12]}… does not hold the content its name promises")

    # -- the ciphertext as it is (backup and restore) --------------------------------------------
    @contextmanager
    def ciphertext(self, address: str) -> Iterator[BinaryIO]:
        """The stored ciphertext, not decrypted: a backup copies it as it is (BlobMissing if it is gone)."""
        with self._ciphertext(self.check_address(address)) as source:
            yield source

    def put_ciphertext(self, address: str, source: Path) -> None:
        """Put ciphertext a backup kept back under its address, as it is; the caller has checked that it
        decrypts to the content its address promises."""
        raise NotImplementedError

    # -- removing ------------------------------------------------------------------------------
    def addresses(self) -> Iterator[str]:
        for address, _modified in self._listing():
            yield address

    def sweep(self, referenced: set[str], grace_seconds: float) -> SweepReport:
        """Delete temporary files and unreferenced blobs older than the grace period (younger ones may
        belong to another process that has not committed its record yet)."""
        cutoff = time.time() - grace_seconds
        report = SweepReport(temp_files=self._sweep_temporary(cutoff))
        for address, modified in list(self._listing()):
            if address not in referenced and modified <= cutoff:
                self.delete(address)
                report.orphan_blobs.append(address)
        return report

    def _sweep_temporary(self, cutoff: float) -> int:
        return 0


class BlobStore(EncryptedBlobs):
    """Blobs in a folder of the data folder (the default)."""

    def __init__(self, root: Path, keys: Keys):
        self.root = Path(root)
        self.keys = keys
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.locks = FileLocks(self.root)

    def path(self, address: str) -> Path:
        self.check_address(address)
        return self.root / address[:2] / address

    def _write(self, address: str, plain: BinaryIO) -> None:
        final = self.path(address)
        final.parent.mkdir(exist_ok=True, mode=0o700)
        temp = final.parent / f"{TEMP_PREFIX}{uuid.uuid4().hex}"
        try:
            self._encrypt_into(temp, address, plain)
            os.replace(temp, final)
            fsync_path(final.parent)
        finally:
            temp.unlink(missing_ok=True)

    def put_ciphertext(self, address: str, source: Path) -> None:
        final = self.path(address)
        final.parent.mkdir(exist_ok=True, mode=0o700)
        temp = final.parent / f"{TEMP_PREFIX}{uuid.uuid4().hex}"
        try:
            with open(source, "rb") as src, _SyncedFile(temp, "w") as out:
                shutil.copyfileobj(src, out, CHUNK)
            os.replace(temp, final)
            fsync_path(final.parent)
        finally:
            temp.unlink(missing_ok=True)

    def exists(self, address: str) -> bool:
        return self.path(address).is_file()

    @contextmanager
    def _ciphertext(self, address: str) -> Iterator[BinaryIO]:
        try:
            source = open(self.path(address), "rb")
        except FileNotFoundError:
            raise BlobMissing(f"blob {address[:12]}… is not in the store") from None
        with source:
            yield source

    def delete(self, address: str) -> bool:
        try:
            self.path(address).unlink()
            return True
        except FileNotFoundError:
            return False

    def _listing(self) -> Iterator[tuple[str, float]]:
        for entry in self.root.glob("??/*"):
            if _ADDRESS.fullmatch(entry.name):
                try:
                    yield entry.name, entry.stat().st_mtime
                except FileNotFoundError:
                    continue

    def _sweep_temporary(self, cutoff: float) -> int:
        removed = 0
        for entry in self.root.glob(f"??/{TEMP_PREFIX}*"):
            if _older(entry, cutoff):
                entry.unlink(missing_ok=True)
                removed += 1
        return removed


def _older(path: Path, cutoff: float) -> bool:
    try:
        return path.stat().st_mtime <= cutoff
    except FileNotFoundError:
        return False


# -- private work folders --------------------------------------------------------------------------
class WorkDir:
    """A private folder for decrypted originals while the engine runs (ExifTool and the decoders need a
    path). It holds an advisory lock while alive, so `sweep_work` can tell a crashed process's folder,
    whose lock the kernel released, from a live one."""

    def __init__(self, root: Path):
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = root / uuid.uuid4().hex
        self.path.mkdir(mode=0o700)
        self._lock = open(self.path / ".lock", "w")
        fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def __enter__(self) -> Path:
        return self.path

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
        self._lock.close()


def sweep_work(root: Path) -> int:
    """Remove work folders left by processes that died (their lock is free)."""
    removed = 0
    if not root.is_dir():
        return 0
    for folder in root.iterdir():
        try:
            with open(folder / ".lock", "r") as fh:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
        except BlockingIOError:
            continue   # its process is alive
        except (FileNotFoundError, NotADirectoryError):
            # no lock yet: a folder being born right now, or one whose process died at birth
            if _older(folder, time.time() - 60):
                if folder.is_dir():
                    shutil.rmtree(folder, ignore_errors=True)
                else:
                    folder.unlink(missing_ok=True)
                removed += 1
    return removed
