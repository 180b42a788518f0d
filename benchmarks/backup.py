"""Time and size of `backup`, `backup verify` and `restore` for a data folder of N assets (SQLite).

    python benchmarks/backup.py [--assets 200] [--mb 2.0] [--events 5000] [--consents 10]

Builds a throw-away installation in a temporary folder through the services: `--assets` photos of about
`--mb` MB each (a real JPEG padded with random bytes, so the ciphertext cannot be compressed away),
`--consents` consent PDFs judged by the real checker, and `--events` extra audit events (sign-ins), then
prints one table. Nothing here is patient data.
"""
from __future__ import annotations

import argparse
import io
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path[:0] = [str(Path(__file__).resolve().parent.parent), str(Path(__file__).resolve().parent.parent / "tests")]

from records import audit, backup  # noqa: E402
from records.backup import create as backup_create  # noqa: E402
from records import services as sv  # noqa: E402
from records.audit import Actor  # noqa: E402
from records_fixtures import PATIENT_NAME, PATIENT_REF, consent_pdf, make_settings  # noqa: E402

CLI = Actor(None, "cli:benchmark", "admin")


def photo_bytes(rng: np.random.Generator, megabytes: float) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (240, 320, 3), dtype=np.uint8)).save(buffer, "JPEG", quality=90)
    padding = max(0, int(megabytes * 1e6) - buffer.tell())
    return buffer.getvalue() + rng.bytes(padding)


def build(base: Path, assets: int, megabytes: float, events: int, consents: int):
    settings = make_settings(base)
    records = sv.open_records(settings)
    admin = sv.add_user(records, CLI, "admin", "correct horse battery staple", "admin")
    rng = np.random.default_rng(7)
    for i in range(consents):
        sv.register_consent(records, admin, consent_pdf(extra=f"Form {i}."), PATIENT_NAME, f"{PATIENT_REF}-{i}")
    for i in range(assets):
        sv.upload_media(records, admin, photo_bytes(rng, megabytes), f"photo_{i}.jpg")
    for start in range(0, events, 1000):
        with records.transaction() as session:
            for _ in range(min(1000, events - start)):
                audit.append(session, records.keys, admin, "user.login", "user", admin.id)
    records.close()
    return settings


def folder_size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def timed(action):
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=200)
    parser.add_argument("--mb", type=float, default=2.0)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--consents", type=int, default=10)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="veil-backup-bench-"))
    try:
        settings = build(base, args.assets, args.mb, args.events, args.consents)
        database = settings.data_dir / "veil.db"
        snapshot, _ = timed(lambda: backup_create.sqlite_snapshot(database, base / "snapshot.db"))
        made_s, made = timed(lambda: backup.create_backup(settings, base / "backup", CLI))
        verify_s, _ = timed(lambda: backup.verify_backup(base / "backup", settings.key_file))
        target = make_settings(base / "restored").with_(key_file=settings.key_file)
        restore_s, _ = timed(lambda: backup.restore_backup(base / "backup", target, CLI))
        data_mb, backup_mb = folder_size(settings.data_dir) / 1e6, folder_size(base / "backup") / 1e6
        rows = [("assets / consents / audit events",
                 f"{made['counts']['assets']} / {made['counts']['consents']} / {made['counts']['audit_events']}"),
                ("blobs in the backup", f"{made['counts']['blobs']}"),
                ("data folder (MB)", f"{data_mb:.1f}"), ("backup folder (MB)", f"{backup_mb:.1f}"),
                ("database file in the backup (MB)", f"{(base / 'backup/database/veil.db').stat().st_size / 1e6:.2f}"),
                ("SQLite snapshot alone (s)", f"{snapshot:.3f}"),
                ("backup DIR (s)", f"{made_s:.2f}"), ("backup verify DIR (s)", f"{verify_s:.2f}"),
                ("restore DIR (s)", f"{restore_s:.2f}"),
                ("backup throughput (MB/s)", f"{backup_mb / made_s:.0f}"),
                ("restore throughput (MB/s)", f"{backup_mb / restore_s:.0f}")]
        width = max(len(name) for name, _ in rows)
        print(f"| {'measure':<{width}} | value |\n|{'-' * (width + 2)}|-------|")
        for name, value in rows:
            print(f"| {name:<{width}} | {value} |")
        print(f"\n{os.cpu_count()} CPUs; {args.assets} assets of ~{args.mb} MB; file cache warm (just written)")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
