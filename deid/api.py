"""The engine's entry points: one report per input file, the same for the CLI, the services and the UI.

`redact_file` never raises for a bad input: it returns a report with `error` set and `output` None, and
leaves nothing behind in the output folder. An output exists under its final name only once verified.
"""
from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

from deid import image as image_io
from deid.codes import code_regions
from deid.detect import ensemble, residual_detector
from deid.formats import Format, sniff, sniff_file
from deid.metadata import ExifToolError, identifying_tags, is_clean, removed_tags
from deid.models import ModelError
from deid.naming import filename_warnings
from deid.profile import Profile, ProfileError, load_profile
from deid.redact import Region, pad_and_clip, redact
from deid.text import identifiers_readable, text_regions

Progress = Callable[[float, str], None]
Labelled = list[tuple[Region, str]]   # regions with what they cover: "face", "text", "code" or "manual"
TEXT_KINDS = ("text", "code")
# Errors whose message is written for the person who uploaded the file (never a path).
EXPLAINED_ERRORS = (image_io.ImageReadError, ProfileError, ExifToolError, ModelError)


def new_report(path: Path, profile: Profile | None, original_name: str | None = None) -> dict:
    """An empty report; file-name warnings judge the name the person uploaded, not a temporary one."""
    return {"input": str(Path(path).absolute()), "output": None, "error": None, "kind": "unknown",
            "profile": profile.stamp() if profile else None, "regions": [], "region_kinds": [], "removed": [],
            "filename_warnings": filename_warnings(original_name or Path(path).name),
            "verified": {"metadata_clean": False, "faces_left": None}}


def redact_file(path: str | Path, out_dir: str | Path, profile: str | Profile = "default", *,
                progress: Progress | None = None, extra_regions: list[Region] | None = None,
                removed_regions: list[Region] | None = None, cancel: Callable[[], bool] | None = None,
                original_name: str | None = None, identifiers: list[str] | None = None) -> dict:
    """De-identify one photo or video into out_dir under a new random name; returns its report.

    `identifiers` (the patient's name parts, reference, original file-name tokens; held in memory only):
    a photo on which any of them can still be read is withheld, with a reason that does not quote it."""
    path, out_dir = Path(path), Path(out_dir)
    try:
        prof = profile if isinstance(profile, Profile) else load_profile(profile)
    except ProfileError as exc:
        report = new_report(path, None, original_name)
        report["error"] = str(exc)
        return report
    report = new_report(path, prof, original_name)
    try:
        fmt = _check_input(path)
        report["kind"] = fmt.kind if fmt.kind in ("image", "video") else "unknown"
        if fmt.kind == "image":
            review = Review(extra_regions or [], removed_regions or [], identifiers or [])
            _redact_image(path, fmt, out_dir, prof, report, review)
        elif fmt.kind == "video":
            from deid import video

            video.redact_video(path, out_dir, prof, report, progress=progress, cancel=cancel)
        else:
            raise image_io.ImageReadError(_not_media(fmt))
    except Exception as exc:  # noqa: BLE001 - one bad file must not stop a batch; the reason is reported
        report["output"] = None
        report["error"] = error_message(exc)
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


def _redact_image(path: Path, fmt: Format, out_dir: Path, prof: Profile, report: dict, review: Review) -> None:
    report["removed"] = removed_tags(path)
    encoded, ext = _redacted_image(path, fmt, prof, report, review)
    # the pixel arrays are gone by now: verification re-decodes the output without them in memory too
    report["output"] = str(write_verified(encoded, ext, out_dir, prof, report, review.identifiers).absolute())


def _redacted_image(path: Path, fmt: Format, prof: Profile, report: dict, review: Review) -> tuple[bytes, str]:
    """The new file's bytes and extension: decoded, faces and text found and redacted, encoded from pixels."""
    decoded = image_io.decode(path.read_bytes(), fmt)
    found = find_regions(decoded.rgb, prof)
    if prof.text_action == "flag":
        found, flagged = _split_text(found)
        report["flagged_regions"] = [region for region, _ in flagged]
    labelled = merge_review(found, review.extra, review.removed, decoded.rgb.shape)
    report["regions"] = [region for region, _ in labelled]
    report["region_kinds"] = [kind for _, kind in labelled]
    pixels = redact_labelled(decoded.rgb, labelled, prof)
    decoded.rgb = None   # the unredacted pixels are not needed any more
    return image_io.encode(pixels, decoded.alpha, decoded.source_format,
                           int(prof.section("output").get("jpeg_quality", 92)))


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
    faces, text = prof.section("faces"), prof.section("text")
    others, textual = _split_text(labelled)
    pixels = redact(rgb, [r for r, _ in others], faces["method"], int(faces.get("strength", 6)))
    return redact(pixels, [r for r, _ in textual], text.get("method", "solid"), int(text.get("strength", 2)))


