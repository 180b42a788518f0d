"""One plain function per user action. The Streamlit pages, the CLI and the tests all call these.

Each action checks the actor's role, does its work in one database transaction together with its audit
event (both commit or neither does), and returns plain views without PHI unless the action is to see it.
Blobs are written before the transaction that references them and deleted after the one that stops
referencing them, so a crash leaves at most an unreferenced blob, which `housekeeping` removes. Blobs are
shared by content, so writing one and committing its record happen under the store's shared lock, and
deciding that one is unreferenced and deleting it under its exclusive lock (see records.store).
Slow work (the image engine) runs outside any transaction, so it never holds the database's write lock.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import uuid
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from deid.report import DeidReport
from records import audit
from records.audit import SYSTEM, Actor
from records.config import Settings, load_settings, private_folder
from records.crypto import KeyFileError, Keys
from records.models import (Asset, Consent, Database, Installation, Output, Release, User, field_context,
                              user_by_name, utcnow)
from records.release_gate import PLATFORMS, Decision, effective_expiry, evaluate, normalise_platform, standing_reasons
from records.store import BlobStore, WorkDir, sweep_work
from records.users import (AuthenticationFailed, PermissionDenied, actor_of, check_password, check_role,
                           count_users, create_user, require, set_password)

# Who acts when the first administrator is created: nobody has signed in yet, and this role may do nothing.
FIRST_START = Actor(None, "first-start", "first-start")

__all__ = ["PermissionDenied", "AuthenticationFailed", "RecordNotFound", "WorkflowError", "ScopeConflict"]


class RecordNotFound(LookupError):
    """No record with that id."""


class WorkflowError(ValueError):
    """The action does not fit the record's state; the message says what to do instead."""


class ScopeConflict(WorkflowError):
    """A person tried to confirm more than the consent document grants."""


# -- the open records --------------------------------------------------------------------------------
@dataclass
class Records:
    settings: Settings
    db: Database
    keys: Keys
    store: BlobStore

    def transaction(self):
        return self.db.transaction()

    def close(self) -> None:
        self.db.dispose()


def open_records(settings: Settings | None = None, *, housekeep: bool = True) -> Records:
    """Open (creating on first run) the data folder, key file and database; migrate; tidy up after crashes."""
    settings = settings or load_settings()
    private_folder(settings.data_dir)
    keys = Keys.load_or_create(settings.key_file)
    db = Database(settings.database_url)
    db.migrate()
    with db.transaction() as session:
        check_key(session, keys, settings)
        audit.ensure_head(session, keys)
    records = Records(settings, db, keys, BlobStore(settings.blob_dir, keys))
    if housekeep:
        housekeeping(records, SYSTEM)
    return records


def check_key(session: Session, keys: Keys, settings: Settings) -> None:
    """Refuse a key file that is not this database's (the first opening records which one is)."""
    token = b"veil/installation/key-check"
    row = session.get(Installation, 1)
    if row is None:
        session.add(Installation(id=1, key_check=keys.seal(token)))
    elif not keys.seal_holds(row.key_check, token):
        raise KeyFileError(f"{settings.key_file}: this key file does not belong to this database; "
                           "check VEIL_KEY_FILE (a wrong key would make the records unreadable)")


# -- views ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ConsentView:
    id: str
    status: str
    pdf_sha256: str
    check_error: str | None
    text_source: str
    social_media: str
    platforms: list
    excluded_platforms: list
    identifiable: str
    expires: str | None
    has_expiry_event: bool
    signed: bool | None
    signature_valid: bool | None
    confirmed: bool
    confirmed_social_media: bool | None
    confirmed_platforms: list | None
    confirmed_excluded: list | None
    confirmed_identifiable: str | None
    effective_expiry: str | None
    signature_attested: bool
    registered_at: str
    pdf_kept: bool


@dataclass(frozen=True)
class AssetView:
    id: str
    kind: str
    format: str
    original_sha256: str
    original_kept: bool
    filename_warnings: list
    uploaded_by: str
    consent_id: str | None
    patient_confirmed: bool


@dataclass(frozen=True)
class OutputView:
    id: str
    asset_id: str
    kind: str
    name: str | None
    sha256: str | None
    error: str | None
    profile: dict
    keeps_faces: bool
    regions: list
    regions_added: list
    regions_removed: list
    frames: int | None
    frames_with_regions: int | None
    removed_tags: list
    metadata_clean: bool
    faces_left: int | None
    reviewed: bool
    superseded: bool
    parent_id: str | None


@dataclass(frozen=True)
class ReleaseView:
    id: str
    output_id: str
    consent_id: str | None
    platform: str
    status: str
    reasons: list
    post_url: str | None
    takedown: str | None
    decided_at: str | None


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def _consent_view(c: Consent) -> ConsentView:
    return ConsentView(
        id=c.id, status=c.status, pdf_sha256=c.pdf_sha256, check_error=c.check_error, text_source=c.text_source,
        social_media=c.social_media, platforms=list(c.platforms or []),
        excluded_platforms=list(c.excluded_platforms or []), identifiable=c.identifiable, expires=_iso(c.expires),
        has_expiry_event=c.has_expiry_event, signed=c.signed, signature_valid=c.signature_valid,
        confirmed=c.confirmed_by is not None, confirmed_social_media=c.confirmed_social_media,
        confirmed_platforms=c.confirmed_platforms, confirmed_excluded=c.confirmed_excluded,
        confirmed_identifiable=c.confirmed_identifiable, effective_expiry=_iso(effective_expiry(c)),
        signature_attested=c.signature_attested, registered_at=_iso(c.registered_at), pdf_kept=c.pdf_blob is not None)


def _asset_view(a: Asset, uploader: str) -> AssetView:
    return AssetView(id=a.id, kind=a.kind, format=a.format, original_sha256=a.original_sha256,
                     original_kept=a.original_blob is not None, filename_warnings=list(a.filename_warnings or []),
                     uploaded_by=uploader, consent_id=a.consent_id, patient_confirmed=a.patient_confirmed_by is not None)


