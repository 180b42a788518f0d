"""OCR for image-only PDF pages: pypdfium2 renders the page, Tesseract reads it.

Pages are rendered at about 300 dpi whatever the resolution of the embedded scan (a 2400 dpi scan
would otherwise make a gigapixel bitmap), upright per Tesseract's orientation detection (OSD),
and straightened by a projection-profile skew estimate before recognition.

Tesseract is run with the page image on its standard input and its answer on standard output: a
consent page shows the patient's name and signature, so neither the image nor the text read from
it is ever written to a temporary file (pytesseract writes both to the shared temp folder).

A page that names social media or a platform is read a second time, rendered at another scale. A
line is confirmed when both readings give it word for word alike and Tesseract is at least 90 sure
of every word in both: the judge may then rely on its words (consent.scope); any other line read by
OCR leaves the verdict to a person. The page image is kept in memory so that the evidence can show
where a clause stands (`OcrPage.crop`).
"""
from __future__ import annotations

import base64
import io
import math
import os
import re
import subprocess
import time
import unicodedata
from dataclasses import dataclass, field

import numpy as np
import pypdfium2 as pdfium
from PIL import Image

from consent import lexicon as lx

OCR_DPI = 300
SECOND_DPI = 400  # the second, independent reading of a page about social media
SURE = 90.0  # Tesseract's confidence every word of a confirmed line reaches, in both readings
CROP_SIZE = (1200, 1600)  # pixels; a clause's crop for the evidence is scaled down to fit (about a page at most)
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
class OcrLine:
    words: list[str]
    confidences: list[float]
    box: tuple[int, int, int, int]  # left, top, right, bottom in the pixels OCR ran on
    confirmed: bool = False  # a second reading gave the same words, every word sure in both

    @property
    def text(self) -> str:
        return " ".join(self.words)

    @property
    def sure(self) -> bool:
        return bool(self.words) and min(self.confidences) >= SURE


@dataclass
class OcrPage:
    text: str
    confidence: float | None  # mean word confidence 0-100, None when no word was read
    rotated: int  # degrees the page image was turned to stand upright
    skew: float  # degrees of deskew applied
    size: tuple[int, int]  # pixels OCR ran on
    lines: list[OcrLine] = field(default_factory=list)
    image: Image.Image | None = field(default=None, repr=False)  # what OCR ran on, for crops
    second_reading: bool = False

    def confirmed(self, lines: list[str]) -> bool:
        """Every one of these page lines is an OCR line confirmed by the second reading."""
        found = [[ocr for ocr in self.lines if ocr.text == line] for line in lines]
        return bool(lines) and all(same and all(ocr.confirmed for ocr in same) for same in found)

    def doubtful(self) -> list[str]:
        return [line.text for line in self.lines if not line.confirmed]

    def crop(self, lines: list[str]) -> str | None:
        """Base64 PNG of the part of the page image where these lines stand (None if none was read)."""
        boxes = [ocr.box for ocr in self.lines if ocr.text in lines]
        if not boxes or self.image is None:
            return None
        pad = 12
        left, top = max(0, min(b[0] for b in boxes) - pad), max(0, min(b[1] for b in boxes) - pad)
        right = min(self.image.width, max(b[2] for b in boxes) + pad)
        bottom = min(self.image.height, max(b[3] for b in boxes) + pad)
        part = self.image.crop((left, top, right, bottom))
        part.thumbnail(CROP_SIZE, Image.Resampling.LANCZOS)  # a very tall page would give a crop of megabytes
        out = io.BytesIO()
        part.save(out, format="PNG", optimize=True)
        return base64.b64encode(out.getvalue()).decode("ascii")


def render_scale(width_pt: float, height_pt: float, dpi: int = OCR_DPI, max_pixels: int = MAX_PIXELS) -> float:
    """Render scale (pixels per PDF point) for about `dpi`, reduced so the bitmap stays under max_pixels."""
    scale = dpi / 72.0
    pixels = width_pt * scale * height_pt * scale
    if pixels > max_pixels:
        scale *= math.sqrt(max_pixels / pixels)
    return scale


def ocr_pdf_page(page: pdfium.PdfPage, languages: str = LANGUAGES, deadline: float | None = None) -> OcrPage:
    width, height = page.get_size()
    scale = render_scale(width, height)
    bitmap = page.render(scale=scale, grayscale=True, may_draw_forms=False)
    result = ocr_image(bitmap.to_pil(), languages, deadline)
    second = render_scale(width, height, dpi=SECOND_DPI)
    if not lx.names_social_media(result.text):
        result.image = None  # no verdict can rest on this page's words: no crop to show
    elif second > 1.1 * scale:
        image = page.render(scale=second, grayscale=True, may_draw_forms=False).to_pil()
        _confirm(result, _upright(image.convert("L"), result.rotated, result.skew), languages, deadline)
    return result


