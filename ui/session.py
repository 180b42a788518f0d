"""Who is signed in, the open records, the page list by role, and the guard each page starts with.

Roles come from records.users.PERMISSIONS, the same table the service layer enforces: a page is listed
for a role that may do its main action, and every action is checked again by the service.

A sign-in opens a session on the server (records.sessions) and leaves a signed, expiring cookie naming it,
so a reload or a new tab finds the person still signed in; signing out or the idle timeout closes it.
"""
from __future__ import annotations

import importlib.util
import json
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, NoReturn

import streamlit as st
from sqlalchemy.exc import DBAPIError

from records import services
from records.audit import Actor
from records.config import ConfigError, Settings, load_settings
from records.lookup import LookupFailed
from records.sessions import COOKIE_NAME, LIFETIME_SECONDS, SessionBook, issue, resume
from records.users import PERMISSIONS, AuthenticationFailed, PermissionDenied, UserError, count_users

log = logging.getLogger("veil.ui")

ACTOR, LAST_SEEN, NOTICE = "actor", "last_seen", "signin_notice"
SESSION, COOKIE_TO_SET, COOKIE_TO_CLEAR = "session_id", "session_cookie", "session_cookie_void"


@dataclass(frozen=True)
class PageSpec:
    key: str
    script: str
    title: str
    icon: str
    needs: str          # the permission (records.users.PERMISSIONS) that opens the page


PAGES = (
    PageSpec("home", "app_pages/home.py", "Start", ":material/home:", "view_records"),
    PageSpec("intake", "app_pages/intake.py", "Intake", ":material/upload_file:", "upload_media"),
    PageSpec("review", "app_pages/review.py", "Review", ":material/visibility:", "review"),
    PageSpec("consents", "app_pages/consents.py", "Consents", ":material/contract:", "view_records"),
    PageSpec("new_consent", "app_pages/new_consent.py", "New consent", ":material/signature:", "register_consent"),
    PageSpec("release", "app_pages/release.py", "Release", ":material/publish:", "request_release"),
    PageSpec("takedowns", "app_pages/takedowns.py", "Takedowns", ":material/unpublished:", "view_records"),
    PageSpec("audit", "app_pages/audit.py", "Audit", ":material/fact_check:", "read_audit"),
    PageSpec("admin", "app_pages/admin.py", "Admin", ":material/admin_panel_settings:", "manage_users"),
)
PAGE = {p.key: p for p in PAGES}


def may(actor: Actor | None, action: str) -> bool:
    """Whether the role may do this (to show or hide a control; the service checks again)."""
    return actor is not None and actor.role in PERMISSIONS[action]


def pages_for(actor: Actor | None) -> list[PageSpec]:
    return [p for p in PAGES if may(actor, p.needs)]


def sign_in_pages() -> list:
    """What a visitor who has not signed in is served: the sign-in, at the address of every page, so that a
    deep link such as /review shows the sign-in (not "Page not found") and lands on that page afterwards
    (a page's identity in Streamlit is its address)."""
    return [st.Page("app_pages/login.py", title="Sign in", icon=":material/login:", url_path=p.key,
                    default=p.key == "home") for p in PAGES]


# -- the open records ------------------------------------------------------------------------------------
@st.cache_resource(show_spinner="Opening Veil's records…")
def _open(data_dir: str, database_url: str, key_file: str, _settings) -> services.Records:
    return services.open_records(_settings)


def settings() -> Settings:
    """This installation's settings, read again on every run; an unusable one stops the page, named."""
    try:
        return load_settings()
    except ConfigError as exc:
        st.error(f"Veil cannot start: {exc}")
        st.stop()


def records() -> services.Records:
    """The records of this installation (opened once per process and per data folder)."""
    current = settings()
    try:
        return _open(str(current.data_dir), current.database_url, str(current.key_file), current)
    except Exception as exc:  # a locked database, an unreadable key file: say so, never a traceback
        log.error("opening the records failed: %s", type(exc).__name__)
        # the database's own words, not SQLAlchemy's wrapping of them (the statement, its values, a web link)
        st.error(f"Veil cannot open its records: {exc.orig if isinstance(exc, DBAPIError) else exc}")
    st.stop()


