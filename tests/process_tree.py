"""Which processes run, and who started them, read from /proc: for tests that kill a host and check that
its isolated workers, and what those started, ended with it."""
from __future__ import annotations

import time
from pathlib import Path


def parents() -> dict[int, int]:
    """{process id: its parent's id} for every process now running."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                found[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    return found


def descendants(pid: int) -> set[int]:
    tree = parents()
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in tree.items() if parent in frontier} - found
        found |= frontier
    return found


def running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"   # a zombie has ended
    except OSError:
        return False


def still_running(pids, seconds: float = 120) -> set[int]:
    """Those of `pids` still running once they have all ended or `seconds` have passed."""
    deadline = time.monotonic() + seconds
    while (alive := {p for p in pids if running(p)}) and time.monotonic() < deadline:
        time.sleep(0.05)
    return alive
