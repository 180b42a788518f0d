"""Backup commands of `python -m records`:

    backup DIR [--json]                       write a backup of the records into DIR (new or empty)
    backup verify DIR [--key-file K] [--json] check a backup, and that the key file (default VEIL_KEY_FILE) opens it
    restore DIR [--json]                      restore a backup into an empty data folder and database

Settings come from VEIL_DATA_DIR, VEIL_DATABASE_URL, VEIL_KEY_FILE and VEIL_BLOB_URL, as for every command:
with VEIL_BLOB_URL, backup copies the blobs' ciphertext from the S3 bucket, and restore puts it into that
bucket (under an empty prefix) instead of the data folder. The key file is
never in a backup (README, "Backup and restore"). Exit status 0 on success, 1 with one line naming the
folder and the reason otherwise; `backup` also exits 1 when it wrote a backup of damaged records.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from records.cli import cli_actor, fail


def register(subparsers) -> None:
    backup = subparsers.add_parser(
        "backup", usage="python -m records backup [verify] DIR [--key-file KEY] [--json]",
        help="write a backup of the records into DIR, or check one (`backup verify DIR`)",
        description="`backup DIR` writes the database, the encrypted blobs and a sealed manifest into DIR (new or "
                    "empty); the key file is never included. `backup verify DIR` checks a backup and that the key "
                    "file opens it.")
    backup.add_argument("words", nargs="+", metavar="[verify] DIR")
    backup.add_argument("--key-file", type=Path, help="with verify: the key file to check (default VEIL_KEY_FILE)")
    backup.add_argument("--json", action="store_true")
    backup.set_defaults(func=run_backup)

    restore = subparsers.add_parser("restore", help="restore a backup into an empty data folder and database",
                                    description="The key file must already be at VEIL_KEY_FILE.")
    restore.add_argument("folder", metavar="DIR", type=Path)
    restore.add_argument("--json", action="store_true")
    restore.set_defaults(func=run_restore)


def run_backup(args: argparse.Namespace) -> int:
    words = args.words
    if len(words) == 2 and words[0] == "verify":
        return _checked("backup verify", lambda settings, backup: backup.verify_backup(
            Path(words[1]), args.key_file or settings.key_file), args.json, f"{Path(words[1]).absolute()} verified")
    if words == ["verify"]:   # not a backup into ./verify: the folder to check was left out
        return fail("backup verify: give the backup folder to check (`backup verify DIR`); nothing was written", 2)
    if len(words) != 1:
        return fail("backup: give one folder (`backup DIR`), or `backup verify DIR`", 2)
    if args.key_file:
        return fail("backup: --key-file is for `backup verify`; a backup is made with VEIL_KEY_FILE", 2)

    def make(settings, backup):
        return backup.create_backup(settings, Path(words[0]), cli_actor())
    return _checked("backup", make, args.json, f"backup written to {Path(words[0]).absolute()}", remind=True)


def run_restore(args: argparse.Namespace) -> int:
    return _checked("restore", lambda settings, backup: backup.restore_backup(args.folder, settings, cli_actor()),
                    args.json, f"restored {args.folder.absolute()}")


def _checked(command: str, action, as_json: bool, done: str, remind: bool = False) -> int:
    """Run the action; one line naming the folder and the reason on failure, never a traceback."""
    from sqlalchemy.exc import SQLAlchemyError

    from records import backup
    from records.config import ConfigError, load_settings
    from records.crypto import KeyFileError

    try:
        summary = action(load_settings(), backup)
    except (backup.BackupError, ConfigError, KeyFileError) as exc:
        return fail(f"{command}: {exc}")
    except SQLAlchemyError as exc:
        return fail(f"{command}: the database (VEIL_DATABASE_URL) failed: {type(exc).__name__}: "
                     f"{str(exc).splitlines()[0][:200]}")
    except OSError as exc:   # a file (named), or the S3 blob store (its own words)
        if exc.strerror is None:
            return fail(f"{command}: {exc}")
        return fail(f"{command}: {exc.strerror} ({exc.filename})")
    if as_json:
        print(json.dumps(summary, indent=1))
    else:
        print(_describe(done, summary, remind))
    return 1 if summary["problems"] else 0


def _describe(done: str, summary: dict, remind: bool) -> str:
    counts, chain = summary["counts"], summary["audit"]
    lines = [f"{done}: {counts['blobs']} blobs, {summary['bytes'] / 1e6:.1f} MB, {counts['consents']} consents, "
             f"{counts['assets']} assets, {counts['outputs']} outputs; audit chain "
             f"{'intact' if chain['intact'] else 'BROKEN'} at event {chain['head_seq']}; "
             f"key fingerprint {summary['key_fingerprint']}"]
    if remind:
        lines.append("The key file is not in the backup: keep it offline, and check it with "
                     "`python -m records backup verify DIR --key-file KEY`.")
    lines += [f"PROBLEM: {problem}" for problem in summary["problems"]]
    return "\n".join(lines)
