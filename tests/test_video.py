"""Issue 5: videos come out upright, browser-playable, stripped, with every frame's face gone."""
from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from conftest import ROOT
from deid.api import redact_file
from deid.detect import bounded_tiles
from deid.detectors import centerface
from deid.profile import load_profile
from deid.report import DeidReport, Verified
from deid.verify import VIDEO_ALLOWED, OutputWithheld, Written, is_clean, moov_before_mdat, verify_video
from deid.video import VideoSettings
from deid.video.detection import TILE_OVERLAP, TILE_PIXELS
from video_fixtures import PLANTED_VIDEO, UPRIGHT_SIZE, face_position, phone_clip, plain_clip, profile_variant, \
    upright_frames

FRAMES, RATE = 30, 15
BRAND_TAGS = {"major_brand", "minor_version", "compatible_brands"}
# What the MP4 muxer itself writes for every track; none comes from the input.
MUXER_STREAM_TAGS = {"language": "und", "handler_name": "VideoHandler", "vendor_id": "[0][0][0][0]"}


def ffprobe(path: Path) -> dict:
    done = subprocess.run(["ffprobe", "-v", "error", "-show_format", "-show_streams", "-show_frames",
                           "-of", "json", str(path)], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def decoded(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


@pytest.fixture(scope="module")
def phone(tmp_path_factory, grace_hopper) -> Path:
    return phone_clip(tmp_path_factory.mktemp("phone") / "IMG_4711.MOV", grace_hopper, frames=FRAMES, rate=RATE)


@pytest.fixture(scope="module")
def redacted(phone, tmp_path_factory) -> tuple[DeidReport, Path, list]:
    out = tmp_path_factory.mktemp("out")
    updates = []
    report = redact_file(phone, out, "default", progress=lambda f, m: updates.append((f, m)))
    assert report.error is None, report.error
    return report, Path(report.output), updates


def test_input_really_is_a_sideways_phone_clip_with_identifiers_and_sound(phone):
    probe = ffprobe(phone)
    kinds = [s["codec_type"] for s in probe["streams"]]
    assert kinds == ["video", "audio"]
    stored = probe["streams"][0]
    assert (stored["width"], stored["height"]) == (UPRIGHT_SIZE[1], UPRIGHT_SIZE[0])
    assert stored["side_data_list"][0]["rotation"] == 90
    tags = probe["format"]["tags"]
    assert tags["location"] == PLANTED_VIDEO["location"] and tags["make"] == PLANTED_VIDEO["make"]


def test_output_is_upright_one_h264_yuv420p_stream_fast_start_without_audio(redacted):
    report, output, _ = redacted
    probe = ffprobe(output)
    (stream,) = probe["streams"]
    assert stream["codec_name"] == "h264" and stream["pix_fmt"] == "yuv420p"
    assert (stream["width"], stream["height"]) == UPRIGHT_SIZE, "dimensions swapped: the picture stands upright"
    assert "side_data_list" not in stream, "no display matrix left to rotate it again"
    assert moov_before_mdat(output)
    assert output.suffix == ".mp4" and len(output.stem) == 32 and "IMG" not in output.name


def test_output_picture_matches_the_upright_original_away_from_the_face(redacted, grace_hopper):
    _, output, _ = redacted
    originals = list(upright_frames(grace_hopper, FRAMES))
    for index, frame in enumerate(decoded(output)):
        x, y = face_position(index, FRAMES)
        keep = np.ones(frame.shape[:2], bool)
        keep[max(0, y - 80):y + 280, max(0, x - 80):x + 230] = False   # the face and its padding
        diff = np.abs(frame.astype(int) - originals[index].astype(int))[keep].mean()
        assert diff < 8, f"frame {index} differs from the upright original by {diff:.1f} grey levels"


def test_no_container_or_stream_tags_beyond_brand_fields(redacted, phone):
    report, output, _ = redacted
    probe = ffprobe(output)
    assert set(probe["format"].get("tags", {})) <= BRAND_TAGS
    for stream in probe["streams"]:
        assert stream.get("tags", {}).items() <= MUXER_STREAM_TAGS.items()
    clean, left = is_clean(output, VIDEO_ALLOWED)
    assert clean, left
    assert report.verified.metadata_clean is True
    data = output.read_bytes()
    for value in [*PLANTED_VIDEO.values(), "2021", "Lavf"]:
        assert value.encode() not in data
    removed = set(report.removed)
    assert {"UserData:Make", "UserData:Model", "UserData:GPSCoordinates", "QuickTime:CreateDate"} <= removed


@pytest.mark.parametrize("rotation", [-90, 180, 0])
def test_every_display_rotation_comes_out_upright(rotation, tmp_path, grace_hopper):
    clip = phone_clip(tmp_path / "turned.mov", grace_hopper, frames=4, rate=15, audio=False, rotation=rotation)
    report = redact_file(clip, tmp_path / "out", "identifiable")       # faces kept: the pixels compare whole
    assert report.error is None, report.error
    for original, frame in zip(upright_frames(grace_hopper, 4), decoded(Path(report.output))):
        assert frame.shape == original.shape
        assert np.abs(frame.astype(int) - original.astype(int)).mean() < 4


def test_same_frame_count_rate_and_timestamps(redacted, phone):
    report, output, _ = redacted
    source, result = ffprobe(phone), ffprobe(output)
    assert report.frames == FRAMES
    (stream,) = result["streams"]
    assert int(stream["nb_frames"]) == FRAMES
    assert stream["avg_frame_rate"] == stream["r_frame_rate"] == f"{RATE}/1"
    times_in = [float(f["pts_time"]) for f in source["frames"] if f["media_type"] == "video"]
    times_out = [float(f["pts_time"]) for f in result["frames"]]
    assert times_out == pytest.approx(times_in, abs=1e-3)


def test_the_face_is_gone_in_every_frame(redacted, phone, grace_hopper):
    report, output, _ = redacted
    originals = list(upright_frames(grace_hopper, FRAMES))
    frames = decoded(output)
    assert len(frames) == FRAMES
    for index, (before, after) in enumerate(zip(originals, frames)):
        assert centerface(before, 0.3), f"the detector sees the face in original frame {index}"
        assert not centerface(after, 0.2), f"a face is still detectable in output frame {index}"
        x, y = face_position(index, FRAMES)
        eyes_to_mouth = (slice(y + 50, y + 150), slice(x + 35, x + 115))
        change = np.abs(after[eyes_to_mouth].astype(int) - before[eyes_to_mouth].astype(int)).mean()
        assert change > 20, f"frame {index}: the face area changed by only {change:.1f} grey levels"
        assert np.abs(np.diff(after[eyes_to_mouth].astype(int), axis=1)).mean() < 4, "no detail left"
    assert report.frames_with_regions == FRAMES
    assert report.verified.faces_left == 0


def test_report_gives_regions_per_frame_as_runs(redacted):
    report, _, _ = redacted
    covered = set()
    width, height = UPRIGHT_SIZE
    for first, last, region in report.regions:
        assert 0 <= first <= last < FRAMES
        x0, y0, x1, y1 = region
        assert all(isinstance(v, int) for v in region) and 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
        covered.update(range(first, last + 1))
    assert covered == set(range(FRAMES))
    json.dumps(report.to_json())


def test_progress_reports_fractions_and_frames_per_second(redacted):
    _, _, updates = redacted
    fractions = [f for f, _ in updates]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any("fps" in message for _, message in updates[:-1])


def test_variable_frame_rate_timestamps_survive(tmp_path, grace_hopper):
    pts = [0, 40, 80, 200, 240, 400, 410, 420, 600, 700]          # milliseconds, irregular
    clip = plain_clip(tmp_path / "vfr.mp4", upright_frames(grace_hopper, len(pts), size=(320, 240)),
                      pts=pts, time_base=Fraction(1, 1000))
    report = redact_file(clip, tmp_path / "out", "default")
    assert report.error is None, report.error
    times = [float(f["pts_time"]) for f in ffprobe(Path(report.output))["frames"]]
    assert times == pytest.approx([p / 1000 for p in pts], abs=1e-3)


def test_regions_reach_up_over_forehead_and_hair_as_far_as_the_profile_says(tmp_path, grace_hopper):
    clip = plain_clip(tmp_path / "walk.mp4", upright_frames(grace_hopper, 6))
    tops = {}
    for share in (0.0, 0.5):
        variant = profile_variant(tmp_path, f"up-{share:g}", {"faces": {"extend_up": share}})
        report = redact_file(clip, tmp_path / "out", load_profile(str(variant)))
        assert report.error is None, report.error
        tops[share] = min(region[1] for first, last, region in report.regions if first <= 5 <= last)
    assert tops[0.5] <= tops[0.0] - 40, tops        # half a face height more, on a face about 130 px tall


def test_audio_is_kept_as_aac_only_when_the_profile_asks(phone, tmp_path):
    keep = profile_variant(tmp_path, "keep-audio", {"video": {"audio": "keep"}})
    report = redact_file(phone, tmp_path / "out", load_profile(str(keep)))
    assert report.error is None, report.error
    probe = ffprobe(Path(report.output))
    assert [(s["codec_type"], s["codec_name"]) for s in probe["streams"]] == [("video", "h264"), ("audio", "aac")]
    assert set(probe["format"].get("tags", {})) <= BRAND_TAGS
    assert is_clean(Path(report.output), VIDEO_ALLOWED)[0]


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_broken_inputs_give_clear_errors_and_leave_nothing_behind(tmp_path, grace_hopper):
    frames = list(upright_frames(grace_hopper, 10, size=(160, 120)))
    whole = plain_clip(tmp_path / "whole.mp4", frames)                     # index (moov) at the end
    cut_index = tmp_path / "rosa_perez_cut_index.mp4"
    cut_index.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    report = redact_file(whole, tmp_path / "faststart", "default")
    fast = Path(report.output).read_bytes()
    cut_media = tmp_path / "rosa_perez_cut_media.mp4"                      # index first, media cut short
    cut_media.write_bytes(fast[: len(fast) * 2 // 3])
    empty = tmp_path / "rosa_perez_empty.mp4"
    empty.write_bytes(b"")
    sound = tmp_path / "rosa_perez_voice.m4a"
    with av.open(str(sound), "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=48000)
        for start in range(0, 48000, 1024):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 48000, start
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    expected = {cut_index: "truncated", cut_media: "truncated", empty: "empty", sound: "no video stream"}
    out = tmp_path / "out"
    for path, reason in expected.items():
        report = redact_file(path, out, "default")
        assert report.output is None and reason in report.error, (path.name, report.error)
        assert "rosa" not in report.error.lower(), "the message never repeats the file's name"
        assert report.kind in ("video", "unknown")
    assert leftovers(out) == []


def test_cancel_leaves_nothing_behind(phone, tmp_path):
    calls = []

    def cancel() -> bool:
        calls.append(1)
        return len(calls) > 12

    out = tmp_path / "out"
    report = redact_file(phone, out, "default", cancel=cancel)
    assert report.output is None and "cancelled" in report.error
    assert leftovers(out) == []


def test_identifiable_profile_keeps_faces_and_still_strips_tags(phone, tmp_path):
    report = redact_file(phone, tmp_path / "out", "identifiable")
    assert report.error is None, report.error
    assert report.frames_with_regions == 0 and report.regions == []
    assert report.verified.metadata_clean is True and report.verified.faces_left is None
    assert centerface(decoded(Path(report.output))[0], 0.3), "the face is kept"


def test_cli_redacts_videos(phone, tmp_path):
    done = subprocess.run([sys.executable, "-m", "deid", "redact", str(phone), "--out", str(tmp_path), "--json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-500:]
    (report,) = json.loads(done.stdout)
    assert report["kind"] == "video" and report["frames"] == FRAMES and Path(report["output"]).is_file()


def test_an_output_with_a_face_still_detectable_is_withheld(phone, tmp_path):
    never = 2.0                                           # no score reaches it: detectors that see nothing
    blind = profile_variant(tmp_path, "blind", {
        "detector": {"threshold": never, "threshold_small": never, "threshold_tiny": never,
                     "centerface_threshold": never, "blazeface_threshold": never},
        "video": {"centerface_every": 0}})
    out = tmp_path / "out"
    report = redact_file(phone, out, load_profile(str(blind)))
    assert report.output is None and "face is still detectable" in report.error
    assert report.verified.faces_left > 0
    assert leftovers(out) == []


def test_an_output_the_residual_check_did_not_wholly_read_is_withheld(redacted):
    report, output, _ = redacted
    prof = load_profile("default")
    every = VideoSettings.of(prof).verify_every
    every_due = len(range(0, FRAMES, every))
    claims = Written(FRAMES, *UPRIGHT_SIZE, audio=False, every=every, checked=every_due - 1)
    with pytest.raises(OutputWithheld, match="residual-face check read"):
        verify_video(output, prof, claims, Verified())
    verify_video(output, prof, Written(FRAMES, *UPRIGHT_SIZE, False, every=every, checked=every_due), Verified())


@pytest.mark.parametrize("size", [(1280, 720), (1920, 1080), (1080, 1920), (3840, 2160), (176, 144)])
def test_keyframe_tiles_cover_the_frame_overlapping_and_stay_small(size):
    width, height = size
    tiles = bounded_tiles(width, height, TILE_PIXELS, TILE_OVERLAP)
    seen = np.zeros((height, width), bool)
    for x0, y0, x1, y1 in tiles:
        assert (x1 - x0) * (y1 - y0) <= TILE_PIXELS or (x1 - x0, y1 - y0) == size
        seen[y0:y1, x0:x1] = True
    assert seen.all()
    if len(tiles) > 1:
        starts = sorted({x0 for x0, _, _, _ in tiles})
        ends = sorted({x1 for _, _, x1, _ in tiles})
        assert all(e - s >= TILE_OVERLAP for s, e in zip(starts[1:], ends[:-1]))
