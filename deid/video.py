"""Videos: decode, turn upright, find and follow every face, redact, encode a brand-new browser-playable MP4.

One pass, constant memory: frames stream from the decoder through a short look-ahead window to the
encoder. Each frame gets a light detector (CenterFace) at reduced scale; the profile's ensemble, without
its costliest views, runs at full resolution on tiles every few frames (keyframes), on the first frame of
every scene and on the last one before a cut, in a worker thread; a tracker carries each face between
sightings (interpolating, bridging, and holding a few frames either side), so a face the light detector
misses in a frame is still covered. Settings: the profile's [video] section (see `Settings`). Pixels stay
in YUV from decoder to encoder; only the redacted patches go through RGB, so colours elsewhere are untouched.

Output: H.264 yuv420p in MP4, `+faststart` (plays while downloading), bit-exact muxing (no encoder tag),
the first video stream only, every frame with its original timestamp (variable frame rate survives),
no metadata carried over, audio dropped unless the profile keeps it (re-encoded AAC). A second,
differently-built detector reads every few frames as they go to the encoder, and the written file is
re-read (ExifTool allow-list, fast start, streams, every frame decodable and counted) before it gets its
final random name; on any error or cancel nothing is left behind.

Report (filled in place): "frames", "frames_with_regions", and "regions" as runs
`[[first_frame, last_frame, [x0, y0, x1, y1]], ...]`: the region covers frames first..last inclusive
(0-based, in output order), in integer pixels of the upright output, x1/y1 exclusive.
"""
from __future__ import annotations

import collections
import os
import queue
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Callable

import av
import numpy as np
from PIL import Image

from deid.detect import Detection, blazeface, centerface, ensemble, fuse, resize_longest, residual_detector
from deid.formats import sniff_file
from deid.image import ImageReadError
from deid.metadata import ALLOWED, is_clean, removed_tags
from deid.profile import Profile
from deid.redact import pad_and_clip, redact
from deid.tracking import Tracker

Progress = Callable[[float, str], None]

MAX_PIXELS = 40_000_000          # per frame; 8K is 33 MP
RESIDUAL_SIDE = 640              # longest side of the output frames the residual check reads
REDACT_SIDE = 48                 # faces are redacted at most this many pixels across, then scaled up
# The ensemble's costliest views (mirrored and turned copies, enlarged windows) are left to the image
# engine: on video the per-frame detector and the tracker cover what they add (benchmarks/video.py recall).
KEYFRAME_DETECTOR = {"mirror": [], "turns": False, "upscale": 0}
TILE_PIXELS = 1280 * 736          # keyframe tiles: a 720p frame is one tile
TILE_OVERLAP = 256
OVERVIEW_SIDE = 960
QUEUED = 4                       # frames queued between pipeline stages
PASS_SHARE = 0.95                # of the progress bar: the redacting pass; the rest is verification
GRID = 8                         # regions snap outwards to this grid: even for chroma, and runs stay long
DEMUXERS = {"mp4": "mov", "mov": "mov", "3gp": "mov", "webm": "matroska", "avi": "avi"}

