"""Videos: decode, turn upright, find and follow every face, redact, encode a brand-new browser-playable MP4.

One pass, constant memory: frames stream from the decoder through a short look-ahead window to the
encoder. Each frame gets a light detector at reduced scale; the profile's full ensemble runs every few
frames (keyframes), on the first frame of every scene and on the last one before a cut; a tracker carries
each face between sightings (interpolating, and holding a few frames either side), so a face the light
detector misses in a frame is still covered. Pixels stay in YUV from decoder to encoder; only the redacted
patches go through RGB, so colours elsewhere are untouched.

Output: H.264 yuv420p in MP4, `+faststart` (plays while downloading), bit-exact muxing (no encoder tag),
the first video stream only, every frame with its original timestamp (variable frame rate survives),
no metadata carried over, audio dropped unless the profile keeps it (re-encoded AAC). The written file is
verified (ExifTool allow-list, structure, frame count, a second detector on its frames) before it gets its
final random name; on any error or cancel nothing is left behind.

Report (filled in place): "frames", "frames_with_regions", and "regions" as runs
`[[first_frame, last_frame, [x0, y0, x1, y1]], ...]`: the region covers frames first..last inclusive
(0-based, in output order), in integer pixels of the upright output, x1/y1 exclusive.
"""
from __future__ import annotations

import collections
import json
import os
import subprocess
import time
import uuid
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable

import av
import numpy as np
from PIL import Image

from deid.detect import Detection, blazeface, centerface, ensemble, fuse, residual_detector
from deid.image import ImageReadError
from deid.metadata import ALLOWED, ExifToolError, exiftool_path, identifying_tags, is_clean
from deid.profile import Profile
from deid.redact import pad_and_clip, redact, union_area_share
from deid.tracking import Tracker

Progress = Callable[[float, str], None]

MAX_PIXELS = 40_000_000          # per frame; 8K is 33 MP
GRID = 8                         # regions snap outwards to this grid: even for chroma, and runs stay long
DEMUXERS = {"mp4": "mov", "mov": "mov", "3gp": "mov", "webm": "matroska", "avi": "avi"}

# Structural QuickTime/MP4 boxes that the writer below produces; none can name a person, place or device.
# Dates are allowed by name only because the writer sets them to zero; `_dates_zero` checks the values.
_TRACK_TAGS = frozenset({
    "TrackHeaderVersion", "ColorProfiles", "TrackCreateDate", "TrackModifyDate", "TrackID", "TrackDuration", "TrackLayer",
    "TrackVolume", "MatrixStructure", "ImageWidth", "ImageHeight", "Unknown_edts", "MediaHeaderVersion",
    "MediaCreateDate", "MediaModifyDate", "MediaTimeScale", "MediaDuration", "MediaLanguageCode",
    "HandlerType", "HandlerDescription", "GraphicsMode", "OpColor", "CompressorID", "SourceImageWidth",
    "SourceImageHeight", "XResolution", "YResolution", "BitDepth", "AVCConfiguration", "BufferSize",
    "MaxBitrate", "AverageBitrate", "VideoFrameRate", "SyncSampleTable", "CompositionTimeToSample",
    "SampleToChunk", "SampleSizes", "ChunkOffset", "TimeToSampleTable", "ColorRepresentation",
    "ColorPrimaries", "TransferCharacteristics", "MatrixCoefficients", "VideoFullRangeFlag",
    "PixelAspectRatio", "Balance", "AudioFormat", "AudioChannels", "AudioBitsPerSample",
    "AudioSampleRate", "SampleGroupDescription", "SampleToGroup", "CompositionToDecodeTimelineMapping",
    "Unknown_esds", "Unknown_btrt",  # the AAC decoder configuration and the bit-rate box
})
VIDEO_ALLOWED: dict[str, frozenset[str]] = {
    **ALLOWED,
    "QuickTime": frozenset({
        "MajorBrand", "MinorVersion", "CompatibleBrands", "MovieHeaderVersion", "CreateDate", "ModifyDate",
        "TimeScale", "Duration", "PreferredRate", "PreferredVolume", "MatrixStructure", "PreviewTime",
        "PreviewDuration", "PosterTime", "SelectionTime", "SelectionDuration", "CurrentTime", "NextTrackID",
        "HandlerType", "HandlerVendorID", "Free", "MediaDataSize", "MediaDataOffset", "MediaData"}),
    "Track1": _TRACK_TAGS,
    "Track2": _TRACK_TAGS,
    "Composite": ALLOWED["Composite"] | {"AvgBitrate", "Rotation"},
}
_DATE_TAGS = ("CreateDate", "ModifyDate", "TrackCreateDate", "TrackModifyDate", "MediaCreateDate",
              "MediaModifyDate")
