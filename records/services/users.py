"""Signing in, and the administration of who may sign in with which role."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from records.audit import SYSTEM, Actor, events
from records.models import User, user_by_name
from records.services.core import (RecordNotFound, Records, WorkflowError, authorize, check_current, log_event,
                                   one_at_a_time)
from records.users import (AuthenticationFailed, actor_of, check_password, check_role, count_users, create_user,
                           require, set_password)

# Who acts when the first administrator is created: nobody has signed in yet, and this role may do nothing.
FIRST_START = Actor(None, "first-start", "first-start")


def authenticate(records: Records, username: str, password: str) -> Actor:
    """Local sign-in; audited either way (the name tried, never the password)."""
    with records.transaction() as session:
        try:
            user = check_password(session, username, password)
        except AuthenticationFailed:
            user = None
        actor = _record_sign_in(records, session, user, username)
    if actor is None:
        raise AuthenticationFailed("wrong user name or password")
    return actor


def authenticate_external(records: Records, username: str, issuer: str) -> Actor:
    """Organisation sign-in: the identity provider `issuer` has proved who the person is; the active Veil
    account of that user name says what they may do. Audited either way, naming the issuer."""
    issuer = (issuer or "").strip()
    if not issuer:
        raise AuthenticationFailed("the organisation sign-in did not name its identity provider; sign-in refused")
    name = username.strip().lower()
    with records.transaction() as session:
        user = user_by_name(session, name)
        actor = _record_sign_in(records, session, user if user is not None and user.active else None, name,
                                via=issuer[:200])
    if actor is None:
        raise AuthenticationFailed(f"the organisation account has no active Veil account named {name[:64]!r}; "
                                   "ask an administrator to add or enable it")
    return actor


def _record_sign_in(records: Records, session: Session, user: User | None, tried: str, **how) -> Actor | None:
    if user is None:
        log_event(records, session, SYSTEM, "user.login_failed", "user", None, username=tried.strip().lower()[:64],
                  **how)
        return None
    actor = actor_of(user)
    log_event(records, session, actor, "user.login", "user", user.id, **how)
    return actor


def add_first_admin(records: Records, username: str, password: str) -> Actor:
    """Create the first administrator, only while Veil has no user at all (the first start, before anyone
    can sign in). Two first starts at once cannot both succeed: the user list is locked, then counted."""
    with records.transaction() as session:
        one_at_a_time(session)
        if count_users(session) > 0:
            raise WorkflowError("Veil already has users, so no first administrator can be created; sign in, or "
                                "ask an administrator for an account")
        user = create_user(session, username, password, "admin")
        log_event(records, session, FIRST_START, "user.added", "user", user.id, username=user.username, role="admin",
                  first_admin=True)
        return actor_of(user)


def add_user(records: Records, actor: Actor, username: str, password: str, role: str) -> Actor:
    """Admins add users; on an installation with no users yet, the first user (an admin) may be created by
    whoever runs Veil (the CLI's `users add`). Safe to call twice: a user name is taken once (the second call
    is refused)."""
    with records.transaction() as session:
        one_at_a_time(session)
        if count_users(session) > 0:
            require(actor, "manage_users")
            if actor.id is not None:
                check_current(session, actor)
        elif role != "admin":
            raise WorkflowError("the first user must be an admin")
        user = create_user(session, username, password, role)
        log_event(records, session, actor, "user.added", "user", user.id, username=user.username, role=role)
        return actor_of(user)


def set_user_active(records: Records, actor: Actor, username: str, active: bool) -> None:
    authorize(records, actor, "manage_users")
    with records.transaction() as session:
        one_at_a_time(session)
        user = _user_named(session, username)
        if not active:
            _keep_an_admin(session, user)
        user.active = active
        log_event(records, session, actor, "user.enabled" if active else "user.disabled", "user", user.id)


def set_user_role(records: Records, actor: Actor, username: str, role: str) -> None:
    """Admins change a user's role; it takes effect at that user's next action."""
    authorize(records, actor, "manage_users")
    check_role(role)
    with records.transaction() as session:
        one_at_a_time(session)
        user = _user_named(session, username)
        if user.role == role:
            return
        if role != "admin":
            _keep_an_admin(session, user)
        old, user.role = user.role, role
        log_event(records, session, actor, "user.role_changed", "user", user.id, username=user.username, old=old,
                  new=role)


def reset_password(records: Records, actor: Actor, username: str, new_password: str) -> None:
    """Admins give a user who forgot theirs a new password (audited, never the password itself)."""
    authorize(records, actor, "manage_users")
    with records.transaction() as session:
        user = _user_named(session, username)
        set_password(user, new_password)
        log_event(records, session, actor, "user.password_reset", "user", user.id, username=user.username)


def list_users(records: Records, actor: Actor) -> list[dict]:
    authorize(records, actor, "manage_users")
    with records.db.reading() as session:
        return [{"username": u.username, "role": u.role, "active": u.active}
                for u in session.scalars(select(User).order_by(User.username))]


KEY_BACKUP_CONFIRMED = "keys.backup_confirmed"


def key_backup(records: Records, actor: Actor) -> dict | None:
    """When and by whom an administrator confirmed the key file is backed up; None until one has (the start
    page asks until then). The audit log is the record of it."""
    authorize(records, actor, "manage_users")
    with records.db.reading() as session:
        found = events(session, limit=1, action=KEY_BACKUP_CONFIRMED)
    return {"at": found[0]["at"], "by": found[0]["actor"]} if found else None


def confirm_key_backup(records: Records, actor: Actor) -> dict:
    """An administrator confirms the key file was copied to a safe place apart from the data (audited). Safe
    to call twice: once confirmed, the first confirmation stands and nothing is added."""
    authorize(records, actor, "manage_users")
    with records.transaction() as session:
        one_at_a_time(session)
        if found := events(session, limit=1, action=KEY_BACKUP_CONFIRMED):
            return {"at": found[0]["at"], "by": found[0]["actor"]}
        log_event(records, session, actor, KEY_BACKUP_CONFIRMED, None, None, key_file=records.settings.key_file.name)
    return key_backup(records, actor)


def _user_named(session: Session, username: str) -> User:
    user = user_by_name(session, username.strip().lower())
    if user is None:
        raise RecordNotFound(f"no user {username.strip().lower()!r}")
    return user


def _keep_an_admin(session: Session, user: User) -> None:
    """Refuse to disable or demote the last active administrator: nobody could manage users after that."""
    if user.role != "admin" or not user.active:
        return
    others = session.scalar(select(func.count()).select_from(User).where(
        User.role == "admin", User.active.is_(True), User.id != user.id))
    if not others:
        raise WorkflowError(f"{user.username} is the last active administrator; make another user an "
                            "administrator first")
