"""The New consent page under AppTest: staff must name the patient; the patient reads the form version's own
words (English or Spanish); an empty signature pad is refused and nothing is stored."""
from __future__ import annotations

from consent.form_versions import current_version
from records import services
from ui_fixtures import app, click, texts, widget
from ui_fixtures import people_template, veil  # noqa: F401  (pytest fixtures)

PAGE = "app_pages/new_consent.py"


def staff_details(at, name: str = "Ada Example", reference: str = "MRN-000123", language: str = "en"):
    widget(at, "radio", "Language of the form").set_value(language)
    widget(at, "text_input", "Patient's name").input(name)
    widget(at, "text_input", "Patient reference").input(reference)
    return click(at, "Hand the tablet to the patient")


def test_staff_must_name_the_patient_before_handing_over_the_tablet(veil):
    at = staff_details(app(veil.staff, PAGE), reference="")
    assert "Enter the patient's name and reference (record number)." in texts(at)
    assert current_version("en").spec["title"] not in texts(at)


def test_the_patient_reads_the_form_in_the_chosen_language_and_an_empty_pad_is_refused(veil):
    for language in ("en", "es"):
        at = staff_details(app(veil.staff, PAGE), language=language)
        spec = current_version(language).spec
        shown = texts(at)
        assert spec["title"] in shown
        assert all(b["text"] in shown for b in spec["block"] if b["kind"] == "heading")
        assert {c.label for c in at.checkbox} >= {b["label"] for b in spec["block"] if b["kind"] == "checkbox"}
    widget(at, "checkbox", "Autorizo a la clínica a publicar").check()
    at = click(at.run(), "I have read this form: sign and confirm")
    assert "Not signed: the signature pad is empty" in texts(at)
    assert not at.exception and services.list_consents(veil.records, veil.admin) == []


def test_after_signing_a_consent_no_longer_on_record_is_named_not_a_blank_page(veil):
    at = app(veil.staff)
    at.session_state["nc_stage"], at.session_state["nc_done"] = "done", "0123456789abcdef0123456789abcdef"
    at = at.switch_page(PAGE).run()
    assert "Consent 01234567 is not on record any more" in texts(at) and not at.exception
