"""People and what each role may do. Checked in the service layer, so the CLI and the UI obey the same rules.

staff      upload media, register consents, process and review outputs, request releases
marketing  all of staff, plus confirm consent scope, approve releases, export packages, record takedowns,
           look a file up (to find and check a post to take down)
auditor    read-only: consents (every view audited), releases, audit log and its verification, look-up
admin      everything, and manage users

Every role sees the small pictures of de-identified outputs (what was or will be published); patients' names
beside them are for staff, marketing and admin (the auditor opens a consent to see its patient, audited).
"""
from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from records.audit import Actor
from records.models import ROLES, User, user_by_name

PERMISSIONS: dict[str, frozenset[str]] = {
    "register_consent": frozenset({"staff", "marketing", "admin"}),
    "confirm_scope": frozenset({"marketing", "admin"}),
    "upload_media": frozenset({"staff", "marketing", "admin"}),
    "link_consent": frozenset({"staff", "marketing", "admin"}),
    "process": frozenset({"staff", "marketing", "admin"}),
    "review": frozenset({"staff", "marketing", "admin"}),
    "request_release": frozenset({"staff", "marketing", "admin"}),
    "approve_release": frozenset({"marketing", "admin"}),
    "record_post": frozenset({"marketing", "admin"}),
    "revoke_consent": frozenset({"staff", "marketing", "admin"}),
    "complete_takedown": frozenset({"marketing", "admin"}),
    "export_package": frozenset({"marketing", "admin"}),
    "download_output": frozenset({"staff", "marketing", "admin"}),
    "view_original": frozenset({"staff", "marketing", "admin"}),
    "view_consent_pdf": frozenset({"staff", "marketing", "auditor", "admin"}),
    "view_records": frozenset(ROLES),
    "see_outputs": frozenset(ROLES),
    "see_patient_names": frozenset({"staff", "marketing", "admin"}),
    "look_up_files": frozenset({"marketing", "auditor", "admin"}),
    "verify_audit": frozenset({"auditor", "admin"}),
    "read_audit": frozenset({"auditor", "admin"}),
    "manage_users": frozenset({"admin"}),
    "run_housekeeping": frozenset({"admin"}),
}

_hasher = PasswordHasher()
_USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")
MIN_PASSWORD = 10


class PermissionDenied(PermissionError):
    """The acting user's role may not do this."""


class AuthenticationFailed(PermissionError):
    """Wrong user name or password, or a disabled account (never says which)."""


class UserError(ValueError):
    """A user cannot be created as asked."""


def require(actor: Actor, action: str) -> None:
    allowed = PERMISSIONS[action]
    if actor.role not in allowed:
        raise PermissionDenied(f"{actor.username} ({actor.role}) may not {action.replace('_', ' ')}; "
                               f"allowed roles: {', '.join(sorted(allowed))}")


def actor_of(user: User) -> Actor:
    return Actor(user.id, user.username, user.role)


def create_user(session: Session, username: str, password: str, role: str) -> User:
    username = username.strip().lower()
    if not _USERNAME.fullmatch(username):
        raise UserError("a user name is 2-64 characters: lower-case letters, digits, '.', '_' or '-'")
    check_role(role)
    if user_by_name(session, username) is not None:
        raise UserError(f"user {username!r} already exists")
    user = User(username=username, role=role, active=True)
    set_password(user, password)
    session.add(user)
    session.flush()
    return user


def check_role(role: str) -> None:
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")


def set_password(user: User, password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"a password needs at least {MIN_PASSWORD} characters")
    user.password_hash = _hasher.hash(password)


def check_password(session: Session, username: str, password: str) -> User:
    """The active user with that password; upgrades the stored hash when argon2's parameters moved on."""
    user = user_by_name(session, username.strip().lower())
    if user is None:
        _hasher.hash(password)   # spend the same time as a real check, so timing does not reveal names
        raise AuthenticationFailed("wrong user name or password")
    try:
        _hasher.verify(user.password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        raise AuthenticationFailed("wrong user name or password") from None
    if not user.active:
        raise AuthenticationFailed("wrong user name or password")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def count_users(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(User))