# In an input the dates are real (dates of service): they count as removed identifiers.
_INPUT_STRUCTURE = {group: names - set(_DATE_TAGS) for group, names in VIDEO_ALLOWED.items()}


class VideoReadError(ImageReadError):
    """A video that cannot be read or written safely; the message says why."""


class VideoCancelled(VideoReadError):
    """The person cancelled; nothing was written."""


@dataclass(frozen=True)
class Settings:
    keyframe_every: int      # frames between runs of the full ensemble
    hold: int                # frames a face stays covered before its first and after its last sighting
    fast_side: int           # longest side of the frame the light detectors see
    blazeface_threshold: float   # BlazeFace full-range on every frame at fast_side (0 turns it off)
    centerface_every: int        # CenterFace at fast_side on every n-th frame (0 turns it off)
    centerface_threshold: float
    cut_threshold: float     # mean grey-level change of a 32x18 thumbnail that marks a scene cut
    preset: str
    crf: int
    audio: str               # "drop" or "keep"

    @classmethod
    def of(cls, prof: Profile) -> "Settings":
        video = prof.section("video")
        keyframe_every = max(1, int(video.get("keyframe_every", 12)))
        return cls(keyframe_every=keyframe_every,
                   hold=max(keyframe_every, int(video.get("hold", keyframe_every + 6))),
                   fast_side=int(video.get("fast_side", 640)),
                   blazeface_threshold=float(video.get("blazeface_threshold", 0.4)),
                   centerface_every=int(video.get("centerface_every", 0)),
                   centerface_threshold=float(video.get("centerface_threshold", 0.3)),
                   cut_threshold=float(video.get("cut_threshold", 20.0)),
                   preset=str(video.get("preset", "veryfast")), crf=int(video.get("crf", 20)),
                   audio="keep" if video.get("audio", "drop") == "keep" else "drop")


# ---------------------------------------------------------------- entry point

def redact_video(path: str | Path, out_dir: str | Path, prof: Profile, report: dict, *,
                 progress: Progress | None = None, cancel: Callable[[], bool] | None = None) -> None:
    """De-identify one video into out_dir under a new random name, filling `report` in place."""
    path, out_dir = Path(path), Path(out_dir)
    report.update({"kind": "video", "frames": 0, "frames_with_regions": 0, "regions": []})
    report["removed"] = [f"{g}:{t}" for g, t in _input_tags(path)]
    settings = Settings.of(prof)
    out_dir.mkdir(parents=True, exist_ok=True)
    name = uuid.uuid4().hex
    partial, final = out_dir / f".partial-{name}.mp4", out_dir / f"{name}.mp4"
    try:
        try:
            written = _transcode(path, partial, prof, settings, report, progress, cancel)
            verify_video(partial, prof, settings, report, written)
        except av.FFmpegError as exc:
            raise VideoReadError(f"video could not be processed ({_av_reason(exc)})") from None
        os.replace(partial, final)
        report["output"] = str(final.absolute())
    finally:
        partial.unlink(missing_ok=True)


def _input_tags(path: Path) -> list[tuple[str, str]]:
    try:
        return identifying_tags(path, _INPUT_STRUCTURE)
    except ExifToolError as exc:
        if "not installed" in str(exc):
            raise
        return []  # ExifTool cannot parse it; the demuxer will say whether it is a video at all


def _av_reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc).split(":")[0] or type(exc).__name__
    return text.strip()[:120]


# ---------------------------------------------------------------- input

