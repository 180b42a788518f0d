"""The consent page's words: what the checker found and what a person confirmed, never a stored value such as
`deidentified_only`, and "not read" rather than a general grant when the quote names platforms the list lacks."""
from __future__ import annotations

import itertools
import re
from types import SimpleNamespace

from ui.views import confirmed_words, platforms_found, signature_found

RAW = re.compile(r"deidentified_only|not_covered|\bunclear\b|_")


def consent(**changes):
    found = dict(platforms=[], social_media="covered", signed=None, signature_valid=None, signature_attested=False,
                 confirmed=True, confirmed_social_media=True, confirmed_platforms=[], confirmed_excluded=[],
                 confirmed_identifiable="deidentified_only", effective_expiry=None)
    return SimpleNamespace(**{**found, **changes})


def test_platforms_named_in_the_quote_but_not_listed_are_not_read():
    assert platforms_found(consent(), ["instagram", "tiktok"]).startswith(
        "not read: the quoted evidence names Instagram, TikTok, which the checker did not list")
    assert platforms_found(consent(platforms=["instagram"]), ["instagram", "x"]).startswith(
        "not read: the quoted evidence names X (Twitter)")
    assert platforms_found(consent(platforms=["instagram"]), ["instagram"]) == "Instagram only"
    assert platforms_found(consent(), []) == "any (social media in general)"
    assert platforms_found(consent(social_media="unclear"), []) == "none named"


def test_no_stored_value_reaches_the_page():
    for signed, valid, attested, confirmed in itertools.product((True, False, None), (True, False, None),
                                                                (True, False), (True, False)):
        c = consent(signed=signed, signature_valid=valid, signature_attested=attested, confirmed=confirmed)
        for words in [signature_found(c), *confirmed_words(c)]:
            assert not RAW.search(words), words
    assert "Images: De-identified images only (faces hidden)" in confirmed_words(consent())
