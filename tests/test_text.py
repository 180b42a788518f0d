"""Names in the picture: every line of text, barcode and QR code in a photo is found and redacted, so that
Tesseract, which reads each planted identifier in the input, reads none of them in the output.

Scenes are real photos that ship in wheels (matplotlib's grace_hopper, scikit-image's astronaut, chelsea and
coffee) with text drawn in with matplotlib's fonts at known places and angles (tests/text_fixtures.py).
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from skimage import data

from conftest import ROOT
from deid.api import detect_labelled, redact_file
from deid.profile import PROFILE_DIR, ProfileError, load_profile
from deid.text import near_substring, squeezed, text_regions
from text_fixtures import Planted, covered_share, plant, plant_code, tesseract_reading, tesseract_text

COVERED = 0.97   # share of a line's ink that must lie inside the text regions
Scene = tuple[np.ndarray, list[tuple[Planted, str]]]   # picture, and each planted line with its identifier


def enlarged(rgb: np.ndarray, factor: float) -> np.ndarray:
    return np.array(Image.fromarray(rgb).resize((int(rgb.shape[1] * factor), int(rgb.shape[0] * factor)),
                                                Image.BICUBIC))


def wristband(grace_hopper: np.ndarray) -> tuple[np.ndarray, list[tuple[Planted, str]], Planted]:
    """A hospital wristband lying at an angle across the lower part of the photo: name, date of birth and
    record number printed small, and the record number's barcode beside them."""
    rgb = enlarged(grace_hopper, 1.6)
    angle, letter = 12, 13
    lines = [("DOE, JANE", "DOE"), ("DOB 03/14/1981", "03141981"), ("MRN 4471123", "4471123")]
    planted = []
    for row, (words, identifier) in enumerate(lines):
        # rows stacked across the band: down the page, turned with the band
        centre = (300 + row * 22 * np.sin(np.deg2rad(angle)), 830 + row * 22 * np.cos(np.deg2rad(angle)))
        planted.append((plant(rgb, words, centre, letter_px=letter, angle=angle, label=(250, 250, 246),
                              margin=0.3), identifier))
    bars = plant_code(rgb, "ean", "447112300001", (480, 740), module_px=2, angle=angle)
    return rgb, planted, bars


def badge(_) -> Scene:
    rgb = enlarged(data.astronaut(), 1.5)
    return rgb, [(plant(rgb, "Dr. ALEX MORGAN", (470, 560), letter_px=15, angle=-4, label=(225, 235, 250)),
                  "MORGAN"),
                 (plant(rgb, "RN 209314", (470, 592), letter_px=13, angle=-4, label=(225, 235, 250)), "209314")]


def dark_monitor(_) -> Scene:
    rgb = enlarged(data.coffee(), 1.5)
    cv2.rectangle(rgb, (420, 40), (880, 260), (28, 30, 34), -1)          # a screen in dark mode
    return rgb, [(plant(rgb, "GARCIA, MARIA", (600, 100), letter_px=16, ink=(205, 210, 215)), "GARCIA"),
                 (plant(rgb, "MRN 5512093", (580, 150), letter_px=14, ink=(160, 200, 240)), "5512093"),
                 (plant(rgb, "Allergy: penicillin", (620, 200), letter_px=13, ink=(200, 200, 200)), "PENICILLIN")]


def caption(_) -> Scene:
    rgb = enlarged(data.astronaut(), 1.5)
    return rgb, [(plant(rgb, "Jane Whitfield, week 6", (384, 730), letter_px=20, ink=(255, 255, 255),
                        label=(25, 25, 25)), "WHITFIELD")]


def vertical_label(grace_hopper: np.ndarray) -> Scene:
    rgb = enlarged(grace_hopper, 1.5)
    return rgb, [(plant(rgb, "KOWALSKI 1975", (700, 400), letter_px=16, angle=90, label=(250, 225, 90)),
                  "KOWALSKI")]


def small_print(_) -> Scene:
    rgb = enlarged(data.chelsea(), 1.5)
    return rgb, [(plant(rgb, "Room 14B  Bed 2  Okafor", (200, 60), letter_px=12, label=(245, 245, 240)),
                  "OKAFOR")]


