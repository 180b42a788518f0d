"""Reading uploads from inside a multi-threaded server (the Streamlit app), one process per file.

The decoders (libjpeg, libheif, FFmpeg, pdfium) are C code fed with files from strangers: a crash, a memory
blow-up or a hang there must cost one file its result, never the server and its other users. Forking a
process that runs threads is unsafe, so a fork server (a small single-threaded process started once, with
the readers already imported) forks a fresh process per file. That process has its own address-space limit
and process group (so an ExifTool or Tesseract it started dies with it), reports progress through a pipe,
and is killed when it falls silent for too long. Each file starts from a clean process, so nothing one
upload leaves in memory reaches the next.
"""
from __future__ import annotations

import multiprocessing
import multiprocessing.spawn
import os
import resource
import signal
import threading
import time
from pathlib import Path
from typing import Callable

from deid.profile import ProfileError, load_profile
from deid.report import DeidReport

_CONTEXT = multiprocessing.get_context("forkserver")
# imported once in the fork server, not per file (mediapipe alone takes 0.9 s); no model is loaded there,
# since a loaded model's worker threads would not survive the fork
_CONTEXT.set_forkserver_preload(["consent.cli_check", "consent.check", "deid.api", "deid.video", "deid.detect",
                                 "mediapipe", "onnxruntime", "onnx"])
SLACK_SECONDS = 30              # beyond the isolated check's own kill time: starting, answering, tidying up
REDACT_MEMORY_BYTES = 8 << 30   # address space of one de-identification (the largest video frame is 40 MP)
REDACT_SILENT_SECONDS = 300     # longest pause between two progress reports (a whole 80 MP photo fits)
HOST_CHECK_SECONDS = 0.2        # how often a worker checks that the app that asked for it still lives


def check_in_sandbox(path: Path, *, trust_roots: list | None = None, **limits) -> dict:
    """The consent checker's result for `path`, read in a separate process; an error entry if that process
    failed. `limits` (memory_bytes, read_seconds, kill_seconds) go to `cli_check.check_isolated`, which
    reads in a further child of its own with those limits."""
    from consent.check import unreadable
    from consent.cli_check import time_limits

    silence = time_limits(limits.get("read_seconds"), limits.get("kill_seconds"))[1] + SLACK_SECONDS
    result = _run(_check, (str(path), trust_roots, limits), silent_seconds=silence)
    if result is None:
        return unreadable(str(path), f"{Path(path).name}: the PDF reader stopped on this file; a person must "
                                     "look at it")
    return result


def redact_in_sandbox(path: Path, out_dir: Path, profile: str, *, progress: Callable | None = None,
                      memory_bytes: int = REDACT_MEMORY_BYTES, silent_seconds: float = REDACT_SILENT_SECONDS,
                      **options) -> DeidReport:
    """deid.api.redact_file in a separate process (same arguments and report); if that process crashed, ran
    out of memory or fell silent, the report says so and has no output."""
    report = _run(_redact, (str(path), str(out_dir), profile, options, memory_bytes),
                  silent_seconds=silent_seconds, on_progress=progress)
    if report is not None:
        return report
    try:
        stamp = load_profile(profile).stamp()
    except ProfileError:
        stamp = None
    return DeidReport.new(path, stamp, options.get("original_name")).failed(
        f"de-identification stopped on this file (it crashed, needed more than {memory_bytes >> 30} GB of "
        f"memory, or showed no progress for {silent_seconds:.0f} s); nothing was kept")


_STARTING = threading.Lock()


def _start(worker) -> None:
    """Start a worker without telling it about this process's `__main__`. multiprocessing would otherwise
    have the worker import or re-run it, and in a Streamlit server `__main__` is the page script being run
    (and under pytest a test harness): a worker re-running a page crashes before it reads anything."""
    real = multiprocessing.spawn.get_preparation_data

    def without_main(name):
        data = real(name)
        data.pop("init_main_from_path", None)
        data.pop("init_main_from_name", None)
        return data

    with _STARTING:   # the swap lasts while the start request is built; only this module starts processes
        multiprocessing.spawn.get_preparation_data = without_main
        try:
            worker.start()
        finally:
            multiprocessing.spawn.get_preparation_data = real


def _run(target, args: tuple, *, silent_seconds: float, on_progress: Callable | None = None):
    """target(send, this process's id, *args) in a fresh process: relays its ("progress", fraction, message)
    reports and returns the value of its ("done", value), or None if it died or was silent for `silent_seconds`."""
    receive, send = _CONTEXT.Pipe(duplex=False)
    worker = _CONTEXT.Process(target=target, args=(send, os.getpid(), *args), daemon=True)
    _start(worker)
    send.close()
    try:
        while receive.poll(silent_seconds):
            kind, *payload = receive.recv()
            if kind == "done":
                return payload[0]
            if on_progress is not None:
                on_progress(*payload)
        return None
    except (EOFError, OSError):   # it died before answering
        return None
    finally:
        receive.close()
        _stop(worker)


def _stop(worker) -> None:
    """End the worker and whatever it started (its own process group), then reap it."""
    try:
        os.killpg(worker.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    worker.join()


def _confine(host: int, memory_bytes: int | None) -> None:
    """A process group of its own, an address-space limit, and an end with the app: a worker orphaned by a
    killed app must not go on writing into a work folder that the next start sweeps."""
    os.setpgid(0, 0)
    if memory_bytes:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))

    def watch() -> None:
        while True:
            try:
                os.kill(host, 0)
            except ProcessLookupError:
                os._exit(1)
            time.sleep(HOST_CHECK_SECONDS)

    threading.Thread(target=watch, daemon=True).start()


def _check(send, host: int, path: str, trust_roots: list | None, limits: dict) -> None:
    from consent.cli_check import check_isolated

    # check_isolated forks its reading child from here, with its own memory limit; the watcher thread
    # _confine starts holds no lock, so forking while it runs is safe
    _confine(host, None)
    with send:
        send.send(("done", check_isolated(path, trust_roots=trust_roots, **limits)))


def _redact(send, host: int, path: str, out_dir: str, profile: str, options: dict, memory_bytes: int) -> None:
    from deid.api import redact_file

    _confine(host, memory_bytes)
    with send:
        report = redact_file(path, out_dir, profile, progress=lambda f, m: send.send(("progress", f, m)),
                             **options)
        send.send(("done", report))