def _upright(image: Image.Image, rotated: int, skew: float) -> Image.Image:
    """The image turned `rotated` degrees clockwise and deskewed by `skew` (both readings turn it here)."""
    if rotated:
        image = image.rotate(-rotated, expand=True, fillcolor=255)
    if abs(skew) >= 0.3:
        image = image.rotate(skew, expand=True, fillcolor=255, resample=Image.Resampling.BICUBIC)
    return image


def _confirm(result: OcrPage, image: Image.Image, languages: str, deadline: float | None) -> None:
    """Mark the lines of `result` that a reading of `image` gives alike, every word sure in both."""
    _, _, again = _recognise(image, languages, deadline)
    confirm_lines(result.lines, again)
    result.second_reading = True


def confirm_lines(first: list[OcrLine], second: list[OcrLine]) -> None:
    """A line of the first reading is confirmed when the second has the same words, all sure in both."""
    sure = {tuple(line.words) for line in second if line.sure}
    for line in first:
        line.confirmed = line.sure and tuple(line.words) in sure


def ocr_image(image: Image.Image, languages: str = LANGUAGES, deadline: float | None = None) -> OcrPage:
    image = image.convert("L")
    rotated = _orientation(image, deadline)
    result = _read_straightened(image, rotated, languages, deadline)
    if rotated and (result.confidence or 0) < _TRUST_ROTATION:
        # OSD misjudges small or sparse pages; keep whichever reading Tesseract is surer of.
        upright = _read_straightened(image, 0, languages, deadline)
        if (upright.confidence or 0) > (result.confidence or 0):
            result = upright
    return result


def _read_straightened(image: Image.Image, rotated: int, languages: str, deadline: float | None) -> OcrPage:
    """The image turned `rotated` degrees clockwise, then deskewed, read."""
    image = _upright(image, rotated, 0.0)
    skew = estimate_skew(image)
    image = _upright(image, 0, skew)
    text, confidence, lines = _recognise(image, languages, deadline)
    return OcrPage(text=text, confidence=confidence, rotated=rotated, skew=round(skew, 2), size=image.size,
                   lines=lines, image=image)


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


def _recognise(image: Image.Image, languages: str,
               deadline: float | None) -> tuple[str, float | None, list[OcrLine]]:
    """(text with a blank line between paragraphs, mean word confidence, the lines with their words)."""
    rows = _tesseract(image, "-l", languages, "--psm", "3", "tsv", deadline=deadline).splitlines()
    header = rows[0].split("\t") if rows else []
    lines: dict[tuple[int, int, int], OcrLine] = {}
    for row in rows[1:]:
        cell = dict(zip(header, row.split("\t")))
        word = _normal_word(cell.get("text", ""))
        if not word:
            continue
        key = (int(cell["block_num"]), int(cell["par_num"]), int(cell["line_num"]))
        left, top = int(cell["left"]), int(cell["top"])
        box = (left, top, left + int(cell["width"]), top + int(cell["height"]))
        line = lines.setdefault(key, OcrLine([], [], box))
        line.words.append(word)
        line.confidences.append(float(cell["conf"]))
        line.box = (min(line.box[0], box[0]), min(line.box[1], box[1]), max(line.box[2], box[2]),
                    max(line.box[3], box[3]))
    text_lines, last_block = [], None
    for key in sorted(lines):
        if last_block is not None and key[:2] != last_block:
            text_lines.append("")  # blank line between paragraphs, as in a text layer
        text_lines.append(lines[key].text)
        last_block = key[:2]
    confidences = [c for key in sorted(lines) for c in lines[key].confidences if c >= 0]
    confidence = round(sum(confidences) / len(confidences), 1) if confidences else None
    return "\n".join(text_lines), confidence, [lines[key] for key in sorted(lines)]


def _normal_word(word: str) -> str:
    """A word as the page text holds it: NFKC, no spaces; Tesseract reads a lone capital I as "|"."""
    word = "".join(unicodedata.normalize("NFKC", word).replace("\u00ad", "").split())
    return re.sub(r"^\|(?=[,;:.]?$)", "I", word)


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
