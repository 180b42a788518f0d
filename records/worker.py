"""Warm workers: the processes that do the jobs the pages queue (`python -m records worker`; `make run`
starts them beside the app).

A pool is a small supervisor that loads no model and runs no job, and N worker processes it starts fresh
(spawned, never forked: forking a process whose onnxruntime or MediaPipe thread pools run is unsafe). Each
worker loads the face models once and then takes job after job from the jobs table. The worker process is
the isolation unit: it has an address-space limit (VEIL_WORKER_MEMORY_MB) and a process group of its own (an
ExifTool it started dies with it), and it shows it is alive at every progress report of the engine and every
second while idle. A worker that crashes or falls silent for longer than VEIL_WORKER_SILENT_SECONDS is killed
with its group and replaced; its job is run once more, or failed with the reason (records.services.work), so
a file that kills its reader costs that file only. A memory blow-up inside the limit fails allocation, which
the engine reports as the file's error, and the worker carries on.

The supervisor also queues housekeeping when it is due (Huey's crontab), and puts back the jobs of workers
elsewhere that stopped answering (their machine may be gone).
"""
from __future__ import annotations

import datetime as dt
import logging
import multiprocessing
import os
import resource
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Callable

from PIL import Image

from records.config import Settings
from records.services import open_records
from records.services.work import (claim_next, enqueue_housekeeping, put_back, reap_stale, recover_worker,
                                   run_claimed)
from records.store import WorkDir

log = logging.getLogger("veil.worker")
_SPAWN = multiprocessing.get_context("spawn")
BEAT_EVERY = 0.5           # seconds between two signs of life sent by a worker
IDLE_LOOK_SECONDS = 5.0    # an idle worker looks at the jobs table this often (a wake-up may have been lost)
POLL_SECONDS = 0.2         # how often a worker asks the SQLite queue (Redis waits for a message itself)
REAP_EVERY = 30.0          # seconds between two looks for jobs of workers that stopped answering elsewhere
RESTART_PAUSE = 5.0        # before replacing a worker that died while starting (models missing, say)
STARTUP_SECONDS = 600      # a starting worker imports the engine and loads the models before it says anything


def worker_name(pid: int) -> str:
    return f"{socket.gethostname()}:{pid}"[:80]


# -- the worker process ------------------------------------------------------------------------------------
class Worker:
    """One worker's life inside its own process: serve wake-ups, run jobs, show it is alive."""

    def __init__(self, records, conn: Connection, engine: Callable):
        self.records, self.conn, self.engine = records, conn, engine
        self.name = worker_name(os.getpid())
        self._beaten = 0.0
        self._sending = threading.Lock()   # the engine may report progress from a thread of its own

    def beat(self) -> None:
        self.send("beat")

    def send(self, *message, always: bool = False) -> None:
        with self._sending:
            now = time.monotonic()
            if always or now - self._beaten >= BEAT_EVERY:
                self._beaten = now
                self.conn.send(message)

    def serve(self) -> None:
        queue = self.records.queue
        looked = 0.0
        while True:
            self.beat()
            message = queue.receive()
            if message is not None or time.monotonic() - looked > IDLE_LOOK_SECONDS:
                looked = time.monotonic()
                self.drain()
            elif not queue.waits:
                time.sleep(POLL_SECONDS)

    def drain(self) -> None:
        """Run queued jobs, fairest first, until none is left."""
        while (job := claim_next(self.records, self.name)) is not None:
            self.send("beat", always=True)
            run_claimed(self.records, job, self.name, self.engine, self.beat)


def _worker_main(conn: Connection, settings: Settings) -> None:
    """The worker process: confined, warmed up, then serving until its supervisor goes."""
    os.setpgid(0, 0)
    limit = settings.worker_memory_mb << 20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    os.environ.setdefault("GLOG_minloglevel", "2")   # MediaPipe's and TensorFlow Lite's chatter
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C reaches the supervisor, which stops the workers
    _end_with(os.getppid())
    from deid.api import redact_file   # here, once the variables that quieten MediaPipe are set

    records = open_records(settings, housekeep=False)
    _warm_up(records, redact_file)
    conn.send(("ready",))
    Worker(records, conn, redact_file).serve()


def _end_with(supervisor: int) -> None:
    """A worker whose supervisor died stops at once (its jobs are put back by whoever recovers them)."""
    def watch() -> None:
        while os.getppid() == supervisor:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="supervisor-watch").start()


def _warm_up(records, redact_file: Callable) -> None:
    """Load the face models and start ExifTool once, on a small blank picture, before the first job."""
    with WorkDir(records.settings.work_dir) as work:
        Image.new("RGB", (96, 96), (128, 128, 128)).save(work / "warm.png")
        redact_file(work / "warm.png", work / "out", "default")


