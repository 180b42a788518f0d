"""Module-level functions for tests/test_isolation.py to run in isolated workers (a worker imports them by
name, so they cannot live in the test module's closures)."""
from __future__ import annotations

import ctypes
import os
import subprocess
import time
from pathlib import Path

import isolation


def add(a: int, b: int, *, times: int = 1) -> dict:
    return {"sum": (a + b) * times, "pid": os.getpid(), "group": os.getpgid(0)}


def segfault() -> None:
    ctypes.string_at(0)   # reads address 0: SIGSEGV, as a decoder reading past its buffer would


def abort() -> None:
    os.abort()


def fail_with_a_path() -> None:
    raise ValueError("/home/clinic/Rosa Planted.jpg is broken")


def allocate(size: int) -> int:
    return len(bytearray(size))


def count_to(steps: int) -> str:
    for step in range(steps):
        isolation.progress((step + 1) / steps, f"step {step + 1}")
    return "counted"


def keep_reporting(seconds: float) -> None:
    """Alive, reporting progress, but never done in time."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        isolation.progress(0.5, "still going")
        time.sleep(0.05)


def start_child_then(pid_file: str, ending: str) -> None:
    """Start a long `sleep` (standing in for an ExifTool or Tesseract), note both ids, then `ending`:
    "crash" (SIGABRT), "fall silent" or "wait" (sleep on, for a host that is about to be killed)."""
    child = subprocess.Popen(["sleep", "600"])
    Path(pid_file).write_text(f"{os.getpid()} {child.pid}")
    if ending == "crash":
        os.abort()
    time.sleep(600)
