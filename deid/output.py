"""An output appears under its final name only once written in full, on disk, and verified."""
from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Callable, TypeVar

Written = TypeVar("Written")


def write_verified(out_dir: Path, ext: str, write: Callable[[Path], Written],
                   verify: Callable[[Path, Written], None]) -> Path:
    """Write a new file under a hidden partial name, make it durable, verify it, then give it a new random
    final name. `write` fills the path it is given and returns what `verify` needs to know of it; whatever
    either raises (a cancel too) deletes the partial file, so nothing half-written or unverified is left."""
    out_dir.mkdir(parents=True, exist_ok=True)
    name = uuid.uuid4().hex
    partial, final = out_dir / f".partial-{name}{ext}", out_dir / f"{name}{ext}"
    current = partial
    try:
        written = write(partial)
        fsync_path(partial)
        verify(partial, written)
        os.replace(partial, final)
        current = final
        fsync_path(out_dir)   # the rename itself survives a power cut
        return final
    except BaseException:
        current.unlink(missing_ok=True)
        raise


def fsync_path(path: Path) -> None:
    """Flush a file, or a folder's entries (so a rename or a new file in it is durable)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
