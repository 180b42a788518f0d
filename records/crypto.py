"""Veil's keys: one file of Tink keysets, created on first run with owner-only permissions.

- `blob`: StreamingAead (AES256-GCM-HKDF, 1 MB segments) for originals, consent PDFs and outputs.
- `field`: AEAD (AES256-GCM) for PHI columns: patient name and reference, evidence quotes, file names.
- `mac`: HMAC-SHA256 for the audit seals and for blind indexes (finding a patient's consents without
  storing the reference in clear).

Every ciphertext is bound by its associated data to where it belongs (a blob to its address, a field to
its table, column and row), so copying a ciphertext into another row or name makes it fail to decrypt.
A lost key file means lost originals and consent PDFs: back it up (README).
"""
from __future__ import annotations

import json
import os
import stat
import tempfile
from pathlib import Path
from typing import BinaryIO

import tink
from tink import aead, mac, secret_key_access, streaming_aead

FORMAT = "veil-keyset-1"


class KeyFileError(RuntimeError):
    """The key file is missing, unreadable, too open, or not Veil's."""


class DecryptionError(RuntimeError):
    """A ciphertext does not belong where it was found, or was altered."""


def _register() -> None:
    aead.register()
    streaming_aead.register()
    mac.register()


class Keys:
    def __init__(self, blob: tink.KeysetHandle, field: tink.KeysetHandle, seal: tink.KeysetHandle):
        self._blob = blob.primitive(streaming_aead.StreamingAead)
        self._field = field.primitive(aead.Aead)
        self._mac = seal.primitive(mac.Mac)

    # -- files ---------------------------------------------------------------------------------
    @classmethod
    def load_or_create(cls, path: Path) -> "Keys":
        _register()
        path = Path(path)
        if not path.exists():
            _create(path)
        return cls._load(path)

    @classmethod
    def _load(cls, path: Path) -> "Keys":
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeyFileError(f"{path}: the key file is readable by other users "
                               f"(mode {stat.S_IMODE(mode):o}); run `chmod 600 {path}`")
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
            if document.get("format") != FORMAT:
                raise KeyFileError(f"{path}: not a Veil key file")
            handles = [tink.json_proto_keyset_format.parse(document[name], secret_key_access.TOKEN)
                       for name in ("blob", "field", "mac")]
        except (OSError, ValueError, KeyError, tink.TinkError) as exc:
            raise KeyFileError(f"{path}: cannot read the key file ({type(exc).__name__})") from exc
        return cls(*handles)

    # -- blobs -----------------------------------------------------------------------------------
    def encrypting_stream(self, destination: BinaryIO, context: str) -> BinaryIO:
        return self._blob.new_encrypting_stream(destination, context.encode())

    def decrypting_stream(self, source: BinaryIO, context: str) -> BinaryIO:
        return self._blob.new_decrypting_stream(source, context.encode())

    # -- fields ----------------------------------------------------------------------------------
    def encrypt_text(self, value: str | None, context: str) -> bytes | None:
        if value is None:
            return None
        return self._field.encrypt(value.encode("utf-8"), context.encode())

    def decrypt_text(self, ciphertext: bytes | None, context: str) -> str | None:
        if ciphertext is None:
            return None
        try:
            return self._field.decrypt(bytes(ciphertext), context.encode()).decode("utf-8")
        except tink.TinkError as exc:
            raise DecryptionError(f"an encrypted field does not belong to {context.split('/')[1]} "
                                  "or was altered") from exc

    def encrypt_json(self, value, context: str) -> bytes | None:
        return None if value is None else self.encrypt_text(json.dumps(value, sort_keys=True), context)

    def decrypt_json(self, ciphertext: bytes | None, context: str):
        text = self.decrypt_text(ciphertext, context)
        return None if text is None else json.loads(text)

    # -- integrity and blind indexes -----------------------------------------------------------
    def seal(self, data: bytes) -> str:
        return self._mac.compute_mac(data).hex()

    def seal_holds(self, tag: str | None, data: bytes) -> bool:
        if not tag:
            return False
        try:
            self._mac.verify_mac(bytes.fromhex(tag), data)
            return True
        except (tink.TinkError, ValueError):
            return False

    def blind_index(self, value: str, purpose: str) -> str:
        """A keyed digest of a normalised value: equal values match, and without the key it reveals nothing."""
        normalised = " ".join(value.casefold().split())
        return self.seal(f"veil/index/{purpose}\0{normalised}".encode("utf-8"))


def _create(path: Path) -> None:
    """Write a new key file 0600 and publish it without replacing one another process made meanwhile."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    templates = {
        "blob": streaming_aead.streaming_aead_key_templates.AES256_GCM_HKDF_1MB,
        "field": aead.aead_key_templates.AES256_GCM,
        "mac": mac.mac_key_templates.HMAC_SHA256_256BITTAG,
    }
    document = {"format": FORMAT}
    for name, template in templates.items():
        handle = tink.new_keyset_handle(template)
        document[name] = tink.json_proto_keyset_format.serialize(handle, secret_key_access.TOKEN)
    fd, temp = tempfile.mkstemp(prefix=".keyset-", dir=path.parent)  # mkstemp creates 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(document, fh)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(temp, path)   # atomic, and fails if another process won the race: keep theirs
        except FileExistsError:
            pass
    finally:
        os.unlink(temp)
