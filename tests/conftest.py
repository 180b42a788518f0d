"""Shared fixtures: real images that ship in wheels, and photos carrying planted identifiers."""
from __future__ import annotations

import io
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"

# Strings planted in test photos; none may survive de-identification.
PLANTED = {
    "make": "PlantedMakeVeil",
    "model": "PlantedModel-XYZ42",
    "serial": "SN-PLANTED-314159",
    "software": "PlantedSoftware 9.9",
    "artist": "Jane Planted Doe",
    "comment": "Comment-Planted-Patient-Rosa",
    "xmp": "XMP-Planted-Creator-Ines",
    "iptc": "IPTC-Planted-Byline-Omar",
    "trailer": "TRAILER-PLANTED-MRN-998877",
    "date": "2019:07:04 10:11:12",
}


def grace_hopper_path() -> Path:
    import matplotlib.cbook

    return Path(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))


@pytest.fixture(scope="session")
def grace_hopper() -> np.ndarray:
    """Upright RGB pixels of a real face photo (512x600) shipped in matplotlib's wheel."""
    with Image.open(grace_hopper_path()) as img:
        return np.asarray(img.convert("RGB"))


def exiftool(*args: str) -> None:
    subprocess.run(["exiftool", "-q", "-q", "-overwrite_original", *args], check=True)


def _exif_with_identifiers(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = PLANTED["make"]          # Make
    exif[0x0110] = PLANTED["model"]         # Model
    exif[0x0131] = PLANTED["software"]      # Software
    exif[0x013B] = PLANTED["artist"]        # Artist
    exif[0x0132] = PLANTED["date"]          # DateTime
    exif[0x0112] = orientation              # Orientation
    return exif


@pytest.fixture
def planted_jpeg(tmp_path, grace_hopper) -> Path:
    """A JPEG of a real face stored sideways (Orientation 6) with every kind of identifier a camera or
    an editor leaves: EXIF make/model/serial/dates/GPS, XMP, IPTC, a comment, an EXIF thumbnail of the
    unredacted face, and bytes appended after the end-of-image marker."""
    stored = Image.fromarray(grace_hopper).transpose(Image.Transpose.ROTATE_90)  # shown upright via Orientation 6
    path = tmp_path / "jane_doe_MRN0012345_2024-03-01.jpg"
    stored.save(path, "JPEG", quality=90, exif=_exif_with_identifiers(6), comment=PLANTED["comment"].encode())
    thumb = tmp_path / "thumb.jpg"
    Image.fromarray(grace_hopper).resize((128, 150)).save(thumb, "JPEG")
    exiftool(f"-SerialNumber={PLANTED['serial']}", f"-DateTimeOriginal={PLANTED['date']}",
             "-GPSLatitude=40.7128", "-GPSLatitudeRef=N", "-GPSLongitude=74.0060", "-GPSLongitudeRef=W",
             f"-XMP-dc:Creator={PLANTED['xmp']}", f"-IPTC:By-line={PLANTED['iptc']}",
             f"-ThumbnailImage<={thumb}", str(path))
    thumb.unlink()
    with open(path, "ab") as fh:
        fh.write(PLANTED["trailer"].encode())
    return path


@pytest.fixture
def planted_png(tmp_path, grace_hopper) -> Path:
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Author", PLANTED["artist"])
    info.add_itxt("Description", PLANTED["xmp"])
    info.add_text("Comment", PLANTED["comment"], zip=True)
    path = tmp_path / "patient.png"
    Image.fromarray(grace_hopper).save(path, "PNG", pnginfo=info, exif=_exif_with_identifiers(1))
    return path


@pytest.fixture
def planted_heic(tmp_path, grace_hopper) -> Path:
    import pillow_heif

    pillow_heif.register_heif_opener()
    path = tmp_path / "IMG_0001.HEIC"
    Image.fromarray(grace_hopper).save(path, "HEIF", quality=90, exif=_exif_with_identifiers(1).tobytes())
    return path


def image_bytes(rgb: np.ndarray, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, fmt, **kwargs)
    return buffer.getvalue()
