"""One pass over a video, in constant memory: three threads with short channels between them.

    reader (reader.py): demux, decode, turn upright
      -> this thread (detection.py): detect, track, decide each frame's regions behind a look-ahead window
      -> encoder (writer.py): redact in place, encode H.264 MP4
and a fourth, the residual check: a differently-built detector reads every n-th redacted frame as it goes
to the encoder. The written file is then read back (deid/verify.py) before it gets its final random name
(deid/output.py); on any error or cancel nothing is left behind.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import av

from deid.detect import residual_detector
from deid.metadata import removed_tags
from deid.output import write_verified
from deid.profile import Profile
from deid.report import DeidReport
from deid.verify import VIDEO_INPUT_ALLOWED, Written, verify_video
from deid.video.detection import LookAhead, Runs
from deid.video.errors import VideoCancelled, VideoReadError, av_reason
from deid.video.frames import fit
from deid.video.reader import expected_frames, first_video_stream, open_input, read
from deid.video.settings import VideoSettings
from deid.video.stages import Channel, Stage, Stopped
from deid.video.writer import Writer, encode

Progress = Callable[[float, str], None]

PASS_SHARE = 0.95                # of the progress bar: the redacting pass; the rest is verification
RESIDUAL_SIDE = 640              # longest side of the output frames the residual check reads


@dataclass(frozen=True)
class Job:
    """One video's de-identification: what the profile asks for, and how to report progress and cancel."""
    prof: Profile
    settings: VideoSettings
    progress: Progress | None = None
    cancel: Callable[[], bool] | None = None

    def check_cancel(self) -> None:
        if self.cancel is not None and self.cancel():
            raise VideoCancelled("cancelled; nothing was written")


def redact_video(path: str | Path, out_dir: str | Path, prof: Profile, report: DeidReport, *,
                 progress: Progress | None = None, cancel: Callable[[], bool] | None = None) -> None:
    """De-identify one video into out_dir under a new random name, filling `report` in place."""
    path, out_dir = Path(path), Path(out_dir)
    report.start_video()
    report.removed = removed_tags(path, VIDEO_INPUT_ALLOWED)
    job = Job(prof, VideoSettings.of(prof), progress, cancel)

    def verify(partial: Path, written: Written) -> None:
        meter = _Meter(job.progress, PASS_SHARE, 0.99, "verifying")

        def on_frame(frames: int) -> None:
            job.check_cancel()
            meter(frames, written.frames)

        verify_video(partial, prof, written, report.verified, on_frame)

    try:
        final = write_verified(out_dir, ".mp4", lambda partial: _transcode(job, path, partial, report), verify)
    except av.FFmpegError as exc:
        raise VideoReadError(f"video could not be processed ({av_reason(exc)})") from None
    report.output = str(final.absolute())


@dataclass
class _Threads:
    """The pass's other threads, and the channels from the reader and to the encoder."""
    reader: Stage
    encoder: Stage
    decoded: Channel
    to_encode: Channel

    def failure(self) -> BaseException | None:
        return self.encoder.error or self.reader.error


def _transcode(job: Job, source: Path, partial: Path, report: DeidReport) -> Written:
    """Decode (thread), detect and track (here), redact and encode (thread); fills the report's frames and
    regions, and says what was written."""
    container = open_input(source)
    stop = threading.Event()
    stages: list[Stage] = []
    writer = None
    try:
        stream = first_video_stream(container)
        audio = container.streams.audio[0] if job.settings.audio == "keep" and container.streams.audio else None
        writer = Writer(partial, job.settings, stream, audio)
        checker = _Checker(job, stop)
        decoded, to_encode = Channel(stop), Channel(stop)
        threads = _Threads(
            Stage("veil-decode", lambda: read(container, stream, audio, job.settings.fast_side, decoded), stop),
            Stage("veil-encode", lambda: encode(writer, to_encode, job.prof, checker.offer), stop),
            decoded, to_encode)
        stages = [threads.reader, threads.encoder, checker.stage]
        for stage in stages:
            stage.start()
        runs = _decide(job, threads, expected_frames(container, stream))
        threads.encoder.join()
        if threads.encoder.error:
            raise threads.encoder.error
        checker.finish()
        report.frames, report.width, report.height = writer.frames, writer.video.width, writer.video.height
        report.frames_with_regions = runs.frames_with_regions
        report.regions = runs.finish(writer.frames - 1)
        return Written(writer.frames, writer.video.width, writer.video.height, writer.audio is not None,
                       job.settings.verify_every, checker.checked, checker.found)
    finally:
        stop.set()
        for stage in stages:
            stage.join()
        if writer is not None:
            writer.abandon()
        container.close()


