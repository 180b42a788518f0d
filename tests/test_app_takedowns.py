"""Takedown tasks: a revoked consent's releases appear as not done until marketing marks each one done."""
from __future__ import annotations

from records import services
from ui_fixtures import app, click, has_button, released, texts
from ui_fixtures import people_template, veil  # noqa: F401  (pytest fixtures)


def test_a_revocation_opens_a_task_that_marketing_marks_done(veil):
    consent, output, release = released(veil)
    services.record_post(veil.records, veil.marketing, release.id, "https://www.instagram.com/p/xyz/")
    services.revoke_consent(veil.records, veil.staff, consent.id, "withdrawn")
    at = app(veil.marketing, "app_pages/takedowns.py")
    assert "1 not done, 0 done." in texts(at)
    assert ":red-badge[Not done] **instagram**" in texts(at)
    assert "Post: https://www.instagram.com/p/xyz/" in texts(at)
    at = click(at, "Mark as taken down")
    assert f"Takedown of release {release.id[:8]} recorded as done." in texts(at)
    assert "0 not done, 1 done." in texts(at) and ":green-badge[Done]" in texts(at)
    assert services.takedown_tasks(veil.records, veil.admin) == []


def test_staff_and_auditors_see_the_tasks_but_cannot_mark_them_done(veil):
    consent, output, release = released(veil)
    services.revoke_consent(veil.records, veil.marketing, consent.id, "withdrawn")
    for role in ("staff", "auditor"):
        at = app(veil.actor(role), "app_pages/takedowns.py")
        assert "1 not done, 0 done." in texts(at)
        assert not has_button(at, "Mark as taken down")


def test_no_task_without_a_revocation(veil):
    released(veil)
    assert "No takedown task." in texts(app(veil.marketing, "app_pages/takedowns.py"))
