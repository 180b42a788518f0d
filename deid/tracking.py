"""Carry faces across video frames so a face the detector misses in a frame is still covered.

Pure logic, no I/O. Detections arrive frame by frame (in order); each joins the track of the same face or
starts a new one. A track gives a box for any frame of its scene: observed frames as seen, frames between
two observations by linear interpolation, and a few frames before the first and after the last
observation by holding the nearest box, grown a little per frame for motion. Tracks never cross a scene
cut. Because the video pipeline looks ahead, "before the first observation" covers frames already decoded
but not yet written: a face found at a keyframe is also covered in the frames since the previous one.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from deid.boxes import iou

Box = tuple[float, float, float, float]


def union_box(a: Box, b: Box) -> Box:
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def grow(box: Box, share: float) -> Box:
    """Grow a box by `share` of its size on every side."""
    dx, dy = (box[2] - box[0]) * share, (box[3] - box[1]) * share
    return (box[0] - dx, box[1] - dy, box[2] + dx, box[3] + dy)


def centre_gap(a: Box, b: Box) -> tuple[float, float]:
    """Distance between the two boxes' centres, and the longest side of either (the face's size)."""
    dx = (a[0] + a[2] - b[0] - b[2]) / 2
    dy = (a[1] + a[3] - b[1] - b[3]) / 2
    return (dx * dx + dy * dy) ** 0.5, max(a[2] - a[0], a[3] - a[1], b[2] - b[0], b[3] - b[1])


def same_face(track_box: Box, det: Box) -> float:
    """How well a detection continues a track (0: not at all). Overlap, or centres closer than half a face."""
    distance, size = centre_gap(track_box, det)
    near = max(0.0, 1.0 - distance / (0.5 * size)) if size > 0 else 0.0
    return max(iou(track_box, det), 0.5 * near)


@dataclass
class Track:
    scene: int
    frames: list[int] = field(default_factory=list)
    boxes: list[Box] = field(default_factory=list)
    bridge: bool = False      # a guessed path between two tracks: covers only the frames between them

    @property
    def first(self) -> int:
        return self.frames[0]

    @property
    def last(self) -> int:
        return self.frames[-1]

    def observe(self, frame: int, box: Box) -> None:
        if self.frames and self.frames[-1] == frame:
            self.boxes[-1] = union_box(self.boxes[-1], box)  # two sources saw it in one frame: keep both
        else:
            self.frames.append(frame)
            self.boxes.append(box)

    def box_at(self, frame: int, hold: int, growth: float, max_growth: float) -> Box | None:
        """The face's box at `frame` (None when the track says nothing about that frame)."""
        if frame < self.first or frame > self.last:
            if self.bridge:
                return None
            gap = self.first - frame if frame < self.first else frame - self.last
            if gap > hold:
                return None
            end = 0 if frame < self.first else -1
            still = self.boxes[end]
            moved = tuple(v + d * (frame - self.frames[end]) for v, d in zip(still, self._velocity(end)))
            # where it was last seen, and where it would be had it kept moving: cover both
            return grow(union_box(still, moved), min(max_growth, growth * gap))
        i = bisect.bisect_left(self.frames, frame)
        if self.frames[i] == frame:
            return self.boxes[i]
        f0, f1 = self.frames[i - 1], self.frames[i]
        b0, b1 = self.boxes[i - 1], self.boxes[i]
        w = (frame - f0) / (f1 - f0)
        mid = tuple(a + (b - a) * w for a, b in zip(b0, b1))
        # the face may not move in a straight line between two sightings far apart: allow some slack
        return grow(mid, min(max_growth, growth * min(frame - f0, f1 - frame)))

    def _velocity(self, end: int, span: int = 3) -> Box:
        """Pixels per frame of each box edge at the track's start (end=0) or finish (end=-1), measured over
        sightings at least `span` frames apart (one sighting: no motion known)."""
        frames = self.frames if end == 0 else self.frames[::-1]
        boxes = self.boxes if end == 0 else self.boxes[::-1]
        if len(frames) < 2:
            return (0.0, 0.0, 0.0, 0.0)
        # the nearest sighting far enough away, else the farthest there is
        i = next((i for i, f in enumerate(frames) if abs(f - frames[0]) >= span), len(frames) - 1)
        return tuple((v - u) / (frames[i] - frames[0]) for u, v in zip(boxes[0], boxes[i]))

    def forget_before(self, frame: int, keep: int = 4) -> None:
        """Drop observations no longer needed for `frame` and later (a few before it measure the motion)."""
        i = bisect.bisect_left(self.frames, frame)
        if i > keep:
            del self.frames[:i - keep]
            del self.boxes[:i - keep]


