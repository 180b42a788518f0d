"""The model consent form in assets/ is read correctly blank (not covered) and filled in (covered)."""
from __future__ import annotations

import io

import pytest
from pypdf import PdfReader, PdfWriter

from consent.check import check_pdf
from consent.forms import MODEL_PDF, build_model_form, fill_form, load_spec
from consent_fixtures import FILLED_MODEL_FORM, self_signed_identity, sign, write


@pytest.fixture(scope="module")
def blank() -> bytes:
    return build_model_form()


def test_the_committed_model_form_is_built_from_its_source(blank):
    committed = PdfReader(MODEL_PDF)
    fresh = PdfReader(io.BytesIO(blank))
    assert [p.extract_text() for p in committed.pages] == [p.extract_text() for p in fresh.pages]
    assert set(committed.get_fields()) == set(fresh.get_fields())


def test_the_model_form_has_the_hipaa_core_elements_and_statements():
    text = " ".join(b.get("text", "") + " " + b.get("label", "") for b in load_spec()["block"]).lower()
    for phrase in ("revoke", "do not have to sign", "treatment", "no longer protect", "expires",
                   "personal representative", "signature", "date signed", "payment"):
        assert phrase in text


def test_the_blank_model_form_is_not_covered(tmp_path, blank):
    result = check_pdf(write(tmp_path, "blank.pdf", blank))
    assert result.social_media == "not_covered"
    assert result.signed is False
    assert result.expires is None and result.expires_event is None
    assert result.revocation_clause is True
    assert result.identifiable == "unclear"


def test_the_filled_and_signed_model_form_is_covered(tmp_path, blank):
    data = sign(fill_form(blank, FILLED_MODEL_FORM), self_signed_identity(), "signature")
    result = check_pdf(write(tmp_path, "filled.pdf", data))
    assert result.social_media == "covered"
    assert result.platforms == ["instagram", "facebook"]
    assert result.excluded_platforms == ["tiktok"]
    assert result.identifiable == "allowed"
    assert result.expires == "2027-06-30"
    assert result.signed is True and result.signature_valid is True
    assert any("☒ Instagram" in e["text"] for e in result.evidence if e["about"] == "grant")


def test_copies_that_differ_only_in_the_boxes_ticked_are_different_documents(tmp_path, blank):
    """The text fingerprint (how the records know a re-saved copy) counts the ticks: the same lines with the
    social-media boxes left empty refuse what the ticked form grants. A re-saved copy keeps it."""
    refusal = {k: v for k, v in FILLED_MODEL_FORM.items() if not k.startswith(("social", "platform"))}
    granting = fill_form(blank, FILLED_MODEL_FORM)
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(granting)))
    writer.add_metadata({"/Producer": "a re-saving viewer"})
    resaved = io.BytesIO()
    writer.write(resaved)
    granted, copy, refused = (check_pdf(write(tmp_path, name, data)) for name, data in (
        ("granted.pdf", granting), ("copy.pdf", resaved.getvalue()), ("refused.pdf", fill_form(blank, refusal))))
    assert (granted.social_media, copy.social_media, refused.social_media) == ("covered", "covered", "not_covered")
    assert granted.text_sha256 and granted.text_sha256 == copy.text_sha256 != refused.text_sha256


def test_any_platform_with_an_expiry_event(tmp_path, blank):
    data = fill_form(blank, {"social_media": True, "platform_any": True, "deidentified_only": True,
                             "expiry_event": "the end of my treatment"})
    result = check_pdf(write(tmp_path, "any.pdf", data))
    assert result.social_media == "covered"
    assert result.platforms == []
    assert result.identifiable == "deidentified_only"
    assert result.expires_event == "the end of my treatment"
    assert result.signed is False  # the signature field is still empty


def test_website_only_on_the_model_form_is_not_covered(tmp_path, blank):
    result = check_pdf(write(tmp_path, "web.pdf", fill_form(blank, {"clinic_website": True})))
    assert result.social_media == "not_covered"


def test_platforms_ticked_without_the_social_media_box_are_not_covered(tmp_path, blank):
    result = check_pdf(write(tmp_path, "p.pdf", fill_form(blank, {"platform_instagram": True})))
    assert result.social_media == "not_covered"


def test_the_social_media_box_without_any_platform_needs_a_person(tmp_path, blank):
    result = check_pdf(write(tmp_path, "sm.pdf", fill_form(blank, {"social_media": True})))
    assert result.social_media == "unclear"


def test_filling_an_unknown_field_is_refused(blank):
    with pytest.raises(KeyError, match="no_such_box"):
        fill_form(blank, {"no_such_box": True})