# -- service calls ---------------------------------------------------------------------------------------
FAILED = object()
EXPECTED = (PermissionDenied, AuthenticationFailed, UserError, services.RecordNotFound, services.WorkflowError,
            LookupFailed, ValueError, OSError)


def outcome(what: str, fn: Callable[..., Any], *args, **kwargs) -> tuple[Any, str | None]:
    """Run one service call: (its value, None), or (FAILED, a message saying what failed and why)."""
    try:
        return fn(*args, **kwargs), None
    except EXPECTED as exc:
        return FAILED, f"{what}: {exc}"
    except Exception as exc:  # a defect: the server log gets the function and the type, never `what` nor the
        # message (`what` may name an uploaded file, the message may quote a patient's name)
        log.error("%s failed unexpectedly: %s", getattr(fn, "__qualname__", "a service call"),
                  type(exc).__name__)
        return FAILED, (f"{what} failed unexpectedly ({type(exc).__name__}). Nothing was changed; please tell "
                        "your administrator.")


def attempt(what: str, fn: Callable[..., Any], *args, **kwargs) -> Any:
    """Run one service call. A refusal or failure is shown as an error naming what failed and why, and
    FAILED is returned; the page carries on without a traceback."""
    value, message = outcome(what, fn, *args, **kwargs)
    if message:
        st.error(message)
    return value


# -- the signed-in person -----------------------------------------------------------------------------------
def timeout_seconds() -> float:
    return settings().session_timeout_minutes * 60


@st.cache_resource
def _book() -> SessionBook:
    """The sessions open on this server (one book per process, as Streamlit's own sessions are)."""
    return SessionBook()


def current_actor(touch: bool = True) -> Actor | None:
    """The signed-in person, or None; an idle session past the timeout is signed out first. A new browser
    session (a reload, a new tab) takes up the session its cookie names, while that one is open."""
    actor = st.session_state.get(ACTOR) or _resumed()
    if actor is None:
        return None
    now, session_id = time.time(), st.session_state.get(SESSION)
    # one session may be open in several tabs: its activity anywhere counts, and its end ends it everywhere
    last = _book().last_seen(session_id) if session_id else st.session_state.get(LAST_SEEN, now)
    if last is None:
        sign_out(notice="You were signed out.")
        return None
    if now - last > timeout_seconds():
        sign_out(notice=f"You were signed out after {timeout_seconds() / 60:.0f} minutes without activity.")
        return None
    if touch:
        st.session_state[LAST_SEEN] = now
        if session_id:
            _book().touch(session_id, now)
    return actor


def _resumed() -> Actor | None:
    """The person whose open session this browser's cookie names, taken up by this browser session."""
    token = st.context.cookies.get(COOKIE_NAME)
    if not token:
        return None
    opened = records()
    found = resume(opened.db, opened.keys, _book(), token, time.time(), timeout_seconds())
    if found is None:
        return None
    session_id, actor = found
    st.session_state[ACTOR], st.session_state[SESSION] = actor, session_id
    return actor


def sign_in(actor: Actor) -> None:
    st.session_state.clear()
    now = time.time()
    session_id = _book().open(actor.id, now)
    st.session_state[ACTOR], st.session_state[SESSION], st.session_state[LAST_SEEN] = actor, session_id, now
    st.session_state[COOKIE_TO_SET] = issue(records().keys, session_id, actor.id, int(now + LIFETIME_SECONDS))


def sign_out(notice: str | None = None) -> None:
    """Close the session on the server (its cookie is void from now on, in every tab) and forget everything
    this browser session held (cached patient names and previews included)."""
    _book().close(st.session_state.get(SESSION))
    st.session_state.clear()
    st.session_state[COOKIE_TO_CLEAR] = True
    if notice:
        st.session_state[NOTICE] = notice


