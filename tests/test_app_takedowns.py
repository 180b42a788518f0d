"""Takedown tasks: a revoked consent's releases appear as not done until marketing marks each one done."""
from __future__ import annotations

from records import services
from ui_fixtures import PATIENT, app, click, has_button, released, texts, widget
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


def test_a_task_shows_the_posted_picture_and_marketing_can_look_a_copy_up_right_there(veil):
    consent, output, release = released(veil)
    name, data = services.download_output(veil.records, veil.marketing, output.id)
    services.revoke_consent(veil.records, veil.marketing, consent.id, "withdrawn")
    at = app(veil.marketing, "app_pages/takedowns.py")
    assert f"post of {PATIENT[0]} ({PATIENT[1]}) · photo" in texts(at) and len(at.image) == 1
    assert "look for this picture on instagram; to check a copy you found there, drop it in the look-up below." \
        in texts(at)
    widget(at, "file_uploader", "File to look up").set_value(("saved-from-instagram.jpg", data, "image/jpeg"))
    shown = texts(at.run())
    assert f"**output** · the exact file · output {output.id[:8]}" in shown
    assert f"Release {release.id[:8]}: **released** for instagram" in shown

    staff = app(veil.staff, "app_pages/takedowns.py")
    assert "look for this picture on instagram." in texts(staff) and not staff.get("file_uploader")