class Tracker:
    """Tracks of faces over a stream of frames, with scene cuts.

    hold: frames a track still covers before its first and after its last observation (within its scene);
    growth: share of the box added on every side per frame of holding or of distance from an observation;
    min_match: least `same_face` score for a detection to continue a track.
    """

    def __init__(self, hold: int = 12, growth: float = 0.02, max_growth: float = 0.3, min_match: float = 0.1,
                 max_speed: float = 0.5):
        self.hold, self.growth, self.max_growth, self.min_match = hold, growth, max_growth, min_match
        self.max_speed = max_speed
        self.tracks: list[Track] = []
        self.scene = 0
        self.scene_start: dict[int, int] = {0: 0}
        self.scene_end: dict[int, int] = {}

    def cut(self, frame: int) -> None:
        """A new scene starts at `frame`: no track of the old scene reaches into it, nor back out of it."""
        self.scene_end[self.scene] = frame - 1
        self.scene += 1
        self.scene_start[self.scene] = frame

    def observe(self, frame: int, boxes: list[Box]) -> None:
        """Detections of one frame (frames in non-decreasing order), in pixels of the upright frame."""
        live = [t for t in self.tracks if not t.bridge and t.scene == self.scene and frame - t.last <= self.hold]
        pairs = []
        for ti, track in enumerate(live):
            predicted = self._predict(track, frame)
            for di, box in enumerate(boxes):
                score = same_face(predicted, box)
                if score >= self.min_match:
                    pairs.append((score, ti, di))
        taken_t, taken_d = set(), set()
        for score, ti, di in sorted(pairs, reverse=True):
            if ti in taken_t or di in taken_d:
                continue
            taken_t.add(ti)
            taken_d.add(di)
            live[ti].observe(frame, boxes[di])
        for di, box in enumerate(boxes):
            if di not in taken_d:
                track = Track(self.scene)
                track.observe(frame, box)
                self._bridge(track, [t for ti, t in enumerate(live) if ti not in taken_t and t.last < frame])
                self.tracks.append(track)

    def _bridge(self, new: Track, orphans: list[Track]) -> None:
        """A face seen only now may be one seen a few frames ago that moved too far to be matched (small
        faces that only the sparse keyframes see): cover the straight path from each such sighting, as
        well as holding both. Several guesses cost some extra blur; a wrong single guess would cost a face.
        """
        frame, box = new.first, new.boxes[0]
        for old in orphans:
            if old.bridge:
                continue
            gap, last = frame - old.last, old.boxes[-1]
            distance, size = centre_gap(last, box)
            if gap > 1 and distance <= self.max_speed * size * gap:
                self.tracks.append(Track(self.scene, [old.last, frame], [last, box], bridge=True))

    def _predict(self, track: Track, frame: int) -> Box:
        """Where the face should be now: its last box moved on at the speed of its last two sightings."""
        if len(track.frames) < 2 or track.last == frame:
            return track.boxes[-1]
        (f0, b0), (f1, b1) = (track.frames[-2], track.boxes[-2]), (track.frames[-1], track.boxes[-1])
        step = (frame - f1) / (f1 - f0)
        return tuple(b + (b - a) * step for a, b in zip(b0, b1))

    def boxes_at(self, frame: int) -> list[Box]:
        """Every box to cover at `frame`."""
        found = []
        for track in self.tracks:
            if not self.scene_start[track.scene] <= frame <= self.scene_end.get(track.scene, frame):
                continue
            box = track.box_at(frame, self.hold, self.growth, self.max_growth)
            if box is not None:
                found.append(box)
        return found

    def forget_before(self, frame: int) -> None:
        """Release what cannot matter any more once every frame before `frame` is written."""
        self.tracks = [t for t in self.tracks if t.last + self.hold >= frame]
        for track in self.tracks:
            track.forget_before(frame)
