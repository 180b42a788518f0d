"""OCR for image-only PDF pages: pypdfium2 renders the page, Tesseract reads it.

Pages are rendered at about 300 dpi whatever the resolution of the embedded scan (a 2400 dpi scan
would otherwise make a gigapixel bitmap), upright per Tesseract's orientation detection (OSD),
and straightened by a projection-profile skew estimate before recognition.

Tesseract is run with the page image on its standard input and its answer on standard output: a
consent page shows the patient's name and signature, so neither the image nor the text read from
it is ever written to a temporary file (pytesseract writes both to the shared temp folder).
"""
from __future__ import annotations

import io
import math
import os
import subprocess
import time
from dataclasses import dataclass

import numpy as np
import pypdfium2 as pdfium
from PIL import Image

OCR_DPI = 300
MAX_PIXELS = 36_000_000  # about a Letter page at 600 dpi; caps memory and time for huge pages
LANGUAGES = "eng+spa"
TIMEOUT_S = 300  # per Tesseract run; a page that takes longer is refused, not waited on forever
# A caller's deadline (time.monotonic()) shortens every run after it: a document has one budget.
_OSD_MIN_CONFIDENCE = 1.0  # below this Tesseract's orientation guess is noise
_TRUST_ROTATION = 75.0  # mean word confidence above which a rotated reading is kept without a second look
_SKEW_LIMIT = 10.0  # degrees searched either way


class OcrUnavailable(RuntimeError):
    """Tesseract (or one of its language files) is missing or failed on this page."""


class _TesseractFailed(OcrUnavailable):
    """Tesseract ran and gave up (for OSD: too little text to tell the orientation)."""


@dataclass
class OcrPage:
    text: str
    confidence: float | None  # mean word confidence 0-100, None when no word was read
    rotated: int  # degrees the page image was turned to stand upright
    skew: float  # degrees of deskew applied
    size: tuple[int, int]  # pixels OCR ran on


def render_scale(width_pt: float, height_pt: float, dpi: int = OCR_DPI, max_pixels: int = MAX_PIXELS) -> float:
    """Render scale (pixels per PDF point) for about `dpi`, reduced so the bitmap stays under max_pixels."""
    scale = dpi / 72.0
    pixels = width_pt * scale * height_pt * scale
    if pixels > max_pixels:
        scale *= math.sqrt(max_pixels / pixels)
    return scale


def ocr_pdf_page(page: pdfium.PdfPage, languages: str = LANGUAGES, deadline: float | None = None) -> OcrPage:
    width, height = page.get_size()
    bitmap = page.render(scale=render_scale(width, height), grayscale=True, may_draw_forms=False)
    return ocr_image(bitmap.to_pil(), languages, deadline)


def ocr_image(image: Image.Image, languages: str = LANGUAGES, deadline: float | None = None) -> OcrPage:
    image = image.convert("L")
    rotated = _orientation(image, deadline)
    result = _read_straightened(image.rotate(-rotated, expand=True, fillcolor=255) if rotated else image,
                                rotated, languages, deadline)
    if rotated and (result.confidence or 0) < _TRUST_ROTATION:
        # OSD misjudges small or sparse pages; keep whichever reading Tesseract is surer of.
        upright = _read_straightened(image, 0, languages, deadline)
        if (upright.confidence or 0) > (result.confidence or 0):
            result = upright
    return result


def _read_straightened(image: Image.Image, rotated: int, languages: str, deadline: float | None) -> OcrPage:
    skew = estimate_skew(image)
    if abs(skew) >= 0.3:
        image = image.rotate(skew, expand=True, fillcolor=255, resample=Image.Resampling.BICUBIC)
    text, confidence = _recognise(image, languages, deadline)
    return OcrPage(text=text, confidence=confidence, rotated=rotated, skew=round(skew, 2), size=image.size)


