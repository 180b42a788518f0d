"""Consents: register a PDF (read by the checker in a sandbox), confirm its scope from the quoted evidence,
find a patient's consents, view the PDF, revoke.

The patient's name and reference and the checker's evidence are PHI: stored encrypted, and seeing them is
an audited action.
"""
from __future__ import annotations

import datetime as dt
import shutil
import uuid
from contextlib import ExitStack
from dataclasses import asdict
from pathlib import Path

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from consent.verdict import Verdict
from records import sandbox, signing
from records.audit import Actor
from records.models import Asset, Consent, Output, Release, field_context, utcnow
from records.release_gate import PLATFORMS, normalise_platform
from records.services.core import (Records, ScopeConflict, WorkflowError, as_iso, authorize, get_row,
                                   log_event, refuse_oversized, upload_size)
from records.services.views import ConsentView, consent_view
from records.store import WorkDir


def register_consent(records: Records, actor: Actor, pdf: Path | bytes, patient_name: str, patient_ref: str,
                     *, trust_roots: list | None = None, signed_in_veil: dict | None = None) -> ConsentView:
    """Run the checker on a consent PDF, store the PDF encrypted, the verdict in clear, and the evidence,
    patient name and reference encrypted. `trust_roots` (default: the certificates Veil seals its own
    consents with) decide `signer_trusted`; `signed_in_veil` (from records.services.signing): the form
    version, its text hash and the signing's facts, recorded with the consent and in its audit event."""
    authorize(records, actor, "register_consent")
    if trust_roots is None:
        trust_roots = signing.trust_roots(records)
    if not patient_name.strip() or not patient_ref.strip():
        raise WorkflowError("a consent needs the patient's name and reference (record number)")
    refuse_oversized(upload_size(pdf), records.settings.max_pdf_mb, "consent PDF")
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
            verdict = sandbox.check_in_sandbox(path, trust_roots=trust_roots)   # a crash costs this PDF, not the app
            held.enter_context(records.store.keeping())   # until the commit: nobody deletes this content
            blob = records.store.put_file(path)
        return _add_consent(records, actor, verdict, blob, patient_name, patient_ref, signed_in_veil)


def _add_consent(records: Records, actor: Actor, verdict: Verdict, blob: str, patient_name: str,
                 patient_ref: str, signed_in_veil: dict | None) -> ConsentView:
    now = utcnow()
    with records.transaction() as session:
        consent = Consent(
            id=uuid.uuid4().hex, pdf_sha256=blob, pdf_blob=blob, check_error=verdict.error,
            text_source=verdict.text_source, social_media=verdict.social_media,
            platforms=list(verdict.platforms), excluded_platforms=list(verdict.excluded_platforms),
            identifiable=verdict.identifiable,
            expires=dt.date.fromisoformat(verdict.expires) if verdict.expires else None,
            has_expiry_event=bool(verdict.expires_event), signed=verdict.signed,
            signature_valid=verdict.signature_valid, status="active", registered_by=actor.id,
            registered_at=now, retain_until=_years_later(now, records.settings.consent_retention_years),
            patient_key=_patient_key(records, patient_ref))
        if signed_in_veil:
            consent.form_version = signed_in_veil["form_version"]
            consent.form_sha256 = signed_in_veil["form_sha256"]
        analysis = verdict.to_json()
        del analysis["path"]   # the work folder's copy, gone by now
        consent.analysis_enc = records.keys.encrypt_json(analysis, field_context("consents", "analysis", consent.id))
        consent.patient_name_enc = records.keys.encrypt_text(patient_name.strip(),
                                                             field_context("consents", "patient_name", consent.id))
        consent.patient_ref_enc = records.keys.encrypt_text(patient_ref.strip(),
                                                            field_context("consents", "patient_ref", consent.id))
        session.add(consent)
        session.flush()
        log_event(records, session, actor, "consent.registered", "consent", consent.id, pdf_sha256=blob,
                  verdict={k: analysis[k] for k in ("social_media", "platforms", "excluded_platforms",
                                                    "identifiable", "expires", "signed", "signature_valid")},
                  check_error=bool(verdict.error), **({"signed_in_veil": signed_in_veil} if signed_in_veil else {}))
        return consent_view(consent)


def _years_later(when: dt.datetime, years: int) -> dt.datetime:
    try:
        return when.replace(year=when.year + years)
    except ValueError:   # 29 February
        return when.replace(year=when.year + years, day=28)


