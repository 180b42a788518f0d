"""The engine's entry points: one report per input file, the same for the CLI, the services and the UI.

`redact_file` never raises for a bad input: it returns a report (deid/report.py) with `error` set and
`output` None, and leaves nothing behind in the output folder. An output exists under its final name only
once verified (deid/output.py, deid/verify.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from deid import image as image_io
from deid.codes import code_regions
from deid.detect import ensemble
from deid.formats import Format, sniff, sniff_file
from deid.metadata import ExifToolError, identifying_tags, removed_tags
from deid.models import ModelError
from deid.output import write_verified
from deid.profile import Profile, ProfileError, load_profile
from deid.redact import Region, face_region, pad_and_clip, redact
from deid.report import DeidReport
from deid.text import text_regions
from deid.verify import IMAGE_ALLOWED, verify_image
from deid.video import redact_video

Progress = Callable[[float, str], None]
Labelled = list[tuple[Region, str]]   # regions with what they cover: "face", "text", "code" or "manual"
TEXT_KINDS = ("text", "code")
# Errors whose message is written for the person who uploaded the file (never a path).
EXPLAINED_ERRORS = (image_io.ImageReadError, ProfileError, ExifToolError, ModelError)


def redact_file(path: str | Path, out_dir: str | Path, profile: str | Profile = "default", *,
                progress: Progress | None = None, extra_regions: list | None = None,
                removed_regions: list[Region] | None = None, cancel: Callable[[], bool] | None = None,
                original_name: str | None = None, identifiers: list[str] | None = None) -> DeidReport:
    """De-identify one photo or video into out_dir under a new random name; returns its report.

    `extra_regions` (a reviewer's drawing on a photo): [x0, y0, x1, y1], or with "text" after the corners for
    one to cover as text; `removed_regions`: found regions not to cover.

    `identifiers` (the patient's name parts, reference, original file-name tokens; held in memory only):
    a photo on which any of them can still be read is withheld, with a reason that does not quote it."""
    path, out_dir = Path(path), Path(out_dir)
    try:
        prof = profile if isinstance(profile, Profile) else load_profile(profile)
    except ProfileError as exc:
        return DeidReport.new(path, None, original_name).failed(str(exc))
    report = DeidReport.new(path, prof.stamp(), original_name)
    try:
        fmt = _check_input(path)
        report.kind = fmt.kind if fmt.kind in ("image", "video") else "unknown"
        if fmt.kind == "image":
            review = Review(extra_regions or [], removed_regions or [], identifiers or [])
            _redact_image(path, fmt, out_dir, prof, report, review)
        elif fmt.kind == "video":
            redact_video(path, out_dir, prof, report, progress=progress, cancel=cancel)
        else:
            raise image_io.ImageReadError(_not_media(fmt))
    except Exception as exc:  # noqa: BLE001 - one bad file must not stop a batch; the reason is reported
        report.failed(error_message(exc))
    if progress:
        progress(1.0, "done")
    return report


def _check_input(path: Path) -> Format:
    if not path.is_file():
        raise image_io.ImageReadError("file not found")
    if path.stat().st_size == 0:
        raise image_io.ImageReadError("file is empty (0 bytes)")
    return sniff_file(path)


def _not_media(fmt: Format) -> str:
    if fmt.kind == "document":
        return f"this is a {fmt.name.upper()} document, not a photo or video"
    return "not a photo or video format Veil can read (content not recognised)"


@dataclass(frozen=True)
class Review:
    """What a person (or the records) adds to a photo's run: regions drawn, automatic regions removed, and the
    patient's identifiers that must not be readable in the output."""
    extra: list[Region]
    removed: list[Region]
    identifiers: list[str]


def _redact_image(path: Path, fmt: Format, out_dir: Path, prof: Profile, report: DeidReport, review: Review) -> None:
    report.removed = removed_tags(path, IMAGE_ALLOWED)
    encoded, ext = _redacted_image(path, fmt, prof, report, review)
    # the pixel arrays are gone by now: verification re-decodes the output without them in memory too
    final = write_verified(out_dir, ext, lambda partial: partial.write_bytes(encoded),
                           lambda partial, _size: verify_image(partial, prof, report.verified, review.identifiers,
                                                                report.regions))
    report.output = str(final.absolute())


def _redacted_image(path: Path, fmt: Format, prof: Profile, report: DeidReport, review: Review) -> tuple[bytes, str]:
    """The new file's bytes and extension: decoded, faces and text found and redacted, encoded from pixels."""
    decoded = image_io.decode(path.read_bytes(), fmt)
    found = find_regions(decoded.rgb, prof)
    if prof.text_action == "flag":
        found, flagged = _split_text(found)
        report.flagged_regions = [region for region, _ in flagged]
    labelled = merge_review(found, review.extra, review.removed, decoded.rgb.shape)
    report.regions = [region for region, _ in labelled]
    report.region_kinds = [kind for _, kind in labelled]
    pixels = redact_labelled(decoded.rgb, labelled, prof)
    decoded.rgb = None   # the unredacted pixels are not needed any more
    return image_io.encode(pixels, decoded.alpha, decoded.source_format, prof.jpeg_quality)


def find_regions(rgb: np.ndarray, prof: Profile) -> Labelled:
    """Every region the profile acts on, labelled: faces (unless it keeps them), then text lines and codes
    (unless it keeps those)."""
    found: Labelled = [] if prof.keeps_faces else [(r, "face") for r in face_regions(rgb, prof)]
    if prof.text_action != "keep":
        found += [(r, "text") for r in text_regions(rgb, prof.section("text"))]
        found += [(r, "code") for r in code_regions(rgb)]
    return found


def redact_labelled(rgb: np.ndarray, labelled: Labelled, prof: Profile) -> np.ndarray:
    """Faces and hand-drawn regions with the faces' method; text and codes with the text method (solid by
    default: a blurred line of large print can stay legible)."""
    others, textual = _split_text(labelled)
    pixels = redact(rgb, [r for r, _ in others], prof.method, prof.strength)
    return redact(pixels, [r for r, _ in textual], prof.text_method, prof.text_strength)


def _split_text(labelled: Labelled) -> tuple[Labelled, Labelled]:
    """(faces and hand-drawn regions, text lines and codes)."""
    textual = [(r, kind) for r, kind in labelled if kind in TEXT_KINDS]
    return [(r, kind) for r, kind in labelled if kind not in TEXT_KINDS], textual


def face_regions(rgb: np.ndarray, prof: Profile) -> list[Region]:
    """The padded, clipped regions the profile's detector ensemble finds on an upright image."""
    height, width = rgb.shape[:2]
    regions = [face_region(d.box, prof.padding, prof.extend_up, width, height)
               for d in ensemble(prof.section("detector"))(rgb)]
    return [r for r in regions if r is not None]


def merge_review(found: Labelled, extra: list, removed: list[Region], shape) -> Labelled:
    """Apply a reviewer's edits: drop the regions they removed, add the ones they drew (clipped). A drawn region
    is [x0, y0, x1, y1], redacted like faces ("manual"), or [x0, y0, x1, y1, "text"] when drawn over writing
    the detector missed: redacted with the text method (solid by default), since a blurred line can stay legible."""
    height, width = shape[:2]
    removed_set = {tuple(r) for r in removed}
    kept = [(r, kind) for r, kind in found if tuple(r) not in removed_set]
    for r in extra:
        clipped = pad_and_clip(tuple(r[:4]), 0.0, width, height)
        if clipped and all(clipped != region for region, _ in kept):
            kept.append((clipped, "text" if list(r[4:]) == ["text"] else "manual"))
    return kept


def detect_file(path: str | Path, profile: str | Profile = "default") -> list[Region]:
    """The regions `redact_file` would cover on an image (faces, then text and codes); raises ImageReadError
    when it cannot be read."""
    return [region for region, _ in detect_labelled(path, profile)]


def detect_labelled(path: str | Path, profile: str | Profile = "default") -> Labelled:
    """`detect_file`'s regions, each with what it covers ("face", "text", "code")."""
    prof = profile if isinstance(profile, Profile) else load_profile(profile)
    path = Path(path)
    fmt = _check_input(path)
    if fmt.kind != "image":
        raise image_io.ImageReadError(_not_media(fmt) if fmt.kind != "video" else "detect takes images, not videos")
    found = find_regions(image_io.decode(path.read_bytes(), fmt).rgb, prof)
    return _split_text(found)[0] if prof.text_action == "flag" else found


def inspect_file(path: str | Path) -> dict:
    """Names (never values) of the identifying tags in any file."""
    path = Path(path)
    entry = {"path": str(path.absolute()), "identifying": [], "error": None}
    try:
        _check_input(path)
        entry["identifying"] = [{"group": g, "tag": t} for g, t in identifying_tags(path, IMAGE_ALLOWED)]
    except Exception as exc:  # noqa: BLE001 - reported per file
        entry["error"] = error_message(exc)
    return entry


def error_message(exc: BaseException) -> str:
    """What to tell the person about a failed file: the reason, never a path (paths may hold a name)."""
    if isinstance(exc, EXPLAINED_ERRORS):
        return str(exc)
    # Python's, PIL's, numpy's and onnxruntime's (deid/runtime.py raises it) MemoryError; OpenCV's own code
    if isinstance(exc, MemoryError) or isinstance(exc, cv2.error) and exc.code == cv2.Error.StsNoMem:
        return "not enough memory to process this file (its picture is too large); nothing was written"
    if isinstance(exc, OSError):
        return f"could not read or write the file ({exc.strerror or type(exc).__name__})"
    return f"unexpected error ({type(exc).__name__}); the file was not de-identified and nothing was written"


def decode_upright(data: bytes) -> np.ndarray:
    """Upright sRGB pixels of image bytes (for previews and review)."""
    return image_io.decode(data, sniff(data[:64])).rgb
