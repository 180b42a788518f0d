"""Backups of the records, and restore into an empty data folder, checked before anything appears.

A backup folder holds:

    manifest.json        format, schema revision, counts, SHA-256 and size of every file, the audit head,
                         the key's fingerprint (a MAC of a fixed text: it names the key, reveals nothing of
                         it), sealed with the installation's MAC key so nobody without the key can edit it to
                         match altered files. No PHI: ids, counts and hashes only.
    database/veil.db     SQLite: a snapshot by the online backup API, one consistent state while Veil writes.
    database/veil.sql    PostgreSQL: pg_dump of an exported snapshot, the same one the manifest describes.
    blobs/ab/ab12...     the ciphertext of every blob that snapshot references, copied as it is from the data
                         folder or from the S3 bucket VEIL_BLOB_URL names (restore puts it back into the
                         data folder or into an empty bucket prefix, as the target's VEIL_BLOB_URL says).

The key is never in a backup: a backup left on a shared drive is useless to whoever finds it. The key file
is kept offline once (it never changes); `verify_backup` says whether a key file opens a backup.

Only referenced blobs are copied: an unreferenced blob is another process's upload whose record is not in
the snapshot, or an orphan housekeeping will remove, so it could not be restored as anything. That keeps
one rule to check on restore: the blobs present are exactly the blobs the records reference.

Blobs are deleted only after the transaction that stops referencing them commits, so a blob the snapshot
names may vanish before it is copied; the snapshot is then taken again (its newer state no longer names it),
and the last attempt holds deletions off (the store's `keeping` lock) while it copies.
"""
from records.backup.check import verify_backup
from records.backup.create import create_backup
from records.backup.manifest import BackupError
from records.backup.restore import restore_backup

__all__ = ["BackupError", "create_backup", "restore_backup", "verify_backup"]
