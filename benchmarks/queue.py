"""The job queue end to end: 20 photos and one 30 s 720p clip through a pool of 1 and 2 warm workers, on the
SQLite queue and on a Redis queue (a redis-server started here on loopback).

    python benchmarks/queue.py [--photos 20] [--clip-seconds 30] [--workers 1 2] [--queues sqlite redis]

Prints, per run: the time from queueing the batch to the first finished file (its preview can be shown),
throughput (files/s), the per-photo overhead of the queue path against calling the engine directly in a
warm process, and each worker's peak memory (VmHWM). The overhead comes in two parts: what keeping a record
costs whatever runs the engine (decrypting the original, the look-up hashes, encrypting and storing the
output, the commit: the same service called in this warm process, minus the engine alone), and what the
queue and the worker process add on top (a job's time in its worker, claim to commit, minus that service
time; and the idle gap between two jobs of one worker).
"""
from __future__ import annotations

import sys
from pathlib import Path

# run as a script, this file's folder comes first on the path, and its name would hide the standard `queue`
sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def photos(folder: Path, count: int) -> list[Path]:
    """Grace Hopper's portrait at 1024x1200, each with a little different noise (so each is its own blob)."""
    import matplotlib.cbook
    from PIL import Image

    base = np.asarray(Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
                      .convert("RGB").resize((1024, 1200)), dtype=np.int16)
    made = []
    for i in range(count):
        noise = np.random.default_rng(i).integers(-3, 4, base.shape)
        path = folder / f"photo{i:02d}.jpg"
        Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8)).save(path, quality=90)
        made.append(path)
    return made


