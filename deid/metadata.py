"""Read embedded metadata with ExifTool and list the tags outside an allow-list (the allow-lists themselves,
and the verdict on outputs, are in deid/verify.py).

Only tag *names* leave this module, never their values (values are where names, places and serial numbers
live).
"""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

AllowList = dict[str, frozenset[str]]   # ExifTool group -> names of tags that identify nobody
# Facts of the file system, not of the file's content: never counted as embedded metadata.
FILESYSTEM_GROUPS = frozenset({"System"})
EXIFTOOL_SECONDS = 120   # one file; ExifTool reads only headers and tags, so this is a hang, not work


class ExifToolError(RuntimeError):
    """ExifTool could not read a file."""


class ExifToolMissing(ExifToolError):
    """ExifTool is not installed: nothing can be verified, so nothing may be released."""


def exiftool_path() -> str:
    path = shutil.which("exiftool")
    if not path:
        raise ExifToolMissing("ExifTool is not installed (Debian package libimage-exiftool-perl); run `make setup`")
    return path


def read_tag_names(path: Path) -> list[tuple[str, str]]:
    """Every (group, tag) ExifTool finds in the file, embedded documents and unknown tags included."""
    return [_split(key) for key in _read(path) if key != "SourceFile"]


def _read(path: Path) -> dict:
    """ExifTool's record of the file (one spawn): "Group:Tag" -> value, values only for use in here."""
    cmd = [exiftool_path(), "-j", "-G1", "-a", "-u", "-s", "-ee", "-api", "LargeFileSupport=1",
           "-charset", "filename=utf8", "--", str(path)]
    try:
        done = subprocess.run(cmd, capture_output=True, timeout=EXIFTOOL_SECONDS)
    except subprocess.TimeoutExpired:
        raise ExifToolError(f"ExifTool did not finish reading the file in {EXIFTOOL_SECONDS:g} s") from None
    try:
        records = json.loads(done.stdout.decode("utf-8", "replace") or "[]")
    except json.JSONDecodeError as exc:
        raise ExifToolError("ExifTool's output could not be parsed") from exc
    if not records:
        raise ExifToolError("ExifTool could not read the file")
    return records[0]


def _split(key: str) -> tuple[str, str]:
    group, _, tag = key.partition(":")
    return (group, tag) if tag else ("", group)


def identifying_tags(path: Path, allowed: AllowList, zeroed: frozenset[str] = frozenset()) -> list[tuple[str, str]]:
    """The embedded tags outside the allow-list (anything ExifTool warns about counts too). Tags named in
    `zeroed` are allowed only while unset (a writer's zero date); with any real value they identify."""
    left = []
    for key, value in _read(path).items():
        if key == "SourceFile":
            continue
        group, tag = _split(key)
        harmless = tag in allowed.get(group, frozenset()) and (tag not in zeroed or _unset(value))
        if group not in FILESYSTEM_GROUPS and not harmless:
            left.append((group, tag))
    return left


def _unset(value) -> bool:
    return str(value).strip() in ("0", "0000:00:00 00:00:00")


def removed_tags(path: Path, allowed: AllowList) -> list[str]:
    """Names ("GROUP:Tag") of an input's identifying tags, for the report of what de-identification removed.

    A file ExifTool cannot parse yields none (the decoder then says whether it is media at all); a missing
    ExifTool is an error, since then no output could be verified either."""
    try:
        return [f"{g}:{t}" for g, t in identifying_tags(path, allowed)]
    except ExifToolMissing:
        raise
    except ExifToolError:
        return []
