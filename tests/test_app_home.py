"""Each user's start page shows consents ending within 30 days and open takedown tasks."""
from __future__ import annotations

import pytest

from records import services
from ui_fixtures import app, covered_consent_pdf, days_from_today, register, released, texts
from ui_fixtures import people_template, veil  # noqa: F401  (pytest fixtures)


@pytest.mark.parametrize("role", ["staff", "marketing", "auditor", "admin"])
def test_the_start_page_lists_consents_ending_soon_and_open_takedowns(veil, role):
    consent, output, release = released(veil)
    services.revoke_consent(veil.records, veil.marketing, consent.id, "withdrawn")
    soon = register(veil, covered_consent_pdf(f"This authorization expires on {days_from_today(12)}."))
    register(veil, covered_consent_pdf(f"This authorization expires on {days_from_today(90)}."))
    shown = texts(app(veil.actor(role)))
    assert f"Consent {soon.id[:8]} ends on {soon.effective_expiry} (12 day(s) left)." in shown
    assert shown.count(" ends on ") == 1
    assert f"Take down the instagram post of output {output.id[:8]}: post address not recorded" in shown


def test_a_quiet_start_page_says_so(veil):
    shown = texts(app(veil.staff))
    assert "No consent ends within the next 30 days." in shown and "No takedown task is open." in shown
