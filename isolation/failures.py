"""Why an isolated run gave no result, as types: each caller turns one into its own explained message.

A `reason` is plain words that never name a file, so a caller may show it to the person who uploaded one.
"""
from __future__ import annotations

import signal


class Failed(Exception):
    """The isolated function gave no result."""

    @property
    def reason(self) -> str:
        raise NotImplementedError

    def __str__(self) -> str:
        return self.reason


class Crashed(Failed):
    """It ended without an answer: killed by a signal, exited, or raised an exception. Of an exception only
    its type is kept, since its message may quote a path. Under an address-space limit a crash is often an
    allocation that failed in C code, so the reason names the limit too."""

    def __init__(self, *, signal_number: int | None = None, exit_code: int | None = None,
                 exception: str | None = None, memory_bytes: int | None = None):
        super().__init__(signal_number, exit_code, exception, memory_bytes)
        self.signal_number, self.exit_code = signal_number, exit_code
        self.exception, self.memory_bytes = exception, memory_bytes

    @property
    def reason(self) -> str:
        if self.exception:
            return f"it failed with an unexpected {self.exception}"
        if self.signal_number:
            what = f"it crashed with signal {_signal_name(self.signal_number)}"
        elif self.exit_code is not None:
            what = f"it ended without an answer, with exit code {self.exit_code}"
        else:
            what = "it ended without an answer"
        return f"{what}, or needed more than {size_in_words(self.memory_bytes)} of memory" if self.memory_bytes \
            else what


class OutOfMemory(Failed):
    """An allocation failed at its address-space limit (reported by the run itself)."""

    def __init__(self, memory_bytes: int | None):
        super().__init__(memory_bytes)
        self.memory_bytes = memory_bytes

    @property
    def reason(self) -> str:
        if self.memory_bytes:
            return f"it needed more than {size_in_words(self.memory_bytes)} of memory"
        return "it ran out of memory"


class _TimeLimit(Failed):
    """Stopped at a time limit of `seconds`."""
    words = "{:.0f} s"

    def __init__(self, seconds: float):
        super().__init__(seconds)
        self.seconds = seconds

    @property
    def reason(self) -> str:
        return self.words.format(self.seconds)


class FellSilent(_TimeLimit):
    """No progress report came for `seconds`: it was stopped."""
    words = "it showed no progress for {:.0f} s"


class Overran(_TimeLimit):
    """It was still running after its total deadline of `seconds`: it was stopped."""
    words = "it took longer than {:.0f} s"


def size_in_words(size: int) -> str:
    """2147483648 -> "2 GB", 1048576 -> "1 MB": whole gigabytes when it is some, else megabytes."""
    return f"{size >> 30} GB" if size >= 1 << 30 and not size % (1 << 30) else f"{size >> 20} MB"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)