def _output_view(o: Output) -> OutputView:
    return OutputView(
        id=o.id, asset_id=o.asset_id, kind=o.kind, name=o.name, sha256=o.sha256, error=o.error,
        profile={"id": o.profile_id, "sha256": o.profile_sha256}, keeps_faces=o.keeps_faces,
        regions=list(o.regions or []), regions_added=list(o.regions_added or []),
        regions_removed=list(o.regions_removed or []), frames=o.frames, frames_with_regions=o.frames_with_regions,
        removed_tags=list(o.removed_tags or []), metadata_clean=o.metadata_clean, faces_left=o.faces_left,
        reviewed=o.reviewed_by is not None, superseded=o.superseded, parent_id=o.parent_id)


def _release_view(r: Release) -> ReleaseView:
    return ReleaseView(id=r.id, output_id=r.output_id, consent_id=r.consent_id, platform=r.platform, status=r.status,
                       reasons=list(r.reasons or []), post_url=r.post_url, takedown=r.takedown,
                       decided_at=_iso(r.decided_at))


def _get(session: Session, model, row_id: str, *, lock: bool = False):
    row = session.get(model, row_id, with_for_update=lock) if row_id else None
    if row is None:
        raise RecordNotFound(f"no {model.__tablename__[:-1]} with id {row_id!r}")
    return row


def _username(session: Session, user_id: str | None) -> str | None:
    return session.get(User, user_id).username if user_id else None


def _authorize(records: Records, actor: Actor, action: str) -> None:
    """The role may do this, and the signed-in user still exists, is enabled and still has that role
    (an admin's change takes effect on the next action, not the next sign-in)."""
    require(actor, action)
    if actor.id is None:
        return   # the installation itself: the command line run by whoever holds the key file, housekeeping
    with records.db.reading() as session:
        _check_current(session, actor)


def _check_current(session: Session, actor: Actor) -> None:
    user = session.get(User, actor.id)
    if user is None or not user.active or user.role != actor.role:
        raise PermissionDenied(f"{actor.username}'s account was disabled or its role changed; sign in again")


def _log(records: Records, session: Session, actor: Actor, action: str, subject_kind: str | None = None,
         subject_id: str | None = None, /, **details) -> None:
    audit.append(session, records.keys, actor, action, subject_kind, subject_id, **details)


# -- users -------------------------------------------------------------------------------------------
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
        _log(records, session, SYSTEM, "user.login_failed", "user", None, username=tried.strip().lower()[:64], **how)
        return None
    actor = actor_of(user)
    _log(records, session, actor, "user.login", "user", user.id, **how)
    return actor


def add_first_admin(records: Records, username: str, password: str) -> Actor:
    """Create the first administrator, only while Veil has no user at all (the first start, before anyone
    can sign in). Two first starts at once cannot both succeed: the user list is locked, then counted."""
    with records.transaction() as session:
        _lock_users(session)
        if count_users(session) > 0:
            raise WorkflowError("Veil already has users, so no first administrator can be created; sign in, or "
                                "ask an administrator for an account")
        user = create_user(session, username, password, "admin")
        _log(records, session, FIRST_START, "user.added", "user", user.id, username=user.username, role="admin",
             first_admin=True)
        return actor_of(user)


def add_user(records: Records, actor: Actor, username: str, password: str, role: str) -> Actor:
    """Admins add users; on an installation with no users yet, the first user (an admin) may be created by
    whoever runs Veil (the CLI's `users add`)."""
    with records.transaction() as session:
        _lock_users(session)
        if count_users(session) > 0:
            require(actor, "manage_users")
            if actor.id is not None:
                _check_current(session, actor)
        elif role != "admin":
            raise WorkflowError("the first user must be an admin")
        user = create_user(session, username, password, role)
        _log(records, session, actor, "user.added", "user", user.id, username=user.username, role=role)
        return actor_of(user)


def set_user_active(records: Records, actor: Actor, username: str, active: bool) -> None:
    _authorize(records, actor, "manage_users")
    with records.transaction() as session:
        _lock_users(session)
        user = _user_named(session, username)
        if not active:
            _keep_an_admin(session, user)
        user.active = active
        _log(records, session, actor, "user.enabled" if active else "user.disabled", "user", user.id)


def set_user_role(records: Records, actor: Actor, username: str, role: str) -> None:
    """Admins change a user's role; it takes effect at that user's next action."""
    _authorize(records, actor, "manage_users")
    check_role(role)
    with records.transaction() as session:
        _lock_users(session)
        user = _user_named(session, username)
        if user.role == role:
            return
        if role != "admin":
            _keep_an_admin(session, user)
        old, user.role = user.role, role
        _log(records, session, actor, "user.role_changed", "user", user.id, username=user.username, old=old, new=role)


def reset_password(records: Records, actor: Actor, username: str, new_password: str) -> None:
    """Admins give a user who forgot theirs a new password (audited, never the password itself)."""
    _authorize(records, actor, "manage_users")
    with records.transaction() as session:
        user = _user_named(session, username)
        set_password(user, new_password)
        _log(records, session, actor, "user.password_reset", "user", user.id, username=user.username)


def _lock_users(session: Session) -> None:
    """Serialise changes to who may sign in and administer. SQLite took its write lock when the transaction
    began; PostgreSQL locks the installation row, so two first starts cannot both count no users."""
    session.get(Installation, 1, with_for_update=True)


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


def list_users(records: Records, actor: Actor) -> list[dict]:
    _authorize(records, actor, "manage_users")
    with records.db.reading() as session:
        return [{"username": u.username, "role": u.role, "active": u.active}
                for u in session.scalars(select(User).order_by(User.username))]