def write_png(rgb: np.ndarray, path: Path) -> Path:
    Image.fromarray(rgb).save(path, "PNG")
    return path


def read_png(path: str) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))


def regions_of(report: dict, *kinds: str) -> list[list[int]]:
    return [r for r, kind in zip(report.regions, report.region_kinds) if kind in kinds]


def assert_read_before_not_after(before: np.ndarray, after: np.ndarray, planted: list[tuple[Planted, str]]):
    """Tesseract reads each identifier in its line of the input, and none in the output: neither in the
    line's place turned level, nor anywhere on the whole picture."""
    everything_after = squeezed(tesseract_text(after))
    for line, identifier in planted:
        wanted = squeezed(identifier)
        assert wanted in squeezed(tesseract_reading(before, line)), f"Tesseract cannot read {identifier!r} in the input"
        allowed = len(wanted) // 4
        assert not near_substring(wanted, squeezed(tesseract_reading(after, line)), allowed), f"{identifier!r} readable"
        assert not near_substring(wanted, everything_after, allowed), f"{identifier!r} readable somewhere"


def test_a_wristband_with_name_dob_mrn_and_barcode_is_covered_and_unreadable(grace_hopper, tmp_path):
    rgb, lines, bars = wristband(grace_hopper)
    source = write_png(rgb, tmp_path / "ward.png")

    report = redact_file(source, tmp_path / "out")

    assert report.error is None, report.error
    assert report.region_kinds.count("face") == 1 and set(report.region_kinds) >= {"face", "text", "code"}
    assert len(report.region_kinds) == len(report.regions)
    textual = regions_of(report, "text", "code")
    for line, _ in lines:
        assert covered_share(line, textual, rgb.shape) >= COVERED, f"line {line.text!r} not covered"
    assert covered_share(bars, regions_of(report, "code"), rgb.shape) >= COVERED, "barcode not covered"
    after = read_png(report.output)
    assert_read_before_not_after(rgb, after, lines)
    assert cv2.barcode.BarcodeDetector().detectAndDecode(cv2.GaussianBlur(after, (0, 0), 1.5))[0] == ""


@pytest.mark.parametrize("scene", [badge, dark_monitor, caption, vertical_label, small_print],
                         ids=lambda f: f.__name__)
def test_every_line_is_covered_and_unreadable_after_redaction(scene, grace_hopper, tmp_path):
    rgb, lines = scene(grace_hopper)
    source = write_png(rgb, tmp_path / "photo.png")

    report = redact_file(source, tmp_path / "out", "identifiable")   # faces kept: only text is redacted

    assert report.error is None, report.error
    for line, _ in lines:
        assert covered_share(line, regions_of(report, "text"), rgb.shape) >= COVERED, f"{line.text!r} not covered"
    assert_read_before_not_after(rgb, read_png(report.output), lines)


def test_a_qr_code_is_found_and_can_no_longer_be_decoded(tmp_path):
    rgb = enlarged(data.astronaut(), 1.5)
    payload = "MRN:4471123;DOE,JANE"
    code = plant_code(rgb, "qr", payload, (40, 420), module_px=4, angle=20)
    assert cv2.QRCodeDetector().detectAndDecode(rgb)[0] == payload, "the planted code decodes in the input"
    report = redact_file(write_png(rgb, tmp_path / "qr.png"), tmp_path / "out", "identifiable")
    assert report.error is None and covered_share(code, regions_of(report, "code"), rgb.shape) >= COVERED
    after = read_png(report.output)
    assert cv2.QRCodeDetector().detectAndDecode(after)[0] == ""
    assert cv2.QRCodeDetectorAruco().detectAndDecode(after)[0] == ""


@pytest.mark.parametrize("name", ["chelsea", "coffee"])
def test_a_photo_without_text_gets_no_text_region(name, tmp_path):
    rgb = np.ascontiguousarray(getattr(data, name)())
    labelled = detect_labelled(write_png(rgb, tmp_path / "plain.png"), "identifiable")
    assert labelled == []