# Structural QuickTime/MP4 boxes that the writer below produces; none can name a person, place or device.
# Dates are allowed only while zero (the writer leaves them unset): a real date would be a date of service.
_TRACK_TAGS = frozenset({
    "TrackHeaderVersion", "ColorProfiles", "TrackCreateDate", "TrackModifyDate", "TrackID", "TrackDuration",
    "TrackLayer", "TrackVolume", "MatrixStructure", "ImageWidth", "ImageHeight", "Unknown_edts", "MediaHeaderVersion",
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
    keyframe_detector: dict  # overrides of the profile's [detector] settings for the keyframe ensemble
    cut_threshold: float     # mean grey-level change of a 32x18 thumbnail that marks a scene cut
    preset: str
    crf: int
    audio: str               # "drop" or "keep"
    verify_every: int        # the residual check reads every n-th frame of the output (1: all)

    @classmethod
    def of(cls, prof: Profile) -> "Settings":
        video = prof.section("video")
        keyframe_every = max(1, int(video.get("keyframe_every", 16)))
        return cls(keyframe_every=keyframe_every,
                   hold=max(keyframe_every, int(video.get("hold", keyframe_every + 8))),
                   fast_side=int(video.get("fast_side", 192)),
                   blazeface_threshold=float(video.get("blazeface_threshold", 0.0)),
                   centerface_every=int(video.get("centerface_every", 1)),
                   centerface_threshold=float(video.get("centerface_threshold", 0.3)),
                   keyframe_detector=dict(video.get("keyframe_detector", KEYFRAME_DETECTOR)),
                   cut_threshold=float(video.get("cut_threshold", 20.0)),
                   preset=str(video.get("preset", "veryfast")), crf=int(video.get("crf", 20)),
                   audio="keep" if video.get("audio", "drop") == "keep" else "drop",
                   verify_every=max(1, int(video.get("verify_every", 3))))


# ---------------------------------------------------------------- entry point

def redact_video(path: str | Path, out_dir: str | Path, prof: Profile, report: dict, *,
                 progress: Progress | None = None, cancel: Callable[[], bool] | None = None) -> None:
    """De-identify one video into out_dir under a new random name, filling `report` in place."""
    path, out_dir = Path(path), Path(out_dir)
    report.update({"kind": "video", "frames": 0, "frames_with_regions": 0, "regions": []})
    report["removed"] = removed_tags(path, _INPUT_STRUCTURE)
    settings = Settings.of(prof)
    out_dir.mkdir(parents=True, exist_ok=True)
    name = uuid.uuid4().hex
    partial, final = out_dir / f".partial-{name}.mp4", out_dir / f"{name}.mp4"
    try:
        try:
            written = _transcode(path, partial, prof, settings, report, progress, cancel)
            verify_video(partial, prof, settings, report, written, progress, cancel)
        except av.FFmpegError as exc:
            raise VideoReadError(f"video could not be processed ({_av_reason(exc)})") from None
        os.replace(partial, final)
        report["output"] = str(final.absolute())
    finally:
        partial.unlink(missing_ok=True)


def _av_reason(exc: BaseException) -> str:
    """FFmpeg's reason, without the file name its messages carry (it may name the patient)."""
    return str(getattr(exc, "strerror", None) or type(exc).__name__).strip()[:120]


# ---------------------------------------------------------------- input

def _open_input(path: Path):
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
        raise VideoReadError(f"damaged or truncated video: the container cannot be read ({_av_reason(exc)})") from None


def _first_video_stream(container) -> "av.video.stream.VideoStream":
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


def _orientation(frame: "av.VideoFrame") -> Callable[[np.ndarray], np.ndarray]:
    """The pixel transform that shows a frame as its display matrix says (as FFmpeg's autorotate does);
    it turns the first two axes, so it serves planes and RGB pictures alike."""
    side = frame.side_data.get("DISPLAYMATRIX") if frame.side_data else None
    if side is None:
        return lambda a: a
    m = np.frombuffer(bytes(side), dtype="<i4")
    theta = -frame.rotation % 360
    if abs(theta - 90) < 1:
        return (lambda a: a.swapaxes(0, 1)) if m[3] > 0 else (lambda a: np.rot90(a, -1))
    if abs(theta - 270) < 1:
        return (lambda a: np.rot90(a.swapaxes(0, 1), 2)) if m[3] < 0 else (lambda a: np.rot90(a, 1))
    if abs(theta - 180) < 1:
        flip_x, flip_y = m[0] < 0, m[4] < 0
        return lambda a: a[::-1 if flip_y else 1, ::-1 if flip_x else 1]
    if theta < 1 or theta > 359:
        return (lambda a: a[::-1]) if m[4] < 0 else (lambda a: a)
    raise VideoReadError(f"unsupported display rotation of {theta:.0f} degrees (only multiples of 90 are supported)")


# Full-range (JPEG) 8-bit YUV to the limited range that H.264 players assume for yuv420p.
_LIMITED_Y = np.round(16 + np.arange(256) * 219 / 255).astype(np.uint8)
_LIMITED_C = np.clip(np.round(128 + (np.arange(256) - 128) * 224 / 255), 16, 240).astype(np.uint8)


def _upright(frame: "av.VideoFrame", orient) -> "av.VideoFrame":
    """A new yuv420p frame in Veil's own memory: the decoded picture upright, 8-bit limited range, cropped
    to even size. Redaction then writes into it in place; the decoder's frames are never written to (it
    predicts later frames from them)."""
    name = frame.format.name
    full_range = name == "yuvj420p" or (not name.startswith("yuvj") and frame.color_range == 2)
    if name not in ("yuv420p", "yuvj420p"):
        frame = frame.reformat(format="yuv420p")   # swscale also brings yuvj4xx to limited range
    sources = [orient(rows) for rows in _planes(frame, frame.width & ~1, frame.height & ~1)]
    height, width = sources[0].shape
    upright = av.VideoFrame(width, height, "yuv420p")
    for i, (source, target) in enumerate(zip(sources, _planes(upright))):
        target[...] = (_LIMITED_Y if i == 0 else _LIMITED_C)[source] if full_range else source
    return upright


def _planes(frame: "av.VideoFrame", width: int | None = None, height: int | None = None) -> list[np.ndarray]:
    """Y, U and V of a yuv420p frame (its top-left width x height) as arrays over the frame's memory."""
    width, height = width or frame.width, height or frame.height
    planes = []
    for i, plane in enumerate(frame.planes):
        w, h = (width, height) if i == 0 else (width // 2, height // 2)
        planes.append(np.frombuffer(plane, dtype=np.uint8).reshape(-1, plane.line_size)[:h, :w])
    return planes


def _small_rgb(frame: "av.VideoFrame", orient, side: int) -> np.ndarray:
    """The decoded frame reduced to at most `side` pixels, in RGB, upright: what the light detectors see."""
    width, height = _fit((frame.width & ~1, frame.height & ~1), side)
    small = frame.reformat(width=width, height=height, format="rgb24", interpolation="FAST_BILINEAR")
    return np.ascontiguousarray(orient(small.to_ndarray()))


# ---------------------------------------------------------------- detection

@dataclass
class _Pending:
    """A decoded frame waiting in the look-ahead window."""
    index: int
    pts: int
    frame: "av.VideoFrame"               # upright yuv420p, Veil's own copy (see _upright)
    small: np.ndarray | None             # reduced upright RGB for the light detectors
    duration: int | None = None          # in the source stream's time base
    scene_start: bool = False
    fast: list[Detection] | None = None
    full: Future | None = None           # the ensemble's detections, when a keyframe
    last_of_scene: bool = False


class _Finder:
    """Light detection on every frame, the ensemble on keyframes (in a worker thread), scene cuts, tracking.

    Frames are settled (their detections handed to the tracker) strictly in order, once the next frame has
    been seen (to know whether a scene ends there) and the frame's ensemble run, if any, has finished.
    """

    def __init__(self, prof: Profile, settings: Settings, width: int, height: int, pool: ThreadPoolExecutor):
        self.settings, self.width, self.height, self.pool = settings, width, height, pool
        self.full = _tiled(ensemble({**prof.section("detector"), **settings.keyframe_detector}))
        faces = prof.section("faces")
        self.padding, self.above = float(faces.get("padding", 0.25)), float(faces.get("extend_up", 0.2))
        self.tracker = Tracker(hold=settings.hold)
        self.back = width / _fit((width, height), settings.fast_side)[0]
        self.last_thumb: np.ndarray | None = None
        self.last_keyframe = -10**9
        self.settled = -1

    def look(self, item: _Pending, previous: _Pending | None) -> None:
        """Light detections and the scene-cut test for a new frame; start the ensemble where it is due."""
        found = []
        if self.settings.blazeface_threshold > 0:
            found += blazeface(item.small, self.settings.blazeface_threshold)
        if self.settings.centerface_every and item.index % self.settings.centerface_every == 0:
            found += centerface(item.small, self.settings.centerface_threshold)
        # boxes found at reduced scale are coarse: widen them by a few reduced pixels and a tenth of their size
        item.fast = [_widen(d.scaled(self.back), 2 * self.back) for d in found]
        thumb = np.asarray(Image.fromarray(item.small).convert("L").resize((32, 18), Image.BOX), dtype=np.int16)
        item.scene_start = (self.last_thumb is None
                            or float(np.abs(thumb - self.last_thumb).mean()) > self.settings.cut_threshold)
        self.last_thumb = thumb
        item.small = None
        if item.scene_start and previous is not None:
            self.end_of_scene(previous)
        if item.scene_start or item.index - self.last_keyframe >= self.settings.keyframe_every:
            self._keyframe(item)

    def end_of_scene(self, item: _Pending) -> None:
        """The last frame of a scene (or of the video) is a keyframe too: it closes the scene's tracks."""
        item.last_of_scene = True
        if item.full is None:
            self._keyframe(item)

    def _keyframe(self, item: _Pending) -> None:
        self.last_keyframe = item.index
        item.full = self.pool.submit(lambda frame: self.full(frame.to_ndarray(format="rgb24")), item.frame)

    def settle(self, window: collections.deque, newest_seen: int, wait: bool) -> None:
        """Hand every frame whose detections are complete to the tracker, in order."""
        for item in window:
            if item.index <= self.settled:
                continue
            if item.index >= newest_seen and not item.last_of_scene:
                return                        # its successor decides whether a scene ends here
            if item.full is not None and not item.full.done() and not wait:
                return
            found = list(item.fast) + (item.full.result() if item.full is not None else [])
            item.full = None
            if item.scene_start and item.index > 0:
                self.tracker.cut(item.index)
            self.tracker.observe(item.index, [d.box for d in fuse(found)])
            self.settled = item.index

    def regions(self, index: int) -> list[list[int]]:
        """Padded regions to redact in a frame, snapped outwards to the grid, without duplicates."""
        out = []
        for x0, y0, x1, y1 in self.tracker.boxes_at(index):
            # as on photos: hair and forehead above the detector's eyes-to-chin box identify too
            region = pad_and_clip((x0, y0 - self.above * (y1 - y0), x1, y1), self.padding, self.width, self.height)
            if region is None:
                continue
            x0, y0 = region[0] // GRID * GRID, region[1] // GRID * GRID
            x1 = min(self.width, -(-region[2] // GRID) * GRID)
            y1 = min(self.height, -(-region[3] // GRID) * GRID)
            if [x0, y0, x1, y1] not in out:
                out.append([x0, y0, x1, y1])
        self.tracker.forget_before(index + 1)
        return _drop_contained(out)


def _tiled(detector: Callable[[np.ndarray], list[Detection]]) -> Callable[[np.ndarray], list[Detection]]:
    """The keyframe detector at full resolution on overlapping tiles of at most TILE_PIXELS, plus once on
    the whole frame reduced to OVERVIEW_SIDE for faces larger than the overlap: the detector's working
    memory then stays that of a 720p frame whatever the video's size (a 4K frame in one piece needs GBs)."""

    def detect(rgb: np.ndarray) -> list[Detection]:
        height, width = rgb.shape[:2]
        tiles = _tiles(width, height)
        if len(tiles) == 1:
            return detector(rgb)
        found = []
        for x0, y0, x1, y1 in tiles:
            found += [d.scaled(1.0, x0, y0) for d in detector(np.ascontiguousarray(rgb[y0:y1, x0:x1]))]
        overview, back = resize_longest(rgb, OVERVIEW_SIDE)
        found += [d.scaled(back) for d in detector(overview)]
        return fuse(found)

    return detect


def _tiles(width: int, height: int) -> list[tuple[int, int, int, int]]:
    """A grid of tiles overlapping by TILE_OVERLAP pixels, each at most TILE_PIXELS in area."""
    cols = rows = 1
    while True:
        tw = min(width, -(-(width + (cols - 1) * TILE_OVERLAP) // cols))
        th = min(height, -(-(height + (rows - 1) * TILE_OVERLAP) // rows))
        if tw * th <= TILE_PIXELS:
            break
        if tw >= th:
            cols += 1
        else:
            rows += 1
    xs = [round(i * (width - tw) / (cols - 1)) if cols > 1 else 0 for i in range(cols)]
    ys = [round(j * (height - th) / (rows - 1)) if rows > 1 else 0 for j in range(rows)]
    return [(x, y, x + tw, y + th) for y in ys for x in xs]


def _drop_contained(regions: list[list[int]]) -> list[list[int]]:
    """Regions not lying wholly inside another (two tracks on one face give nested boxes)."""
    def inside(a, b):
        return a != b and b[0] <= a[0] and b[1] <= a[1] and a[2] <= b[2] and a[3] <= b[3]
    return [r for r in regions if not any(inside(r, other) for other in regions)]


def _widen(det: Detection, pixels: float) -> Detection:
    dx = pixels + 0.1 * (det.x1 - det.x0)
    dy = pixels + 0.1 * (det.y1 - det.y0)
    return Detection(det.x0 - dx, det.y0 - dy, det.x1 + dx, det.y1 + dy, det.score, det.source)


def _fit(size: tuple[int, int], side: int) -> tuple[int, int]:
    """A size with the same shape whose longest side is at most `side` (even numbers)."""
    scale = min(1.0, side / max(size))
    return max(2, round(size[0] * scale)) & ~1, max(2, round(size[1] * scale)) & ~1


def _redact_frame(frame: "av.VideoFrame", regions: list[list[int]], method: str, strength: int) -> None:
    """Redact regions (even coordinates) of a yuv420p frame in place, each plane on its own.

    Blurring and pixelating are linear, so doing them on Y, U and V is doing them on the colours; chroma
    planes take the same regions at half size, hence the same number of cells across a face.
    """
    planes = _planes(frame)
    for x0, y0, x1, y1 in regions:
        for plane, k in zip(planes, (1, 2, 2)):
            patch = plane[y0 // k:y1 // k, x0 // k:x1 // k]
            if patch.size:
                patch[...] = _redact_patch(patch, method, strength, fill=16 if k == 1 else 128)


def _redact_patch(patch: np.ndarray, method: str, strength: int, fill: int) -> np.ndarray:
    """One plane's patch made unrecognisable by the image engine's `redact`, run on a copy at most
    REDACT_SIDE pixels across its short side and scaled back up: `redact` first averages the patch down
    to `strength` cells, so the result is the same, for a fraction of the work on large faces."""
    if method == "solid":
        return np.full_like(patch, fill)      # black luma, colourless chroma (limited-range YUV)
    h, w = patch.shape
    scale = min(1.0, REDACT_SIDE / min(h, w))
    if scale == 1.0:
        return redact(patch, [[0, 0, w, h]], method, strength)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = np.asarray(Image.fromarray(patch).resize(size, Image.BOX))
    done = redact(small, [[0, 0, size[0], size[1]]], method, strength)
    return np.asarray(Image.fromarray(done).resize((w, h), Image.NEAREST if method == "pixelate" else Image.BILINEAR))


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
    checked: int = 0                                  # frames the residual detector read
    found: dict = field(default_factory=dict)         # frame -> faces it found there


@dataclass
class _Source:
    """What the reader learnt from the first frame."""
    width: int
    height: int
    colour: dict


class _Writer:
    """The output file: H.264 yuv420p video (and AAC audio when kept), opened on the first frame."""

    def __init__(self, partial: Path, settings: Settings, stream, audio_source):
        self.partial, self.settings, self.stream, self.audio_source = partial, settings, stream, audio_source
        self.container = None
        self.video = self.audio = None
        self.pending_audio: list = []
        self.frames = 0

    def open(self, source: _Source) -> None:
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

    def write_video(self, frame: "av.VideoFrame") -> None:
        self.container.mux(self.video.encode(frame))
        self.frames += 1

    def write_audio(self, frame: "av.AudioFrame") -> None:
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


class _Stage(threading.Thread):
    """A pipeline thread that hands its exception to the main thread instead of dying silently."""

    def __init__(self, name: str, work: Callable[[], None], stop: threading.Event):
        super().__init__(name=name, daemon=True)
        self.work, self.stop, self.error = work, stop, None

    def run(self) -> None:
        try:
            self.work()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the main thread
            self.error = exc
            self.stop.set()


def _put(q: queue.Queue, item, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            q.put(item, timeout=0.1)
            return
        except queue.Full:
            continue


def _get(q: queue.Queue, stop: threading.Event, stage: _Stage):
    while True:
        try:
            return q.get(timeout=0.1)
        except queue.Empty:
            if stop.is_set() or not stage.is_alive():
                try:
                    return q.get_nowait()      # it may have handed over its last item while we waited
                except queue.Empty:
                    raise _Stopped() from None


class _Stopped(Exception):
    """Another stage failed or the pass was cancelled."""


def _transcode(path: Path, partial: Path, prof: Profile, settings: Settings, report: dict,
               progress: Progress | None, cancel: Callable[[], bool] | None) -> Written:
    """Decode (thread), detect and track (here), redact and encode (thread), with bounded queues between."""
    container = _open_input(path)
    stop = threading.Event()
    stages: list[_Stage] = []
    writer = None
    try:
        stream = _first_video_stream(container)
        audio_source = container.streams.audio[0] if settings.audio == "keep" and container.streams.audio else None
        writer = _Writer(partial, settings, stream, audio_source)
        decoded: queue.Queue = queue.Queue(maxsize=QUEUED)
        to_encode: queue.Queue = queue.Queue(maxsize=QUEUED)
        faces = prof.section("faces")
        checker = _Checker(prof, settings, stop)
        reader = _Stage("veil-decode", lambda: _read(container, stream, audio_source, settings, decoded, stop), stop)
        encoder = _Stage("veil-encode", lambda: _encode(writer, to_encode, faces, stop, checker), stop)
        stages = [reader, encoder, checker.stage]
        for stage in stages:
            stage.start()
        runs = _main_loop(prof, settings, stream, container, decoded, to_encode, stop, reader, encoder,
                          progress, cancel)
        encoder.join()
        if encoder.error:
            raise encoder.error
        checker.finish()
        report["frames"] = writer.frames
        report["width"], report["height"] = writer.video.width, writer.video.height
        report["frames_with_regions"] = runs.frames_with_regions
        report["regions"] = runs.finish(writer.frames - 1)
        return Written(writer.frames, writer.video.width, writer.video.height, writer.audio is not None,
                       checker.checked, checker.found)
    finally:
        stop.set()
        for stage in stages:
            stage.join()
        if writer is not None:
            writer.abandon()
        container.close()


def _read(container, stream, audio_source, settings: Settings, out: queue.Queue, stop: threading.Event) -> None:
    """Decoder thread: an upright copy and a reduced RGB copy of every frame, and audio frames when kept."""
    stream.thread_type = "AUTO"
    orient, size, state = None, None, {"last_pts": None, "first_pts": None}
    index = 0
    streams = [stream] + ([audio_source] if audio_source is not None else [])
    try:
        for packet in container.demux(*streams):
            if stop.is_set():
                return
            if packet.is_corrupt:   # the demuxer read less than the index promised: the file is cut short
                raise VideoReadError(f"damaged or truncated video: the data after frame {index} is cut short "
                                     "or corrupt")
            if packet.stream.type == "audio":
                for frame in packet.decode():
                    _put(out, ("audio", frame), stop)
                continue
            for frame in packet.decode():
                if orient is None:
                    orient = _orientation(frame)
                upright = _upright(frame, orient)
                if size is None:
                    size = (upright.width, upright.height)
                    if min(size) < 16:
                        raise VideoReadError(f"video frames are too small ({size[0]}x{size[1]})")
                    _put(out, ("source", _Source(size[0], size[1], _colour(frame))), stop)
                elif (upright.width, upright.height) != size:
                    raise VideoReadError("the picture size changes within the video; Veil cannot re-encode that safely")
                item = _Pending(index, _next_pts(frame, state, stream), upright,
                                _small_rgb(frame, orient, settings.fast_side), duration=frame.duration)
                _put(out, ("video", item), stop)
                index += 1
    except av.FFmpegError as exc:
        raise VideoReadError(f"damaged video data after {index} frames ({_av_reason(exc)})") from None
    if index == 0:
        raise VideoReadError("the video stream holds no decodable frames (damaged or truncated)")
    if stream.frames and index < stream.frames - 1:
        raise VideoReadError(f"damaged or truncated video: only {index} of its {stream.frames} frames "
                             "could be decoded")
    _put(out, ("end", index), stop)


def _colour(frame: "av.VideoFrame") -> dict:
    """Colour tags to carry to the encoder (the pixels stay as they are, in limited range)."""
    tags = {attr: getattr(frame, attr) for attr in ("colorspace", "color_primaries", "color_trc")
            if getattr(frame, attr, None) not in (None, 0, 2)}   # 2: unspecified
    tags["color_range"] = 1   # MPEG (limited)
    return tags


def _main_loop(prof, settings, stream, container, decoded, to_encode, stop, reader, encoder,
               progress, cancel) -> _Runs:
    """Detect, track and decide the regions of every frame, in order, behind a look-ahead window."""
    redacts = not prof.keeps_faces
    lookahead = max(settings.hold, settings.keyframe_every) + 1
    window: collections.deque[_Pending] = collections.deque()
    runs = _Runs()
    finder = None
    total = stream.frames or max(1, int(float(container.duration or 0) / 1e6 * float(stream.guessed_rate or 30)))
    started, last_report, emitted = time.monotonic(), 0.0, 0
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="veil-ensemble")
    try:
        while True:
            if encoder.error or reader.error:
                raise (encoder.error or reader.error)
            if cancel is not None and cancel():
                raise VideoCancelled("cancelled; nothing was written")
            kind, payload = _get(decoded, stop, reader)
            if kind == "audio":
                _put(to_encode, ("audio", payload), stop)
                continue
            if kind == "source":
                _put(to_encode, ("source", payload), stop)
                if redacts:
                    finder = _Finder(prof, settings, payload.width, payload.height, pool)
                continue
            done = kind == "end"
            if not done:
                if redacts:
                    finder.look(payload, window[-1] if window else None)
                window.append(payload)
            elif redacts and window:
                finder.end_of_scene(window[-1])
            if redacts:
                newest = window[-1].index if window else -1
                # memory stays bounded: beyond this the ensemble's results are waited for
                finder.settle(window, newest, wait=done or len(window) > lookahead + settings.keyframe_every)
                ready = newest if done else finder.settled - lookahead
            else:
                ready = window[-1].index if window else -1
            while window and window[0].index <= ready:
                item = window.popleft()
                regions = finder.regions(item.index) if redacts else []
                runs.add(item.index, regions)
                _put(to_encode, ("video", (item, regions)), stop)
                emitted += 1
            if progress and time.monotonic() - last_report > 0.5:
                last_report = time.monotonic()
                fps = emitted / max(1e-6, last_report - started)
                progress(PASS_SHARE * min(1.0, emitted / total),
                         f"redacting: frame {emitted} of ~{total}, {fps:.1f} fps")
            if done:
                _put(to_encode, ("end", None), stop)
                return runs
    except _Stopped:
        raise (encoder.error or reader.error or VideoReadError("video processing stopped")) from None
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


class _Checker:
    """The residual check, in a thread of its own: the profile's residual detector reads every n-th
    redacted frame, reduced, exactly as it goes to the encoder (lossy coding cannot add a face)."""

    def __init__(self, prof: Profile, settings: Settings, stop: threading.Event):
        self.every, self.stop = settings.verify_every, stop
        threshold = prof.residual_threshold
        self.detector = None if threshold is None else residual_detector(threshold)
        self.inbox: queue.Queue = queue.Queue(maxsize=4)
        self.checked, self.found = 0, {}
        self.stage = _Stage("veil-check", self._run, stop)

    def offer(self, index: int, frame: "av.VideoFrame") -> None:
        if self.detector is None or index % self.every:
            return
        size = _fit((frame.width, frame.height), RESIDUAL_SIDE)
        small = frame.reformat(width=size[0], height=size[1], format="rgb24").to_ndarray()
        _put(self.inbox, (index, small, frame.width / size[0]), self.stop)

    def finish(self) -> None:
        _put(self.inbox, None, self.stop)
        self.stage.join()
        if self.stage.error:
            raise self.stage.error

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                item = self.inbox.get(timeout=0.1)
            except queue.Empty:
                continue
            if item is None:
                return
            index, small, back = item
            faces = self.detector(small)
            self.checked += 1
            if faces:
                self.found[index] = [[round(v * back) for v in d.box] for d in faces]


def _encode(writer: _Writer, inbox: queue.Queue, faces: dict, stop: threading.Event, checker: _Checker) -> None:
    """Encoder thread: redact each frame's regions and write it, with the audio, in arrival order."""
    method, strength = faces.get("method", "blur"), int(faces.get("strength", 6))
    while not stop.is_set():
        try:
            kind, payload = inbox.get(timeout=0.1)
        except queue.Empty:
            continue
        if kind == "end":
            writer.close()
            return
        if kind == "source":
            writer.open(payload)
        elif kind == "audio":
            writer.write_audio(payload)
        else:
            item, regions = payload
            frame = item.frame
            if regions:
                _redact_frame(frame, regions, method, strength)
            frame.pts, frame.time_base = item.pts, writer.stream.time_base
            if item.duration:
                frame.duration = item.duration
            writer.write_video(frame)
            checker.offer(item.index, frame)


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

def verify_video(path: Path, prof: Profile, settings: Settings, report: dict, written: Written,
                 progress: Progress | None = None, cancel: Callable[[], bool] | None = None) -> None:
    """Re-read the written file: tags against the allow-list, fast start, streams, every frame decodable,
    of the size written, and counted; and withhold it unless the residual check (run during the pass) read
    every n-th frame and found no face on any of them.
    """
    clean, leftovers = is_clean(path, VIDEO_ALLOWED, zeroed=frozenset(_DATE_TAGS))
    report["verified"]["metadata_clean"] = clean
    check_faces = prof.residual_threshold is not None
    report["verified"]["faces_left"] = sum(len(f) for f in written.found.values()) if check_faces else None
    report["verified"]["frames_checked"] = written.checked
    if not clean:
        raise VideoReadError(f"output withheld: metadata left after rewriting ({', '.join(leftovers)})")
    if not moov_before_mdat(path):
        raise VideoReadError("output withheld: the MP4 is not fast-start (index after the media data)")
    frames = 0
    with av.open(str(path)) as out:
        kinds = sorted(s.type for s in out.streams)
        expected = ["audio", "video"] if written.audio else ["video"]
        if kinds != expected:
            raise VideoReadError(f"output withheld: unexpected streams {kinds}")
        stream = out.streams.video[0]
        if stream.codec_context.name != "h264":
            raise VideoReadError("output withheld: the video is not H.264")
        stream.thread_type = "AUTO"
        started, last_report = time.monotonic(), 0.0
        for frame in out.decode(stream):
            if frame.format.name != "yuv420p":
                raise VideoReadError(f"output withheld: pixels are {frame.format.name}, not yuv420p")
            if (frame.width, frame.height) != (written.width, written.height):
                raise VideoReadError(f"output withheld: frames of {frame.width}x{frame.height} read back, "
                                     f"{written.width}x{written.height} written")
            frames += 1
            if cancel is not None and cancel():
                raise VideoCancelled("cancelled; nothing was written")
            if progress and time.monotonic() - last_report > 0.5:
                last_report = time.monotonic()
                fps = frames / max(1e-6, last_report - started)
                progress(PASS_SHARE + (0.99 - PASS_SHARE) * frames / max(1, written.frames),
                         f"verifying: frame {frames} of {written.frames}, {fps:.1f} fps")
    if frames != written.frames:
        raise VideoReadError(f"output withheld: {frames} frames read back, {written.frames} written")
    due = len(range(0, written.frames, settings.verify_every))
    if check_faces and written.checked != due:
        raise VideoReadError(f"output withheld: the residual-face check read {written.checked} of the {due} "
                             "frames it must read")
    if check_faces and written.found:
        shown = sorted(written.found)
        listed = ", ".join(str(f) for f in shown[:5]) + (" ..." if len(shown) > 5 else "")
        raise VideoReadError(f"output withheld: a face is still detectable in {len(shown)} of the "
                             f"{written.checked} frames checked (frames {listed}); review the video")


class RunIndex:
    """The regions of each frame, read back from a report's runs in frame order."""

    def __init__(self, runs: list[list]):
        self.runs = sorted(runs, key=lambda run: run[0])
        self.next, self.active = 0, []

    def at(self, index: int) -> list[list[int]]:
        while self.next < len(self.runs) and self.runs[self.next][0] <= index:
            self.active.append(self.runs[self.next])
            self.next += 1
        self.active = [run for run in self.active if run[1] >= index]
        return [run[2] for run in self.active]


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
