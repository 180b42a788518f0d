"""Threads of one pass and the bounded channels between them; when one fails, all stop together."""
from __future__ import annotations

import queue
import threading
from typing import Callable

QUEUED = 4                       # items waiting between two stages: memory stays that of a few frames


class Stopped(Exception):
    """Another stage failed or the pass was cancelled."""


class Stage(threading.Thread):
    """A pipeline thread that hands its exception to the main thread instead of dying silently."""

    def __init__(self, name: str, work: Callable[[], None], stop: threading.Event):
        super().__init__(name=name, daemon=True)
        self.work, self.stop, self.error = work, stop, None

    def run(self) -> None:
        try:
            self.work()
        except Stopped:
            pass                               # the stage that stopped the pass holds the reason
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
            self.error = exc
            self.stop.set()


class Channel:
    """A bounded queue from one stage to the next; waiting on it ends when the pass stops."""

    def __init__(self, stop: threading.Event, size: int = QUEUED):
        self.stop, self.queue = stop, queue.Queue(maxsize=size)

    def put(self, item) -> None:
        """Hand an item on, or drop it once the pass has stopped."""
        while not self.stop.is_set():
            try:
                self.queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def get(self, producer: threading.Thread | None = None):
        """The next item; Stopped once the pass stops, or once the producer has ended without handing it."""
        while not self.stop.is_set():
            try:
                return self.queue.get(timeout=0.1)
            except queue.Empty:
                if producer is not None and not producer.is_alive() and self.queue.empty():
                    break
        raise Stopped()