def profile_with(tmp_path: Path, **text: str) -> Path:
    """The identifiable profile with [text] keys replaced (values as TOML)."""
    rows = (PROFILE_DIR / "identifiable.toml").read_text().splitlines()
    section = None
    for index, row in enumerate(rows):
        section = row.strip("[]") if row.startswith("[") else section
        key = row.split(" = ")[0]
        if section == "text" and key in text:
            rows[index] = f"{key} = {text[key]}"
    path = tmp_path / "custom.toml"
    path.write_text("\n".join(rows) + "\n")
    return path


def test_an_allow_listed_slogan_is_kept_and_the_name_beside_it_is_not(tmp_path):
    rgb = enlarged(data.astronaut(), 1.5)
    slogan = plant(rgb, "CARPE DIEM", (380, 620), letter_px=26, ink=(250, 250, 250))
    name = plant(rgb, "Jane Whitfield", (380, 700), letter_px=22, ink=(250, 250, 250))
    profile = load_profile(str(profile_with(tmp_path, allow='["Carpe diem", "Sunrise Dermatology"]')))

    report = redact_file(write_png(rgb, tmp_path / "shirt.png"), tmp_path / "out", profile)

    assert report.error is None
    after = read_png(report.output)
    x0, y0, x1, y1 = slogan.box
    assert np.abs(after[y0:y1, x0:x1].astype(int) - rgb[y0:y1, x0:x1]).mean() < 3, "the slogan is left alone"
    assert near_substring(squeezed("CARPE DIEM"), squeezed(tesseract_reading(after, slogan)), 2), "still readable"
    assert covered_share(name, regions_of(report, "text"), rgb.shape) >= COVERED
    assert "WHITFIELD" not in squeezed(tesseract_reading(after, name))


def test_the_identifier_check_blocks_an_output_whose_wristband_regions_a_reviewer_removed(grace_hopper, tmp_path):
    rgb, lines, _ = wristband(grace_hopper)
    source = write_png(rgb, tmp_path / "ward.png")
    identifiers = ["Jane", "Doe", "4471123", "ward"]
    band = [region for region, kind in detect_labelled(source, "identifiable")
            if kind == "text" and any(covered_share(line, [region], rgb.shape) > 0.3 for line, _ in lines)]
    assert band, "the wristband's lines were found"

    blocked = redact_file(source, tmp_path / "blocked", "identifiable", removed_regions=band, identifiers=identifiers)

    assert blocked.output is None and "identifiers can still be read" in blocked.error
    assert not any(name.lower() in blocked.error.lower() for name in identifiers), "the reason quotes no name"
    assert blocked.verified.identifiers_readable >= 2
    assert list((tmp_path / "blocked").iterdir()) == []
    kept = redact_file(source, tmp_path / "kept", "identifiable", identifiers=identifiers)
    assert kept.error is None and kept.verified.identifiers_readable == 0


def test_flag_reports_text_without_redacting_it_and_keep_ignores_it(tmp_path):
    rgb = enlarged(data.chelsea(), 1.5)
    line = plant(rgb, "MRN 4471123", (300, 80), letter_px=18, label=(250, 250, 250))
    source = write_png(rgb, tmp_path / "cat.png")
    flag = load_profile(str(profile_with(tmp_path, action='"flag"')))

    report = redact_file(source, tmp_path / "out", flag)

    assert report.error is None and report.regions == []
    assert covered_share(line, report.flagged_regions, rgb.shape) >= COVERED
    assert np.array_equal(read_png(report.output), rgb), "flagged text is left for a person to judge"
    keep = load_profile(str(profile_with(tmp_path, action='"keep"')))
    assert redact_file(source, tmp_path / "kept", keep).regions == []


@pytest.mark.parametrize("key,value,message", [
    ("action", '"blur"', "text.action must be one of"),
    ("method", '"blur"', "text.method must be one of"),
    ("allow", '"Sunrise"', "text.allow must be a list"),
    ("strength", "9", "text.strength must be a number from 1 to 4"),
])
def test_a_malformed_text_section_is_refused_with_the_key_named(tmp_path, key, value, message):
    with pytest.raises(ProfileError, match=message):
        load_profile(str(profile_with(tmp_path, **{key: value})))


