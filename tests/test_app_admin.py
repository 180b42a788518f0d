"""Admin: users and roles, the de-id profiles in use, retention policies."""
from __future__ import annotations

import pytest

from records import services
from records.users import AuthenticationFailed
from deid.profile import load_profile
from ui_fixtures import PASSWORDS, app, click, texts, widget
from ui_fixtures import people_template, veil  # noqa: F401  (pytest fixtures)


def test_the_administrator_adds_a_user_with_a_role(veil):
    at = app(veil.admin, "app_pages/admin.py")
    assert set(at.dataframe[0].value["username"]) == {"admin", "sam", "mia", "otto"}
    widget(at, "text_input", "User name").input("nora")
    widget(at, "selectbox", "Role").set_value("auditor")
    widget(at, "text_input", "Initial password").input("nora-password-1")
    at = click(at, "Add user")
    assert "User nora added as auditor." in texts(at)
    assert services.authenticate(veil.records, "nora", "nora-password-1").role == "auditor"


def test_a_bad_user_is_refused_with_the_reason(veil):
    at = app(veil.admin, "app_pages/admin.py")
    widget(at, "text_input", "User name").input("sam")
    widget(at, "text_input", "Initial password").input("another-password")
    at = click(at, "Add user")
    assert "Adding sam: user 'sam' already exists" in texts(at)
    assert not at.exception


def test_a_disabled_account_cannot_sign_in(veil):
    at = app(veil.admin, "app_pages/admin.py")
    widget(at, "selectbox", "User").set_value("sam")
    at = click(at.run(), "Disable sam")
    assert "sam disabled." in texts(at)
    with pytest.raises(AuthenticationFailed):
        services.authenticate(veil.records, "sam", PASSWORDS["sam"])
    at = click(at, "Enable sam")
    assert services.authenticate(veil.records, "sam", PASSWORDS["sam"]).username == "sam"


def test_profiles_and_retention_are_shown_and_retention_can_be_applied(veil):
    at = app(veil.admin, "app_pages/admin.py")
    shown = texts(at)
    assert f"SHA-256 `{load_profile('default').sha256}`" in shown
    assert f"SHA-256 `{load_profile('identifiable').sha256}`" in shown
    assert "Originals never released are deleted after **30 days**" in shown
    assert "Consent PDFs are kept **6 years**" in shown
    at = click(at, "Apply retention now")
    assert [s.value for s in at.success][0].startswith("Housekeeping done:")


def test_the_administrator_changes_a_role_and_it_applies_at_the_next_sign_in(veil):
    at = app(veil.admin, "app_pages/admin.py")
    widget(at, "selectbox", "User").set_value("otto")
    at = at.run()
    assert widget(at, "button", "Set role").disabled                  # unchanged role: nothing to set
    widget(at, "selectbox", "New role").set_value("marketing")
    at = click(at.run(), "Set role")
    assert "otto is now marketing" in texts(at)
    assert services.authenticate(veil.records, "otto", PASSWORDS["otto"]).role == "marketing"


def test_the_administrator_resets_a_forgotten_password_and_only_the_new_one_works(veil):
    at = app(veil.admin, "app_pages/admin.py")
    widget(at, "selectbox", "User").set_value("mia")
    at = at.run()
    widget(at, "text_input", "New password for mia").input("short")
    at = click(at, "Reset the password")
    assert "Resetting the password: a password needs at least 10 characters" in texts(at)
    widget(at, "text_input", "New password for mia").input("mia-new-password-2")
    at = click(at, "Reset the password")
    assert "mia's password was reset" in texts(at)
    assert services.authenticate(veil.records, "mia", "mia-new-password-2").username == "mia"
    with pytest.raises(AuthenticationFailed):
        services.authenticate(veil.records, "mia", PASSWORDS["mia"])
    assert "mia-new-password-2" not in str(services.audit_events(veil.records, veil.admin))
