"""The host's side: start a worker from the fork server, wait for its answer under the limits, end it."""
from __future__ import annotations

import multiprocessing
import multiprocessing.forkserver
import multiprocessing.spawn
import os
import signal
import threading
import time
from contextlib import contextmanager
from typing import Callable

from isolation.failures import Crashed, FellSilent, OutOfMemory, Overran
from isolation.worker import serve, within_hard_limit

_CONTEXT = multiprocessing.get_context("forkserver")
EXIT_WAIT_SECONDS = 5   # for the exit status of a worker whose pipe closed without an answer
_preloaded: set[str] = set()
_starting = threading.Lock()


def preload(*modules: str) -> None:
    """Have the fork server import `modules` once when it starts, instead of every worker importing them
    (mediapipe alone takes 0.9 s). Register them before the first run of the process: a server already
    running keeps what it has. The server imports them with its own sys.path (its working folder and
    PYTHONPATH), and skips one it cannot import (the workers then import it each time). Preload modules for
    their code only: one that starts threads or loads a model at import would hand every worker a copy of
    threads that did not survive the fork."""
    _preloaded.update(modules)
    _CONTEXT.set_forkserver_preload(sorted(_preloaded))


def run(target: Callable, args: tuple = (), kwargs: dict | None = None, *, memory_bytes: int | None = None,
        silent_seconds: float | None = None, total_seconds: float | None = None,
        on_progress: Callable[[float, str], None] | None = None):
    """target(*args, **kwargs) in a fresh process; what it returned.

    `target` is a module-level function (the worker imports it by name) and the arguments are pickled. The
    worker has its own process group, an address-space limit of `memory_bytes` (no more than this process's
    hard limit), and dies with this process. Its `isolation.progress` reports reach `on_progress`; with no
    report for `silent_seconds`, or still running after `total_seconds`, it is killed. Raises a `Failed`:
    Crashed, OutOfMemory, FellSilent or Overran. Safe to call from several threads at once."""
    cap = within_hard_limit(memory_bytes)
    receive, send = _CONTEXT.Pipe(duplex=False)
    worker = _CONTEXT.Process(target=serve, args=(send, target, args, kwargs or {}, cap), daemon=True)
    with _main_hidden():
        worker.start()
    send.close()
    try:
        return _answer(receive, worker, cap, silent_seconds, total_seconds, on_progress)
    finally:
        receive.close()
        _stop(worker)


def start_server() -> None:
    """Start the fork server now instead of at the first run. It imports the preloaded modules in a process
    of its own, so a command line that calls this first has them imported while it does its own imports."""
    with _main_hidden():
        multiprocessing.forkserver.ensure_running()


def shut_down() -> None:
    """Stop the fork server and wait for it to end. A command line calls this when its batch is done: nothing
    of it outlives the command, and the command's resource usage (its peak memory) then counts its workers',
    which the server reaped. The next run starts a new server. (multiprocessing names this method private;
    it is the only way to wait for the server.)"""
    multiprocessing.forkserver._forkserver._stop()


def _answer(receive, worker, cap: int | None, silent_seconds: float | None, total_seconds: float | None,
            on_progress):
    started = time.monotonic()
    while True:
        if not receive.poll(_wait_seconds(started, silent_seconds, total_seconds)):
            if total_seconds is not None and time.monotonic() - started >= total_seconds:
                raise Overran(total_seconds)
            raise FellSilent(silent_seconds)
        try:
            kind, *payload = receive.recv()
        except (EOFError, OSError):   # it died before answering
            worker.join(EXIT_WAIT_SECONDS)
            code = worker.exitcode
            raise Crashed(signal_number=-code if code and code < 0 else None,
                          exit_code=code if code is not None and code >= 0 else None, memory_bytes=cap) from None
        if kind == "done":
            return payload[0]
        if kind == "out_of_memory":
            raise OutOfMemory(cap)
        if kind == "raised":
            raise Crashed(exception=payload[0])
        if on_progress is not None:
            on_progress(*payload)


def _wait_seconds(started: float, silent_seconds: float | None, total_seconds: float | None) -> float | None:
    """How long to wait for the next message: until the silence limit or the deadline, whichever is first."""
    waits = [] if silent_seconds is None else [silent_seconds]
    if total_seconds is not None:
        waits.append(max(0.0, started + total_seconds - time.monotonic()))
    return min(waits) if waits else None


@contextmanager
def _main_hidden():
    """While a worker or the fork server is started: hide this process's `__main__` from them.
    multiprocessing would otherwise have them import or re-run it, and in a Streamlit server `__main__` is
    the page script being run (and under pytest a test harness): a worker re-running a page crashes before
    it reads anything."""
    real = multiprocessing.spawn.get_preparation_data

    def without_main(name):
        data = real(name)
        data.pop("init_main_from_path", None)
        data.pop("init_main_from_name", None)
        return data

    with _starting:   # the swap lasts while the start request is built; only this module starts processes
        multiprocessing.spawn.get_preparation_data = without_main
        try:
            yield
        finally:
            multiprocessing.spawn.get_preparation_data = real


def _stop(worker) -> None:
    """End the worker and whatever it started (its own process group), then reap it. A worker still running
    is killed by its id too, in case it had not yet made its group."""
    kills = [os.killpg] if worker.exitcode is not None else [os.killpg, os.kill]
    for kill in kills:
        try:
            kill(worker.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    worker.join()
