"""Sign-in: nothing but the login is visible to an anonymous visitor; the first start asks for the first
administrator; local accounts sign in; an idle session is signed out."""
from __future__ import annotations

import time

import pytest
from streamlit.testing.v1 import AppTest

from records import services
from ui_fixtures import PASSWORDS, app, click, has_button, page_alone, released, texts, widget
from ui_fixtures import people_template, veil, empty_veil  # noqa: F401  (pytest fixtures)


def test_first_start_asks_for_the_first_administrator_and_signs_them_in(empty_veil):
    at = app()
    assert "Create the first administrator" in texts(at)
    assert not has_button(at, "Sign out")
    widget(at, "text_input", "User name").input("boss")
    widget(at, "text_input", "Password").input("first-admin-pass")
    widget(at, "text_input", "Repeat").input("first-admin-pass")
    at = click(at, "Create administrator")
    assert at.session_state["actor"].role == "admin"
    assert "Welcome, boss" in texts(at)
    assert [u["username"] for u in services.list_users(empty_veil, at.session_state["actor"])] == ["boss"]


def test_first_administrator_needs_matching_passwords_of_ten_characters(empty_veil):
    at = app()
    widget(at, "text_input", "User name").input("boss")
    widget(at, "text_input", "Password").input("short")
    widget(at, "text_input", "Repeat").input("different")
    at = click(at, "Create administrator")
    assert "The two passwords differ." in texts(at)
    widget(at, "text_input", "Repeat").input("short")
    at = click(at, "Create administrator")
    assert "a password needs at least 10 characters" in texts(at)
    assert "actor" not in at.session_state


def test_once_an_administrator_exists_the_first_start_form_is_gone(veil):
    at = app()
    assert "Create the first administrator" not in texts(at)
    assert has_button(at, "Sign in")


def test_an_anonymous_visitor_has_only_the_sign_in_page(veil):
    at = app()
    for page in ("app_pages/admin.py", "app_pages/consents.py", "app_pages/audit.py"):
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            at.switch_page(page)


def test_a_page_run_without_signing_in_shows_nothing_but_a_request_to_sign_in(veil):
    released(veil)
    for page in ("app_pages/admin.py", "app_pages/consents.py", "app_pages/audit.py", "app_pages/release.py"):
        at = page_alone(None, page)
        assert texts(at) == "Sign in to use Veil."
        assert not at.dataframe and not at.tabs and not at.button


def test_wrong_password_is_refused_without_saying_which_part_was_wrong(veil):
    at = app()
    widget(at, "text_input", "User name").input("sam")
    widget(at, "text_input", "Password").input("not-the-password")
    at = click(at, "Sign in")
    assert "Signing in: wrong user name or password" in texts(at)
    assert "actor" not in at.session_state
    assert not at.exception


def test_a_local_account_signs_in_and_out(veil):
    at = app()
    widget(at, "text_input", "User name").input("sam")
    widget(at, "text_input", "Password").input(PASSWORDS["sam"])
    at = click(at, "Sign in")
    assert at.session_state["actor"].username == "sam"
    assert "Welcome, sam" in texts(at)
    at = click(at, "Sign out")
    assert "actor" not in at.session_state
    assert has_button(at, "Sign in")


def test_an_idle_session_is_signed_out_after_the_timeout(veil, monkeypatch):
    monkeypatch.setenv("VEIL_SESSION_TIMEOUT_MINUTES", "15")
    at = app(veil.staff)
    assert "Welcome, sam" in texts(at)
    at.session_state["last_seen"] = time.time() - 16 * 60
    at.run()
    assert "actor" not in at.session_state
    assert "signed out after 15 minutes without activity" in texts(at)
    assert "Welcome, sam" not in texts(at)


def test_single_sign_on_is_offered_only_when_configured(veil):
    at = app()
    assert not has_button(at, "Sign in with your organisation account")


def _organisation_sign_in():
    """A page that signs in whoever the identity provider vouches for (st.user), as the login page does."""
    import streamlit as st

    from ui.session import oidc_actor, outcome, records

    actor, refused = outcome("Signing in with your organisation account", oidc_actor, records())
    st.markdown(refused or f"signed in as {actor.username} ({actor.role})")


def _vouched_for(email: str, verified: bool = True) -> AppTest:
    at = AppTest.from_function(_organisation_sign_in, default_timeout=60)
    at.user = {"is_logged_in": True, "email": email, "email_verified": verified, "iss": "https://idp.clinic.example"}
    return at.run()


def test_an_organisation_account_signs_in_as_the_veil_account_of_its_name_and_is_audited(veil):
    assert "signed in as mia (marketing)" in texts(_vouched_for("Mia@clinic.example"))
    (event,) = services.audit_events(veil.records, veil.admin, action="user.login")
    assert event["actor"] == "mia" and event["details"]["via"] == "https://idp.clinic.example"


def test_an_organisation_account_without_a_veil_account_or_a_verified_address_is_refused_with_the_reason(veil):
    assert "no active Veil account named 'nobody'" in texts(_vouched_for("nobody@clinic.example"))
    assert "no verified e-mail address; sign-in refused" in texts(_vouched_for("mia@clinic.example", verified=False))
    services.set_user_active(veil.records, veil.admin, "mia", False)
    assert "no active Veil account named 'mia'" in texts(_vouched_for("mia@clinic.example"))
