"""Read embedded metadata with ExifTool and list the tags outside an allow-list (the allow-lists themselves,
and the verdict on outputs, are in deid/verify.py).

Only tag *names* leave this module, never their values (values are where names, places and serial numbers
live).
"""
from __future__ import annotations

import atexit
import json
import os
import secrets
import select
import shutil
import subprocess
import threading
import time
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


# What ExifTool is asked for each file: JSON, group names, duplicates, unknown and embedded tags.
READ_ARGS = ("-j", "-G1", "-a", "-u", "-s", "-ee", "-api", "LargeFileSupport=1", "-charset", "filename=utf8")


def _read(path: Path) -> dict:
    """ExifTool's record of the file: "Group:Tag" -> value, values only for use in here. Read by this
    process's long-lived ExifTool (one start per process, not per file), or by a one-off ExifTool for a
    name the stay-open protocol cannot carry (a line break in it)."""
    name = os.fsencode(Path(path).absolute())
    if b"\n" in name or b"\r" in name:
        output = _read_once(name)
    else:
        # no "--" here: it would make the rest of the input, `-execute` too, file names; the name is
        # absolute, so it cannot be read as an option
        output = _STAY_OPEN.ask([*map(str.encode, READ_ARGS), name])
    try:
        records = json.loads(output.decode("utf-8", "replace") or "[]")
    except json.JSONDecodeError as exc:
        raise ExifToolError("ExifTool's output could not be parsed") from exc
    if not records:
        raise ExifToolError("ExifTool could not read the file")
    return records[0]


def _read_once(name: bytes) -> bytes:
    """One ExifTool run for one file (the way every file was read before the stay-open process)."""
    try:
        done = subprocess.run([exiftool_path(), *READ_ARGS, "--", name], capture_output=True,
                              timeout=EXIFTOOL_SECONDS)
    except subprocess.TimeoutExpired:
        raise _too_slow() from None
    return done.stdout


def _too_slow() -> ExifToolError:
    return ExifToolError(f"ExifTool did not finish reading the file in {EXIFTOOL_SECONDS:g} s")


class _StayOpen:
    """One `exiftool -stay_open True -@ -` per process: arguments go in on its stdin one per line, each
    command ends with `-execute<token>`, and its answer ends with `{ready<token>}` on stdout (perl and
    ExifTool's modules load once, not once per file: about 0.2 s each time on two busy cores).

    - Owned by the process that started it: a forked child (an isolated worker, a test's fork) never
      writes into its parent's pipes; it forgets the parent's and starts its own on first use.
    - Restarted when it has died; killed (and started again next time) when an answer takes longer than
      EXIFTOOL_SECONDS or cannot be read, since its state is then unknown.
    - Ends with its owner: told to exit when the owner exits, killed by the kernel when the owner dies
      (setpriv's parent-death signal; at the end of its input ExifTool would otherwise poll for more
      arguments forever), and inside an isolated worker, in the worker's process group.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._owner = os.getpid()

    def ask(self, args: list[bytes]) -> bytes:
        """ExifTool's output for one command."""
        with self._lock:
            if self._owner != os.getpid():   # forked without the at-fork hook: the pipes are the parent's
                self._forget()
            token = b"%d" % secrets.randbelow(10 ** 9)
            command = b"".join(arg + b"\n" for arg in args) + b"-execute" + token + b"\n"
            process = self._running()
            try:
                os.write(process.stdin.fileno(), command)
            except BrokenPipeError:   # it died since the last command: once more with a new one
                self._stop()
                process = self._running()
                os.write(process.stdin.fileno(), command)
            return self._answer(process, b"{ready" + token + b"}\n")

    def _running(self) -> subprocess.Popen:
        if self._process is not None and self._process.poll() is not None:
            self._stop()
        if self._process is None:
            self._process = subprocess.Popen([*_parent_death_kill(), exiftool_path(), "-stay_open", "True", "-@", "-"],
                                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                             stderr=subprocess.DEVNULL, bufsize=0)
        return self._process

    def _answer(self, process: subprocess.Popen, ready: bytes) -> bytes:
        """Everything ExifTool writes before `ready`. A line of its JSON cannot be `ready`: the values in it
        are quoted, with their line breaks escaped."""
        deadline = time.monotonic() + EXIFTOOL_SECONDS
        output = bytearray()
        stdout = process.stdout.fileno()
        while not output.endswith(ready):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([stdout], [], [], left)[0]:
                self._stop()
                raise _too_slow()
            chunk = os.read(stdout, 1 << 16)
            if not chunk:
                self._stop()
                raise ExifToolError("ExifTool stopped while reading the file")
            output += chunk
        return bytes(output[:-len(ready)])

    def _stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            process.kill()
            process.wait()
            _close(process)

    def close(self) -> None:
        """Ask it to exit (at the owner's exit); killed if it does not within a second."""
        with self._lock:
            process, self._process = self._process, None
            if process is None or self._owner != os.getpid():
                return
            try:
                os.write(process.stdin.fileno(), b"-stay_open\nFalse\n")
                process.wait(1)
            except (OSError, subprocess.TimeoutExpired):
                process.kill()
                process.wait()
            _close(process)

    def _forget(self) -> None:
        """In a forked child: drop the parent's process without a word to it (closing this process's copies
        of its pipes is all), and a lock another thread of the parent may have held at the fork."""
        if self._process is not None:
            _close(self._process)
            self._process.returncode = 0   # not this process's child: never waited for here
        self._process, self._owner = None, os.getpid()

    @property
    def process(self) -> subprocess.Popen | None:
        return self._process if self._owner == os.getpid() else None

    def after_fork(self) -> None:
        self._lock = threading.Lock()
        self._forget()


def _close(process: subprocess.Popen) -> None:
    for pipe in (process.stdin, process.stdout):
        pipe.close()


def _parent_death_kill() -> list[str]:
    """setpriv (util-linux, in every Debian) arranges SIGKILL for ExifTool when the thread that started it
    ends; where it is missing, ExifTool still ends at the owner's exit or with its process group."""
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "KILL", "--"] if setpriv else []


def stay_open_pid() -> int | None:
    """The process id of this process's stay-open ExifTool while one runs (for tests and diagnostics)."""
    process = _STAY_OPEN.process
    return process.pid if process is not None and process.poll() is None else None


_STAY_OPEN = _StayOpen()
os.register_at_fork(after_in_child=_STAY_OPEN.after_fork)
atexit.register(_STAY_OPEN.close)


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
