"""Sign-in sessions that survive a reload of the page: a signed, expiring cookie names a session the server
keeps open.

The cookie reads `v1.<session id>.<user id>.<expiry, unix seconds>.<tag>`; the tag is an HMAC made with the
installation's MAC key under a purpose of its own (records.crypto), so it can be neither forged nor carried
to another installation. It names a session, and is worth nothing on its own: that session must still be
open in the server's SessionBook. Signing out or the idle timeout closes it, and so does a restart of the
server (the book lives in memory, as Streamlit's own sessions do), so a copied cookie is void from then on.
The account must still be enabled, and its role is read again from the user table.
"""
from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass

from records.audit import Actor
from records.crypto import Keys
from records.models import User
from records.users import actor_of

COOKIE_NAME = "veil_session"
LIFETIME_SECONDS = 12 * 3600      # a working day: after that the person signs in again, however active
_VERSION = "v1"
_PURPOSE = b"veil/session-cookie\0"


@dataclass(frozen=True)
class Claim:
    session_id: str
    user_id: str
    expires: int


def issue(keys: Keys, session_id: str, user_id: str, expires: int) -> str:
    """The cookie's value for this session, valid until `expires` (unix seconds)."""
    body = f"{_VERSION}.{session_id}.{user_id}.{int(expires)}"
    return f"{body}.{keys.seal(_PURPOSE + body.encode('ascii'))}"


def read(keys: Keys, token: str | None, now: float) -> Claim | None:
    """What a cookie claims, or None when it is malformed, forged, from another installation, or expired."""
    parts = (token or "").strip().split(".")
    if len(parts) != 5 or parts[0] != _VERSION or not all(p.isalnum() for p in parts[1:]):
        return None
    body, tag = ".".join(parts[:4]), parts[4]
    if not keys.seal_holds(tag, _PURPOSE + body.encode("ascii")):
        return None
    try:
        expires = int(parts[3])
    except ValueError:
        return None
    return Claim(parts[1], parts[2], expires) if now < expires else None


@dataclass
class _Open:
    user_id: str
    last_seen: float


class SessionBook:
    """The sessions open on this server: who, and when they last did something. Thread-safe."""

    def __init__(self) -> None:
        self._open: dict[str, _Open] = {}
        self._lock = threading.Lock()

    def open(self, user_id: str, now: float) -> str:
        with self._lock:
            # forget sessions nobody closed (a browser shut without signing out) once no cookie can name them
            for sid in [s for s, o in self._open.items() if now - o.last_seen > LIFETIME_SECONDS]:
                del self._open[sid]
            session_id = secrets.token_hex(16)
            self._open[session_id] = _Open(user_id, now)
            return session_id

    def last_seen(self, session_id: str) -> float | None:
        """When the session last did something, or None once it is closed."""
        with self._lock:
            held = self._open.get(session_id)
            return held.last_seen if held else None

    def touch(self, session_id: str, now: float) -> None:
        with self._lock:
            if held := self._open.get(session_id):
                held.last_seen = max(held.last_seen, now)

    def close(self, session_id: str | None) -> None:
        with self._lock:
            self._open.pop(session_id or "", None)

    def holds(self, session_id: str, user_id: str, now: float, idle_seconds: float) -> bool:
        """The session is open, for this user, and was active within `idle_seconds` (else it is closed now)."""
        with self._lock:
            held = self._open.get(session_id)
            if held is None or held.user_id != user_id:
                return False
            if now - held.last_seen > idle_seconds:
                del self._open[session_id]
                return False
            return True


def resume(db, keys: Keys, book: SessionBook, token: str | None, now: float,
           idle_seconds: float) -> tuple[str, Actor] | None:
    """The session a cookie names and its person (role as the user table says now), or None when the cookie
    is void: forged, expired, signed out, idle too long, or the account was disabled meanwhile."""
    claim = read(keys, token, now)
    if claim is None or not book.holds(claim.session_id, claim.user_id, now, idle_seconds):
        return None
    with db.reading() as session:
        user = session.get(User, claim.user_id)
        actor = actor_of(user) if user is not None and user.active else None
    if actor is None:
        book.close(claim.session_id)
        return None
    return claim.session_id, actor