# -- consents ----------------------------------------------------------------------------------------
def register_consent(records: Records, actor: Actor, pdf: Path | bytes, patient_name: str, patient_ref: str,
                     *, trust_roots: list | None = None) -> ConsentView:
    """Run the checker on a consent PDF, store the PDF encrypted, the verdict in clear, and the evidence,
    patient name and reference encrypted."""
    _authorize(records, actor, "register_consent")
    from records.sandbox import check_in_sandbox

    if not patient_name.strip() or not patient_ref.strip():
        raise WorkflowError("a consent needs the patient's name and reference (record number)")
    _check_size(_source_size(pdf), records.settings.max_pdf_mb, "consent PDF")
    with ExitStack() as held:
        with WorkDir(records.settings.work_dir) as work:
            path = work / "consent.pdf"   # the checker's messages name this, never the uploaded name
            if isinstance(pdf, (bytes, bytearray)):
                path.write_bytes(pdf)
            else:
                try:
                    shutil.copyfile(pdf, path)
                except OSError as exc:   # never echo the path: it may hold the patient's name
                    raise WorkflowError("the consent PDF could not be read "
                                        f"({exc.strerror or type(exc).__name__})") from None
            result = check_in_sandbox(path, trust_roots=trust_roots)   # a crash costs this PDF, not the app
            held.enter_context(records.store.keeping())   # until the commit: nobody deletes this content
            blob = records.store.put_file(path)
        return _add_consent(records, actor, result, blob, patient_name, patient_ref)


def _add_consent(records: Records, actor: Actor, result: dict, blob: str, patient_name: str,
                 patient_ref: str) -> ConsentView:
    now = utcnow()
    with records.transaction() as session:
        consent = Consent(
            id=uuid.uuid4().hex, pdf_sha256=blob, pdf_blob=blob, check_error=result["error"],
            text_source=result["text_source"], social_media=result["social_media"],
            platforms=list(result["platforms"]), excluded_platforms=list(result["excluded_platforms"]),
            identifiable=result["identifiable"],
            expires=dt.date.fromisoformat(result["expires"]) if result["expires"] else None,
            has_expiry_event=bool(result["expires_event"]), signed=result["signed"],
            signature_valid=result["signature_valid"], status="active", registered_by=actor.id,
            registered_at=now, retain_until=_years_later(now, records.settings.consent_retention_years),
            patient_key=_patient_key(records, patient_ref))
        analysis = {k: v for k, v in result.items() if k != "path"}
        consent.analysis_enc = records.keys.encrypt_json(analysis, field_context("consents", "analysis", consent.id))
        consent.patient_name_enc = records.keys.encrypt_text(patient_name.strip(),
                                                             field_context("consents", "patient_name", consent.id))
        consent.patient_ref_enc = records.keys.encrypt_text(patient_ref.strip(),
                                                            field_context("consents", "patient_ref", consent.id))
        session.add(consent)
        session.flush()
        _log(records, session, actor, "consent.registered", "consent", consent.id, pdf_sha256=blob,
             verdict={k: result[k] for k in ("social_media", "platforms", "excluded_platforms", "identifiable",
                                              "expires", "signed", "signature_valid")},
             check_error=bool(result["error"]))
        return _consent_view(consent)


def _years_later(when: dt.datetime, years: int) -> dt.datetime:
    try:
        return when.replace(year=when.year + years)
    except ValueError:   # 29 February
        return when.replace(year=when.year + years, day=28)


def consent_details(records: Records, actor: Actor, consent_id: str) -> dict:
    """What review shows: the verdict, the quoted evidence, and the patient's name and reference (PHI;
    the viewing is audited)."""
    _authorize(records, actor, "view_consent_pdf")
    with records.transaction() as session:
        c = _get(session, Consent, consent_id)
        keys = records.keys
        analysis = keys.decrypt_json(c.analysis_enc, field_context("consents", "analysis", c.id)) or {}
        _log(records, session, actor, "consent.viewed", "consent", c.id)
        return {**asdict(_consent_view(c)),
                "patient_name": keys.decrypt_text(c.patient_name_enc, field_context("consents", "patient_name", c.id)),
                "patient_ref": keys.decrypt_text(c.patient_ref_enc, field_context("consents", "patient_ref", c.id)),
                "evidence": analysis.get("evidence", []), "reasons": analysis.get("reasons", []),
                "expires_event": analysis.get("expires_event"), "analysis": analysis}


def confirm_scope(records: Records, actor: Actor, consent_id: str, *, covers_social_media: bool,
                  identifiable: str, platforms: list[str] | None = None,
                  excluded_platforms: list[str] | None = None, expires: dt.date | None = None,
                  signature_attested: bool = False) -> ConsentView:
    """A person, having read the quoted evidence, records the scope. They may narrow what the document
    grants, never widen it: a grant the checker found absent, identifiable use it found refused, a platform
    it did not name, or a later end date are refused with the reason."""
    _authorize(records, actor, "confirm_scope")
    with records.transaction() as session:
        c = _get(session, Consent, consent_id, lock=True)
        if c.status != "active":
            raise WorkflowError(f"this consent is {c.status}; it can no longer be confirmed")
        platforms_ok = _check_confirmation(c, covers_social_media, identifiable, platforms, expires,
                                           signature_attested)
        c.confirmed_social_media = covers_social_media
        c.confirmed_identifiable = identifiable
        c.confirmed_platforms = platforms_ok
        c.confirmed_excluded = sorted(set(c.excluded_platforms or [])
                                      | {normalise_platform(p) for p in excluded_platforms or []})
        c.confirmed_expires = expires or c.expires
        c.signature_attested = signature_attested
        c.confirmed_by, c.confirmed_at = actor.id, utcnow()
        _log(records, session, actor, "consent.confirmed", "consent", c.id, covers_social_media=covers_social_media,
             platforms=c.confirmed_platforms, excluded=c.confirmed_excluded, identifiable=identifiable,
             expires=_iso(c.confirmed_expires), signature_attested=signature_attested)
        _supersede_older(records, session, actor, c)
        return _consent_view(c)


def _check_confirmation(c: Consent, covers: bool, identifiable: str, platforms: list[str] | None,
                        expires: dt.date | None, attested: bool) -> list[str]:
    if c.check_error:
        raise ScopeConflict("the consent PDF could not be read; register a readable copy instead")
    if covers and c.social_media == "not_covered":
        raise ScopeConflict("the document does not grant social-media use; a person cannot add a grant "
                            "that is not written")
    if identifiable not in ("allowed", "deidentified_only"):
        raise ScopeConflict("identifiable must be 'allowed' or 'deidentified_only'")
    if identifiable == "allowed" and c.identifiable == "deidentified_only":
        raise ScopeConflict("the document allows de-identified images only")
    chosen = sorted({normalise_platform(p) for p in platforms or []}, key=_platform_order)
    unknown = [p for p in chosen if p not in PLATFORMS]
    if unknown:
        raise ScopeConflict(f"unknown platform(s): {', '.join(unknown)}")
    if c.platforms and not set(chosen) <= set(c.platforms):
        raise ScopeConflict(f"the document names {', '.join(c.platforms)} only")
    if expires is not None and c.expires is not None and expires > c.expires:
        raise ScopeConflict(f"the document ends on {c.expires.isoformat()}; a person may not extend it")
    if expires is None and c.expires is None and c.has_expiry_event:
        raise ScopeConflict("the document ends at an event (see the evidence); enter the date it ends")
    if attested and (c.signed is False or c.signature_valid is False):
        raise ScopeConflict("the document is unsigned or its digital signature is broken; "
                            "a signature cannot be attested")
    return chosen or list(c.platforms or [])


