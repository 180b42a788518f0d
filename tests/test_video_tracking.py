"""Issue 5: a face the detector misses in a frame is still covered; tracks never cross a scene cut."""
from __future__ import annotations

from deid.redact import union_area_share
from deid.tracking import Tracker


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