def clip_720p(path: Path, seconds: int, rate: int = 30) -> Path:
    """A 1280x720 H.264 clip with the portrait's face drifting across a gradient."""
    import av
    import matplotlib.cbook
    from PIL import Image

    face = np.asarray(Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
                      .convert("RGB").resize((240, 281)))
    yy, xx = np.mgrid[0:720, 0:1280]
    backdrop = np.stack([xx * 255 // 1280, yy * 255 // 720, np.full_like(xx, 90)], -1).astype(np.uint8)
    frames = seconds * rate
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=rate, options={"preset": "veryfast", "crf": "23"})
        stream.width, stream.height, stream.pix_fmt = 1280, 720, "yuv420p"
        for i in range(frames):
            frame = backdrop.copy()
            x = int((1280 - 240) * i / max(1, frames - 1))
            frame[200:481, x:x + 240] = face
            out.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        out.mux(stream.encode(None))
    return path


def direct_seconds(files: list[Path], work: Path) -> dict[str, float]:
    """The engine's own time per file in this (warm) process."""
    from deid.api import redact_file

    redact_file(files[0], work / "warm", "default")
    times = {}
    for path in files:
        start = time.perf_counter()
        report = redact_file(path, work / "direct", "default")
        times[path.name] = time.perf_counter() - start
        assert report.error is None, report.error
    return times


def service_seconds(files: list[Path], base: Path) -> dict[str, float]:
    """The intake service's time per photo in this warm process, engine in process: no queue, no worker."""
    from deid.api import redact_file
    from records import services as sv
    from records.audit import SYSTEM
    from records.services.intake import render_output
    from records_fixtures import make_settings

    records = sv.open_records(make_settings(base))
    admin = sv.add_user(records, SYSTEM, "admin", "benchmark-password", "admin")
    times = {}
    for path in files:
        asset = sv.upload_media(records, admin, path, path.name)
        start = time.perf_counter()
        render_output(records, admin, asset.id, "default", [], [], None, None, engine=redact_file)
        times[path.name] = time.perf_counter() - start
    records.close()
    return times


def run(settings_base: Path, files: list[Path], workers: int, queue_url: str | None, service: dict) -> dict:
    from queue_fixtures import installation_env, worker_pool
    from records import services as sv
    from records.audit import SYSTEM
    from records.models import Job
    from records_fixtures import make_settings

    settings = make_settings(settings_base, queue_url=queue_url)
    records = sv.open_records(settings)
    admin = sv.add_user(records, SYSTEM, "admin", "benchmark-password", "admin")
    staff = sv.add_user(records, admin, "sam", "benchmark-password", "staff")
    assets = [sv.upload_media(records, staff, path, path.name) for path in files]
    names = {a.id: p.name for a, p in zip(assets, files)}
    with worker_pool(installation_env(settings), settings_base / "pool.log", workers) as pool:
        start = time.monotonic()
        jobs = sv.enqueue_processing(records, staff, [a.id for a in assets])
        first = None
        while True:
            views = [sv.get_job(records, staff, j.id) for j in jobs]
            if first is None and any(v.state == "done" for v in views):
                first = time.monotonic() - start
            if not any(v.active for v in views):
                break
            time.sleep(0.05)
        total = time.monotonic() - start
        peaks = worker_peaks(pool.process.pid)
    failed = [v for v in views if v.state != "done"]
    with records.db.reading() as session:
        rows = {j.id: j for j in session.query(Job).filter(Job.kind == "deid")}
    records.close()
    overhead = [(rows[v.id].finished_at - rows[v.id].started_at).total_seconds() - service[names[v.asset_id]]
                for v in views if v.asset_kind == "image" and v.state == "done"]
    gaps = []
    for worker in {r.worker for r in rows.values()}:
        mine = sorted((r for r in rows.values() if r.worker == worker), key=lambda r: r.started_at)
        gaps += [(b.started_at - a.finished_at).total_seconds() for a, b in zip(mine, mine[1:])]
    return {"first": first, "total": total, "throughput": len(files) / total, "failed": len(failed),
            "overhead": statistics.median(overhead) if overhead else float("nan"),
            "gap": statistics.median(gaps) if gaps else float("nan"), "peaks": peaks}


def worker_peaks(supervisor: int) -> list[int]:
    """Peak resident memory (MB) of each worker process of the pool."""
    from process_tree import descendants

    peaks = []
    for pid in descendants(supervisor):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        hwm = next((line for line in status.splitlines() if line.startswith("VmHWM:")), None)
        if hwm and int(hwm.split()[1]) > 200 * 1024:   # the workers, not the fork server
            peaks.append(int(hwm.split()[1]) // 1024)
    return peaks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=20)
    parser.add_argument("--clip-seconds", type=int, default=30)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--queues", nargs="+", default=["sqlite", "redis"], choices=["sqlite", "redis"])
    args = parser.parse_args()

    from queue_fixtures import redis_server

    work = Path(tempfile.mkdtemp(prefix="veil-bench-queue-"))
    files = photos(work, args.photos) + [clip_720p(work / "clip720p.mp4", args.clip_seconds)]
    direct = direct_seconds(files, work)
    service = service_seconds(files[:-1], work / "in-process")
    photo_times = [direct[p.name] for p in files[:-1]]
    keeping = statistics.median(service[p.name] - direct[p.name] for p in files[:-1])
    print(f"{os.cpu_count()} CPUs; {args.photos} photos 1024x1200 and a {args.clip_seconds} s 720p clip")
    print(f"engine called directly in a warm process: photo median {statistics.median(photo_times):.2f} s, "
          f"clip {direct[files[-1].name]:.1f} s, all {sum(direct.values()):.1f} s "
          f"({len(files) / sum(direct.values()):.3f} files/s)")
    print(f"keeping the record (decrypt, hashes, encrypt, store, commit), in process: {keeping:.3f} s per photo")
    print(f"{'queue':<7} {'workers':>7} {'first s':>8} {'total s':>8} {'files/s':>8} {'queue+worker s':>14} "
          f"{'gap s':>6}  peak MB per worker")
    with redis_server(work) as redis_url:
        for queue in args.queues:
            for workers in args.workers:
                base = work / f"{queue}-{workers}"
                base.mkdir()
                r = run(base, files, workers, redis_url if queue == "redis" else None, service)
                print(f"{queue:<7} {workers:>7} {r['first']:>8.2f} {r['total']:>8.1f} {r['throughput']:>8.3f} "
                      f"{r['overhead']:>14.3f} {r['gap']:>6.3f}  {r['peaks']}"
                      + (f"  ({r['failed']} failed)" if r["failed"] else ""), flush=True)


if __name__ == "__main__":
    main()
