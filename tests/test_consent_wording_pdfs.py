"""Wordings from the corpus rendered as real PDFs and read by the real reader (consent.check): text
layers, AcroForm ticks, boxes drawn on the page, Yes/No pairs, initials, the clause on page 3, and
the same form scanned cleanly at 300 dpi and skewed and noisy. Every PDF is built here, in memory.

A PDF is judged right when its four labels match the wording's (a noisy scan: "unclear", since
OCR was not sure of its words).
"""
from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

import wording_pdfs
from benchmarks.consent_pdfs import LABELS, load_wordings
from consent.check import check_pdf
from consent.ocr import OcrLine, OcrPage, confirm_lines
from consent_fixtures import text_pdf, write

WORDINGS = {w["id"]: w for w in load_wordings()}
RENDER = {
    "text": text_pdf,
    "acroform": wording_pdfs.acroform,
    "drawn": wording_pdfs.drawn,
    "page3": wording_pdfs.on_page_three,
    "scan": wording_pdfs.scan,
    "noisy_scan": lambda text: wording_pdfs.scan(text, noisy=True),
}
CASES = [
    ("text", "grant-authorize-accounts"), ("text", "exc-except-which-i-do-not"),
    ("text", "cond-on-the-condition-face-not-shown"), ("text", "cond-only-if-face-not-visible"),
    ("text", "list-including"), ("text", "list-such-as"), ("text", "deny-do-not-authorize"),
    ("text", "revoke-dear-clinic"), ("text", "staff-obtain-consent"), ("text", "vague-any-media-internet"),
    ("text", "es-acepto-excepto"), ("text", "es-pregunta-no"), ("text", "quest-hear-about-us"),
    ("text", "form-per-platform-yes-no"),
    ("text", "form-initials-social"), ("text", "form-initials-print-only"),
    ("text", "form-trailing-initials-filled"), ("text", "form-trailing-initials-blank"),
    ("acroform", "form-purposes-checked-below"), ("acroform", "form-purposes-checked-below-unticked"),
    ("acroform", "form-platforms-ticked"), ("acroform", "form-either-or-grant"),
    ("acroform", "form-either-or-refusal"), ("acroform", "form-question-yes"), ("acroform", "form-question-no"),
    ("acroform", "es-casillas"),
    ("drawn", "form-permission-in-ticked"), ("drawn", "form-permission-in-unticked"),
    ("drawn", "form-tick-each-you-agree"), ("drawn", "form-statement-yes-no-yes"),
    ("drawn", "form-statement-yes-no-no"), ("drawn", "form-agree-to-following"),
    ("page3", "grant-consent-appearing"), ("page3", "exc-but-not-on"),
    ("scan", "grant-multi-sentence-form"), ("noisy_scan", "grant-multi-sentence-form"),
    ("scan", "deny-do-not-authorize"),
]


def test_at_least_30_wordings_are_rendered_in_every_required_way():
    assert len(CASES) >= 30 and {kind for kind, _ in CASES} == set(RENDER)
    assert all(wording in WORDINGS for _, wording in CASES)


@pytest.mark.parametrize("kind, wording", CASES, ids=[f"{k}-{w}" for k, w in CASES])
def test_the_pdf_gets_the_wordings_verdict(tmp_path, kind, wording):
    expected = WORDINGS[wording]
    result = check_pdf(write(tmp_path, f"{kind}.pdf", RENDER[kind](expected["text"])))
    assert result.error is None
    if kind == "noisy_scan":
        assert result.text_source == "ocr"
        assert result.social_media == "unclear"
        assert any("OCR" in reason for reason in result.reasons)
        return
    assert {k: getattr(result, k) for k in LABELS} == {k: expected[k] for k in LABELS}
    if kind == "page3":
        assert {e["page"] for e in result.evidence if e["about"] in ("grant", "exception")} == {3}
    if kind == "scan":
        assert result.text_source == "ocr"
        quoted = [e for e in result.evidence if e["about"] in ("grant", "denial")]
        assert quoted and all(e["image_png"] for e in quoted)  # the crop of the page where it stands
        crop = Image.open(io.BytesIO(base64.b64decode(quoted[0]["image_png"])))
        assert crop.format == "PNG" and crop.width > 3 * crop.height  # a few lines of text, not the page


def test_a_line_is_sure_only_when_both_readings_agree_and_every_word_reaches_90():
    def line(words, confidences):
        return OcrLine(words.split(), confidences, (0, 0, 10, 10))

    grant, refusal, other = ("I authorize posting on Instagram.", "I do not consent to TikTok.",
                             "I authorize posting on TikTok.")
    first = [line(grant, [96] * 5), line(refusal, [96] * 6), line(other, [96] * 5)]
    second = [line(grant, [97] * 5), line(refusal, [96, 96, 89, 96, 96, 96]), line("I authorize posting on TikTok,",
                                                                                 [96] * 5)]
    confirm_lines(first, second)
    page = OcrPage("", 95.0, 0, 0.0, (10, 10), lines=first)
    assert page.confirmed([grant])
    assert not page.confirmed([refusal])  # "not" read at 89 the second time
    assert not page.confirmed([other])  # the readings differ by a comma
    assert not page.confirmed([grant, refusal]) and not page.confirmed(["a line OCR never read"])
    assert not page.confirmed([])
    assert page.doubtful() == [refusal, other]


def test_an_evidence_crop_is_scaled_to_fit_whatever_the_page():
    """A clause spanning a very tall page (a long receipt-like scan) still gives a crop of bounded size."""
    tall = Image.new("L", (2400, 24000), 255)
    lines = [OcrLine(["I", "authorize", "Instagram."], [96] * 3, (100, 100, 2300, 160)),
             OcrLine(["Signed", "below."], [96] * 2, (100, 23800, 900, 23860))]
    page = OcrPage("", 96.0, 0, 0.0, tall.size, lines=lines, image=tall)
    crop = Image.open(io.BytesIO(base64.b64decode(page.crop([line.text for line in lines]))))
    assert crop.height == 1600 and crop.width < 200   # the whole clause, shrunk to fit; aspect kept
    assert page.crop(["a line OCR never read"]) is None
