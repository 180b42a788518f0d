"""The output side: a brand-new, browser-playable MP4, written in a thread of its own.

H.264 yuv420p, `+faststart` (plays while downloading), bit-exact muxing (no encoder tag), one video
stream, every frame with its original timestamp and duration (variable frame rate survives), no metadata
carried over; audio dropped unless the profile keeps it, then re-encoded as AAC.
"""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Callable

import av

from deid.profile import Profile
from deid.video.detection import Pending
from deid.video.frames import redact_frame
from deid.video.reader import Source
from deid.video.settings import VideoSettings
from deid.video.stages import Channel


class Writer:
    """The output file: H.264 yuv420p video (and AAC audio when kept), opened on the first frame."""

    def __init__(self, partial: Path, settings: VideoSettings, stream, audio_source):
        self.partial, self.settings, self.stream, self.audio_source = partial, settings, stream, audio_source
        self.container = None
        self.video = self.audio = None
        self.pending_audio: list = []
        self.frames = 0

    def open(self, source: Source) -> None:
        self.container = av.open(str(self.partial), "w", format="mp4",
                                 options={"movflags": "+faststart", "fflags": "+bitexact"})
        rate = self.stream.average_rate or self.stream.guessed_rate or Fraction(30)
        video = self.container.add_stream("libx264", rate=rate,
                                          options={"preset": self.settings.preset, "crf": str(self.settings.crf),
                                                   # no B-frames: decode order is display order, so every
                                                   # frame keeps its own time and duration (VFR included)
                                                   "bf": "0"})
        video.width, video.height, video.pix_fmt = source.width, source.height, "yuv420p"
        video.time_base = video.codec_context.time_base = self.stream.time_base
        for attr, value in source.colour.items():
            setattr(video.codec_context, attr, value)
        self.video = video
        if self.audio_source is not None:
            ctx = self.audio_source.codec_context
            self.audio = self.container.add_stream("aac", rate=ctx.sample_rate or 48000)
            self.audio.layout = "stereo" if (ctx.channels or 2) >= 2 else "mono"
            self.audio.bit_rate = 128_000
        for frame in self.pending_audio:
            self.container.mux(self.audio.encode(frame))
        self.pending_audio = []

    def write_video(self, item: Pending) -> None:
        frame = item.frame
        frame.pts, frame.time_base = item.pts, self.stream.time_base
        if item.duration:
            frame.duration = item.duration
        self.container.mux(self.video.encode(frame))
        self.frames += 1

    def write_audio(self, frame: av.AudioFrame) -> None:
        frame.pts = None  # the encoder numbers samples from zero, in step with the video's first frame
        if self.container is None:
            self.pending_audio.append(frame)
        else:
            self.container.mux(self.audio.encode(frame))

    def close(self) -> None:
        if self.container is None:
            return
        self.container.mux(self.video.encode(None))
        if self.audio is not None:
            self.container.mux(self.audio.encode(None))
        self.container.close()
        self.container = None

    def abandon(self) -> None:
        if self.container is not None:
            try:
                self.container.close()
            except av.FFmpegError:
                pass
            self.container = None


def encode(writer: Writer, inbox: Channel, prof: Profile, written: Callable[[int, av.VideoFrame], None]) -> None:
    """Encoder thread: redact each frame's regions and write it, with the audio, in arrival order; each
    redacted frame is shown to `written` (the residual check) as it goes to the encoder. Faces take the
    profile's face method, text and codes its text method."""
    while True:
        kind, payload = inbox.get()
        if kind == "end":
            writer.close()
            return
        if kind == "source":
            writer.open(payload)
        elif kind == "audio":
            writer.write_audio(payload)
        else:
            item, regions = payload
            faces = [r for r in regions if r not in item.text_regions]
            if faces:
                redact_frame(item.frame, faces, prof.method, prof.strength)
            if item.text_regions:
                redact_frame(item.frame, item.text_regions, prof.text_method, prof.text_strength)
            writer.write_video(item)
            written(item.index, item.frame)
