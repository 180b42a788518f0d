"""One frame at a time: turn it upright, hold it as yuv420p planes in Veil's own memory, reduce it for the
light detectors, and redact regions of it in place.

Pixels stay in YUV from decoder to encoder; only the redacted patches are touched, so colours elsewhere
are exactly the decoder's.
"""
from __future__ import annotations

from typing import Callable

import av
import numpy as np
from PIL import Image

from deid.redact import Region, redact
from deid.video.errors import VideoReadError

Orient = Callable[[np.ndarray], np.ndarray]

REDACT_SIDE = 48                 # faces are redacted at most this many pixels across, then scaled up
# Full-range (JPEG) 8-bit YUV to the limited range that H.264 players assume for yuv420p.
_LIMITED_Y = np.round(16 + np.arange(256) * 219 / 255).astype(np.uint8)
_LIMITED_C = np.clip(np.round(128 + (np.arange(256) - 128) * 224 / 255), 16, 240).astype(np.uint8)


def orientation(frame: av.VideoFrame) -> Orient:
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


def upright(frame: av.VideoFrame, orient: Orient) -> av.VideoFrame:
    """A new yuv420p frame in Veil's own memory: the decoded picture upright, 8-bit limited range, cropped
    to even size. Redaction then writes into it in place; the decoder's frames are never written to (it
    predicts later frames from them)."""
    name = frame.format.name
    full_range = name == "yuvj420p" or (not name.startswith("yuvj") and frame.color_range == 2)
    if name not in ("yuv420p", "yuvj420p"):
        frame = frame.reformat(format="yuv420p")   # swscale also brings yuvj4xx to limited range
    sources = [orient(rows) for rows in planes(frame, frame.width & ~1, frame.height & ~1)]
    height, width = sources[0].shape
    turned = av.VideoFrame(width, height, "yuv420p")
    for i, (source, target) in enumerate(zip(sources, planes(turned))):
        target[...] = (_LIMITED_Y if i == 0 else _LIMITED_C)[source] if full_range else source
    return turned


def planes(frame: av.VideoFrame, width: int | None = None, height: int | None = None) -> list[np.ndarray]:
    """Y, U and V of a yuv420p frame (its top-left width x height) as arrays over the frame's memory."""
    width, height = width or frame.width, height or frame.height
    found = []
    for i, plane in enumerate(frame.planes):
        w, h = (width, height) if i == 0 else (width // 2, height // 2)
        found.append(np.frombuffer(plane, dtype=np.uint8).reshape(-1, plane.line_size)[:h, :w])
    return found


def colour_tags(frame: av.VideoFrame) -> dict:
    """Colour tags to carry to the encoder (the pixels stay as they are, in limited range)."""
    tags = {attr: getattr(frame, attr) for attr in ("colorspace", "color_primaries", "color_trc")
            if getattr(frame, attr, None) not in (None, 0, 2)}   # 2: unspecified
    tags["color_range"] = 1   # MPEG (limited)
    return tags


def small_rgb(frame: av.VideoFrame, orient: Orient, side: int) -> np.ndarray:
    """The decoded frame reduced to at most `side` pixels, in RGB, upright: what the light detectors see."""
    width, height = fit((frame.width & ~1, frame.height & ~1), side)
    small = frame.reformat(width=width, height=height, format="rgb24", interpolation="FAST_BILINEAR")
    return np.ascontiguousarray(orient(small.to_ndarray()))


def fit(size: tuple[int, int], side: int) -> tuple[int, int]:
    """A size with the same shape whose longest side is at most `side` (even numbers)."""
    scale = min(1.0, side / max(size))
    return max(2, round(size[0] * scale)) & ~1, max(2, round(size[1] * scale)) & ~1


def redact_frame(frame: av.VideoFrame, regions: list[Region], method: str, strength: int) -> None:
    """Redact regions (even coordinates) of a yuv420p frame in place, each plane on its own.

    Blurring and pixelating are linear, so doing them on Y, U and V is doing them on the colours; chroma
    planes take the same regions at half size, hence the same number of cells across a face.
    """
    yuv = planes(frame)
    for x0, y0, x1, y1 in regions:
        for plane, k in zip(yuv, (1, 2, 2)):
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