@pytest.mark.parametrize("name", ["default", "identifiable"])
def test_every_shipped_profile_redacts_text(name):
    assert load_profile(name).text_action == "redact"


def test_detect_on_the_command_line_lists_text_regions_with_the_faces(tmp_path):
    rgb = enlarged(data.chelsea(), 1.5)
    line = plant(rgb, "DOE, JANE", (300, 80), letter_px=18, label=(250, 250, 250))
    source = write_png(rgb, tmp_path / "cat.png")
    done = subprocess.run([sys.executable, "-m", "deid", "detect", str(source), "--profile", "identifiable",
                           "--json"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    regions = json.loads(done.stdout)[str(source)]
    assert covered_share(line, regions, rgb.shape) >= COVERED


def test_text_regions_cover_twelve_pixel_letters_at_any_angle():
    rgb = enlarged(data.chelsea(), 2.0)
    lines = [plant(rgb, f"MRN 44711{i}", (150 + 300 * (i % 3), 120 + 250 * (i // 3)), letter_px=12, angle=angle,
                   ink=(15, 15, 15), label=(240, 240, 235)) for i, angle in enumerate([0, 30, -45, 90, 180, -70])]
    regions = text_regions(rgb)
    assert [round(covered_share(line, regions, rgb.shape), 2) for line in lines] == [1.0] * len(lines)


@pytest.mark.parametrize("width, height", [(4000, 3000), (6000, 4000), (10000, 8000), (1920, 1080), (640, 480)])
def test_the_working_scale_keeps_small_print_findable_within_the_detectors_memory(width, height):
    from deid.text import DEFAULTS, working_scale

    scale = working_scale(height, width, DEFAULTS)
    looked_at = width * height * scale * scale
    assert looked_at <= DEFAULTS["max_pixels"] * 1.001 or scale == 1.0 and width * height <= DEFAULTS["max_pixels"]
    if (width * height * (DEFAULTS["smallest"] / DEFAULTS["small_print"]) ** 2) <= DEFAULTS["max_pixels"]:
        assert DEFAULTS["small_print"] * scale >= DEFAULTS["smallest"] - 1e-9, "12 px letters shrink below 4.6 px"


def test_a_thumbnail_has_no_code_and_is_not_refused():
    from deid.codes import code_regions

    assert code_regions(np.ascontiguousarray(data.astronaut()[::12, ::12][:33, :50])) == []


def test_the_pinned_dictionary_is_the_one_the_pinned_recogniser_carries():
    import hashlib

    from deid.models import manifest, model_path
    from deid.text import _characters
    from scripts.fetch_models import onnx_metadata

    written = onnx_metadata(model_path("text_recogniser").read_bytes(), "character", "text_dictionary")
    assert hashlib.sha256(written).hexdigest() == manifest()["text_dictionary"]["sha256"]
    assert len(_characters()) == 18708 + 2, "CTC blank, the dictionary, and the space"


# Run in a child under an address-space limit a little above what it holds once the detector is loaded: the
# detector on a large input, then OpenCV asked for 950 MB, each fail to allocate.
OUT_OF_MEMORY = """
import resource, numpy as np, cv2
from deid import text
from deid.api import error_message
text._session("text_detector")
pages = int(open("/proc/self/statm").read().split()[0])
resource.setrlimit(resource.RLIMIT_AS, (pages * resource.getpagesize() + (300 << 20),) * 2)
for attempt in (lambda: text.probability_map(np.zeros((3072, 3072, 3), np.uint8)),
                lambda: cv2.resize(np.zeros((8, 8, 3), np.uint8), (18000, 17600))):
    try:
        attempt()
        print("done")
    except Exception as exc:
        print(type(exc).__name__, "|", error_message(exc))
"""


def test_a_network_or_opencv_out_of_memory_is_told_as_not_enough_memory():
    done = subprocess.run([sys.executable, "-c", OUT_OF_MEMORY], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    told = "not enough memory to process this file (its picture is too large); nothing was written"
    assert done.stdout.splitlines() == [f"MemoryError | {told}", f"error | {told}"]