def _platform_order(name: str) -> int:
    return PLATFORMS.index(name) if name in PLATFORMS else len(PLATFORMS)


def _supersede_older(records: Records, session: Session, actor: Actor, newer: Consent) -> None:
    if not newer.patient_key:
        return
    older = session.scalars(select(Consent).where(Consent.patient_key == newer.patient_key, Consent.id != newer.id,
                                                  Consent.status == "active",
                                                  Consent.registered_at < newer.registered_at))
    for c in older:
        c.status, c.superseded_by = "superseded", newer.id
        c.status_changed_at, c.status_changed_by = utcnow(), actor.id
        # a newer consent that no longer grants social media withdraws what the older one allowed
        takedowns = _end_releases(session, c.id) if newer.confirmed_social_media is False else []
        _log(records, session, actor, "consent.superseded", "consent", c.id, by=newer.id, takedowns=takedowns)


def list_consents(records: Records, actor: Actor, status: str | None = None) -> list[ConsentView]:
    _authorize(records, actor, "view_records")
    with records.db.reading() as session:
        query = select(Consent).order_by(Consent.registered_at.desc())
        if status:
            query = query.where(Consent.status == status)
        return [_consent_view(c) for c in session.scalars(query)]


def find_consents(records: Records, actor: Actor, patient_ref: str) -> list[ConsentView]:
    """A patient's consents, newest first, found through the blind index of the reference (the reference
    itself is stored only encrypted). The search is audited by what it found, never by the reference."""
    _authorize(records, actor, "view_records")
    if not patient_ref.strip():
        raise WorkflowError("enter the patient's reference (record number) to search for their consents")
    key = _patient_key(records, patient_ref)
    with records.transaction() as session:
        found = session.scalars(select(Consent).where(Consent.patient_key == key)
                                .order_by(Consent.registered_at.desc())).all()
        _log(records, session, actor, "consent.searched", None, None, found=[c.id for c in found])
        return [_consent_view(c) for c in found]


def _patient_key(records: Records, patient_ref: str) -> str:
    return records.keys.blind_index(patient_ref, "patient")


def view_consent_pdf(records: Records, actor: Actor, consent_id: str) -> bytes:
    _authorize(records, actor, "view_consent_pdf")
    with records.transaction() as session:
        c = _get(session, Consent, consent_id)
        if c.pdf_blob is None:
            raise WorkflowError("the consent PDF was deleted at the end of its retention period")
        data = records.store.read_bytes(c.pdf_blob)
        _log(records, session, actor, "consent.pdf_viewed", "consent", c.id)
        return data


def revoke_consent(records: Records, actor: Actor, consent_id: str, note: str | None = None) -> list[str]:
    """The patient withdrew: the consent is revoked, each of its releases becomes a takedown task, pending
    requests are withdrawn, and its outputs can no longer be downloaded or exported. Returns the ids of the
    releases to take down."""
    _authorize(records, actor, "revoke_consent")
    with records.transaction() as session:
        c = _get(session, Consent, consent_id, lock=True)
        if c.status == "revoked":
            raise WorkflowError("this consent is already revoked")
        c.status, c.status_changed_at, c.status_changed_by = "revoked", utcnow(), actor.id
        c.status_note_enc = records.keys.encrypt_text(note, field_context("consents", "status_note", c.id))
        takedowns = _end_releases(session, c.id)
        _log(records, session, actor, "consent.revoked", "consent", c.id, takedowns=takedowns)
        return takedowns


def _end_releases(session: Session, consent_id: str) -> list[str]:
    """Released -> takedown pending; requested or refused -> withdrawn. Covers releases of every output of
    media linked to the consent as well as those approved under it."""
    outputs = select(Output.id).join(Asset, Output.asset_id == Asset.id).where(Asset.consent_id == consent_id)
    takedowns = []
    for r in session.scalars(select(Release).where(or_(Release.consent_id == consent_id,
                                                       Release.output_id.in_(outputs)))):
        if r.status == "released" and r.takedown is None:
            r.takedown = "pending"
            takedowns.append(r.id)
        elif r.status in ("requested", "refused"):
            r.status = "withdrawn"
    return takedowns


# -- media ---------------------------------------------------------------------------------------------
def upload_media(records: Records, actor: Actor, source: Path | bytes, original_name: str,
                 consent_id: str | None = None) -> AssetView:
    """Keep an original encrypted. Its name is stored encrypted; only descriptions of what in the name
    could identify the patient are kept in clear."""
    _authorize(records, actor, "upload_media")
    with records.store.keeping():   # until the commit: nobody deletes this content
        fmt, size, blob = _keep_upload(records, source)
        return _add_asset(records, actor, fmt, size, blob, original_name, consent_id)


def _keep_upload(records: Records, source: Path | bytes):
    """Check what the upload is and its size, then store it encrypted: (format, size, blob address)."""
    from deid.formats import sniff, sniff_file

    in_memory = isinstance(source, (bytes, bytearray))
    try:
        fmt = sniff(bytes(source[:64])) if in_memory else sniff_file(source)
        if fmt.kind not in ("image", "video"):
            raise WorkflowError("this is not a photo or video Veil can read" if fmt.kind == "unknown"
                                else f"this is a {fmt.name.upper()} document, not a photo or video")
        size = _source_size(source)
        _check_size(size, upload_limit_mb(records.settings, fmt.kind), "photo" if fmt.kind == "image" else "video")
        blob = records.store.put_bytes(bytes(source)) if in_memory else records.store.put_file(Path(source))
    except OSError as exc:   # the message must not carry the path: it may hold the patient's name
        raise WorkflowError(f"the upload could not be read ({exc.strerror or type(exc).__name__})") from None
    return fmt, size, blob


