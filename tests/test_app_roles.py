"""Pages by role: each role's navigation lists exactly its pages; a page asked for by a role that may not
open it shows only a refusal; and an action a role may not take is refused by the service layer, the
page saying why, without a traceback."""
from __future__ import annotations

import pytest

from records import services
from records.audit import Actor
from ui.session import PAGE, pages_for
from ui_fixtures import app, click, page_alone, released, texts
from ui_fixtures import people_template, veil  # noqa: F401  (pytest fixtures)

OPEN = {
    "staff": {"home", "intake", "review", "consents", "new_consent", "release", "takedowns"},
    "marketing": {"home", "intake", "review", "consents", "new_consent", "release", "takedowns"},
    "auditor": {"home", "consents", "takedowns", "audit"},
    "admin": set(PAGE),
}
TITLES = {"home": "Welcome", "intake": "Intake", "review": "Review", "consents": "Consents",
          "new_consent": "New consent", "release": "Release", "takedowns": "Takedown tasks", "audit": "Audit",
          "admin": "Administration"}


@pytest.mark.parametrize("role", OPEN)
def test_each_role_is_offered_exactly_its_pages(role):
    assert {p.key for p in pages_for(Actor("x", "someone", role))} == OPEN[role]


@pytest.fixture
def seeded(veil):
    released(veil)
    return veil


@pytest.mark.parametrize("role", OPEN)
def test_every_page_of_a_role_opens_without_error(seeded, role):
    at = app(seeded.actor(role))
    for key in sorted(OPEN[role]):
        at.switch_page(PAGE[key].script).run()
        assert not at.exception, (role, key, [e.value for e in at.exception])
        assert TITLES[key] in at.title[0].value, (role, key)
        assert not [e.value for e in at.error if "unexpectedly" in e.value]


@pytest.mark.parametrize("role", ["staff", "marketing", "auditor"])
def test_a_page_the_role_may_not_open_is_not_in_its_navigation_and_refuses_when_asked_directly(seeded, role):
    at = app(seeded.actor(role))
    for key in sorted(set(PAGE) - OPEN[role]):
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            at.switch_page(PAGE[key].script)
        alone = page_alone(seeded.actor(role), PAGE[key].script)
        assert texts(alone) == f"The {PAGE[key].title} page is not open to the {role} role."
        assert not alone.dataframe and not alone.button and not alone.tabs


def test_a_session_claiming_a_role_its_account_does_not_have_is_refused_by_the_service(seeded):
    """A forged or stale session (staff claiming marketing) is offered marketing's page, but every service
    call on it is refused, and the page says why."""
    veil = seeded
    forged = Actor(veil.staff.id, veil.staff.username, "marketing")
    at = app(forged, "app_pages/release.py")
    assert "Listing outputs: sam's account was disabled or its role changed; sign in again" in texts(at)
    assert not at.exception and not at.dataframe
    assert [b.label for b in at.button] == ["Sign out"]


def test_an_action_by_an_account_disabled_mid_session_is_refused_and_nothing_changes(seeded):
    veil = seeded
    output = next(o for o in services.list_outputs(veil.records, veil.admin) if o.reviewed)
    pending = services.request_release(veil.records, veil.staff, output.id, "facebook")
    at = app(veil.marketing, "app_pages/release.py")
    services.set_user_active(veil.records, veil.admin, "mia", False)
    at = click(at, "Check the gate and approve")
    assert "mia's account was disabled or its role changed; sign in again" in texts(at)
    assert not at.exception and not at.dataframe
    assert {r.id: r.status for r in services.list_releases(veil.records, veil.admin)}[pending.id] == "requested"
