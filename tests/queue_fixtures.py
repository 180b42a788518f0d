"""Fixtures for the job queue: a pool of real worker processes (`python -m records worker`), a Redis server
and an S3 endpoint (moto's standalone server) started here on loopback ports, and waiting for a job's end.

Each server and pool belongs to the module that asks for it, so a module pays for starting it once."""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import ROOT
from records import services as sv
from records_fixtures import _free_port

FAULTS = ROOT / "tests" / "faults"
QUIET = {"GLOG_minloglevel": "2", "TF_CPP_MIN_LOG_LEVEL": "3"}


def installation_env(settings, **extra) -> dict[str, str]:
    """The environment that opens these records from another process (a worker, an app)."""
    env = {**os.environ, **QUIET, "PYTHONPATH": str(ROOT), "VEIL_DATA_DIR": str(settings.data_dir),
           "VEIL_KEY_FILE": str(settings.key_file), "VEIL_DATABASE_URL": settings.database_url}
    for name, value in (("VEIL_QUEUE_URL", settings.queue_url), ("VEIL_BLOB_URL", settings.blob_url)):
        if value:
            env[name] = value
    return {**env, **extra}


@dataclass
class WorkerPool:
    process: subprocess.Popen
    log: Path

    def ready_count(self) -> int:
        return self.log.read_text(errors="replace").count(" ready")

    def wait_ready(self, count: int, seconds: float = 300) -> None:
        deadline = time.monotonic() + seconds
        while self.ready_count() < count:
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            assert time.monotonic() < deadline, "the workers did not start: " + self.log.read_text()[-3000:]
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextlib.contextmanager
def worker_pool(env: dict[str, str], log: Path, workers: int = 1, faults: bool = False):
    """`python -m records worker` with `workers` warm workers; stopped (SIGTERM) at the end of the block."""
    if faults:
        env = {**env, "PYTHONPATH": f"{FAULTS}{os.pathsep}{env['PYTHONPATH']}"}
    with open(log, "w") as out:
        process = subprocess.Popen([sys.executable, "-m", "records", "worker", "--workers", str(workers)],
                                   cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    pool = WorkerPool(process, log)
    try:
        pool.wait_ready(workers)
        yield pool
    finally:
        pool.stop()


def wait_for_job(records, actor, job_id: str, *, until=lambda job: not job.active, seconds: float = 300):
    """Poll the job's row until `until` holds (its end, by default); returns its view."""
    deadline = time.monotonic() + seconds
    while True:
        job = sv.get_job(records, actor, job_id)
        if until(job):
            return job
        assert time.monotonic() < deadline, f"job still {job.state} ({job.stage}) after {seconds} s"
        time.sleep(0.1)


def run_queued_jobs(records, worker: str = "test:0") -> list[str]:
    """Do the queued jobs here, as one worker process would (the same claim and run, the engine in process),
    for tests of the pages that do not need a pool of their own; returns the jobs' final states."""
    from deid.api import redact_file
    from records.services.work import claim_next, run_claimed

    states = []
    while (job := claim_next(records, worker)) is not None:
        states.append(run_claimed(records, job, worker, redact_file, lambda: None))
    return states


def pid_of(worker: str) -> int:
    return int(worker.rsplit(":", 1)[1])


# -- servers on loopback --------------------------------------------------------------------------------------
@contextlib.contextmanager
def redis_server(folder: Path):
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is absent; install Debian's redis-server (packages.txt) to run these")
    port = _free_port()
    process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                "--appendonly", "no", "--dir", str(folder)], stdout=subprocess.DEVNULL)
    try:
        _wait_port(port, process)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(30)


@contextlib.contextmanager
def s3_server(log: Path):
    """moto's standalone S3 server (HTTP, in memory), and the environment a boto3 client needs for it."""
    port = _free_port()
    with open(log, "w") as out:
        process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                   stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text()
            with contextlib.suppress(OSError):
                urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/", timeout=2)
                break
            assert time.monotonic() < deadline, "moto's server did not start"
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(30)


@contextlib.contextmanager
def s3_bucket(folder: Path, name: str = "veil-blobs"):
    """A bucket on moto's S3 server, with the environment boto3 (here and in child processes) reads its
    endpoint and credentials from; yields the bucket's name."""
    import boto3

    with s3_server(folder / "moto.log") as endpoint, pytest.MonkeyPatch.context() as env:
        for variable, value in (("AWS_ENDPOINT_URL_S3", endpoint), ("AWS_ACCESS_KEY_ID", "veil-test"),
                                ("AWS_SECRET_ACCESS_KEY", "veil-test-secret"), ("AWS_DEFAULT_REGION", "us-east-1")):
            env.setenv(variable, value)
        boto3.client("s3").create_bucket(Bucket=name)
        yield name


def _wait_port(port: int, process: subprocess.Popen, seconds: float = 30) -> None:
    import socket

    deadline = time.monotonic() + seconds
    while True:
        assert process.poll() is None, "the server exited at start"
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        assert time.monotonic() < deadline, "the server did not start listening"
        time.sleep(0.1)
