"""`python tests/crashing_decoder.py redact FILE... --out DIR`: `python -m deid` in which reading a file whose
name starts with "crash" kills the reading process with SIGSEGV, as a decoder that a hostile file drives
past its buffer would. For tests only: Veil itself has no such hook.

The fork server preloads this module (so `tests` must be on PYTHONPATH: the server imports with its own
sys.path), and every isolated worker has its audit hook; the command line's own process has it too, and
must survive, since it never reads a file's content itself."""
import ctypes
import os
import sys
from pathlib import Path

import isolation
from deid.__main__ import main


def _crash_on_reading(event: str, args: tuple) -> None:
    if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)) \
            and Path(os.fsdecode(args[0])).name.startswith("crash"):
        ctypes.string_at(0)   # reads address 0: SIGSEGV


sys.addaudithook(_crash_on_reading)

if __name__ == "__main__":
    isolation.preload("crashing_decoder")
    sys.exit(main())
