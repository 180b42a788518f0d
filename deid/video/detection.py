"""Which regions to redact in each frame: light detection on every frame, the ensemble on keyframes, scene
cuts, and a tracker that carries each face between sightings; text and codes likewise, found on keyframes
and carried by a tracker of their own.

Each frame gets a light detector (CenterFace) at reduced scale; the profile's ensemble, without its
costliest views (VideoSettings.keyframe_detector), runs at full resolution on tiles every few frames
(keyframes), on the first frame of every scene and on the last one before a cut, in a worker thread. The
tracker interpolates, bridges, and holds a face a few frames either side, so a face the light detector
misses in a frame is still covered. Faces the keyframes find that are too small for the reduced frame are
watched between keyframes: CenterFace at full resolution on a small window around each, every frame
(_Watch), which keeps their tracks on them and lets the ensemble run on fewer frames at the same recall. Text lines, barcodes and QR codes (deid/text.py, deid/codes.py) are
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
import cv2
import numpy as np
from PIL import Image

from deid.boxes import Detection, fuse, iou
from deid.codes import code_regions
from deid.detect import ensemble, tiled
from deid.detectors import blazeface, centerface
from deid.profile import Profile
from deid.redact import Region, face_region, pad_and_clip
from deid.text import text_regions
from deid.tracking import Tracker, same_face
from deid.video.frames import fit, planes
from deid.video.settings import VideoSettings

TILE_PIXELS = 1280 * 736          # keyframe tiles: a 720p frame is one tile
TILE_OVERLAP = 256
OVERVIEW_SIDE = 960
GRID = 8                         # regions snap outwards to this grid: even for chroma, and runs stay long
WINDOW_FACE = 32                 # a watched face is looked at again scaled to about this many pixels across
WATCH_DELAY = 8                  # frames after a keyframe at which its small faces start being watched
WINDOW_MISSES = 3                # window looks in a row without the face before it is no longer watched


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
        # faces too small for the reduced frame, looked at again at full resolution between keyframes
        self.watch = _Watch(settings.fast_side, width, height) if settings.window_every else None

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
        if self.watch is not None and self.faces:
            self.watch.absorb_keyframes(item.index)
            if item.index % self.settings.window_every == 0:
                item.fast += self.watch.look(item.frame, self.settings.window_threshold)
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
            if self.watch is not None:
                self.watch.keyframes.append((item.index, item.full))

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


class _Watch:
    """Faces the reduced frame is too coarse to see, looked at again between keyframes: CenterFace on a
    window around each (three faces across), scaled so the face is about WINDOW_FACE pixels across. Fed by
    the keyframes' results as they come in and by its own sightings; a face not seen in WINDOW_MISSES
    looks in a row is dropped (the tracker still holds it). Small faces that move are followed closely
    this way, so the full ensemble can run on fewer frames."""

    def __init__(self, fast_side: int, width: int, height: int):
        self.width, self.height = width, height
        # the reduced frame sees faces of about 10 of its pixels and more
        self.largest = 10 * max(width, height) / fast_side
        self.boxes: list[list] = []            # [box, misses]
        self.keyframes: list[tuple[int, Future]] = []

    def absorb_keyframes(self, index: int) -> None:
        """Watch the small faces of the keyframes WATCH_DELAY or more frames before frame `index`, waiting for
        their ensemble if need be: a fixed delay, so that the regions do not depend on the machine's speed."""
        while self.keyframes and self.keyframes[0][0] + WATCH_DELAY <= index:
            _, future = self.keyframes.pop(0)
            self._add([d.box for d in future.result()])

    def _add(self, boxes: list[tuple]) -> None:
        for box in boxes:
            if max(box[2] - box[0], box[3] - box[1]) > self.largest:
                continue
            if not any(iou(box, kept[0]) > 0.3 for kept in self.boxes):
                self.boxes.append([box, 0])

    def look(self, frame: av.VideoFrame, threshold: float) -> list[Detection]:
        """Detections in windows around the watched faces of this frame, in its pixels."""
        found, yuv = [], planes(frame)
        for entry in self.boxes:
            box = entry[0]
            window = self._window(box)
            seen = [(same_face(box, d.box), d) for d in self._detect(yuv, window, box, threshold)]
            score, best = max(seen, key=lambda pair: pair[0], default=(0.0, None))
            if score < 0.1:
                entry[1] += 1
                continue
            entry[0], entry[1] = best.box, 0
            found.append(_widen(best, 2.0))   # the slack the ensemble's margin gives its boxes
        self.boxes = [e for e in self.boxes if e[1] < WINDOW_MISSES]
        return found

    def _window(self, box: tuple) -> tuple[int, int, int, int]:
        side = max(box[2] - box[0], box[3] - box[1], 8.0)
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        x0 = max(0, int(cx - 1.5 * side) & ~3)
        y0 = max(0, int(cy - 1.5 * side) & ~3)
        x1 = min(self.width & ~3, -(-int(cx + 1.5 * side) // 4) * 4)
        y1 = min(self.height & ~3, -(-int(cy + 1.5 * side) // 4) * 4)
        return x0, y0, max(x1, x0 + 4), max(y1, y0 + 4)

    def _detect(self, yuv: list[np.ndarray], window: tuple, box: tuple, threshold: float) -> list[Detection]:
        x0, y0, x1, y1 = window
        w, h = x1 - x0, y1 - y0
        i420 = np.concatenate([yuv[0][y0:y1, x0:x1].ravel(), yuv[1][y0 // 2:y1 // 2, x0 // 2:x1 // 2].ravel(),
                               yuv[2][y0 // 2:y1 // 2, x0 // 2:x1 // 2].ravel()]).reshape(h * 3 // 2, w)
        rgb = cv2.cvtColor(i420, cv2.COLOR_YUV2RGB_I420)
        scale = min(1.0, WINDOW_FACE / max(box[2] - box[0], box[3] - box[1], 1.0))
        if scale < 1.0:
            rgb = cv2.resize(rgb, (max(8, round(w * scale)), max(8, round(h * scale))), interpolation=cv2.INTER_AREA)
        sx, sy = w / rgb.shape[1], h / rgb.shape[0]
        return [Detection(d.x0 * sx + x0, d.y0 * sy + y0, d.x1 * sx + x0, d.y1 * sy + y0, d.score, "window")
                for d in centerface(rgb, threshold)]


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
