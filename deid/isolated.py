"""De-identification in processes of their own, through the isolation seam: a decoder that crashes, runs out
of memory or hangs costs that file its output, never the batch or the app that asked.

`redact_isolated` gives one file a fresh process. `redact_batch` gives a batch one worker process per core,
each loading the models and starting ExifTool once, then taking its share of the files one after another
(as the app's warm workers do, records/worker.py): a file that kills a worker costs that file only, and a
fresh worker takes the files after it. Loading the models again for every file cost more than detecting faces on a 12 MP photo."""
from __future__ import annotations

import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Callable, Sequence

import isolation
from deid.output import fsync_path
from deid.profile import Profile, ProfileError, load_profile
from deid.report import DeidReport

REDACT_MEMORY_BYTES = 8 << 30   # address space of one de-identification (the largest video frame is 40 MP)
REDACT_SILENT_SECONDS = 300     # longest pause between two progress reports (a whole 80 MP photo fits)
# imported once by the fork server each file's process is forked from (mediapipe alone takes 0.9 s); no
# model is loaded there, since a loaded model's worker threads would not survive the fork. deid.api brings
# the whole engine; the three libraries it imports only when a model is first loaded are named too. This
# module imports deid.api only where it runs the engine or words an error: a command line that only asks
# the workers does not pay for importing it (0.4 s of CPU) while the server imports it too.
isolation.preload("deid.api", "mediapipe", "onnxruntime", "onnx")


def _error_message(exc: BaseException) -> str:
    from deid.api import error_message

    return error_message(exc)


def _redact_file(*args, **options) -> DeidReport:
    from deid.api import redact_file

    return redact_file(*args, **options)


def redact_isolated(path: str | Path, out_dir: str | Path, profile: str | Profile = "default", *,
                    progress: Callable[[float, str], None] | None = None, memory_bytes: int = REDACT_MEMORY_BYTES,
                    silent_seconds: float = REDACT_SILENT_SECONDS, **options) -> DeidReport:
    """redact_file in a process of its own, limited to `memory_bytes` and killed after `silent_seconds`
    without progress; same arguments and report. If that process failed, the report says why and has no
    output. It writes into a staging folder inside out_dir, removed afterwards, so a killed one leaves
    nothing behind; a verified output is then moved up into out_dir."""
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=out_dir))
    except OSError as exc:
        return _failed(path, profile, options, _error_message(exc))
    try:
        report = isolation.run(_redact_file, (str(path), str(staging), profile),
                               {**options, "progress": isolation.progress}, memory_bytes=memory_bytes,
                               silent_seconds=silent_seconds, on_progress=progress)
        if report.output:
            report.output = str(_moved_up(Path(report.output), out_dir.absolute()))
        return report
    except isolation.Failed as failure:
        return _failed(path, profile, options,
                       f"de-identification stopped on this file ({failure.reason}); nothing was kept")
    except OSError as exc:   # the verified output could not be moved up: it is not kept
        return _failed(path, profile, options, _error_message(exc))
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def redact_batch(paths: Sequence[str | Path], out_dir: str | Path, profile: str | Profile = "default", *,
                 on_report: Callable[[DeidReport], None] | None = None, workers: int | None = None,
                 memory_bytes: int = REDACT_MEMORY_BYTES,
                 silent_seconds: float = REDACT_SILENT_SECONDS) -> list[DeidReport]:
    """redact_file on every path in worker processes with redact_isolated's limits (the silence limit counts
    per file): `workers` of them side by side (default VEIL_WORKERS, else one per core), each taking every
    n-th file, so both cores stay busy. One report per path, in the paths' order, each also given to
    `on_report` as soon as it and every report before it are known."""
    paths = list(paths)
    count = batch_workers(len(paths), workers)
    reports: dict[int, DeidReport] = {}
    told, lock = 0, threading.Lock()

    def keep(index: int, report: DeidReport) -> None:
        nonlocal told
        with lock:
            reports[index] = report
            while told in reports:
                if on_report is not None:
                    on_report(reports[told])
                told += 1

    def stream(indices: list[int]) -> None:
        position = 0

        def kept(report: DeidReport) -> None:
            nonlocal position
            keep(indices[position], report)
            position += 1

        try:
            while position < len(indices):
                _batch_in_one_worker([paths[i] for i in indices[position:]], Path(out_dir), profile, kept,
                                     memory_bytes, silent_seconds)
        except Exception as exc:  # noqa: BLE001 - a host-side fault still gives every file its report
            for index in indices[position:]:
                keep(index, _failed(paths[index], profile, {}, _error_message(exc)))

    streams = [threading.Thread(target=stream, args=(list(range(k, len(paths), count)),), name=f"batch-{k}")
               for k in range(count)]
    for thread in streams:
        thread.start()
    for thread in streams:
        thread.join()
    return [reports[i] for i in range(len(paths))]


def batch_workers(files: int, workers: int | None = None) -> int:
    """How many worker processes a batch of `files` gets: `workers`, else VEIL_WORKERS, else one per core;
    never more than the files."""
    return max(1, min(files, workers or int(os.environ.get("VEIL_WORKERS") or os.cpu_count() or 1)))


def _batch_in_one_worker(paths: list, out_dir: Path, profile, keep: Callable[[DeidReport], None],
                         memory_bytes: int, silent_seconds: float) -> int:
    """As many of `paths` as one worker gets through (all of them, or up to and including the one it
    stopped on, which then gets the reason); how many were done."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=out_dir))
    except OSError as exc:
        keep(_failed(paths[0], profile, {}, _error_message(exc)))
        return 1
    done = 0

    def heard(_fraction: float, message) -> None:
        nonlocal done
        if isinstance(message, DeidReport):   # one file finished; the worker has gone on to the next
            done += 1
            keep(_kept_output(message, out_dir, profile))

    try:
        isolation.run(_redact_each, ([str(p) for p in paths], str(staging), profile),
                      memory_bytes=memory_bytes, silent_seconds=silent_seconds, on_progress=heard)
    except isolation.Failed as failure:
        keep(_failed(paths[done], profile, {},
                     f"de-identification stopped on this file ({failure.reason}); nothing was kept"))
        done += 1
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return done


def _redact_each(paths: list[str], staging: str, profile: str | Profile) -> None:
    """The batch worker's body: each file's report goes back to the host as soon as it is written, through
    the progress channel (which pickles what it is given, and shows the host this worker is alive)."""
    for path in paths:
        isolation.progress(0.0, _redact_file(path, staging, profile, progress=isolation.progress))


def _kept_output(report: DeidReport, out_dir: Path, profile) -> DeidReport:
    """The report with its verified output moved up from the staging folder; failed if it cannot be."""
    if not report.output:
        return report
    try:
        report.output = str(_moved_up(Path(report.output), out_dir.absolute()))
        return report
    except OSError as exc:
        return _failed(report.input, profile, {}, _error_message(exc))


def _moved_up(output: Path, out_dir: Path) -> Path:
    """The verified output moved from the staging folder into out_dir, durably (as write_verified's own
    rename): it is there after a power cut, or not there at all when this raises."""
    final = out_dir / output.name
    os.replace(output, final)
    try:
        fsync_path(out_dir)
    except OSError:
        final.unlink(missing_ok=True)
        raise
    return final


def _failed(path: str | Path, profile: str | Profile, options: dict, message: str) -> DeidReport:
    """The report of a file that could not be de-identified: `message` says why, never with a path."""
    try:
        stamp = (profile if isinstance(profile, Profile) else load_profile(profile)).stamp()
    except ProfileError:
        stamp = None
    return DeidReport.new(path, stamp, options.get("original_name")).failed(message)