def _add_asset(records: Records, actor: Actor, fmt, size: int, blob: str, original_name: str,
               consent_id: str | None) -> AssetView:
    from deid.naming import filename_warnings

    now = utcnow()
    with records.transaction() as session:
        if consent_id:
            _get(session, Consent, consent_id)
        asset = Asset(id=uuid.uuid4().hex, kind=fmt.kind, format=fmt.name, original_sha256=blob, original_blob=blob,
                      original_size=size, filename_warnings=filename_warnings(original_name), uploaded_by=actor.id,
                      uploaded_at=now, consent_id=consent_id,
                      delete_original_after=now + dt.timedelta(days=records.settings.original_retention_days))
        asset.original_name_enc = records.keys.encrypt_text(original_name,
                                                            field_context("assets", "original_name", asset.id))
        session.add(asset)
        session.flush()
        _log(records, session, actor, "media.uploaded", "asset", asset.id, sha256=blob, kind=fmt.kind,
             consent_id=consent_id)
        return _asset_view(asset, actor.username)


def upload_limit_mb(settings: Settings, kind: str) -> int:
    """The largest upload of this kind ("image" or "video") kept, in MB: photos have the engine's own limit."""
    from deid.image import MAX_FILE_BYTES

    return MAX_FILE_BYTES // 2 ** 20 if kind == "image" else settings.max_video_mb


def _source_size(source: Path | bytes) -> int:
    if isinstance(source, (bytes, bytearray)):
        return len(source)
    try:
        return Path(source).stat().st_size
    except OSError as exc:   # never echo the path: it may hold the patient's name
        raise WorkflowError(f"the upload could not be read ({exc.strerror or type(exc).__name__})") from None


def _check_size(size: int, limit_mb: int, what: str) -> None:
    """Refused before anything is stored: an oversized upload would only fail later, and fill the disk first."""
    if size > limit_mb * 2 ** 20:
        raise WorkflowError(f"this {what} is {size / 2 ** 20:,.0f} MB, over the {limit_mb:,} MB limit for one "
                            f"{what}")


def link_consent(records: Records, actor: Actor, asset_id: str, consent_id: str | None) -> AssetView:
    """Tie media to a consent; a person must then confirm again that it is this patient's consent."""
    _authorize(records, actor, "link_consent")
    with records.transaction() as session:
        asset = _get(session, Asset, asset_id, lock=True)
        if consent_id:
            _get(session, Consent, consent_id)
        asset.consent_id = consent_id
        asset.patient_confirmed_by = asset.patient_confirmed_at = None
        _log(records, session, actor, "media.linked", "asset", asset.id, consent_id=consent_id)
        return _asset_view(asset, _username(session, asset.uploaded_by))


def confirm_patient(records: Records, actor: Actor, asset_id: str) -> AssetView:
    """A person confirms that the linked consent belongs to the patient in the media (gate rule 3)."""
    _authorize(records, actor, "review")
    with records.transaction() as session:
        asset = _get(session, Asset, asset_id, lock=True)
        if asset.consent_id is None:
            raise WorkflowError("link a consent to this media first")
        asset.patient_confirmed_by, asset.patient_confirmed_at = actor.id, utcnow()
        _log(records, session, actor, "media.patient_confirmed", "asset", asset.id, consent_id=asset.consent_id)
        return _asset_view(asset, _username(session, asset.uploaded_by))


def list_assets(records: Records, actor: Actor) -> list[AssetView]:
    _authorize(records, actor, "view_records")
    with records.db.reading() as session:
        return [_asset_view(a, _username(session, a.uploaded_by))
                for a in session.scalars(select(Asset).order_by(Asset.uploaded_at.desc()))]


def view_original(records: Records, actor: Actor, asset_id: str) -> bytes:
    _authorize(records, actor, "view_original")
    with records.transaction() as session:
        asset = _get(session, Asset, asset_id)
        if asset.original_blob is None:
            raise WorkflowError("the original was deleted (released, or past its retention period)")
        data = records.store.read_bytes(asset.original_blob)
        _log(records, session, actor, "media.original_viewed", "asset", asset.id)
        return data


# -- processing and review -------------------------------------------------------------------------------
def process(records: Records, actor: Actor, asset_id: str, profile: str = "default", *,
            progress: Callable[[float, str], None] | None = None) -> OutputView:
    """Run the image engine on the decrypted original in a private work folder; keep the verified output
    encrypted with its report. A failed verification is recorded too (the gate refuses it)."""
    _authorize(records, actor, "process")
    return _render(records, actor, asset_id, profile, [], [], None, progress)


def review(records: Records, actor: Actor, output_id: str, *, add_regions: list | None = None,
           remove_regions: list | None = None) -> OutputView:
    """Re-render an output with a reviewer's edits (regions drawn by hand added, false detections removed).
    The new output replaces the old one, which can no longer be released."""
    _authorize(records, actor, "review")
    with records.transaction() as session:
        old = _get(session, Output, output_id)
        if old.kind != "image":
            raise WorkflowError("regions can be edited on photos only; for a video, re-process it")
        if old.superseded:
            raise WorkflowError("this output was already replaced; review the newest one")
        asset_id, profile = old.asset_id, old.profile_id or "default"
        drop = [_box(r) for r in remove_regions or []]
        drawn = [_box(r) for r in (old.regions_added or []) + list(add_regions or [])]
        # removing a region drawn earlier un-draws it; removing a detected one tells the engine to skip it
        added = [r for r in drawn if r not in drop]
        removed = [_box(r) for r in old.regions_removed or []] + [r for r in drop if r not in drawn]
    return _render(records, actor, asset_id, profile, added, removed, output_id, None)


def _box(region) -> list[int]:
    box = [int(v) for v in region]
    if len(box) != 4 or box[2] <= box[0] or box[3] <= box[1]:
        raise WorkflowError("a region is [x0, y0, x1, y1] with x1 > x0 and y1 > y0")
    return box