def _open_input(path: Path):
    """Open with the demuxer its content calls for (never a playlist or a protocol), local file only."""
    from deid.formats import sniff_file

    demuxer = DEMUXERS.get(sniff_file(path).name)
    if demuxer is None:
        raise VideoReadError("not a video format Veil can read (MP4, MOV, M4V, 3GP, WebM, AVI)")
    try:
        return av.open(str(path), format=demuxer, metadata_errors="ignore",
                       options={"protocol_whitelist": "file", "enable_drefs": "0"})
    except av.FFmpegError as exc:
        raise VideoReadError(f"damaged or truncated video: the container cannot be read ({_av_reason(exc)})") from None


def _first_video_stream(container) -> "av.video.stream.VideoStream":
    streams = [s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]
    if not streams:
        kinds = sorted({s.type for s in container.streams})
        return_reason = f"only {', '.join(kinds)} streams" if kinds else "no streams at all"
        raise VideoReadError(f"no video stream in this file ({return_reason}); Veil needs a video picture track")
    stream = streams[0]
    width, height = stream.codec_context.width, stream.codec_context.height
    if width * height > MAX_PIXELS:
        raise VideoReadError(f"video frames are {width}x{height}, over the {MAX_PIXELS // 1_000_000} megapixel limit")
    return stream


def _orientation(frame: "av.VideoFrame") -> Callable[[np.ndarray], np.ndarray]:
    """The pixel transform that shows a frame as its display matrix says (as FFmpeg's autorotate does)."""
    side = frame.side_data.get("DISPLAYMATRIX") if frame.side_data else None
    if side is None:
        return lambda a: a
    m = np.frombuffer(bytes(side), dtype="<i4")
    theta = -frame.rotation % 360
    if abs(theta - 90) < 1:
        return np.transpose if m[3] > 0 else (lambda a: np.rot90(a, -1))
    if abs(theta - 270) < 1:
        return (lambda a: np.rot90(np.transpose(a), 2)) if m[3] < 0 else (lambda a: np.rot90(a, 1))
    if abs(theta - 180) < 1:
        flip_x, flip_y = m[0] < 0, m[4] < 0
        return lambda a: a[::-1 if flip_y else 1, ::-1 if flip_x else 1]
    if theta < 1 or theta > 359:
        return (lambda a: a[::-1]) if m[4] < 0 else (lambda a: a)
    raise VideoReadError(f"unsupported display rotation of {theta:.0f} degrees (only multiples of 90 are supported)")


