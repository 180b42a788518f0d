"""The backup's manifest: what a backup holds, sealed with the installation's key, and its checks."""
from __future__ import annotations

import json
import re
from pathlib import Path

from records import audit
from records.crypto import Keys

FORMAT = "veil-backup-1"
MANIFEST = "manifest.json"
DATABASE_FILES = {"sqlite": "database/veil.db", "postgresql": "database/veil.sql"}
KEY_TOKEN = b"veil/backup/key-fingerprint"
BLOB_NAME = re.compile(r"blobs/([0-9a-f]{2})/\1[0-9a-f]{62}")


class BackupError(RuntimeError):
    """A backup cannot be made, checked or restored; the message names the folder or file and says why."""


def read_manifest(folder: Path, keys: Keys, key_file: Path) -> dict:
    path = folder / MANIFEST
    if not folder.is_dir():
        raise BackupError(f"{folder}: no such backup folder")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(f"{path}: missing; this folder is not a Veil backup") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise BackupError(f"{path}: cannot be read ({type(exc).__name__}); the manifest is damaged") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{path}: not a manifest this Veil can read (it expects format {FORMAT})")
    if not keys.seal_holds((manifest.get("key") or {}).get("fingerprint"), KEY_TOKEN):
        raise BackupError(f"{folder}: the key file {key_file} is not the key this backup was made with (or the "
                          "manifest was altered); use the key file kept for this installation")
    if not keys.seal_holds(manifest.get("seal"), manifest_bytes(manifest)):
        raise BackupError(f"{path}: its seal does not hold: the manifest was altered after the backup was made")
    database = DATABASE_FILES.get((manifest.get("database") or {}).get("kind"))
    strange = [name for name in manifest.get("files", {}) if name != database and not BLOB_NAME.fullmatch(name)]
    if database is None or strange:
        raise BackupError(f"{path}: lists files a Veil backup does not hold; refused")
    return manifest


def manifest_bytes(manifest: dict) -> bytes:
    body = {k: v for k, v in manifest.items() if k != "seal"}
    return b"veil/backup/manifest\0" + audit.canonical(body).encode("ascii")


def check_listing(folder: Path, manifest: dict) -> None:
    listed = set(manifest["files"])
    present = {str(p.relative_to(folder)) for p in folder.rglob("*") if not p.is_dir()} - {MANIFEST}
    if listed - present:
        raise BackupError(f"{folder / sorted(listed - present)[0]}: missing from the backup "
                          f"({len(listed - present)} file(s) the manifest lists are absent)")
    if present - listed:   # counted, not named: a stray file's name may name a patient
        raise BackupError(f"{folder}: holds {len(present - listed)} file(s) not in the manifest; a backup holds "
                          "only the files its manifest lists")


def refuse_problems(folder: Path, manifest: dict) -> None:
    if manifest["problems"]:
        raise BackupError(f"{folder}: this backup was made of damaged records ({'; '.join(manifest['problems'])}); "
                          "it is kept as evidence and cannot be restored as a working installation")


def blob_addresses(manifest: dict) -> set[str]:
    return {name.rsplit("/", 1)[1] for name in manifest["files"] if name.startswith("blobs/")}


def summary_of(manifest: dict) -> dict:
    """The manifest without its file list and seal, with the totals that list adds up to."""
    return {k: v for k, v in manifest.items() if k not in ("files", "seal")} | {
        "counts": manifest["counts"] | {"audit_events": manifest["audit"]["events"],
                                        "blobs": len(blob_addresses(manifest))},
        "bytes": sum(entry["size"] for entry in manifest["files"].values()),
        "key_fingerprint": manifest["key"]["fingerprint"][:16]}


def altered(path: Path) -> str:
    return f"{path}: its SHA-256 or size differs from the manifest: the file was altered or damaged"