# -- the supervisor ----------------------------------------------------------------------------------------
@dataclass
class _Child:
    process: multiprocessing.Process
    conn: Connection
    started: float
    name: str = ""
    ready: bool = False
    last_sign: float = field(default_factory=time.monotonic)


class Pool:
    """Start `size` workers, keep them alive and replace the ones that die, until SIGINT or SIGTERM."""

    def __init__(self, settings: Settings, size: int | None = None):
        self.settings = settings
        self.size = size or settings.worker_count()
        self.children: list[_Child] = []
        self.stopping = threading.Event()
        self.records = None

    def run(self) -> None:
        self.records = open_records(self.settings, housekeep=False)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self.stopping.set())
        log.warning("starting %d worker(s), queue on %s", self.size, self.records.queue.where)
        enqueue_housekeeping(self.records)
        self.children = [self._start() for _ in range(self.size)]
        reaped, minute = 0.0, None
        try:
            while not self.stopping.is_set():
                self._listen(1.0)
                self._check_children()
                if time.monotonic() - reaped > REAP_EVERY:
                    reaped = time.monotonic()
                    self._reap_elsewhere()
                now = dt.datetime.now(dt.timezone.utc)
                if now.replace(second=0, microsecond=0) != minute:
                    minute = now.replace(second=0, microsecond=0)
                    if self.records.queue.due(now):
                        enqueue_housekeeping(self.records)
        finally:
            self._stop_all()
            self.records.close()

    def _start(self) -> _Child:
        receive, send = _SPAWN.Pipe(duplex=False)
        process = _SPAWN.Process(target=_worker_main, args=(send, self.settings), name="veil-worker")
        process.start()
        send.close()
        child = _Child(process, receive, time.monotonic(), name=worker_name(process.pid))
        log.warning("worker %s starting", child.name)
        return child

    def _listen(self, timeout: float) -> None:
        by_conn = {c.conn: c for c in self.children}
        for conn in wait(list(by_conn), timeout):
            self._receive(by_conn[conn])

    def _receive(self, child: _Child) -> None:
        try:
            while child.conn.poll():
                kind, *_ = child.conn.recv()
                child.last_sign = time.monotonic()
                if kind == "ready":
                    child.ready = True
                    log.warning("worker %s ready", child.name)
        except (EOFError, OSError):
            child.process.join(1)   # it died; _check_children tells why

    def _check_children(self) -> None:
        for index, child in enumerate(self.children):
            limit = self.settings.worker_silent_seconds if child.ready else STARTUP_SECONDS
            silent = time.monotonic() - child.last_sign
            if child.process.exitcode is None and silent <= limit:
                continue
            if child.process.exitcode is None:
                reason = f"showed no progress for {limit} s"
            else:
                self._receive(child)   # what it said before it died
                reason = _how_it_ended(child.process.exitcode, self.settings.worker_memory_mb)
            _kill(child)
            self._recover(child, reason)
            if not child.ready:
                log.error("worker %s %s while starting; replacing it in %.0f s", child.name, reason, RESTART_PAUSE)
                self.stopping.wait(RESTART_PAUSE)
            self.children[index] = self._start()

    def _recover(self, child: _Child, reason: str) -> None:
        """Its jobs (found by the worker's name in the table, whatever it managed to say) run again or fail."""
        ended = recover_worker(self.records, child.name, f"de-identification stopped on this file: its worker "
                                                         f"{reason}")
        log.error("worker %s %s; %s", child.name, reason,
                  ", ".join(f"job {job_id} is now {state}" for job_id, state in ended) or "it held no job")

    def _reap_elsewhere(self) -> None:
        mine = {c.name for c in self.children}
        if count := reap_stale(self.records, self.settings.worker_silent_seconds + 60, spare=mine):
            log.error("%d job(s) of workers that stopped answering were recovered", count)

    def _stop_all(self) -> None:
        for child in self.children:
            _kill(child)
            put_back(self.records, child.name)
        log.warning("workers stopped")


def _kill(child: _Child) -> None:
    """End the worker and whatever it started (its process group; the worker alone if it died before it
    made one), then reap it."""
    for kill in (os.killpg, os.kill):
        try:
            kill(child.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    child.process.join()
    child.conn.close()


def _how_it_ended(exitcode: int, memory_mb: int) -> str:
    if exitcode < 0:
        name = signal.Signals(-exitcode).name
        if -exitcode == signal.SIGKILL:
            return f"was killed ({name}; the system may have run out of memory)"
        return f"crashed ({name})"
    return f"stopped with exit status {exitcode} (perhaps out of memory: it may use {memory_mb} MB)"
