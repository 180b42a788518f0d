"""Users and roles (staff, marketing, auditor, admin) with argon2 password hashes; role checks live in the
service layer, so the CLI and the UI obey the same rules. Run on SQLite and PostgreSQL."""
from __future__ import annotations

import os
import subprocess
import sys
import threading

import pytest
from sqlalchemy import select

from conftest import ROOT
from records import services as sv
from records.audit import SYSTEM
from records.models import User
from records.users import AuthenticationFailed, PermissionDenied, UserError
from records_fixtures import (INSTALLED_HASHER, PASSWORD, backend, consent_pdf, people, pg_server,  # noqa: F401
                              plain_photo, quick_password_hashing, records)


def test_passwords_are_stored_as_argon2id_hashes_with_the_installed_parameters(records, monkeypatch):
    monkeypatch.setattr("records.users._hasher", INSTALLED_HASHER)
    sv.add_user(records, SYSTEM, "first.admin", PASSWORD, "admin")
    with records.transaction() as session:
        stored = session.execute(select(User.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$") and PASSWORD not in stored
    assert sv.authenticate(records, "first.admin", PASSWORD).role == "admin"


def test_a_wrong_password_an_unknown_name_and_a_disabled_account_all_fail_alike(records, people):
    for name, password in (("sam.staff", "wrong password here"), ("nobody", PASSWORD)):
        with pytest.raises(AuthenticationFailed, match="wrong user name or password"):
            sv.authenticate(records, name, password)
    sv.set_user_active(records, people.admin, "sam.staff", False)
    with pytest.raises(AuthenticationFailed, match="wrong user name or password"):
        sv.authenticate(records, "sam.staff", PASSWORD)


ISSUER = "https://login.example-clinic.test"


def test_organisation_sign_in_opens_the_active_account_of_that_name_and_is_audited_with_its_issuer(records, people):
    actor = sv.authenticate_external(records, " Mia.Marketing ", ISSUER)
    assert (actor.username, actor.role) == ("mia.marketing", "marketing")
    sv.set_user_active(records, people.admin, "sam.staff", False)
    for name in ("sam.staff", "nobody"):
        with pytest.raises(AuthenticationFailed, match=f"no active Veil account named '{name}'"):
            sv.authenticate_external(records, name, ISSUER)
    with pytest.raises(AuthenticationFailed, match="did not name its identity provider"):
        sv.authenticate_external(records, "mia.marketing", " ")
    [signed_in] = sv.audit_events(records, people.auditor, action="user.login")
    assert signed_in["actor"] == "mia.marketing" and signed_in["details"] == {"via": ISSUER}
    failed = sv.audit_events(records, people.auditor, action="user.login_failed", newest_first=False)
    assert [e["details"] for e in failed] == [{"username": "sam.staff", "via": ISSUER},
                                              {"username": "nobody", "via": ISSUER}]


def test_user_names_are_case_insensitive_on_sign_in(records, people):
    assert sv.authenticate(records, "  Sam.Staff ", PASSWORD).username == "sam.staff"


def test_the_first_user_must_be_an_admin_and_later_users_need_an_admin(records):
    with pytest.raises(sv.WorkflowError, match="first user must be an admin"):
        sv.add_user(records, SYSTEM, "eager.staff", PASSWORD, "staff")
    admin = sv.add_user(records, SYSTEM, "boss", PASSWORD, "admin")
    staff = sv.add_user(records, admin, "sam", PASSWORD, "staff")
    with pytest.raises(PermissionDenied, match="may not manage users"):
        sv.add_user(records, staff, "sneaky", PASSWORD, "admin")


def test_two_first_starts_at_once_create_exactly_one_administrator(records):
    starts = 4
    together = threading.Barrier(starts)
    made, refused = [], []

    def first_start(n: int) -> None:
        together.wait()
        try:
            made.append(sv.add_first_admin(records, f"admin{n}", PASSWORD))
        except sv.WorkflowError as exc:
            refused.append(str(exc))

    threads = [threading.Thread(target=first_start, args=(n,)) for n in range(starts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(made) == 1 and made[0].role == "admin"
    assert len(refused) == starts - 1 and all("already has users" in m for m in refused)
    assert [u["username"] for u in sv.list_users(records, SYSTEM)] == [made[0].username]
    [added] = sv.audit_events(records, SYSTEM, action="user.added")
    assert added["actor"] == "first-start" and added["details"]["first_admin"] is True
    assert sv.authenticate(records, made[0].username, PASSWORD) == made[0]


def test_admins_change_roles_and_reset_passwords_and_others_may_not(records, people):
    sv.set_user_role(records, people.admin, "Sam.Staff", "marketing")
    sv.reset_password(records, people.admin, "sam.staff", "a brand new passphrase")
    assert sv.authenticate(records, "sam.staff", "a brand new passphrase").role == "marketing"
    with pytest.raises(PermissionDenied, match="sign in again"):   # the role held when signing in is gone
        sv.upload_media(records, people.staff, b"\xff\xd8\xff", "x.jpg")
    with pytest.raises(UserError, match="at least 10"):
        sv.reset_password(records, people.admin, "sam.staff", "short")
    with pytest.raises(UserError, match="unknown role"):
        sv.set_user_role(records, people.admin, "sam.staff", "doctor")
    with pytest.raises(sv.RecordNotFound, match="no user 'nobody'"):
        sv.set_user_role(records, people.admin, "nobody", "staff")
    for change in (lambda: sv.set_user_role(records, people.marketing, "sol.staff", "admin"),
                   lambda: sv.reset_password(records, people.marketing, "sol.staff", "taken over now!")):
        with pytest.raises(PermissionDenied, match="may not manage users"):
            change()
    events = {e["action"]: e for e in sv.audit_events(records, people.auditor)}
    assert events["user.role_changed"]["details"] == {"username": "sam.staff", "old": "staff", "new": "marketing"}
    assert events["user.password_reset"]["details"] == {"username": "sam.staff"}
    assert "brand new" not in str(events)


def test_the_last_active_administrator_can_be_neither_demoted_nor_disabled(records, people):
    for change in (lambda: sv.set_user_role(records, people.admin, "admin", "staff"),
                   lambda: sv.set_user_active(records, people.admin, "admin", False)):
        with pytest.raises(sv.WorkflowError, match="last active administrator"):
            change()
    sv.set_user_role(records, people.admin, "ada.auditor", "admin")
    sv.set_user_role(records, people.admin, "admin", "staff")   # another admin remains
    assert {u["username"]: u["role"] for u in sv.list_users(records, SYSTEM)}["admin"] == "staff"


def test_bad_user_names_short_passwords_unknown_roles_and_duplicates_are_refused(records, people):
    for name, password, role, words in (("Bad Name!", PASSWORD, "staff", "user name"),
                                        ("ok.name", "short", "staff", "at least"),
                                        ("ok.name", PASSWORD, "doctor", "unknown role"),
                                        ("sam.staff", PASSWORD, "staff", "already exists")):
        with pytest.raises(UserError, match=words):
            sv.add_user(records, people.admin, name, password, role)


def test_a_disabled_user_or_a_changed_role_stops_working_at_the_next_action(records, people):
    sv.set_user_active(records, people.admin, "sam.staff", False)
    with pytest.raises(PermissionDenied, match="sign in again"):
        sv.upload_media(records, people.staff, b"\xff\xd8\xff", "x.jpg")


def test_role_checks_hold_in_the_service_layer(records, people, tmp_path):
    consent = sv.register_consent(records, people.staff, consent_pdf(), "A Patient", "MRN-1")
    photo = plain_photo(tmp_path / "p.jpg")
    forbidden = [
        (people.auditor, lambda a: sv.upload_media(records, a, photo, "p.jpg"), "may not upload media"),
        (people.auditor, lambda a: sv.register_consent(records, a, consent_pdf(), "A", "B"), "may not register consent"),
        (people.auditor, lambda a: sv.revoke_consent(records, a, consent.id), "may not revoke consent"),
        (people.staff, lambda a: sv.export_package(records, a, [], tmp_path / "x"), "may not export package"),
        (people.staff, lambda a: sv.verify_audit(records, a), "may not verify audit"),
        (people.staff, lambda a: sv.find_file(records, a, photo), "may not look up files"),
        (people.marketing, lambda a: sv.list_users(records, a), "may not manage users"),
        (people.marketing, lambda a: sv.housekeeping(records, a), "may not run housekeeping"),
        (people.staff, lambda a: sv.complete_takedown(records, a, "x"), "may not complete takedown"),
    ]
    for actor, action, words in forbidden:
        with pytest.raises(PermissionDenied, match=words):
            action(actor)
    # and what each role may do, it can
    assert sv.view_consent_pdf(records, people.auditor, consent.id).startswith(b"%PDF")
    assert sv.verify_audit(records, people.auditor).ok
    assert [u["username"] for u in sv.list_users(records, people.admin)] == [
        "ada.auditor", "admin", "mia.marketing", "sam.staff", "sol.staff"]


def _cli(records, *args, stdin: str = ""):
    env = {**os.environ, "VEIL_DATA_DIR": str(records.settings.data_dir), "PYTHONPATH": str(ROOT),
           "VEIL_KEY_FILE": str(records.settings.key_file), "VEIL_DATABASE_URL": records.settings.database_url}
    return subprocess.run([sys.executable, "-m", "records", *args], input=stdin, capture_output=True, text=True,
                          env=env, cwd=records.settings.data_dir.parent)


def test_cli_users_add_creates_the_first_admin_then_others_and_lists_them(records):
    first = _cli(records, "users", "add", "clinic.admin", "--role", "admin", "--password-stdin", stdin=PASSWORD + "\n")
    assert first.returncode == 0, first.stderr
    assert "added clinic.admin (admin)" in first.stdout
    second = _cli(records, "users", "add", "mia", "--role", "marketing", "--password-stdin", stdin=PASSWORD + "\n")
    assert second.returncode == 0, second.stderr
    again = _cli(records, "users", "add", "mia", "--role", "staff", "--password-stdin", stdin=PASSWORD + "\n")
    assert again.returncode == 1 and "already exists" in again.stderr
    listing = _cli(records, "users", "list")
    assert listing.stdout.split("\n")[:2] == ["clinic.admin\tadmin\tactive", "mia\tmarketing\tactive"]
    assert sv.authenticate(records, "mia", PASSWORD).role == "marketing"
    added = [e for e in sv.audit_events(records, sv.authenticate(records, "clinic.admin", PASSWORD),
                                        action="user.added")]
    assert {e["actor"] for e in added} == {f"cli:{__import__('getpass').getuser()}"}
