"""Issue 5: a face the detector misses in a frame is still covered; tracks never cross a scene cut. Issue 18:
small faces are followed between keyframes at full resolution."""
from __future__ import annotations

import av
import numpy as np

from deid.redact import union_area_share
from deid.tracking import Tracker
from deid.video.detection import WINDOW_MISSES, _Watch


def face_at(frame: int, speed: float = 4.0, size: float = 40.0) -> tuple:
    """A face moving right at `speed` pixels per frame."""
    x = 100 + speed * frame
    return (x, 100.0, x + size, 100.0 + size)


def covered(tracker: Tracker, frame: int, face: tuple) -> float:
    regions = [[int(b[0]), int(b[1]), int(b[2]) + 1, int(b[3]) + 1] for b in tracker.boxes_at(frame)]
    return union_area_share([int(v) for v in face], regions)


def test_a_face_missed_between_two_sightings_is_covered_where_it_moved():
    tracker = Tracker(hold=12)
    for frame in range(0, 25):
        tracker.observe(frame, [face_at(frame)] if frame in (0, 1, 2, 12, 24) else [])
    for frame in range(25):
        assert covered(tracker, frame, face_at(frame)) > 0.95, frame


def test_a_face_is_held_for_a_few_frames_after_its_last_sighting_then_released():
    tracker = Tracker(hold=6)
    for frame in range(0, 20):
        tracker.observe(frame, [face_at(frame)] if frame <= 5 else [])
    assert all(covered(tracker, f, face_at(f)) > 0.9 for f in range(6, 12)), "held, following its motion"
    assert tracker.boxes_at(12) == []


def test_a_face_first_seen_at_a_keyframe_is_covered_back_to_the_previous_one():
    tracker = Tracker(hold=8)
    for frame in range(0, 17):
        tracker.observe(frame, [face_at(frame, speed=0)] if frame == 16 else [])
    assert all(covered(tracker, f, face_at(f, speed=0)) == 1.0 for f in range(8, 17))


def test_a_small_fast_face_seen_only_at_sparse_keyframes_is_bridged():
    tracker = Tracker(hold=16)
    small = dict(speed=7.0, size=30.0)     # moves a face width every four frames
    for frame in range(0, 33):
        tracker.observe(frame, [face_at(frame, **small)] if frame % 16 == 0 else [])
    assert all(covered(tracker, f, face_at(f, **small)) > 0.9 for f in range(33))


def test_tracks_do_not_cross_a_scene_cut():
    tracker = Tracker(hold=10)
    for frame in range(0, 10):
        if frame == 5:
            tracker.cut(5)
        tracker.observe(frame, [face_at(0)] if frame == 4 else [])
    assert tracker.boxes_at(4) and not tracker.boxes_at(5), "the old scene's face is not carried into the new one"
    tracker.observe(10, [face_at(0)])
    assert tracker.boxes_at(5), "a face of the new scene is covered back to the cut"
    assert len(tracker.boxes_at(4)) == 1, "...but not before it"


def test_two_faces_keep_their_own_tracks():
    tracker = Tracker(hold=4)
    left, right = (0, 0, 40, 40), (400, 0, 440, 40)
    for frame in range(10):
        tracker.observe(frame, [left, right] if frame % 3 == 0 else [right])
    assert len([t for t in tracker.tracks if not t.bridge]) == 2
    assert all(covered(tracker, f, left) == 1.0 for f in range(10))


# ---------------------------------------------------------------- small faces watched between keyframes

def small_face_frame(grace_hopper, x: int, y: int, side: int = 28) -> av.VideoFrame:
    """A 1280x720 yuv420p frame, plain grey but for Grace Hopper's face `side` pixels across at (x, y):
    a face far too small for the 192-pixel frame the per-frame detector sees."""
    from PIL import Image

    picture = np.full((720, 1280, 3), 120, dtype=np.uint8)
    face = np.asarray(Image.fromarray(grace_hopper[60:400, 120:400]).resize((side, round(side * 340 / 280))))
    picture[y:y + face.shape[0], x:x + face.shape[1]] = face
    return av.VideoFrame.from_ndarray(picture, format="rgb24").reformat(format="yuv420p")


def test_a_watched_small_face_is_followed_as_it_moves_and_dropped_once_gone(grace_hopper):
    watch = _Watch(fast_side=192, width=1280, height=720)
    watch._add([(600.0, 300.0, 628.0, 334.0)])            # where a keyframe saw it
    for step in range(1, 6):                              # it walks right, 6 px a frame
        x = 600 + 6 * step
        found = watch.look(small_face_frame(grace_hopper, x, 300), threshold=0.15)
        assert len(found) == 1, step
        box = found[0].box
        assert box[0] <= x + 4 and box[2] >= x + 24, (step, box)   # on the face where it now is
    for _ in range(WINDOW_MISSES):                      # it left the picture
        assert watch.look(small_face_frame(grace_hopper, 0, 0, side=8), threshold=0.15) == []
    assert watch.boxes == []


def test_faces_the_reduced_frame_sees_are_not_watched():
    watch = _Watch(fast_side=192, width=1280, height=720)
    watch._add([(100.0, 100.0, 300.0, 330.0), (600.0, 300.0, 628.0, 334.0)])
    assert [entry[0] for entry in watch.boxes] == [(600.0, 300.0, 628.0, 334.0)]
