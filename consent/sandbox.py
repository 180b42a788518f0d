"""Checking a consent PDF from inside a multi-threaded server (the Streamlit app).

The command line reads each PDF in a forked child with its own memory and time limits
(`cli_check.check_isolated`), but forking a process that runs threads is unsafe. Here a fork server, a
small single-threaded process started once with the checker already imported, forks a fresh process per
PDF, and that process runs the same isolated check. A reader crash, a memory blow-up or a hang costs that
one file its verdict (an error entry), never the server and its other users.
"""
from __future__ import annotations

import multiprocessing
from pathlib import Path

_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(["consent.cli_check", "consent.check"])
SLACK_SECONDS = 30   # beyond the isolated check's own kill time: starting, answering, tidying up


def check_in_sandbox(path: Path, *, trust_roots: list | None = None, **limits) -> dict:
    """The checker's result for `path`, read in a separate process; an error entry if that process failed.
    `limits` (memory_bytes, read_seconds, kill_seconds) go to `check_isolated`."""
    from consent.check import unreadable
    from consent.cli_check import GRACE_SECONDS
    from consent.pdf import READ_SECONDS

    receive, send = _CONTEXT.Pipe(duplex=False)
    worker = _CONTEXT.Process(target=_check, args=(send, str(path), trust_roots, limits), daemon=True)
    worker.start()
    send.close()
    try:
        answered = receive.poll(limits.get("kill_seconds", READ_SECONDS + GRACE_SECONDS) + SLACK_SECONDS)
        result = receive.recv() if answered else None
    except (EOFError, OSError):   # the worker died before answering
        result = None
    finally:
        receive.close()
        if worker.is_alive():
            worker.kill()
        worker.join()
    if result is None:
        return unreadable(str(path), f"{Path(path).name}: the PDF reader stopped on this file; a person must "
                                     "look at it")
    return result


def _check(send, path: str, trust_roots: list | None, limits: dict) -> None:
    from consent.cli_check import check_isolated

    with send:
        send.send(check_isolated(path, trust_roots=trust_roots, **limits))