def _upright_planes(frame: "av.VideoFrame", orient) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Y, U, V planes of a frame as 8-bit 4:2:0, cropped to even size, turned upright (copies)."""
    if frame.format.name != "yuv420p":
        frame = frame.reformat(format="yuv420p")
    width, height = frame.width & ~1, frame.height & ~1
    planes = []
    for i, plane in enumerate(frame.planes):
        w, h = (width, height) if i == 0 else (width // 2, height // 2)
        rows = np.frombuffer(plane, dtype=np.uint8).reshape(-1, plane.line_size)
        planes.append(np.ascontiguousarray(orient(rows[:h, :w])))
    return planes[0], planes[1], planes[2]


def _to_frame(y: np.ndarray, u: np.ndarray, v: np.ndarray) -> "av.VideoFrame":
    stacked = np.concatenate([y.ravel(), u.ravel(), v.ravel()]).reshape(-1, y.shape[1])
    return av.VideoFrame.from_ndarray(stacked, format="yuv420p")


# ---------------------------------------------------------------- detection

@dataclass
class _Pending:
    index: int
    pts: int
    planes: tuple[np.ndarray, np.ndarray, np.ndarray]
    fast: list[Detection]
    scene_start: bool


class _Finder:
    """Per-frame light detection, keyframe ensemble, scene cuts, and the tracker that ties them."""

    def __init__(self, prof: Profile, settings: Settings, width: int, height: int):
        self.settings, self.width, self.height = settings, width, height
        self.full = ensemble(prof.section("detector"))
        self.padding = float(prof.section("faces").get("padding", 0.25))
        self.tracker = Tracker(hold=settings.hold)
        scale = min(1.0, settings.fast_side / max(width, height))
        self.small_size = (max(2, round(width * scale)), max(2, round(height * scale)))
        self.back = width / self.small_size[0]
        self.last_thumb: np.ndarray | None = None
        self.last_keyframe = -10**9

    def look(self, frame: "av.VideoFrame", index: int) -> tuple[list[Detection], bool]:
        """Light detections (full-size pixels) of an upright frame, and whether it starts a new scene."""
        small = frame.reformat(width=self.small_size[0], height=self.small_size[1], format="rgb24",
                               interpolation="FAST_BILINEAR").to_ndarray()
        found = []
        if self.settings.blazeface_threshold > 0:
            found += blazeface(small, self.settings.blazeface_threshold)
        if self.settings.centerface_every and index % self.settings.centerface_every == 0:
            found += centerface(small, self.settings.centerface_threshold)
        thumb = np.asarray(Image.fromarray(small).convert("L").resize((32, 18), Image.BOX), dtype=np.int16)
        cut = self.last_thumb is None or float(np.abs(thumb - self.last_thumb).mean()) > self.settings.cut_threshold
        self.last_thumb = thumb
        return [d.scaled(self.back) for d in found], cut

    def settle(self, item: _Pending, last_of_scene: bool) -> None:
        """All detections of a frame are known: run the ensemble if it is a keyframe, and track."""
        found = list(item.fast)
        due = item.index - self.last_keyframe >= self.settings.keyframe_every
        if item.scene_start or last_of_scene or due:
            rgb = _to_frame(*item.planes).to_ndarray(format="rgb24")
            found += self.full(rgb)
            self.last_keyframe = item.index
        self.tracker.observe(item.index, [d.box for d in fuse(found)])

    def regions(self, index: int) -> list[list[int]]:
        """Padded regions to redact in a frame, snapped outwards to the grid, without duplicates."""
        out = []
        for box in self.tracker.boxes_at(index):
            region = pad_and_clip(box, self.padding, self.width, self.height)
            if region is None:
                continue
            x0, y0 = region[0] // GRID * GRID, region[1] // GRID * GRID
            x1 = min(self.width, -(-region[2] // GRID) * GRID)
            y1 = min(self.height, -(-region[3] // GRID) * GRID)
            if [x0, y0, x1, y1] not in out:
                out.append([x0, y0, x1, y1])
        return out


def _redact_planes(planes, regions: list[list[int]], method: str, strength: int):
    """Redact regions (even coordinates) of YUV 4:2:0 planes, each plane on its own; returns new planes.

    Blurring and pixelating are linear, so doing them on Y, U and V is doing them on the colours; chroma
    planes take the same regions at half size, hence the same number of cells across a face.
    """
    y, u, v = planes
    half = [[x0 // 2, y0 // 2, x1 // 2, y1 // 2] for x0, y0, x1, y1 in regions]
    if method == "solid":
        y, u, v = y.copy(), u.copy(), v.copy()
        for (x0, y0, x1, y1), (a0, b0, a1, b1) in zip(regions, half):
            y[y0:y1, x0:x1] = 16      # black in limited-range YUV
            u[b0:b1, a0:a1] = 128     # no colour
            v[b0:b1, a0:a1] = 128
        return y, u, v
    return redact(y, regions, method, strength), redact(u, half, method, strength), redact(v, half, method, strength)


# ---------------------------------------------------------------- the pass

class _Runs:
    """Regions per frame as runs of identical regions over consecutive frames."""

    def __init__(self):
        self.open: dict[tuple, int] = {}
        self.closed: list[list] = []
        self.frames_with_regions = 0

    def add(self, index: int, regions: list[list[int]]) -> None:
        now = {tuple(r) for r in regions}
        self.frames_with_regions += bool(now)
        for region in [r for r in self.open if r not in now]:
            self.closed.append([self.open.pop(region), index - 1, list(region)])
        for region in now:
            self.open.setdefault(region, index)

    def finish(self, last: int) -> list[list]:
        for region, first in self.open.items():
            self.closed.append([first, last, list(region)])
        self.open = {}
        return sorted(self.closed, key=lambda run: (run[0], run[2]))


@dataclass
class Written:
    frames: int
    width: int
    height: int
    audio: bool


class _Writer:
    """The output file: H.264 yuv420p video (and AAC audio when kept), opened on the first frame."""

    def __init__(self, partial: Path, settings: Settings):
        self.partial, self.settings = partial, settings
        self.container = None
        self.video = self.audio = None
        self.pending_audio: list = []

    def open(self, width: int, height: int, source: "av.video.stream.VideoStream", first: "av.VideoFrame",
             audio_source) -> None:
        self.container = av.open(str(self.partial), "w", format="mp4",
                                 options={"movflags": "+faststart", "fflags": "+bitexact"})
        rate = source.average_rate or source.guessed_rate or Fraction(30)
        video = self.container.add_stream("libx264", rate=rate,
                                          options={"preset": self.settings.preset, "crf": str(self.settings.crf)})
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.time_base = source.time_base
        video.codec_context.time_base = source.time_base
        for attr in ("colorspace", "color_range", "color_primaries", "color_trc"):
            value = getattr(first, attr, None)
            if value:
                setattr(video.codec_context, attr, value)
        self.video = video
        if audio_source is not None:
            ctx = audio_source.codec_context
            self.audio = self.container.add_stream("aac", rate=ctx.sample_rate or 48000)
            self.audio.layout = "stereo" if (ctx.channels or 2) >= 2 else "mono"
            self.audio.bit_rate = 128_000

    def write_video(self, frame: "av.VideoFrame") -> None:
        self.container.mux(self.video.encode(frame))
        if self.pending_audio:
            for audio in self.pending_audio:
                self.container.mux(self.audio.encode(audio))
            self.pending_audio = []

    def write_audio(self, frame: "av.AudioFrame") -> None:
        frame.pts = None  # the encoder numbers samples from zero, in step with the video's first frame
        if self.video is None or self.container is None:
            self.pending_audio.append(frame)
        else:
            self.container.mux(self.audio.encode(frame))

    def close(self) -> None:
        if self.container is None:
            return
        if self.video is not None:
            self.container.mux(self.video.encode(None))
        if self.audio is not None:
            for audio in self.pending_audio:
                self.container.mux(self.audio.encode(audio))
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


def _transcode(path: Path, partial: Path, prof: Profile, settings: Settings, report: dict,
               progress: Progress | None, cancel: Callable[[], bool] | None) -> Written:
    container = _open_input(path)
    writer = _Writer(partial, settings)
    try:
        return _pass(container, writer, prof, settings, report, progress, cancel)
    except BaseException:
        writer.abandon()
        raise
    finally:
        container.close()


def _pass(container, writer: _Writer, prof: Profile, settings: Settings, report: dict,
          progress: Progress | None, cancel: Callable[[], bool] | None) -> Written:
    source = _first_video_stream(container)
    source.thread_type = "AUTO"
    audio_source = None
    if settings.audio == "keep" and container.streams.audio:
        audio_source = container.streams.audio[0]
    declared = source.frames
    total = declared or max(1, int((float(container.duration or 0) / 1e6) * float(source.guessed_rate or 30)))
    faces = prof.section("faces")
    method, strength = faces.get("method", "blur"), int(faces.get("strength", 6))
    redacts = not prof.keeps_faces
    window: collections.deque[_Pending] = collections.deque()
    runs = _Runs()
    finder: _Finder | None = None
    orient = None
    size = None
    state = {"index": 0, "written": 0, "last_pts": None, "first_pts": None}
    lookahead = max(settings.hold, settings.keyframe_every) + 1
    started = time.monotonic()
    last_report = [0.0]

    def emit(item: _Pending) -> None:
        regions = finder.regions(item.index) if redacts else []
        runs.add(item.index, regions)
        planes = _redact_planes(item.planes, regions, method, strength) if regions else item.planes
        frame = _to_frame(*planes)
        frame.pts, frame.time_base = item.pts, source.time_base
        writer.write_video(frame)
        state["written"] += 1
        if redacts:
            finder.tracker.forget_before(item.index + 1)
        if progress and time.monotonic() - last_report[0] > 0.5:
            last_report[0] = time.monotonic()
            fps = state["written"] / max(1e-6, last_report[0] - started)
            progress(min(0.99, state["written"] / total), f"{state['written']} of ~{total} frames, {fps:.1f} fps")

    def settle_and_flush(last_of_scene: bool, keep: int) -> None:
        # the newest frame before `keep` more is settled; then everything far enough behind it is written
        if redacts and window:
            finder.settle(window[-1], last_of_scene)
        while len(window) > keep:
            emit(window.popleft())

    streams = [source] + ([audio_source] if audio_source is not None else [])
    try:
        for packet in container.demux(*streams):
            if packet.stream.type == "audio":
                for audio in packet.decode():
                    writer.write_audio(audio)
                continue
            for frame in packet.decode():
                if cancel is not None and cancel():
                    raise VideoCancelled("cancelled; nothing was written")
                if orient is None:
                    orient = _orientation(frame)
                planes = _upright_planes(frame, orient)
                if size is None:
                    size = (planes[0].shape[1], planes[0].shape[0])
                    if min(size) < 2:
                        raise VideoReadError("video frames are too small to encode")
                    writer.open(size[0], size[1], source, frame, audio_source)
                    finder = _Finder(prof, settings, *size) if redacts else None
                elif (planes[0].shape[1], planes[0].shape[0]) != size:
                    raise VideoReadError("the picture size changes within the video; Veil cannot re-encode that safely")
                pts = _next_pts(frame, state, source)
                fast, cut = finder.look(_to_frame(*planes), state["index"]) if redacts else ([], False)
                if redacts and window:
                    settle_and_flush(last_of_scene=cut and state["index"] > 0, keep=lookahead)
                    if cut:
                        finder.tracker.cut(state["index"])
                window.append(_Pending(state["index"], pts, planes, fast, cut))
                state["index"] += 1
                if not redacts:
                    settle_and_flush(False, 0)
    except av.FFmpegError as exc:
        raise VideoReadError(f"damaged video data after {state['index']} frames ({_av_reason(exc)})") from None
    if state["index"] == 0:
        raise VideoReadError("the video stream holds no decodable frames (damaged or truncated)")
    if declared and state["index"] < declared - 1:
        raise VideoReadError(f"damaged or truncated video: only {state['index']} of its {declared} frames "
                             "could be decoded")
    settle_and_flush(last_of_scene=True, keep=0)
    writer.close()
    report["frames"] = state["written"]
    report["frames_with_regions"] = runs.frames_with_regions
    report["regions"] = runs.finish(state["written"] - 1)
    return Written(state["written"], size[0], size[1], writer.audio is not None)


def _next_pts(frame: "av.VideoFrame", state: dict, source) -> int:
    """The frame's own timestamp from zero, kept strictly increasing (variable frame rate survives)."""
    pts = frame.pts
    step = max(1, round(1 / (float(source.guessed_rate or 30) * float(source.time_base))))
    if pts is None:
        pts = (state["last_pts"] + step) if state["last_pts"] is not None else 0
    elif state["first_pts"] is None:
        state["first_pts"] = pts
    pts -= state["first_pts"] or 0
    if state["last_pts"] is not None and pts <= state["last_pts"]:
        pts = state["last_pts"] + 1
    state["last_pts"] = pts
    return pts


