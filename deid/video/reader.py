"""The input side: open a video safely, pick its first video stream, and decode it in a thread of its own
into upright frames (and audio frames when the profile keeps sound)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av

from deid.formats import sniff_file
from deid.video.detection import Pending
from deid.video.errors import VideoReadError, av_reason
from deid.video.frames import colour_tags, orientation, small_rgb, upright
from deid.video.stages import Channel

MAX_PIXELS = 40_000_000          # per frame; 8K is 33 MP
DEMUXERS = {"mp4": "mov", "mov": "mov", "3gp": "mov", "webm": "matroska", "avi": "avi"}


@dataclass
class Source:
    """What the reader learnt from the first frame."""
    width: int
    height: int
    colour: dict


def open_input(path: Path) -> av.container.InputContainer:
    """Open with the demuxer its content calls for (never a playlist or a protocol), local file only."""
    demuxer = DEMUXERS.get(sniff_file(path).name)
    if demuxer is None:
        raise VideoReadError("not a video format Veil can read (MP4, MOV, M4V, 3GP, WebM, AVI)")
    try:
        return av.open(str(path), format=demuxer, metadata_errors="ignore",
                       options={"protocol_whitelist": "file", "enable_drefs": "0"})
    except av.MemoryError:
        # FFmpeg refuses more than 1000 streams, or tables larger than it will allocate, with ENOMEM
        raise VideoReadError("the container declares more than Veil will read (too many streams, or oversized "
                             "index tables)") from None
    except av.FFmpegError as exc:
        raise VideoReadError(f"damaged or truncated video: the container cannot be read ({av_reason(exc)})") from None


def first_video_stream(container) -> av.video.stream.VideoStream:
    streams = [s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]
    if not streams:
        kinds = sorted({s.type for s in container.streams})
        reason = f"only {', '.join(kinds)} streams" if kinds else "no streams at all"
        hint = "; it may be damaged or truncated" if set(kinds) - {"audio", "subtitle"} else ""
        raise VideoReadError(f"no video stream in this file ({reason}{hint}); Veil needs a video picture track")
    stream = streams[0]
    if stream.codec_context is None:   # the track's codec description is missing or cut short
        raise VideoReadError("damaged or truncated video: the video track does not say how it is encoded")
    width, height = stream.codec_context.width, stream.codec_context.height
    if width * height > MAX_PIXELS:
        raise VideoReadError(f"video frames are {width}x{height}, over the {MAX_PIXELS // 1_000_000} megapixel limit")
    return stream


def expected_frames(container, stream) -> int:
    """The frame count the container declares, or one estimated from its duration (for progress only)."""
    return stream.frames or max(1, int(float(container.duration or 0) / 1e6 * float(stream.guessed_rate or 30)))


class _Clock:
    """Each frame's own timestamp from zero, kept strictly increasing (variable frame rate survives)."""

    def __init__(self, stream):
        self.step = max(1, round(1 / (float(stream.guessed_rate or 30) * float(stream.time_base))))
        self.first: int | None = None
        self.last: int | None = None

    def pts(self, frame: av.VideoFrame) -> int:
        pts = frame.pts
        if pts is None:
            pts = (self.last + self.step) if self.last is not None else 0
        elif self.first is None:
            self.first = pts
        pts -= self.first or 0
        if self.last is not None and pts <= self.last:
            pts = self.last + 1
        self.last = pts
        return pts


def read(container, stream, audio, fast_side: int, out: Channel) -> None:
    """Decoder thread: an upright copy and a reduced RGB copy (`fast_side`) of every frame, and the frames of
    the `audio` stream when it is not None; ("source", Source) first, ("end", frames) last."""
    stream.thread_type = "AUTO"
    orient, size, clock, index = None, None, _Clock(stream), 0
    try:
        for packet in container.demux(*[s for s in (stream, audio) if s is not None]):
            if out.stop.is_set():
                return
            if packet.is_corrupt:   # the demuxer read less than the index promised: the file is cut short
                raise VideoReadError(f"damaged or truncated video: the data after frame {index} is cut short "
                                     "or corrupt")
            if packet.stream.type == "audio":
                for frame in packet.decode():
                    out.put(("audio", frame))
                continue
            for frame in packet.decode():
                orient = orient or orientation(frame)
                turned = upright(frame, orient)
                if size is None:
                    size = (turned.width, turned.height)
                    if min(size) < 16:
                        raise VideoReadError(f"video frames are too small ({size[0]}x{size[1]})")
                    out.put(("source", Source(size[0], size[1], colour_tags(frame))))
                elif (turned.width, turned.height) != size:
                    raise VideoReadError("the picture size changes within the video; Veil cannot re-encode that safely")
                out.put(("video", Pending(index, clock.pts(frame), turned, small_rgb(frame, orient, fast_side),
                                          duration=frame.duration)))
                index += 1
    except av.FFmpegError as exc:
        raise VideoReadError(f"damaged video data after {index} frames ({av_reason(exc)})") from None
    if index == 0:
        raise VideoReadError("the video stream holds no decodable frames (damaged or truncated)")
    if stream.frames and index < stream.frames - 1:
        raise VideoReadError(f"damaged or truncated video: only {index} of its {stream.frames} frames "
                             "could be decoded")
    out.put(("end", index))
