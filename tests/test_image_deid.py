"""Issue 2: a photo with a real face and every kind of identifier comes out clean, upright and unrecognisable."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import PLANTED, image_bytes
from deid.api import detect_file, redact_file
from deid.detect import residual_detector
from deid.metadata import identifying_tags, read_tag_names
from deid.report import DeidReport, Verified
from deid.verify import IMAGE_ALLOWED

RANDOM_NAME = re.compile(r"^[0-9a-f]{32}\.(jpg|png|webp)$")


def assert_deidentified(report: DeidReport, out_dir: Path) -> Path:
    assert report.error is None, report.error
    output = Path(report.output)
    assert output.parent == out_dir.absolute() and RANDOM_NAME.match(output.name)
    assert identifying_tags(output, IMAGE_ALLOWED) == [], "ExifTool finds nothing outside the allow-list"
    data = output.read_bytes()
    for label, planted in PLANTED.items():
        assert planted.encode() not in data, f"planted {label} survived"
    assert report.verified == Verified(metadata_clean=True, faces_left=0)
    assert sorted(p.name for p in out_dir.iterdir()) == [output.name], "nothing else is left in the folder"
    return output


def faces_of(report) -> list[list[int]]:
    """The face regions of a report (photos also get regions for the text on them: the uniform's badge)."""
    return [r for r, kind in zip(report.regions, report.region_kinds) if kind == "face"]


def face_difference(original: np.ndarray, output: Path, region: list[int], covered=()) -> float:
    """Mean change of the pixels in `region`, leaving out those under `covered` regions (text covered on
    purpose: grace_hopper's flag is found as writing and its region reaches the edge of her cap)."""
    x0, y0, x1, y1 = region
    with Image.open(output) as img:
        result = np.asarray(img.convert("RGB")).astype(int)
    counted = np.ones(original.shape[:2], dtype=bool)
    for cx0, cy0, cx1, cy1 in covered:
        counted[cy0:cy1, cx0:cx1] = False
    change = np.abs(result - original.astype(int)).mean(axis=2)[y0:y1, x0:x1]
    return float(change[counted[y0:y1, x0:x1]].mean())


def test_photo_with_every_identifier_comes_out_clean_upright_and_faceless(planted_jpeg, grace_hopper, tmp_path):
    planted_tags = {f"{g}:{t}" for g, t in read_tag_names(planted_jpeg)}
    assert {"IFD0:Make", "GPS:GPSLatitude", "XMP-dc:Creator", "IPTC:By-line", "File:Comment"} <= planted_tags
    out = tmp_path / "out"

    report = redact_file(planted_jpeg, out)

    output = assert_deidentified(report, out)
    removed = set(report.removed)
    assert {"IFD0:Make", "IFD0:Model", "GPS:GPSLatitude", "XMP-dc:Creator", "IPTC:By-line",
            "File:Comment", "IFD1:ThumbnailImage"} <= removed
    assert all(PLANTED["make"] not in name for name in removed), "only names are reported, never values"
    with Image.open(output) as img:
        assert img.format == "JPEG" and img.size == (512, 600), "turned upright from Orientation 6"
        assert not img.info.get("exif") and not img.info.get("icc_profile") and "comment" not in img.info
    (face,) = faces_of(report)
    assert face_difference(grace_hopper, output, face) > 20, "the face no longer matches the original"
    assert face_difference(grace_hopper, output, [0, 450, 100, 600]) < 8, "the rest is the same picture, upright"


def test_file_name_identifiers_are_flagged_never_reused(planted_jpeg, tmp_path):
    report = redact_file(planted_jpeg, tmp_path / "out")
    warnings = " ".join(report.filename_warnings)
    assert "date" in warnings and "digit run" in warnings and "name" in warnings
    assert "jane" not in Path(report.output).name.lower()
    assert "jane" not in warnings.lower() and "0012345" not in warnings


def test_png_text_chunks_are_dropped_and_png_stays_png(planted_png, grace_hopper, tmp_path):
    out = tmp_path / "out"
    report = redact_file(planted_png, out)
    output = assert_deidentified(report, out)
    assert output.suffix == ".png"
    assert {"PNG:Author", "PNG:Comment"} <= set(report.removed)
    assert face_difference(grace_hopper, output, faces_of(report)[0]) > 20


def test_heic_is_read_and_written_as_jpeg(planted_heic, tmp_path):
    out = tmp_path / "out"
    report = redact_file(planted_heic, out)
    output = assert_deidentified(report, out)
    assert output.suffix == ".jpg" and len(faces_of(report)) == 1
    assert any(name.endswith(":Make") for name in report.removed)


@pytest.mark.parametrize("fmt,suffix,kwargs", [
    ("WEBP", ".webp", {"quality": 90}),
    ("TIFF", ".jpg", {}),
    ("AVIF", ".jpg", {"quality": 80}),
    ("MPO", ".jpg", {}),
])
def test_every_supported_format_is_read_and_rewritten(fmt, suffix, kwargs, grace_hopper, tmp_path):
    src = tmp_path / "upload.bin"
    if fmt == "MPO":  # a two-frame "3D" JPEG: only the primary frame may ever be used
        Image.fromarray(grace_hopper).save(src, "MPO", save_all=True,
                                           append_images=[Image.fromarray(grace_hopper[::-1].copy())])
    else:
        src.write_bytes(image_bytes(grace_hopper, fmt, **kwargs))
    out = tmp_path / "out"
    report = redact_file(src, out)
    output = assert_deidentified(report, out)
    assert output.suffix == suffix and report.kind == "image" and len(faces_of(report)) == 1


def test_format_is_identified_by_content_not_extension(grace_hopper, tmp_path):
    src = tmp_path / "holiday.jpg"
    src.write_bytes(image_bytes(grace_hopper, "PNG"))
    report = redact_file(src, tmp_path / "out")
    assert report.error is None and report.output.endswith(".png")


def test_colour_profile_is_converted_to_srgb_then_dropped(tmp_path):
    from PIL import ImageCms

    flat = np.full((120, 160, 3), (200, 60, 40), dtype=np.uint8)
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    src = tmp_path / "srgb_tagged.jpg"
    Image.fromarray(flat).save(src, "JPEG", quality=95, icc_profile=srgb)
    report = redact_file(src, tmp_path / "out")
    assert report.error is None and "ICC_Profile:ProfileDescription" in report.removed
    with Image.open(report.output) as img:
        assert "icc_profile" not in img.info
        assert np.abs(np.asarray(img, dtype=int)[60, 80] - [200, 60, 40]).max() < 6


@pytest.mark.parametrize("method", ["blur", "pixelate", "solid"])
def test_every_redaction_method_defeats_a_second_detector(method, grace_hopper):
    from deid.redact import redact

    region = detect_file_regions(grace_hopper)
    out = redact(grace_hopper, region, method, 6)
    assert residual_detector(0.6)(out) == []
    assert residual_detector(0.6)(grace_hopper) != [], "the checker does see the unredacted face"


def detect_file_regions(rgb: np.ndarray) -> list[list[int]]:
    from deid.api import face_regions
    from deid.profile import load_profile

    return face_regions(rgb, load_profile("default"))


def test_identifiable_profile_keeps_the_face_and_still_strips_everything(planted_jpeg, grace_hopper, tmp_path):
    out = tmp_path / "out"
    report = redact_file(planted_jpeg, out, "identifiable")
    assert report.error is None and faces_of(report) == []
    assert report.profile.id == "identifiable" and len(report.profile.sha256) == 64
    output = Path(report.output)
    assert identifying_tags(output, IMAGE_ALLOWED) == []
    assert all(p.encode() not in output.read_bytes() for p in PLANTED.values())
    text = [r for r, kind in zip(report.regions, report.region_kinds) if kind != "face"]
    assert face_difference(grace_hopper, output, [180, 150, 340, 320], text) < 8, "face kept"


def test_detect_returns_the_regions_redact_covers(planted_jpeg, tmp_path):
    regions = detect_file(planted_jpeg)
    report = redact_file(planted_jpeg, tmp_path / "out")
    assert regions == report.regions and len(faces_of(report)) == 1
    x0, y0, x1, y1 = faces_of(report)[0]
    assert 0 <= x0 < x1 <= 512 and 0 <= y0 < y1 <= 600


def test_reviewer_regions_are_added_and_removed(grace_hopper, tmp_path):
    src = tmp_path / "a.png"
    src.write_bytes(image_bytes(grace_hopper, "PNG"))
    auto = redact_file(src, tmp_path / "o1").regions
    badge = [60, 470, 180, 530]  # the name badge on the uniform
    report = redact_file(src, tmp_path / "o2", extra_regions=[badge])
    assert report.regions == auto + [badge]
    with Image.open(report.output) as img:
        assert np.abs(np.asarray(img, dtype=int)[470:530, 60:180] - grace_hopper[470:530, 60:180]).mean() > 10
    dropped = redact_file(src, tmp_path / "o3", removed_regions=auto)
    assert dropped.output is None and "still detectable" in dropped.error, "a removed true face is caught"
    assert list((tmp_path / "o3").iterdir()) == []