# ---------------------------------------------------------------- verification

def verify_video(path: Path, prof: Profile, settings: Settings, report: dict, written: Written) -> None:
    """Re-read the written file: tags against the allow-list, structure, frame count, faces left.

    A face "left" is one the second detector finds that is neither centred on a region redacted in that
    frame nor at least half inside redacted regions: a blurred head keeps a head's outline, and a cluster of
    blurred faces can look like one big face to a detector.
    """
    clean, leftovers = is_clean(path, VIDEO_ALLOWED)
    clean = clean and _dates_zero(path)
    report["verified"]["metadata_clean"] = clean
    if not clean:
        raise VideoReadError(f"output withheld: metadata left after rewriting ({', '.join(leftovers) or 'dates'})")
    if not moov_before_mdat(path):
        raise VideoReadError("output withheld: the MP4 is not fast-start (index after the media data)")
    check_faces = not prof.keeps_faces and prof.section("verify").get("residual_faces", True)
    threshold = float(prof.section("verify").get("residual_threshold", 0.6))
    detector = residual_detector(threshold) if check_faces else None
    frames, faces_left, frames_with_faces = 0, 0, []
    with av.open(str(path)) as out:
        kinds = sorted(s.type for s in out.streams)
        expected = ["audio", "video"] if written.audio else ["video"]
        if kinds != expected:
            raise VideoReadError(f"output withheld: unexpected streams {kinds}")
        stream = out.streams.video[0]
        if stream.codec_context.name != "h264":
            raise VideoReadError("output withheld: the video is not H.264")
        stream.thread_type = "AUTO"
        scale = min(1.0, 1024 / max(written.width, written.height))
        small = (max(2, round(written.width * scale)), max(2, round(written.height * scale)))
        back = written.width / small[0]
        runs = _RunIndex(report["regions"])
        for frame in out.decode(stream):
            if frame.format.name != "yuv420p":
                raise VideoReadError(f"output withheld: pixels are {frame.format.name}, not yuv420p")
            if detector is not None:
                found = detector(frame.reformat(width=small[0], height=small[1], format="rgb24").to_ndarray())
                left = [d for d in found if not _on_redacted(d.scaled(back).box, runs.at(frames))]
                if left:
                    faces_left += len(left)
                    frames_with_faces.append(frames)
            frames += 1
    report["verified"]["faces_left"] = faces_left if check_faces else None
    if frames != written.frames:
        raise VideoReadError(f"output withheld: {frames} frames read back, {written.frames} written")
    if faces_left:
        shown = ", ".join(str(f) for f in frames_with_faces[:5]) + (" ..." if len(frames_with_faces) > 5 else "")
        raise VideoReadError(f"output withheld: a face is still detectable in {len(frames_with_faces)} frame(s) "
                             f"(frames {shown}); review the video")


