"""Which regions to redact in each frame: light detection on every frame, the ensemble on keyframes, scene
cuts, and a tracker that carries each face between sightings; text and codes likewise, found on keyframes
and carried by a tracker of their own.

Each frame gets a light detector (CenterFace) at reduced scale; the profile's ensemble, without its
costliest views (VideoSettings.keyframe_detector), runs at full resolution on tiles every few frames
(keyframes), on the first frame of every scene and on the last one before a cut, in a worker thread. The
tracker interpolates, bridges, and holds a face a few frames either side, so a face the light detector
misses in a frame is still covered. Text lines, barcodes and QR codes (deid/text.py, deid/codes.py) are
looked for every VideoSettings.text_every frames and at both ends of every scene, in the same worker;
their own tracker interpolates between looks and bridges a line that moved too far to be matched.
Frames wait in a look-ahead window until their regions are decided.
"""
from __future__ import annotations

import collections
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Iterator

import av
import numpy as np
from PIL import Image

from deid.boxes import Detection, fuse
from deid.codes import code_regions
from deid.detect import ensemble, tiled
from deid.detectors import blazeface, centerface
from deid.profile import Profile
from deid.redact import Region, face_region, pad_and_clip
from deid.text import text_regions
from deid.tracking import Tracker
from deid.video.frames import fit
from deid.video.settings import VideoSettings

TILE_PIXELS = 1280 * 736          # keyframe tiles: a 720p frame is one tile
TILE_OVERLAP = 256
OVERVIEW_SIDE = 960
GRID = 8                         # regions snap outwards to this grid: even for chroma, and runs stay long


@dataclass
class Pending:
    """A decoded frame waiting in the look-ahead window."""
    index: int
    pts: int
    frame: av.VideoFrame                 # upright yuv420p, Veil's own copy (frames.upright)
    small: np.ndarray | None             # reduced upright RGB for the light detectors
    duration: int | None = None          # in the source stream's time base
    scene_start: bool = False
    fast: list[Detection] | None = None
    full: Future | None = None           # the ensemble's detections, when a keyframe
    texts: Future | None = None          # text and code regions, when a text keyframe
    last_of_scene: bool = False
    text_regions: list[Region] = field(default_factory=list)   # of the regions decided, those of text


class LookAhead:
    """Frames in decoding order wait here until their regions are decided; `ready` hands them on in order.
    A profile that keeps faces and does not redact text decides at once: no region anywhere."""

    def __init__(self, prof: Profile, settings: VideoSettings, width: int, height: int):
        self.window: collections.deque[Pending] = collections.deque()
        self.span = max(settings.hold, settings.keyframe_every) + 1
        self.most = self.span + settings.keyframe_every   # beyond this the ensemble's results are waited for
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="veil-ensemble")
        redacts = not prof.keeps_faces or prof.text_action == "redact"
        self.finder = _Finder(prof, settings, width, height, self.pool) if redacts else None
        self.ended = False

    def add(self, item: Pending) -> None:
        if self.finder:
            self.finder.look(item, self.window[-1] if self.window else None)
        self.window.append(item)

    def end(self) -> None:
        """No frame follows: the last one closes its scene, and every frame is decided."""
        self.ended = True
        if self.finder and self.window:
            self.finder.end_of_scene(self.window[-1])

    def ready(self) -> Iterator[tuple[Pending, list[Region]]]:
        """The frames whose regions are decided, with them, in order."""
        newest = self.window[-1].index if self.window else -1
        if self.finder:
            self.finder.settle(self.window, newest, wait=self.ended or len(self.window) > self.most)
            last = newest if self.ended else self.finder.settled - self.span
        else:
            last = newest
        while self.window and self.window[0].index <= last:
            item = self.window.popleft()
            if self.finder:
                faces, item.text_regions = self.finder.regions(item.index)
                yield item, faces + item.text_regions
            else:
                yield item, []

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