def _decide(job: Job, threads: _Threads, total: int) -> Runs:
    """This thread: detect, track and decide the regions of every frame, in order; hand each frame on."""
    runs, look, emitted = Runs(), None, 0
    meter = _Meter(job.progress, 0.0, PASS_SHARE, "redacting")
    try:
        while True:
            if threads.failure():
                raise threads.failure()
            job.check_cancel()
            kind, payload = threads.decoded.get(threads.reader)
            if kind in ("audio", "source"):
                threads.to_encode.put((kind, payload))
                if kind == "source":
                    look = LookAhead(job.prof, job.settings, payload.width, payload.height)
                continue
            if kind == "video":
                look.add(payload)
            else:
                look.end()
            for item, regions in look.ready():
                runs.add(item.index, regions)
                threads.to_encode.put(("video", (item, regions)))
                emitted += 1
            meter(emitted, total, about="~")
            if kind == "end":
                threads.to_encode.put(("end", None))
                return runs
    except Stopped:
        raise (threads.failure() or VideoReadError("video processing stopped")) from None
    finally:
        if look is not None:
            look.close()


class _Checker:
    """The residual check, in a thread of its own: the profile's residual detector reads every n-th
    redacted frame, reduced, exactly as it goes to the encoder (lossy coding cannot add a face)."""

    def __init__(self, job: Job, stop: threading.Event):
        self.every = job.settings.verify_every
        threshold = job.prof.residual_threshold
        self.detector = None if threshold is None else residual_detector(threshold)
        self.inbox = Channel(stop)
        self.checked, self.found = 0, {}
        self.stage = Stage("veil-check", self._run, stop)

    def offer(self, index: int, frame: av.VideoFrame) -> None:
        if self.detector is None or index % self.every:
            return
        size = fit((frame.width, frame.height), RESIDUAL_SIDE)
        small = frame.reformat(width=size[0], height=size[1], format="rgb24").to_ndarray()
        self.inbox.put((index, small, frame.width / size[0]))

    def finish(self) -> None:
        self.inbox.put(None)
        self.stage.join()
        if self.stage.error:
            raise self.stage.error

    def _run(self) -> None:
        while (item := self.inbox.get()) is not None:
            index, small, back = item
            faces = self.detector(small)
            self.checked += 1
            if faces:
                self.found[index] = [[round(v * back) for v in d.box] for d in faces]


class _Meter:
    """Progress at most twice a second, from `low` to `high` of the bar, with frames per second."""

    def __init__(self, progress: Progress | None, low: float, high: float, doing: str):
        self.progress, self.low, self.high, self.doing = progress, low, high, doing
        self.started, self.last = time.monotonic(), 0.0

    def __call__(self, done: int, total: int, about: str = "") -> None:
        if not self.progress or time.monotonic() - self.last <= 0.5:
            return
        self.last = time.monotonic()
        fps = done / max(1e-6, self.last - self.started)
        self.progress(self.low + (self.high - self.low) * min(1.0, done / max(1, total)),
                      f"{self.doing}: frame {done} of {about}{total}, {fps:.1f} fps")
