"""The isolated side: what a fresh worker process does around the function it was started for."""
from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import resource
import signal
import threading

RESERVE_BYTES = 1 << 20   # held while the function runs, given back to send "out of memory" when it did run out

_channel = None           # this worker's end of the pipe to its host; None outside a worker
_sending = threading.Lock()


def progress(fraction: float, message: str = "") -> None:
    """Report progress to the host (which relays it and counts it as a sign of life); a function run in a
    worker passes this where it takes a progress callback. Outside a worker it does nothing."""
    if _channel is not None:
        with _sending:   # a function may report from threads of its own
            _channel.send(("progress", fraction, message))


def serve(send, target, args: tuple, kwargs: dict, memory_bytes: int | None) -> None:
    """The worker's body: confine this process, run target(*args, **kwargs), send the host one answer."""
    global _channel
    _confine(memory_bytes)
    _channel = send
    reserve = bytearray(RESERVE_BYTES)
    try:
        answer = ("done", target(*args, **kwargs))
    except MemoryError:
        answer = ("out_of_memory",)
    except BaseException as exc:  # noqa: BLE001 - the host gets the type only: the message may quote a path
        answer = ("raised", type(exc).__name__)
    del reserve
    with _sending:
        try:
            send.send(answer)
        except Exception as exc:  # noqa: BLE001 - an answer that cannot be sent (pickled) is a failure too
            send.send(("raised", type(exc).__name__))
        send.close()


def within_hard_limit(memory_bytes: int | None) -> int | None:
    """The address-space limit a worker can set: no more than the hard limit this process inherited."""
    if not memory_bytes:
        return None
    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    return memory_bytes if hard == resource.RLIM_INFINITY else min(memory_bytes, hard)


def _confine(memory_bytes: int | None) -> None:
    """A process group of its own (so an ExifTool or Tesseract it starts dies with it), an end with its host,
    then the address-space limit (last: the watcher thread's stack must be mapped before it)."""
    os.setpgid(0, 0)
    threading.Thread(target=_die_with_host, name="isolation-host-watch", daemon=True).start()
    cap = within_hard_limit(memory_bytes)
    if cap:
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


def _die_with_host() -> None:
    """Kill this worker's whole group once its host is gone: a worker orphaned by a killed app must not go on
    writing into a work folder that the next start sweeps. The host alone holds the other end of the
    sentinel pipe multiprocessing gives the worker, so it reads as closed exactly when the host has ended."""
    multiprocessing.connection.wait([multiprocessing.parent_process().sentinel])
    os.killpg(0, signal.SIGKILL)