def consent_details(records: Records, actor: Actor, consent_id: str) -> dict:
    """What review shows: the verdict, the quoted evidence, and the patient's name and reference (PHI;
    the viewing is audited)."""
    authorize(records, actor, "view_consent_pdf")
    with records.transaction() as session:
        c = get_row(session, Consent, consent_id)
        keys = records.keys
        analysis = keys.decrypt_json(c.analysis_enc, field_context("consents", "analysis", c.id)) or {}
        log_event(records, session, actor, "consent.viewed", "consent", c.id)
        return {**asdict(consent_view(c)),
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
    authorize(records, actor, "confirm_scope")
    with records.transaction() as session:
        c = get_row(session, Consent, consent_id, lock=True)
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
        log_event(records, session, actor, "consent.confirmed", "consent", c.id,
                  covers_social_media=covers_social_media, platforms=c.confirmed_platforms,
                  excluded=c.confirmed_excluded, identifiable=identifiable, expires=as_iso(c.confirmed_expires),
                  signature_attested=signature_attested)
        _supersede_older(records, session, actor, c)
        return consent_view(c)


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
        takedowns = end_releases(session, c.id) if newer.confirmed_social_media is False else []
        log_event(records, session, actor, "consent.superseded", "consent", c.id, by=newer.id, takedowns=takedowns)


def list_consents(records: Records, actor: Actor, status: str | None = None) -> list[ConsentView]:
    authorize(records, actor, "view_records")
    with records.db.reading() as session:
        query = select(Consent).order_by(Consent.registered_at.desc())
        if status:
            query = query.where(Consent.status == status)
        return [consent_view(c) for c in session.scalars(query)]


def find_consents(records: Records, actor: Actor, patient_ref: str) -> list[ConsentView]:
    """A patient's consents, newest first, found through the blind index of the reference (the reference
    itself is stored only encrypted). The search is audited by what it found, never by the reference."""
    authorize(records, actor, "view_records")
    if not patient_ref.strip():
        raise WorkflowError("enter the patient's reference (record number) to search for their consents")
    key = _patient_key(records, patient_ref)
    with records.transaction() as session:
        found = session.scalars(select(Consent).where(Consent.patient_key == key)
                                .order_by(Consent.registered_at.desc())).all()
        log_event(records, session, actor, "consent.searched", None, None, found=[c.id for c in found])
        return [consent_view(c) for c in found]


def _patient_key(records: Records, patient_ref: str) -> str:
    return records.keys.blind_index(patient_ref, "patient")


COPY_CHANNELS = ("download", "print")


def view_consent_pdf(records: Records, actor: Actor, consent_id: str, *, patient_copy: str | None = None) -> bytes:
    """The consent PDF, audited: viewed, or (`patient_copy`: "download" or "print") offered to the patient
    as their copy."""
    authorize(records, actor, "view_consent_pdf")
    if patient_copy is not None and patient_copy not in COPY_CHANNELS:
        raise WorkflowError(f"a patient's copy is offered by {' or '.join(COPY_CHANNELS)}, not {patient_copy!r}")
    with records.transaction() as session:
        c = get_row(session, Consent, consent_id)
        if c.pdf_blob is None:
            raise WorkflowError("the consent PDF was deleted at the end of its retention period")
        data = records.store.read_bytes(c.pdf_blob)
        if patient_copy:
            log_event(records, session, actor, "consent.copy_offered", "consent", c.id, channel=patient_copy)
        else:
            log_event(records, session, actor, "consent.pdf_viewed", "consent", c.id)
        return data


def revoke_consent(records: Records, actor: Actor, consent_id: str, note: str | None = None) -> list[str]:
    """The patient withdrew: the consent is revoked, each of its releases becomes a takedown task, pending
    requests are withdrawn, and its outputs can no longer be downloaded or exported. Returns the ids of the
    releases to take down."""
    authorize(records, actor, "revoke_consent")
    with records.transaction() as session:
        c = get_row(session, Consent, consent_id, lock=True)
        if c.status == "revoked":
            raise WorkflowError("this consent is already revoked")
        c.status, c.status_changed_at, c.status_changed_by = "revoked", utcnow(), actor.id
        c.status_note_enc = records.keys.encrypt_text(note, field_context("consents", "status_note", c.id))
        takedowns = end_releases(session, c.id)
        log_event(records, session, actor, "consent.revoked", "consent", c.id, takedowns=takedowns)
        return takedowns


def end_releases(session: Session, consent_id: str) -> list[str]:
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