def _render(records: Records, actor: Actor, asset_id: str, profile: str, added: list, removed: list,
            parent_id: str | None, progress) -> OutputView:
    from records.sandbox import redact_in_sandbox

    with records.transaction() as session:
        asset = _get(session, Asset, asset_id)
        if asset.original_blob is None:
            raise WorkflowError("the original was deleted (released, or past its retention period); "
                                "upload it again to process it")
        blob, kind = asset.original_blob, asset.kind
    with ExitStack() as held:
        with WorkDir(records.settings.work_dir) as work:
            source = records.store.decrypt_to(blob, work / uuid.uuid4().hex)
            report = redact_in_sandbox(source, work / "out", profile, progress=progress,   # a crash costs this file
                                       extra_regions=added or None, removed_regions=removed or None,
                                       original_name=source.name)
            stored = _output_hashes(report)   # decoding takes a while: before taking the store's lock
            held.enter_context(records.store.keeping())   # until the commit: nobody deletes this content
            if report.output:
                stored["blob"] = stored["sha256"] = records.store.put_file(Path(report.output))
        # the decrypted original is gone before the commit
        return _add_output(records, actor, asset_id, kind, report, stored, added, removed, parent_id)


def _add_output(records: Records, actor: Actor, asset_id: str, kind: str, report: DeidReport, stored: dict,
                added: list, removed: list, parent_id: str | None) -> OutputView:
    with records.transaction() as session:
        _get(session, Asset, asset_id)
        profile = report.profile
        output = Output(id=uuid.uuid4().hex, asset_id=asset_id, parent_id=parent_id, kind=report.kind or kind,
                        profile_id=profile.id if profile else None, profile_sha256=profile.sha256 if profile else None,
                        keeps_faces=_keeps_faces(report), regions=report.regions, regions_added=added,
                        regions_removed=removed, frames=report.frames, frames_with_regions=report.frames_with_regions,
                        removed_tags=report.removed, metadata_clean=report.verified.metadata_clean,
                        faces_left=report.verified.faces_left, error=report.error, created_by=actor.id, **stored)
        session.add(output)
        if parent_id:
            _get(session, Output, parent_id, lock=True).superseded = True
        session.flush()
        _log(records, session, actor, "output.failed" if output.blob is None else "output.created", "output",
             output.id, asset_id=asset_id, sha256=output.sha256, profile=asdict(profile) if profile else None,
             regions=len(output.regions), added=len(added), removed=len(removed),
             verified=report.verified.to_json(), replaces=parent_id)
        return _output_view(output)


def _output_hashes(report: DeidReport) -> dict:
    """The verified output's name, size and look-up hashes, computed while it is in clear."""
    from records.lookup import image_hash_of, video_hashes

    if not report.output:
        return {}
    path = Path(report.output)
    stored = {"name": path.name, "size": path.stat().st_size}
    if report.kind == "image":
        stored["phash"] = image_hash_of(path)
    else:
        stored["frame_hashes"] = video_hashes(path)
    return stored


def _keeps_faces(report: DeidReport) -> bool:
    from deid.profile import ProfileError, load_profile

    try:
        return load_profile(report.profile.id if report.profile else "default").keeps_faces
    except ProfileError:
        return True   # unknown profile: assume the worst, the gate then demands an identifiable consent


def confirm_review(records: Records, actor: Actor, output_id: str) -> OutputView:
    """A person looked at the output and confirms no face or other identifier is visible."""
    _authorize(records, actor, "review")
    with records.transaction() as session:
        output = _get(session, Output, output_id, lock=True)
        if output.blob is None:
            raise WorkflowError("this output failed verification; there is nothing to confirm")
        if output.superseded:
            raise WorkflowError("this output was replaced; review the newest one")
        output.reviewed_by, output.reviewed_at = actor.id, utcnow()
        _log(records, session, actor, "output.reviewed", "output", output.id, regions=len(output.regions))
        return _output_view(output)


def list_outputs(records: Records, actor: Actor, asset_id: str | None = None) -> list[OutputView]:
    _authorize(records, actor, "view_records")
    with records.db.reading() as session:
        query = select(Output).order_by(Output.created_at)
        if asset_id:
            query = query.where(Output.asset_id == asset_id)
        return [_output_view(o) for o in session.scalars(query)]


def preview_output(records: Records, actor: Actor, output_id: str) -> bytes:
    """The de-identified file, for review on screen (downloads go through `download_output`)."""
    _authorize(records, actor, "review")
    with records.db.reading() as session:
        output = _get(session, Output, output_id)
        if output.blob is None:
            raise WorkflowError("this output failed verification and was not kept")
        _refuse_if_revoked(session, output)
        return records.store.read_bytes(output.blob)


def _refuse_if_revoked(session: Session, output: Output) -> None:
    consent_id = session.get(Asset, output.asset_id).consent_id
    consent = session.get(Consent, consent_id) if consent_id else None
    if consent is not None and consent.status == "revoked":
        raise WorkflowError("the consent for this media was revoked; its outputs can no longer be used")


# -- release ------------------------------------------------------------------------------------------
def request_release(records: Records, actor: Actor, output_id: str, platform: str) -> ReleaseView:
    _authorize(records, actor, "request_release")
    with records.transaction() as session:
        output = _get(session, Output, output_id)
        asset = session.get(Asset, output.asset_id)
        release = Release(id=uuid.uuid4().hex, output_id=output.id, consent_id=asset.consent_id,
                          platform=normalise_platform(platform), status="requested", requested_by=actor.id)
        session.add(release)
        session.flush()
        _log(records, session, actor, "release.requested", "release", release.id, output_id=output.id,
             platform=release.platform, consent_id=asset.consent_id)
        return _release_view(release)