def _split_text(labelled: Labelled) -> tuple[Labelled, Labelled]:
    """(faces and hand-drawn regions, text lines and codes)."""
    textual = [(r, kind) for r, kind in labelled if kind in TEXT_KINDS]
    return [(r, kind) for r, kind in labelled if kind not in TEXT_KINDS], textual


def face_regions(rgb: np.ndarray, prof: Profile) -> list[Region]:
    """The padded, clipped regions the profile's detector ensemble finds on an upright image."""
    height, width = rgb.shape[:2]
    faces = prof.section("faces")
    padding, above = float(faces.get("padding", 0.25)), float(faces.get("extend_up", 0.2))
    found = ensemble(prof.section("detector"))(rgb)
    # Detectors box eyes-to-chin; hair and forehead above identify too, so grow the box upwards first.
    regions = [pad_and_clip((d.x0, d.y0 - above * (d.y1 - d.y0), d.x1, d.y1), padding, width, height) for d in found]
    return [r for r in regions if r is not None]


def merge_review(found: Labelled, extra: list[Region], removed: list[Region], shape) -> Labelled:
    """Apply a reviewer's edits: drop the regions they removed, add the ones they drew (clipped)."""
    height, width = shape[:2]
    removed_set = {tuple(r) for r in removed}
    kept = [(r, kind) for r, kind in found if tuple(r) not in removed_set]
    for r in extra:
        clipped = pad_and_clip(tuple(r), 0.0, width, height)
        if clipped and all(clipped != region for region, _ in kept):
            kept.append((clipped, "manual"))
    return kept


def write_verified(data: bytes, ext: str, out_dir: Path, prof: Profile, report: dict,
                   identifiers: list[str] | None = None) -> Path:
    """Write under a temporary name, verify, then give the final random name; delete on any failure."""
    out_dir.mkdir(parents=True, exist_ok=True)
    name = uuid.uuid4().hex
    partial = out_dir / f".partial-{name}{ext}"
    final = out_dir / f"{name}{ext}"
    try:
        with open(partial, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        verify_image(partial, prof, report, identifiers or [])
        os.replace(partial, final)
        return final
    finally:
        partial.unlink(missing_ok=True)


def verify_image(path: Path, prof: Profile, report: dict, identifiers: list[str] | None = None) -> None:
    """Re-read the written file: metadata against the allow-list, a second detector for faces left, and the
    patient's identifiers read for (when given)."""
    clean, leftovers = is_clean(path)
    report["verified"]["metadata_clean"] = clean
    if not clean:
        raise image_io.ImageReadError(f"output withheld: metadata left after rewriting ({', '.join(leftovers)})")
    threshold = prof.residual_threshold
    if threshold is None and not identifiers:
        return  # the identifiable profile keeps faces on purpose
    with Image.open(path) as written:   # one copy of the pixels at a time: an output may be 80 megapixels
        written.load()
        rgb = np.asarray(written if written.mode == "RGB" else written.convert("RGB"))
    if identifiers:
        readable = identifiers_readable(rgb, identifiers, prof.section("text"))
        report["verified"]["identifiers_readable"] = readable
        if readable:
            raise image_io.ImageReadError(f"output withheld: {readable} of the patient's identifiers can still be "
                                          "read in the picture; cover them by hand in review")
    if threshold is None:
        return
    left = residual_detector(threshold)(rgb)
    report["verified"]["faces_left"] = len(left)
    if left:
        raise image_io.ImageReadError(f"output withheld: {len(left)} face(s) still detectable after redaction; "
                                      "add a region by hand in review")


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
        entry["identifying"] = [{"group": g, "tag": t} for g, t in identifying_tags(path)]
    except Exception as exc:  # noqa: BLE001 - reported per file
        entry["error"] = error_message(exc)
    return entry


def error_message(exc: BaseException) -> str:
    """What to tell the person about a failed file: the reason, never a path (paths may hold a name)."""
    if isinstance(exc, EXPLAINED_ERRORS):
        return str(exc)
    if isinstance(exc, MemoryError):
        return "not enough memory to process this file (its picture is too large); nothing was written"
    if isinstance(exc, OSError):
        return f"could not read or write the file ({exc.strerror or type(exc).__name__})"
    return f"unexpected error ({type(exc).__name__}); the file was not de-identified and nothing was written"


def decode_upright(data: bytes) -> np.ndarray:
    """Upright sRGB pixels of image bytes (for previews and review)."""
    return image_io.decode(data, sniff(data[:64])).rgb
