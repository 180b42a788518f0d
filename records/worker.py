"""Warm workers: the processes that do the jobs the pages queue (`python -m records worker`; `make run`
starts them beside the app).

A pool is a small supervisor that loads no model and runs no job, and N workers, each run through the
isolation seam (`isolation.run`): a fresh process forked from isolation's single-threaded fork server (never
from a process whose onnxruntime or MediaPipe thread pools run), with an address-space limit
(VEIL_WORKER_MEMORY_MB), a process group of its own (an ExifTool it started dies with it), an end together
with the supervisor, and a silence limit (VEIL_WORKER_SILENT_SECONDS without a sign of life: killed). Unlike
a one-file run, the function a worker runs never returns: it loads the face models once, then takes job after
job from the jobs table, showing it is alive at every progress report of the engine and every half second
while idle. The worker process is the isolation unit: when it dies, isolation says why (it crashed, ran out
of memory, fell silent), its job is run once more or failed with that reason (records.services.work), and a
new worker takes its place, so a file that kills its reader costs that file only. A memory blow-up inside the
limit fails allocation, which the engine reports as the file's error, and the worker carries on.

The supervisor also queues housekeeping when it is due (Huey's crontab), and recovers the jobs of workers
elsewhere that stopped answering (their machine may be gone).
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass
from typing import Callable

from PIL import Image

import isolation
from records.config import Settings
from records.services import open_records
from records.services.work import (claim_next, enqueue_housekeeping, put_back, reap_stale, recover_worker,
                                   run_claimed)
from records.store import WorkDir

log = logging.getLogger("veil.worker")
BEAT_EVERY = 0.5           # seconds between two signs of life sent by a worker
IDLE_LOOK_SECONDS = 5.0    # an idle worker looks at the jobs table this often (a wake-up may have been lost)
POLL_SECONDS = 0.2         # how often a worker asks the SQLite queue (Redis waits for a message itself)
TICK_SECONDS = 1.0         # the supervisor's round: is housekeeping due, are other machines' jobs stale
REAP_EVERY = 30.0          # seconds between two looks for jobs of workers that stopped answering elsewhere
RESTART_PAUSE = 5.0        # before replacing a worker that died while starting (models missing, say)
READY = "ready"            # what a worker reports once its models are loaded


def worker_name(pid: int) -> str:
    return f"{socket.gethostname()}:{pid}"[:80]


# -- the worker process ------------------------------------------------------------------------------------
class Worker:
    """One worker's life inside its own process: serve wake-ups, run jobs, show it is alive."""

    def __init__(self, records, engine: Callable):
        self.records, self.engine = records, engine
        self.name = worker_name(os.getpid())
        self._beaten = 0.0

    def beat(self) -> None:
        now = time.monotonic()
        if now - self._beaten >= BEAT_EVERY:
            self._beaten = now
            isolation.progress(0.0, "")

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
            self._beaten = 0.0
            self.beat()
            run_claimed(self.records, job, self.name, self.engine, self.beat)


def serve_jobs(settings: Settings) -> None:
    """A worker process's whole life (isolation runs it by name): say who it is, load the models, then serve
    until it is killed. Loading counts as alive (a thread beats meanwhile): the silence limit is for files."""
    os.environ.setdefault("GLOG_minloglevel", "2")   # MediaPipe's and TensorFlow Lite's chatter
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    isolation.progress(0.0, worker_name(os.getpid()))
    loaded = threading.Event()
    threading.Thread(target=_beat_until, args=(loaded,), daemon=True, name="loading-beat").start()
    from deid.api import redact_file   # here, once the variables that quieten MediaPipe are set

    records = open_records(settings, housekeep=False)
    _warm_up(records, redact_file)
    loaded.set()
    isolation.progress(0.0, READY)
    Worker(records, redact_file).serve()


def _beat_until(done: threading.Event) -> None:
    while not done.wait(BEAT_EVERY):
        isolation.progress(0.0, "")


def _warm_up(records, redact_file: Callable) -> None:
    """Load the face models and start ExifTool once, on a small blank picture, before the first job."""
    with WorkDir(records.settings.work_dir) as work:
        Image.new("RGB", (96, 96), (128, 128, 128)).save(work / "warm.png")
        redact_file(work / "warm.png", work / "out", "default")


# -- the supervisor ----------------------------------------------------------------------------------------
@dataclass
class _Slot:
    """One place in the pool, and the worker in it now (its name once it said it)."""
    number: int
    name: str | None = None
    ready: bool = False


class Pool:
    """Keep `size` workers running and replace the ones that die, until SIGINT or SIGTERM."""

    def __init__(self, settings: Settings, size: int | None = None):
        self.settings = settings
        self.size = size or settings.worker_count()
        self.slots = [_Slot(n) for n in range(self.size)]
        self.stopping = threading.Event()
        self.records = None

    def run(self) -> None:
        self.records = open_records(self.settings, housekeep=False)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self.stopping.set())
        log.warning("starting %d worker(s), queue on %s", self.size, self.records.queue.where)
        isolation.start_server()
        enqueue_housekeeping(self.records)
        for slot in self.slots:
            threading.Thread(target=self._keep, args=(slot,), daemon=True, name=f"slot-{slot.number}").start()
        reaped, minute = 0.0, None
        try:
            while not self.stopping.wait(TICK_SECONDS):
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
            isolation.shut_down()

    def _keep(self, slot: _Slot) -> None:
        """Run a worker in this slot; when it dies, recover its jobs and start another."""
        while not self.stopping.is_set():
            slot.name, slot.ready = None, False
            try:
                isolation.run(serve_jobs, (self.settings,), memory_bytes=self.settings.worker_memory_mb << 20,
                              silent_seconds=self.settings.worker_silent_seconds,
                              on_progress=lambda _fraction, said: self._heard(slot, said))
            except isolation.Failed as failure:
                if self.stopping.is_set():
                    return
                self._recover(slot, failure.reason)
            if not slot.ready:
                self.stopping.wait(RESTART_PAUSE)

    @staticmethod
    def _heard(slot: _Slot, said: str) -> None:
        if said == READY:
            slot.ready = True
            log.warning("worker %s ready", slot.name)
        elif said and slot.name is None:
            slot.name = said
            log.warning("worker %s starting", said)

    def _recover(self, slot: _Slot, reason: str) -> None:
        """Its jobs (found by the worker's name in the table) run again or fail with the reason."""
        if slot.name is None:
            log.error("a worker stopped before it said who it was: %s", reason)
            return
        ended = recover_worker(self.records, slot.name, f"de-identification stopped on this file: {reason}")
        log.error("worker %s stopped: %s; %s", slot.name, reason,
                  ", ".join(f"job {job_id} is now {state}" for job_id, state in ended) or "it held no job")

    def _reap_elsewhere(self) -> None:
        mine = {slot.name for slot in self.slots if slot.name}
        if count := reap_stale(self.records, self.settings.worker_silent_seconds + 60, spare=mine):
            log.error("%d job(s) of workers that stopped answering were recovered", count)

    def _stop_all(self) -> None:
        """Kill every worker with its group, and put its job back in the queue (this attempt does not count)."""
        for slot in self.slots:
            if slot.name:
                try:
                    os.killpg(int(slot.name.rsplit(":", 1)[1]), signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
                put_back(self.records, slot.name)
        log.warning("workers stopped")