def approve_release(records: Records, actor: Actor, release_id: str, *, today: dt.date | None = None) -> Decision:
    """Run the gate. Allowed or refused, the decision and its reasons go to the audit log. An allowed
    release deletes the original (policy `delete_original_on_release`)."""
    _authorize(records, actor, "approve_release")
    today = today or dt.date.today()
    with records.transaction() as session:
        release = _get(session, Release, release_id, lock=True)
        if release.status not in ("requested", "refused"):
            raise WorkflowError(f"this release is already {release.status}")
        output = _get(session, Output, release.output_id)
        asset = session.get(Asset, output.asset_id, with_for_update=True)
        consent = session.get(Consent, asset.consent_id) if asset.consent_id else None
        decision = evaluate(output=output, asset=asset, consent=consent, approver_id=actor.id,
                            platform=release.platform, today=today,
                            two_person_rule=records.settings.two_person_rule)
        decision.release_id = release.id
        release.decided_by, release.decided_at = actor.id, utcnow()
        release.consent_id = asset.consent_id
        release.reasons = [r.message for r in decision.reasons]
        release.status = "released" if decision.allowed else "refused"
        _log(records, session, actor, "release.allowed" if decision.allowed else "release.refused", "release",
             release.id, output_id=output.id, output_sha256=output.sha256, consent_id=asset.consent_id,
             platform=release.platform, date=today.isoformat(),
             reasons=[{"code": r.code, "message": r.message} for r in decision.reasons])
        freed = None
        if decision.allowed and records.settings.delete_original_on_release and asset.original_blob:
            freed = _forget_original(records, session, actor, asset, "released")
    _delete_unreferenced(records, [freed])
    return decision


def _forget_original(records: Records, session: Session, actor: Actor, asset: Asset, why: str) -> str:
    blob = asset.original_blob
    asset.original_blob, asset.original_deleted_at = None, utcnow()
    _log(records, session, actor, "media.original_deleted", "asset", asset.id, reason=why)
    return blob


def _delete_unreferenced(records: Records, addresses) -> None:
    """After the commit that stopped referencing them; a blob shared with another record stays."""
    addresses = [a for a in addresses if a]
    if not addresses:
        return
    with records.store.deleting():   # the same content may be on its way into another record right now
        with records.db.sessions() as session:
            still = referenced_blobs(session, addresses)
        for address in addresses:
            if address not in still:
                records.store.delete(address)


def referenced_blobs(session: Session, only: list[str] | None = None) -> set[str]:
    """The blob addresses some record names (of `only`, when given): the one list of columns that hold them."""
    found: set[str] = set()
    for column in (Consent.pdf_blob, Asset.original_blob, Output.blob):
        query = select(column).where(column.is_not(None))
        if only is not None:
            query = query.where(column.in_(only))
        found.update(session.scalars(query))
    return found


def record_post(records: Records, actor: Actor, release_id: str, url: str) -> ReleaseView:
    """Where the released file was posted: the address a takedown will need."""
    _authorize(records, actor, "record_post")
    url = _post_address(url)
    with records.transaction() as session:
        release = _get(session, Release, release_id, lock=True)
        if release.status != "released":
            raise WorkflowError("only a released file has a post")
        release.post_url = url
        _log(records, session, actor, "release.posted", "release", release.id, url=release.post_url)
        return _release_view(release)


def _post_address(url: str) -> str:
    text = (url or "").strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        parts = None
    if (parts is None or parts.scheme.lower() not in ("http", "https") or not parts.hostname
            or any(c.isspace() for c in text) or len(text) > 2000):
        raise WorkflowError("the post address must be the post's full web address, starting with https:// "
                            "(or http://); nothing was recorded")
    return text


def list_releases(records: Records, actor: Actor, status: str | None = None) -> list[ReleaseView]:
    _authorize(records, actor, "view_records")
    with records.db.reading() as session:
        query = select(Release).order_by(Release.requested_at)
        if status:
            query = query.where(Release.status == status)
        return [_release_view(r) for r in session.scalars(query)]


def takedown_tasks(records: Records, actor: Actor) -> list[ReleaseView]:
    _authorize(records, actor, "view_records")
    with records.db.reading() as session:
        return [_release_view(r) for r in session.scalars(select(Release).where(Release.takedown == "pending")
                                                          .order_by(Release.decided_at))]


def complete_takedown(records: Records, actor: Actor, release_id: str) -> ReleaseView:
    _authorize(records, actor, "complete_takedown")
    with records.transaction() as session:
        release = _get(session, Release, release_id, lock=True)
        if release.takedown != "pending":
            raise WorkflowError("there is no pending takedown for this release")
        release.takedown, release.takedown_at, release.takedown_by = "done", utcnow(), actor.id
        _log(records, session, actor, "release.taken_down", "release", release.id, post_url=release.post_url)
        return _release_view(release)


def download_output(records: Records, actor: Actor, output_id: str, *,
                    today: dt.date | None = None) -> tuple[str, bytes]:
    """A released output's file (opaque name, bytes), while one of its releases still stands."""
    _authorize(records, actor, "download_output")
    today = today or dt.date.today()
    with records.transaction() as session:
        output = _get(session, Output, output_id)
        releases = session.scalars(select(Release).where(Release.output_id == output.id,
                                                         Release.status == "released")).all()
        if not releases:
            raise WorkflowError("only a released output can be downloaded; request a release first")
        problems = {r.id: _standing_problems(session, r, today) for r in releases}
        standing = [rid for rid, why in problems.items() if not why]
        if not standing:
            why = dict.fromkeys(m for messages in problems.values() for m in messages)
            raise WorkflowError(f"this output can no longer be downloaded: {'; '.join(why)}")
        data = records.store.read_bytes(output.blob)
        _log(records, session, actor, "output.downloaded", "output", output.id, sha256=output.sha256,
             release_id=standing[0])
        return output.name, data


def _standing_problems(session: Session, release: Release, today: dt.date) -> list[str]:
    """The one rule for a file leaving Veil after approval, shared by download and export."""
    output = session.get(Output, release.output_id)
    consent = session.get(Consent, release.consent_id) if release.consent_id else None
    return [r.message for r in standing_reasons(release, output, consent, today)]


