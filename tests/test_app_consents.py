"""Consents: status badges (active, expiring within 30 days, expired, revoked), the verdict with the quoted
evidence highlighted, the scope a person confirms (never wider than the document), revocation with a
reason turning releases into takedown tasks."""
from __future__ import annotations

from queue_fixtures import run_queued_jobs
from records import services
from ui_fixtures import (PATIENT, app, click, covered_consent_pdf, days_from_today, has_button, not_covered_consent_pdf,
                         register, released, texts, widget)
from ui_fixtures import people_template, veil  # noqa: F401  (pytest fixtures)


def _status_column(at) -> dict[str, str]:
    frame = at.dataframe[0].value
    return dict(zip(frame["consent"], frame["status"]))


def test_each_consent_carries_its_status_badge(veil):
    active = register(veil)
    soon = register(veil, covered_consent_pdf(f"This authorization expires on {days_from_today(10)}."))
    ended = register(veil, covered_consent_pdf(f"This authorization expires on {days_from_today(-3)}."))
    revoked = register(veil, covered_consent_pdf("A second form."))   # the same document twice is one consent
    services.revoke_consent(veil.records, veil.marketing, revoked.id, "withdrawn")
    at = app(veil.marketing, "app_pages/consents.py")
    assert _status_column(at) == {active.id[:8]: "Active", soon.id[:8]: "Expiring within 30 days",
                                  ended.id[:8]: "Expired", revoked.id[:8]: "Revoked"}
    widget(at, "selectbox", "Consent").set_value(soon.id)
    at.run()
    assert f"### Consent {soon.id[:8]} :orange-badge[Expiring within 30 days]" in texts(at)


def test_the_verdict_and_the_quoted_evidence_are_shown_with_the_key_words_highlighted(veil):
    register(veil)
    at = app(veil.auditor, "app_pages/consents.py")
    shown = texts(at)
    assert f"Patient: **{PATIENT[0]}**" in shown
    assert "Social media: **granted in writing**" in shown and "Platforms: Instagram, Facebook only" in shown
    assert "Signature: signed digitally; the signature is intact" in shown
    assert "No person has confirmed the scope yet." in shown
    assert ":orange-background[**authorize**]" in shown and ":orange-background[**Instagram**]" in shown
    assert at.download_button[0].label == "Open the consent PDF"
    assert "Confirm the scope" not in shown and "Revoke" not in shown      # an auditor only reads


def test_marketing_confirms_the_scope_from_the_evidence(veil):
    consent = register(veil)
    at = app(veil.marketing, "app_pages/consents.py")
    widget(at, "multiselect", "Platforms granted").set_value(["instagram"])
    at = click(at, "Confirm the scope")
    assert f"Scope of consent {consent.id[:8]} confirmed." in texts(at)
    (view,) = services.list_consents(veil.records, veil.admin)
    assert view.confirmed and view.confirmed_social_media is True
    assert view.confirmed_platforms == ["instagram"] and view.confirmed_identifiable == "deidentified_only"


def test_a_scope_wider_than_the_document_is_refused_with_the_reason(veil):
    register(veil, not_covered_consent_pdf())
    at = app(veil.marketing, "app_pages/consents.py")
    widget(at, "checkbox", "The quoted evidence grants use on social media").check()
    at = click(at, "Confirm the scope")
    assert "Confirming the scope: the document does not grant social-media use" in texts(at)
    assert not at.exception
    assert not services.list_consents(veil.records, veil.admin)[0].confirmed


def test_staff_may_not_confirm_a_scope(veil):
    register(veil)
    at = app(veil.staff, "app_pages/consents.py")
    assert "Confirm the scope" not in texts(at) and not has_button(at, "Confirm the scope")


def test_revoking_needs_a_reason_and_turns_releases_into_takedown_tasks(veil):
    consent, output, release = released(veil)
    at = app(veil.marketing, "app_pages/consents.py")
    at = click(at, "Revoke this consent")
    assert "Give the reason for the revocation." in texts(at)
    assert services.list_consents(veil.records, veil.admin)[0].status == "active"
    widget(at, "text_input", "Reason").input("The patient withdrew consent by phone")
    at = click(at, "Revoke this consent")
    assert f"Consent {consent.id[:8]} revoked; 1 release(s) became takedown tasks." in texts(at)
    assert ":red-badge[Revoked]" in texts(at)
    assert [t.id for t in services.takedown_tasks(veil.records, veil.admin)] == [release.id]
    assert not has_button(at, "Revoke this consent")


def test_a_consent_pdf_queued_here_is_read_by_a_worker_and_its_state_shown(veil):
    at = app(veil.staff, "app_pages/consents.py")
    assert "No consent is registered yet." in texts(at)
    widget(at, "file_uploader", "Signed consent PDF").set_value(("ada_consent.pdf", covered_consent_pdf(),
                                                                 "application/pdf"))
    widget(at, "text_input", "Patient's name (as on the consent)").input(PATIENT[0])
    widget(at, "text_input", "Patient's reference (record number)").input(PATIENT[1])
    at = click(at, "Queue it to be read")
    assert "ada_consent.pdf: queued to be read" in texts(at)
    assert [bar.proto.text for bar in at.get("progress")] == ["ada\\_consent.pdf: waiting for a worker"]
    assert services.list_consents(veil.records, veil.staff) == []        # the page did not read it

    assert run_queued_jobs(veil.records) == ["done"]                     # as a worker does
    at.run()
    (consent,) = services.list_consents(veil.records, veil.staff)
    assert f"ada\\_consent.pdf: registered as consent {consent.id[:8]}" in texts(at)
    assert _status_column(at) == {consent.id[:8]: "Active"}


def test_a_consent_pdf_the_worker_refuses_shows_why(veil):
    register(veil)
    at = app(veil.staff, "app_pages/consents.py")
    widget(at, "file_uploader", "Signed consent PDF").set_value(("other.pdf", covered_consent_pdf(),
                                                                 "application/pdf"))
    widget(at, "text_input", "Patient's name (as on the consent)").input("Someone Else")
    widget(at, "text_input", "Patient's reference (record number)").input("MRN-777")
    at = click(at, "Queue it to be read")
    assert run_queued_jobs(veil.records) == ["failed"]
    at.run()
    assert "other.pdf: the consent PDF: this document is registered already" in texts(at)
    assert has_button(at, "Retry")