class _Finder:
    """Light detection on every frame, the ensemble on keyframes (in a worker thread), scene cuts, tracking.

    Frames are settled (their detections handed to the tracker) strictly in order, once the next frame has
    been seen (to know whether a scene ends there) and the frame's ensemble run, if any, has finished.
    """

    def __init__(self, prof: Profile, settings: VideoSettings, width: int, height: int, pool: ThreadPoolExecutor):
        self.prof, self.settings, self.width, self.height, self.pool = prof, settings, width, height, pool
        self.faces = not prof.keeps_faces
        self.full = tiled(ensemble({**prof.section("detector"), **settings.keyframe_detector}),
                          TILE_PIXELS, TILE_OVERLAP, OVERVIEW_SIDE)
        self.tracker = Tracker(hold=settings.hold)
        self.text = prof.text_action == "redact"
        self.text_settings = {**prof.section("text"), **settings.text_detector}
        self.text_tracker = Tracker(hold=settings.text_every + 8)
        self.last_text = -10**9
        self.back = width / fit((width, height), settings.fast_side)[0]
        self.last_thumb: np.ndarray | None = None
        self.last_keyframe = -10**9
        self.settled = -1

    def look(self, item: Pending, previous: Pending | None) -> None:
        """Light detections and the scene-cut test for a new frame; start the ensemble and the look for text
        where they are due."""
        found = []
        if self.faces and self.settings.blazeface_threshold > 0:
            found += blazeface(item.small, self.settings.blazeface_threshold)
        if self.faces and self.settings.centerface_every and item.index % self.settings.centerface_every == 0:
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
        if item.scene_start or item.index - self.last_text >= self.settings.text_every:
            self._look_for_text(item)

    def end_of_scene(self, item: Pending) -> None:
        """The last frame of a scene (or of the video) is a keyframe too: it closes the scene's tracks."""
        item.last_of_scene = True
        if item.full is None:
            self._keyframe(item)
        if item.texts is None:
            self._look_for_text(item)

    def _keyframe(self, item: Pending) -> None:
        self.last_keyframe = item.index
        if self.faces:
            item.full = self.pool.submit(lambda frame: self.full(frame.to_ndarray(format="rgb24")), item.frame)

    def _look_for_text(self, item: Pending) -> None:
        self.last_text = item.index
        if self.text:
            item.texts = self.pool.submit(self._text_and_codes, item.frame)

    def _text_and_codes(self, frame: av.VideoFrame) -> list[Region]:
        rgb = frame.to_ndarray(format="rgb24")
        return text_regions(rgb, self.text_settings) + code_regions(rgb)

    def settle(self, window: collections.deque, newest_seen: int, wait: bool) -> None:
        """Hand every frame whose detections are complete to the tracker, in order."""
        for item in window:
            if item.index <= self.settled:
                continue
            if item.index >= newest_seen and not item.last_of_scene:
                return                        # its successor decides whether a scene ends here
            pending = [f for f in (item.full, item.texts) if f is not None and not f.done()]
            if pending and not wait:
                return
            found = list(item.fast) + (item.full.result() if item.full is not None else [])
            item.full = None
            if item.scene_start and item.index > 0:
                self.tracker.cut(item.index)
                self.text_tracker.cut(item.index)
            self.tracker.observe(item.index, [d.box for d in fuse(found)])
            if item.texts is not None:
                self.text_tracker.observe(item.index, [tuple(map(float, r)) for r in item.texts.result()])
                item.texts = None
            self.settled = item.index

    def regions(self, index: int) -> tuple[list[Region], list[Region]]:
        """Regions to redact in a frame, faces (padded) and text, snapped outwards to the grid, without
        duplicates."""
        faces = [face_region(box, self.prof.padding, self.prof.extend_up, self.width, self.height)
                 for box in self.tracker.boxes_at(index)]
        texts = [pad_and_clip(box, 0.0, self.width, self.height) for box in self.text_tracker.boxes_at(index)]
        self.tracker.forget_before(index + 1)
        self.text_tracker.forget_before(index + 1)
        faces = self._snapped(faces)
        return faces, [r for r in self._snapped(texts) if r not in faces]

    def _snapped(self, regions: list[Region | None]) -> list[Region]:
        out = []
        for region in regions:
            if region is None:
                continue
            x0, y0 = region[0] // GRID * GRID, region[1] // GRID * GRID
            x1 = min(self.width, -(-region[2] // GRID) * GRID)
            y1 = min(self.height, -(-region[3] // GRID) * GRID)
            if [x0, y0, x1, y1] not in out:
                out.append([x0, y0, x1, y1])
        return _drop_contained(out)


def _drop_contained(regions: list[Region]) -> list[Region]:
    """Regions not lying wholly inside another (two tracks on one face give nested boxes)."""
    def inside(a, b):
        return a != b and b[0] <= a[0] and b[1] <= a[1] and a[2] <= b[2] and a[3] <= b[3]
    return [r for r in regions if not any(inside(r, other) for other in regions)]


def _widen(det: Detection, pixels: float) -> Detection:
    dx = pixels + 0.1 * (det.x1 - det.x0)
    dy = pixels + 0.1 * (det.y1 - det.y0)
    return Detection(det.x0 - dx, det.y0 - dy, det.x1 + dx, det.y1 + dy, det.score, det.source)


class Runs:
    """Regions per frame as runs of identical regions over consecutive frames: `[first, last, region]`,
    first..last inclusive (0-based, in output order)."""

    def __init__(self):
        self.open: dict[tuple, int] = {}
        self.closed: list[list] = []
        self.frames_with_regions = 0

    def add(self, index: int, regions: list[Region]) -> None:
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
