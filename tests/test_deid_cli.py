"""The command-line contract of DESIGN.md: keys, absolute paths, exit codes 0/1/2."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from conftest import ROOT, grace_hopper_path, image_bytes
from video_fixtures import plain_clip, upright_frames

REDACT_KEYS = {"input", "output", "error", "kind", "profile", "regions", "removed", "filename_warnings", "verified"}


def absolute_path(value) -> bool:
    return isinstance(value, str) and Path(value).is_absolute()


def text_or_null(value) -> bool:
    return value is None or isinstance(value, str)


def pixels(value) -> bool:
    return isinstance(value, list) and len(value) == 4 and all(type(v) is int for v in value)


def count(value) -> bool:
    return type(value) is int and value >= 0


# DESIGN.md, "The command line": every key of a `redact` object, and what its value must be.
REDACT_CONTRACT = {
    "input": absolute_path,
    "output": lambda v: v is None or absolute_path(v),
    "error": text_or_null,
    "kind": lambda v: v in ("image", "video", "unknown"),
    "profile": lambda v: (set(v) == {"id", "sha256"} and isinstance(v["id"], str)
                          and re.fullmatch(r"[0-9a-f]{64}", v["sha256"]) is not None),
    "regions": lambda v: isinstance(v, list),
    "removed": lambda v: isinstance(v, list) and all(re.fullmatch(r"[\w-]*:[\w-]+", n) for n in v),
    "filename_warnings": lambda v: isinstance(v, list) and all(isinstance(w, str) for w in v),
    "verified": lambda v: (isinstance(v["metadata_clean"], bool)
                           and (v["faces_left"] is None or count(v["faces_left"]))),
}
VIDEO_CONTRACT = {"frames": count, "frames_with_regions": count}
# Images: [x0, y0, x1, y1]; videos: runs [first_frame, last_frame, [x0, y0, x1, y1]].
REGIONS = {"image": pixels, "video": lambda r: count(r[0]) and count(r[1]) and r[0] <= r[1] and pixels(r[2])}


def deid(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "deid", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_redact_json_reports_every_input_and_exits_1_when_one_fails(planted_jpeg, tmp_path):
    bad = tmp_path / "notes.jpg"
    bad.write_text("not an image")
    out = tmp_path / "out"
    done = deid("redact", str(planted_jpeg), str(bad), "--out", str(out), "--json")
    assert done.returncode == 1
    good, failed = json.loads(done.stdout)
    assert REDACT_KEYS <= set(good) and REDACT_KEYS <= set(failed)
    assert good["input"] == str(planted_jpeg) and Path(good["output"]).is_absolute()
    assert good["kind"] == "image" and good["error"] is None
    assert good["profile"]["id"] == "default" and len(good["profile"]["sha256"]) == 64
    assert all(isinstance(v, int) for r in good["regions"] for v in r)
    assert good["region_kinds"].count("face") == 1 and len(good["region_kinds"]) == len(good["regions"])
    assert good["verified"] == {"metadata_clean": True, "faces_left": 0}
    assert failed["output"] is None and failed["error"] and failed["kind"] == "unknown"


def test_every_redact_object_has_each_contract_key_with_its_type(planted_jpeg, grace_hopper, tmp_path):
    clip = plain_clip(tmp_path / "clip.mp4", upright_frames(grace_hopper, 4))
    bad = tmp_path / "notes.jpg"
    bad.write_text("not an image")
    done = deid("redact", str(planted_jpeg), str(clip), str(bad), "--out", str(tmp_path / "out"), "--json")
    assert done.returncode == 1, done.stderr[-500:]
    reports = json.loads(done.stdout)
    assert [r["kind"] for r in reports] == ["image", "video", "unknown"]
    for report in reports:
        contract = {**REDACT_CONTRACT, **(VIDEO_CONTRACT if report["kind"] == "video" else {})}
        assert set(contract) <= set(report), f"missing keys: {set(contract) - set(report)}"
        wrong = [key for key, holds in contract.items() if not holds(report[key])]
        assert not wrong, (wrong, json.dumps(report))
        assert all(REGIONS[report["kind"]](r) for r in report["regions"]), report["regions"]
        assert (report["output"] is None) == (report["error"] is not None)
    image, video, _ = reports
    assert image["regions"] and video["regions"] and video["frames"] == 4 and video["frames_with_regions"] == 4


def test_redact_exits_0_when_all_succeed_and_prints_a_line_per_input(planted_png, tmp_path):
    done = deid("redact", str(planted_png), "--out", str(tmp_path / "out"))
    assert done.returncode == 0
    assert done.stdout.count("\n") == 1 and "ok ->" in done.stdout and "1 face," in done.stdout


def test_usage_errors_exit_2(tmp_path):
    assert deid("redact", "x.jpg").returncode == 2                        # --out missing
    assert deid("redact", "x.jpg", "--out", str(tmp_path), "--profile", "nope").returncode == 2
    assert deid("frobnicate").returncode == 2


def test_detect_prints_regions_or_null_per_input(grace_hopper, tmp_path):
    img = tmp_path / "face.webp"
    img.write_bytes(image_bytes(grace_hopper, "WEBP"))
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0garbage")
    done = deid("detect", str(img), str(broken), "--json")
    assert done.returncode == 1
    found = json.loads(done.stdout)
    assert found[str(broken)] is None and "broken.jpg" in done.stderr
    assert any(r[0] < 256 < r[2] and r[1] < 230 < r[3] for r in found[str(img)]), "a box is on the face"


def test_inspect_names_tags_never_values(planted_jpeg, tmp_path):
    missing = tmp_path / "missing.jpg"
    done = deid("inspect", str(planted_jpeg), str(missing), "--json")
    assert done.returncode == 1
    entry, absent = json.loads(done.stdout)
    assert entry["path"] == str(planted_jpeg) and entry["error"] is None
    tags = {(t["group"], t["tag"]) for t in entry["identifying"]}
    assert {("IFD0", "Make"), ("GPS", "GPSLatitude"), ("XMP-dc", "Creator")} <= tags
    assert "PlantedMakeVeil" not in done.stdout
    assert absent["error"] == "file not found"


def test_redact_a_file_that_crashes_its_decoder_gets_an_error_entry_and_the_files_around_it_are_still_done(tmp_path):
    """Two workers share the batch, every other file each: a decoder crash costs that file, not the batch. The
    outputs of the files before it are kept, a fresh worker takes the crashed worker's next file, and the
    reports come back in the files' order whichever worker finished first."""
    names = ("before.jpg", "crash.jpg", "after.jpg", "later.jpg", "last.jpg")   # worker 2: crash, later
    paths = [tmp_path / name for name in names]
    out = tmp_path / "out"
    for path in paths:
        path.write_bytes(grace_hopper_path().read_bytes())
    done = subprocess.run([sys.executable, str(ROOT / "tests" / "crashing_decoder.py"), "redact",
                           *map(str, paths), "--out", str(out), "--json"], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'tests'}", "VEIL_WORKERS": "2"},
                          timeout=300)
    assert done.returncode == 1, done.stderr[-2000:]
    reports = json.loads(done.stdout)
    assert [r["input"] for r in reports] == [str(p) for p in paths]
    crashed = reports.pop(1)
    assert crashed["output"] is None
    assert crashed["error"] == ("de-identification stopped on this file (it crashed with signal SIGSEGV, or needed "
                                "more than 8 GB of memory); nothing was kept")
    assert REDACT_KEYS <= set(crashed) and crashed["profile"]["id"] == "default"
    for report in reports:
        assert report["error"] is None and report["verified"] == {"metadata_clean": True, "faces_left": 0}
    # the verified outputs, moved up; nothing of the crash, no staging folder
    assert sorted(p.name for p in out.iterdir()) == sorted(Path(r["output"]).name for r in reports)


def test_redact_without_json_prints_each_file_as_it_is_done(planted_jpeg, tmp_path):
    bad = tmp_path / "notes.jpg"
    bad.write_text("not an image")
    done = deid("redact", str(bad), str(planted_jpeg), "--out", str(tmp_path / "out"))
    assert done.returncode == 1
    first, second = done.stdout.splitlines()
    assert first.startswith(f"{bad}: ERROR ") and second.startswith(f"{planted_jpeg}: ok -> ")
