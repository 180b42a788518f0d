"""PDFs rendered from the wording corpus (tests/consent_wordings.toml) in the forms clinics send:
a text layer, AcroForm checkboxes, boxes drawn on the page, Yes/No pairs, initials, the clause on
page 3, and scans (clean at 300 dpi, or skewed and noisy). Built in memory by the tests; nothing
here is committed as a file.

A wording's text is written as consent.pdf annotates a page: "☒ label" / "☐ label" are boxes.
"""
from __future__ import annotations

import re

import numpy as np
from PIL import Image, ImageFilter

from consent.forms import fill_form, render_form
from consent_fixtures import drawn_boxes_pdf, image_page, text_pdf, written_part

_MARK = re.compile(r"(☒|☐|\[x\]|\[ \])\s*")
FILLER = ("General consent to treatment\n"
          "I consent to the examination and treatment my clinician recommends. I understand that no result "
          "is guaranteed and that I may ask questions at any time.\n\n"
          "Payment\nI agree to pay for services not covered by my insurance within thirty days of the invoice.")


def _pieces(line: str) -> list[tuple[str, bool | None]]:
    """A line as [(text, ticked)]: ticked is None for the words before the first box."""
    parts = _MARK.split(line)
    pieces = [(parts[0].strip(), None)] if parts[0].strip() else []
    for mark, text in zip(parts[1::2], parts[2::2]):
        pieces.append((text.strip(), mark in ("☒", "[x]")))
    return pieces


def acroform(text: str) -> bytes:
    """Each box becomes an AcroForm checkbox (a row of them for boxes on one line), ticked as written."""
    blocks, values, count = [], {}, 0
    for line in text.strip("\n").split("\n"):
        pieces = _pieces(line)
        if not pieces:
            continue
        if pieces[0][1] is None:
            blocks.append({"kind": "text", "text": pieces.pop(0)[0]})
        names = []
        for label, ticked in pieces:
            count += 1
            names.append((f"box{count}", label))
            values[f"box{count}"] = ticked
        if len(names) == 1 and len(names[0][1]) > 20:
            blocks.append({"kind": "checkbox", "name": names[0][0], "label": names[0][1]})
        elif names:
            blocks.append({"kind": "boxes", "names": [n for n, _ in names], "labels": [lbl for _, lbl in names]})
    form = render_form({"title": "Photo consent", "block": blocks})
    return fill_form(form, {k: v for k, v in values.items() if v})


def drawn(text: str) -> bytes:
    """A lead-in line, then one option per line with its box drawn as a vector square."""
    lead, *lines = text.strip("\n").split("\n")
    return drawn_boxes_pdf(lead, [(label, bool(ticked)) for line in lines for label, ticked in _pieces(line)])


def on_page_three(text: str) -> bytes:
    """Two pages of unrelated consent wording, then the clause."""
    return text_pdf(FILLER, "Office use\nPlease bring a photo identification to your first visit.", text)


def scan(text: str, *, noisy: bool = False, seed: int = 7) -> bytes:
    """An image-only PDF of the text: clean at 300 dpi, or turned 2.5 degrees, blurred, speckled and
    saved as a small JPEG at 150 dpi (a poor office scan)."""
    dpi = 300
    image = written_part(text_pdf(text), dpi, margin=90)
    if noisy:
        rng = np.random.default_rng(seed)
        image = image.rotate(2.5, expand=True, fillcolor=255, resample=Image.Resampling.BICUBIC)
        image = image.filter(ImageFilter.GaussianBlur(1.0)).resize((image.width // 2, image.height // 2))
        pixels = np.asarray(image, dtype=np.float32) + rng.normal(0, 12, (image.height, image.width))
        specks = rng.random(pixels.shape)
        pixels[specks < 0.002] = 0
        pixels[specks > 0.9985] = 255
        image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
        dpi = 150
    return bytes(image_page(image, dpi, "JPEG" if noisy else "PNG").output())

