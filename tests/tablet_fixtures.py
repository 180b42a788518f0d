"""Builders for consents signed on a tablet: a drawn signature's strokes, the patient's answers, and the
rendered, unsealed form. Everything here is invented by the tests."""
from __future__ import annotations

import datetime as dt
import math

from consent.form_versions import current_version
from consent.signature_pad import Signature, signature_png
from consent.signed_form import Signing, render_signed_form

PAD = (640, 220)
PATIENT = ("Ada Example", "MRN-000123")   # the same invented patient as ui_fixtures


def scribble(width_share: float = 0.6, strokes: int = 2, pad: tuple[int, int] = PAD) -> list:
    """A signature-like drawing: a wave then crossing lines, spanning `width_share` of the pad's width."""
    span = pad[0] * width_share
    wave = [(40 + span * i / 60, pad[1] / 2 + 40 * math.sin(i / 5)) for i in range(61)]
    cross = [[(40 + span * (0.2 + 0.1 * k + 0.4 * i / 20), 50 + 6 * i) for i in range(21)] for k in range(strokes - 1)]
    return [wave, *cross][:strokes]


def signature(width_share: float = 0.6, strokes: int = 2) -> Signature:
    return Signature.of(scribble(width_share, strokes), *PAD)


ANSWERS = {
    "clinic_name": "Example Clinic", "media_description": "Before-and-after photographs of a skin treatment",
    "social_media": True, "platform_instagram": True, "platform_facebook": True, "identifiable": True,
    "expiry_date": "2030-06-30", "signer_name": PATIENT[0], "clinic_website": True,
}


def declined(answers: dict = ANSWERS) -> dict:
    """The same answers with the social-media box left empty."""
    return {**answers, "social_media": False}


def unsealed_form(language: str = "en", answers: dict = ANSWERS, document_id: str = "0" * 31 + "1") -> bytes:
    signing = Signing(document_id, dt.datetime(2026, 3, 1, 10, 30, tzinfo=dt.timezone.utc), "sam", *PATIENT,
                      by_representative=False)
    return render_signed_form(current_version(language), answers, signature_png(signature()), signing)