def export_package(records: Records, actor: Actor, release_ids: list[str], out_dir: Path, *,
                   today: dt.date | None = None) -> Path:
    """A folder with the released outputs and `manifest.json` (sha256, consent id, scope, expiry, profile,
    reviewer, approver); no patient name, no original file name. Built under a temporary name and renamed
    when complete."""
    _authorize(records, actor, "export_package")
    if not release_ids:
        raise WorkflowError("choose at least one standing release to export; no package was made")
    today = today or dt.date.today()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
    final = out_dir / f"veil-release-{stamp}-{uuid.uuid4().hex[:8]}"
    partial = out_dir / f".partial-{final.name}"
    partial.mkdir(mode=0o700)
    try:
        with records.transaction() as session:
            entries = [_export_one(records, session, rid, partial, today) for rid in release_ids]
            manifest = {"format": "veil-release-manifest-1", "generated_at": utcnow().isoformat(),
                        "generated_by": actor.username, "files": entries}
            (partial / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
            _log(records, session, actor, "package.exported", None, None, releases=list(release_ids),
                 files=[{"file": e["file"], "sha256": e["sha256"]} for e in entries])
        os.replace(partial, final)   # after the commit: a package never exists without its audit event
    finally:
        if partial.exists():
            shutil.rmtree(partial, ignore_errors=True)
    return final


def _export_one(records: Records, session: Session, release_id: str, folder: Path, today: dt.date) -> dict:
    release = _get(session, Release, release_id)
    problems = _standing_problems(session, release, today)
    if problems:
        raise WorkflowError(f"release {release_id} cannot be exported ({'; '.join(problems)}); "
                            "only standing releases can be exported")
    output = session.get(Output, release.output_id)
    consent = session.get(Consent, release.consent_id)
    ends = effective_expiry(consent)
    data = records.store.read_bytes(output.blob)   # checks the content against its address
    (folder / output.name).write_bytes(data)
    return {"file": output.name, "sha256": output.sha256, "release_id": release.id, "output_id": output.id,
            "platform": release.platform, "consent_id": consent.id,
            "scope": {"social_media": consent.confirmed_social_media, "platforms": consent.confirmed_platforms,
                      "excluded_platforms": consent.confirmed_excluded,
                      "identifiable": consent.confirmed_identifiable},
            "expires": _iso(ends), "profile": {"id": output.profile_id, "sha256": output.profile_sha256},
            "reviewer": _username(session, output.reviewed_by), "reviewed_at": _iso(output.reviewed_at),
            "approver": _username(session, release.decided_by), "approved_at": _iso(release.decided_at)}


# -- audit and look-up ----------------------------------------------------------------------------------
def verify_audit(records: Records, actor: Actor) -> audit.Verdict:
    _authorize(records, actor, "verify_audit")
    with records.db.reading() as session:
        return audit.verify(session, records.keys)


def audit_events(records: Records, actor: Actor, *, limit: int | None = None, offset: int = 0,
                 **filters) -> list[dict]:
    """One page of events: `limit` of them (all when None) after skipping `offset`; filters are `action`,
    `actions` (any of them), `subject_id`, `subject_prefix` and `newest_first` (default True)."""
    _authorize(records, actor, "read_audit")
    if (limit is not None and limit < 0) or offset < 0:
        raise WorkflowError("a page of the audit log needs a limit and an offset of zero or more")
    with records.db.reading() as session:
        return audit.events(session, limit=limit, offset=offset, **filters)


def audit_summary(records: Records, actor: Actor, **filters) -> tuple[int, list[str]]:
    """How many events match `filters` (those of audit_events), and every action the log holds."""
    _authorize(records, actor, "read_audit")
    with records.db.reading() as session:
        return audit.count_events(session, **filters), audit.action_names(session)


def find_file(records: Records, actor: Actor, path: Path, max_distance: float | None = None):
    """Look a file up (exact, then perceptual); the search itself is audited by its SHA-256."""
    _authorize(records, actor, "look_up_files")
    from records.lookup import MAX_DISTANCE, fingerprint, match

    query = fingerprint(Path(path))   # the slow part (decoding), outside the transaction
    with records.transaction() as session:
        result = match(session, query, MAX_DISTANCE if max_distance is None else max_distance)
        _log(records, session, actor, "lookup", None, None, sha256=result.sha256,
             matches=[{"what": m.what, "how": m.how, "distance": m.distance, "output_id": m.output_id}
                      for m in result.matches])
        return result


# -- housekeeping ----------------------------------------------------------------------------------------
def housekeeping(records: Records, actor: Actor = SYSTEM, *, now: dt.datetime | None = None,
                 grace_seconds: float | None = None) -> dict:
    """Tidy after crashes and apply retention: work folders of dead processes, temporary and unreferenced
    blobs, expired consents (their releases become takedown tasks), originals and consent PDFs past their
    retention period."""
    _authorize(records, actor, "run_housekeeping")
    now = now or utcnow()
    report = {"work_dirs": sweep_work(records.settings.work_dir)}
    freed: list[str] = []
    with records.transaction() as session:
        report["expired"] = _expire_consents(records, session, actor, now.astimezone().date())
        for asset in session.scalars(select(Asset).where(Asset.original_blob.is_not(None),
                                                         Asset.delete_original_after <= now)):
            freed.append(_forget_original(records, session, actor, asset, "retention period ended"))
        for consent in session.scalars(select(Consent).where(Consent.pdf_blob.is_not(None),
                                                             Consent.retain_until <= now)):
            freed.append(consent.pdf_blob)
            consent.pdf_blob = None
            _log(records, session, actor, "consent.pdf_deleted", "consent", consent.id,
                 reason="retention period ended")
    report["originals_and_pdfs_deleted"] = len(freed)
    _delete_unreferenced(records, freed)
    grace = records.settings.orphan_grace_seconds if grace_seconds is None else grace_seconds
    with records.store.deleting():
        with records.db.sessions() as session:
            referenced = referenced_blobs(session)
        swept = records.store.sweep(referenced, grace)
    report["temp_files"], report["orphan_blobs"] = swept.temp_files, len(swept.orphan_blobs)
    return report


def _expire_consents(records: Records, session: Session, actor: Actor, today: dt.date) -> int:
    count = 0
    for c in session.scalars(select(Consent).where(Consent.status == "active")):
        ends = effective_expiry(c)
        if ends is not None and today >= ends:
            c.status, c.status_changed_at = "expired", utcnow()
            _log(records, session, actor, "consent.expired", "consent", c.id, ended=ends.isoformat(),
                 takedowns=_end_releases(session, c.id))
            count += 1
    return count