def write_cookie() -> None:
    """Hand the browser the cookie of a session just opened, or drop the one of a session just closed. Only
    a script in the page can set a cookie in Streamlit; never a token in the address."""
    if token := st.session_state.pop(COOKIE_TO_SET, None):
        _cookie_script(token, LIFETIME_SECONDS)
    elif st.session_state.pop(COOKIE_TO_CLEAR, False) and st.context.cookies.get(COOKIE_NAME):
        _cookie_script("", 0)


def _cookie_script(value: str, max_age: int) -> None:
    cookie = json.dumps(f"{COOKIE_NAME}={value}; Max-Age={max_age}; Path=/; SameSite=Strict")
    st.html(f"<script>document.cookie = {cookie} + (location.protocol === 'https:' ? '; Secure' : '');</script>",
            width="content", unsafe_allow_javascript=True)


def page_actor(page_key: str) -> Actor:
    """The guard at the top of every page: signed in, and the role may open this page."""
    actor = current_actor(touch=False)
    if actor is None:
        st.warning("Sign in to use Veil.")
        st.stop()
    spec = PAGE[page_key]
    if not may(actor, spec.needs):
        st.error(f"The {spec.title} page is not open to the {actor.role} role.")
        st.stop()
    return actor


def open_page(page_key: str, title: str | None) -> tuple[Actor, services.Records]:
    """The start of every page: the guard, the open records, the title (None: the page writes its own), and
    the note the last action on this page left for after its rerun (see `rerun_with_note`)."""
    actor = page_actor(page_key)
    opened = records()
    if title:
        st.title(title)
    if note := st.session_state.pop(f"{page_key}_note", None):
        st.success(note)
    return actor, opened


def rerun_with_note(page_key: str, note: str) -> NoReturn:
    """After an action succeeded: run the page again (showing the new state) with note at its top, once."""
    st.session_state[f"{page_key}_note"] = note
    st.rerun()


def remember(key: str, compute: Callable[[], Any], *, slot: str | None = None) -> Any:
    """Compute once per session instead of on every rerun (an audited view such as a consent's patient name,
    a decrypted file); FAILED is not kept. With a slot, only the latest key of that slot is held, so large
    values (an original, a preview) do not pile up while a person goes through many records."""
    cache = st.session_state.setdefault("_remembered", {})
    held = cache.get(slot or key)
    if held is None or held[0] != key:
        value = compute()
        if value is FAILED:
            return FAILED
        cache[slot or key] = held = (key, value)
    return held[1]


@st.fragment(run_every=60)
def idle_watch() -> None:
    """Runs on its own every minute without counting as activity: an idle screen is signed out and
    stops showing records."""
    if st.session_state.get(ACTOR) is not None and current_actor(touch=False) is None:
        st.rerun(scope="app")


# -- single sign-on (OIDC through st.login, only when configured) ------------------------------------------
def oidc_configured() -> bool:
    """True when secrets.toml has an [auth] section and Authlib (which st.login needs) is installed."""
    try:
        return (st.secrets.load_if_toml_exists() and "auth" in st.secrets
                and importlib.util.find_spec("authlib") is not None)
    except Exception:   # an unreadable secrets.toml: no single sign-on, the password form stays
        return False


def oidc_actor(records: services.Records) -> Actor:
    """Sign in the person the identity provider vouches for, as the Veil account named like the part of their
    verified e-mail before the @: the provider proves who they are; Veil's user list says what they may do.
    The service audits it and names the provider; AuthenticationFailed says why when refused."""
    info = st.user
    email = str(info.get("email") or "").strip().lower()
    if not info.get("is_logged_in"):
        raise AuthenticationFailed("you are not signed in with your organisation account")
    if "@" not in email or info.get("email_verified") is False:
        raise AuthenticationFailed("the organisation account has no verified e-mail address; sign-in refused")
    return services.authenticate_external(records, email.split("@", 1)[0], str(info.get("iss") or ""))


def has_users(records: services.Records) -> bool:
    with records.db.sessions() as db:
        return count_users(db) > 0
