"""Fail closed, and explain: every bad input gets a clear error naming the reason; nothing is left behind."""
from __future__ import annotations

import struct
import zlib

import pytest

from conftest import image_bytes
from deid.api import redact_file


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares enormous dimensions (a decompression bomb)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = lambda kind, data: struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def bad_inputs(grace_hopper) -> dict[str, tuple[bytes, str]]:
    jpeg = image_bytes(grace_hopper, "JPEG")
    return {
        "empty.jpg": (b"", "empty"),
        "truncated.jpg": (jpeg[: len(jpeg) // 3], "truncated"),
        "random.jpg": (bytes(range(256)) * 40, "not a photo or video"),
        "bomb.png": (png_declaring(60000, 60000), "megapixel limit"),
        "report.jpg": (b"%PDF-1.7\n%\xe2\xe3\n1 0 obj\n<<>>\nendobj\n", "PDF document"),
        "anim.gif": (image_bytes(grace_hopper, "GIF"), "unsupported image format"),
    }


def test_each_bad_file_gets_a_clear_error_and_the_good_one_is_still_done(grace_hopper, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    cases = bad_inputs(grace_hopper)
    for name, (data, _reason) in cases.items():
        (src / name).write_bytes(data)
    (src / "good.jpg").write_bytes(image_bytes(grace_hopper, "JPEG"))
    out = tmp_path / "out"

    reports = {r.input.rsplit("/", 1)[1]: r for r in (redact_file(p, out) for p in sorted(src.iterdir()))}

    for name, (_data, reason) in cases.items():
        assert reports[name].output is None
        assert reason in reports[name].error, (name, reports[name].error)
    assert reports["good.jpg"].error is None
    assert [p.name for p in out.iterdir()] == [reports["good.jpg"].output.rsplit("/", 1)[1]]


def test_unknown_profile_is_an_error_not_a_crash(grace_hopper, tmp_path):
    src = tmp_path / "a.jpg"
    src.write_bytes(image_bytes(grace_hopper, "JPEG"))
    report = redact_file(src, tmp_path / "out", "no-such-profile")
    assert report.output is None and "unknown de-id profile" in report.error


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_exif_orientation_is_applied_to_pixels(orientation, grace_hopper, tmp_path):
    from PIL import Image

    transpose = {3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270}
    exif = Image.Exif()
    exif[0x0112] = orientation
    src = tmp_path / f"o{orientation}.png"
    Image.fromarray(grace_hopper).transpose(transpose[orientation]).save(src, "PNG", exif=exif)
    report = redact_file(src, tmp_path / "out")
    with Image.open(report.output) as img:
        import numpy as np

        assert img.size == (512, 600)
        corner = np.asarray(img.convert("RGB"), dtype=int)[500:600, 0:100]
        assert np.abs(corner - grace_hopper[500:600, 0:100]).mean() < 3


def test_an_unwritable_output_folder_is_a_reason_without_a_path(grace_hopper, tmp_path):
    src = tmp_path / "jane_doe.jpg"
    src.write_bytes(image_bytes(grace_hopper, "JPEG"))
    blocked = tmp_path / "not_a_folder"
    blocked.write_text("a file where the output folder should be")
    report = redact_file(src, blocked)
    assert report.output is None and report.error.startswith("could not read or write the file")
    assert "jane" not in report.error and str(tmp_path) not in report.error