class _RunIndex:
    """The regions of each frame, read back from the runs in frame order."""

    def __init__(self, runs: list[list]):
        self.runs = sorted(runs, key=lambda run: run[0])
        self.next, self.active = 0, []

    def at(self, index: int) -> list[list[int]]:
        while self.next < len(self.runs) and self.runs[self.next][0] <= index:
            self.active.append(self.runs[self.next])
            self.next += 1
        self.active = [run for run in self.active if run[1] >= index]
        return [run[2] for run in self.active]


def _on_redacted(box, regions: list[list[int]]) -> bool:
    """Whether a detection is the blur itself: centred on a redacted region, or at least half redacted."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    if any(r[0] <= cx < r[2] and r[1] <= cy < r[3] for r in regions):
        return True
    target = [int(box[0]), int(box[1]), int(np.ceil(box[2])), int(np.ceil(box[3]))]
    return bool(regions) and union_area_share(target, regions) >= 0.5


def _dates_zero(path: Path) -> bool:
    """The writer's container dates must be unset (zero): a real date would be a date of service."""
    cmd = [exiftool_path(), "-j", "-n", "-a", "-G1"] + [f"-{t}" for t in _DATE_TAGS] + ["--", str(path)]
    done = subprocess.run(cmd, capture_output=True, timeout=120)
    try:
        record = json.loads(done.stdout.decode("utf-8", "replace") or "[{}]")[0]
    except (json.JSONDecodeError, IndexError):
        return False
    values = [v for k, v in record.items() if k != "SourceFile"]
    return all(str(v).strip() in ("0", "0000:00:00 00:00:00") for v in values)


def moov_before_mdat(path: Path) -> bool:
    """Whether the MP4's index (moov) precedes its media data (mdat): playback can start while loading."""
    order = []
    with open(path, "rb") as fh:
        offset, end = 0, os.fstat(fh.fileno()).st_size
        while offset + 8 <= end:
            fh.seek(offset)
            head = fh.read(16)
            size, kind = int.from_bytes(head[:4], "big"), head[4:8]
            if size == 1:
                size = int.from_bytes(head[8:16], "big")
            elif size == 0:
                size = end - offset
            if size < 8:
                return False
            order.append(kind)
            offset += size
    return b"moov" in order and b"mdat" in order and order.index(b"moov") < order.index(b"mdat")