def _orientation(image: Image.Image, deadline: float | None) -> int:
    """Clockwise degrees to turn the image upright, from Tesseract OSD; 0 when unsure."""
    try:
        answer = _tesseract(image, "-l", "osd", "--psm", "0", deadline=deadline)
    except _TesseractFailed:
        return 0  # too little text to tell; recognise as is
    osd = dict(line.split(":", 1) for line in answer.splitlines() if ":" in line)  # "Rotate: 90"
    if float(osd.get("Orientation confidence", 0)) < _OSD_MIN_CONFIDENCE:
        return 0
    return int(osd.get("Rotate", 0)) % 360


def estimate_skew(image: Image.Image) -> float:
    """Angle (degrees, counter-clockwise positive) that makes text lines horizontal.

    Text lines make the row-sum profile of an ink mask spiky when horizontal; the angle whose
    rotated profile has the largest variance of row-to-row differences wins (coarse, then fine).
    """
    small = image.copy()
    small.thumbnail((1000, 1000))
    ink = Image.fromarray(((np.asarray(small) < 128) * 255).astype(np.uint8))
    if np.asarray(ink).mean() < 0.5:  # blank page
        return 0.0

    def score(angle: float) -> float:
        profile = np.asarray(ink.rotate(angle, expand=True, fillcolor=0), dtype=np.float32).sum(axis=1)
        return float(np.square(np.diff(profile)).sum())

    best = max(np.arange(-_SKEW_LIMIT, _SKEW_LIMIT + 0.01, 1.0), key=score)
    best = max(np.arange(best - 1.0, best + 1.01, 0.1), key=score)
    return float(best)


def _recognise(image: Image.Image, languages: str, deadline: float | None) -> tuple[str, float | None]:
    rows = _tesseract(image, "-l", languages, "--psm", "3", "tsv", deadline=deadline).splitlines()
    header = rows[0].split("\t") if rows else []
    lines: dict[tuple[int, int, int], list[str]] = {}
    confidences = []
    for row in rows[1:]:
        cell = dict(zip(header, row.split("\t")))
        word = cell.get("text", "").strip()
        if not word:
            continue
        key = (int(cell["block_num"]), int(cell["par_num"]), int(cell["line_num"]))
        lines.setdefault(key, []).append(word)
        if float(cell["conf"]) >= 0:
            confidences.append(float(cell["conf"]))
    text_lines, last_block = [], None
    for key in sorted(lines):
        if last_block is not None and key[:2] != last_block:
            text_lines.append("")  # blank line between paragraphs, as in a text layer
        text_lines.append(" ".join(lines[key]))
        last_block = key[:2]
    confidence = round(sum(confidences) / len(confidences), 1) if confidences else None
    return "\n".join(text_lines), confidence


def _tesseract(image: Image.Image, *args: str, deadline: float | None = None) -> str:
    """Tesseract's stdout for a grey image given on stdin (no file holds the page or its text)."""
    timeout = TIMEOUT_S if deadline is None else min(TIMEOUT_S, deadline - time.monotonic())
    if timeout <= 0:
        raise OcrUnavailable("the time allowed for reading the document ran out")
    page = io.BytesIO()
    image.save(page, format="PPM")  # binary PGM: nothing to compress or decompress
    # Tesseract's OpenMP threads fight each other on a small machine (7x slower on 2 cores): one each,
    # set for the child only, not for every library in this process.
    env = dict(os.environ, OMP_THREAD_LIMIT=os.environ.get("OMP_THREAD_LIMIT", "1"))
    try:
        done = subprocess.run(["tesseract", "stdin", "stdout", *args], input=page.getvalue(),
                              capture_output=True, env=env, timeout=timeout, check=False)
    except FileNotFoundError as exc:
        raise OcrUnavailable("Tesseract OCR is not installed") from exc
    except subprocess.TimeoutExpired as exc:
        raise OcrUnavailable(f"Tesseract took more than {timeout:.0f} s on the page") from exc
    if done.returncode != 0:
        said = [line.strip() for line in done.stderr.decode("utf-8", "replace").splitlines()
                if line.strip() and not line.startswith(("Warning", "Estimating resolution"))]
        raise _TesseractFailed(f"Tesseract failed: {'; '.join(said)[:200] or f'exit code {done.returncode}'}")
    return done.stdout.decode("utf-8", "replace")
