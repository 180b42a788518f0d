"""Consents: register a PDF (read by the checker in a sandbox), confirm its scope from the quoted evidence,
find a patient's consents, view the PDF, revoke. Reading a PDF as a queued job: consent_readings.py.

The patient's name and reference and the checker's evidence are PHI: stored encrypted, and seeing them is
an audited action.
"""
from __future__ import annotations

import datetime as dt
import shutil
import uuid
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from consent import lexicon
from consent.verdict import Verdict
from deid.formats import sniff
from deid.models import sha256_file
from records import sandbox, signing
from records.audit import Actor
from records.models import Asset, Consent, Output, Release, field_context, utcnow
from records.release_gate import PLATFORMS, normalise_platform
from records.services.blobs import delete_unreferenced
from records.services.core import (Records, ScopeConflict, WorkflowError, as_iso, authorize, get_row,
                                   log_event, one_at_a_time, patient_of, refuse_oversized, upload_size,
                                   username_of)
from records.services.views import ConsentView, consent_view
from records.store import WorkDir


PDF_SIGNATURE = b"%PDF-"
PDF_HEADER_WINDOW = 1024   # readers accept a few stray bytes before the header, no more


@dataclass(frozen=True)
class Document:
    """What identifies an uploaded consent document, and whose it is: compared in memory, stored keyed."""
    sha256: str
    text_key: str | None    # keyed hash of the normalised text (consent.fingerprint), None for too little text
    patient_key: str
    file_name: str          # the uploaded file's own name: for messages to the person uploading it, never stored


def register_consent(records: Records, actor: Actor, pdf: Path | bytes, patient_name: str, patient_ref: str,
                     *, trust_roots: list | None = None, file_name: str = "the consent PDF",
                     signed_in_veil: dict | None = None) -> ConsentView:
    """Run the checker on a consent PDF, store the PDF encrypted, the verdict in clear, and the evidence,
    patient name and reference encrypted. `trust_roots` (default: the certificates Veil seals its own
    consents with) decide `signer_trusted`; `signed_in_veil` (from records.services.signing): the form
    version, its text hash and the signing's facts, recorded with the consent and in its audit event.

    Refused, with nothing stored, and named by `file_name` (the uploaded file's own name): an empty file, one
    that is not a PDF, one the checker cannot read, a document that was revoked (the same bytes, or the same
    text in another file: revocation is final for a document), and a document registered for another patient.
    Safe to call twice: the same document (bytes or text) for the same patient (`Document`, with the patient
    key) returns the consent registered before, marked `existing`."""
    authorize(records, actor, "register_consent")
    if trust_roots is None:
        trust_roots = signing.trust_roots(records)
    refuse_before_reading(records, pdf, patient_name, patient_ref, file_name)
    with WorkDir(records.settings.work_dir) as work:
        path = copy_upload(pdf, work / "consent.pdf")   # never the uploaded name: it may name the patient
        refuse_non_pdf(path, file_name)
        verdict = sandbox.check_in_sandbox(path, trust_roots=trust_roots)   # a crash costs this PDF, not the app
        return register_read(records, actor, path, verdict, patient_name, patient_ref, file_name, signed_in_veil)


def refuse_before_reading(records: Records, pdf: Path | bytes, patient_name: str, patient_ref: str,
                           file_name: str) -> None:
    if not patient_name.strip() or not patient_ref.strip():
        raise WorkflowError("a consent needs the patient's name and reference (record number)")
    size = upload_size(pdf)
    if size == 0:
        raise WorkflowError(f"{file_name}: the file is empty (0 bytes), so it cannot be a consent; upload the "
                            "signed consent PDF")
    refuse_oversized(size, records.settings.max_pdf_mb, "consent PDF")


def register_read(records: Records, actor: Actor, path: Path, verdict: Verdict, patient_name: str,
                   patient_ref: str, file_name: str, signed_in_veil: dict | None,
                   still_wanted: Callable[[], bool] = lambda: True) -> ConsentView:
    """Keep the read PDF (at `path`, a work copy) and its verdict as a consent, or refuse with the reason;
    `still_wanted` is asked last, before anything is stored (a queued reading may have been cancelled)."""
    if verdict.error:
        raise WorkflowError(f"{file_name}: this PDF cannot be read "
                            f"({_without_work_name(verdict.error, path)}); nothing was registered")
    document = Document(sha256_file(path), _text_key(records, verdict.text_sha256),
                        patient_key(records, patient_ref), file_name)
    with records.db.reading() as session:
        earlier = registered_before(session, document)
    if earlier is not None:
        return earlier
    if not still_wanted():
        raise ReadingCancelled()
    with records.store.keeping():   # until the commit: nobody deletes this content
        blob = records.store.put_file(path)
        view = _add_consent(records, actor, verdict, blob, document, patient_name, patient_ref, signed_in_veil)
    if view.existing:   # registered by a second press meanwhile: its file was stored, and is one too many
        delete_unreferenced(records, [blob])
    return view


class ReadingCancelled(Exception):
    """A person cancelled the queued reading while it was read: nothing is registered."""


def copy_upload(pdf: Path | bytes, path: Path) -> Path:
    if isinstance(pdf, (bytes, bytearray)):
        path.write_bytes(pdf)
        return path
    try:
        shutil.copyfile(pdf, path)
    except OSError as exc:   # never echo the path: it may hold the patient's name
        raise WorkflowError(f"the consent PDF could not be read ({exc.strerror or type(exc).__name__})") from None
    return path


def refuse_non_pdf(path: Path, file_name: str) -> None:
    with open(path, "rb") as fh:
        refuse_non_pdf_head(fh.read(PDF_HEADER_WINDOW), file_name)


def refuse_non_pdf_head(head: bytes, file_name: str) -> None:
    if PDF_SIGNATURE not in head:
        fmt = sniff(head[:64])
        looks = f" (it is a {fmt.name.upper()} {fmt.kind})" if fmt.kind != "unknown" else ""
        raise WorkflowError(f"{file_name}: this is not a PDF{looks}; upload the signed consent as a PDF")


def _without_work_name(message: str, work_copy: Path) -> str:
    """The checker begins its messages with the name of the file it read, here the work copy; the person knows
    the file by its own name, which the caller gives instead."""
    return message.removeprefix(f"{work_copy.name}: ")


def _text_key(records: Records, text_sha256: str | None) -> str | None:
    return records.keys.blind_index(text_sha256, "consent-text") if text_sha256 else None


def registered_before(session: Session, document: Document) -> ConsentView | None:
    """The consent this document was registered as for this patient (marked existing), or None when it is
    new; a WorkflowError when it was revoked, or registered for another patient."""
    same = Consent.pdf_sha256 == document.sha256
    if document.text_key:
        same = or_(same, Consent.text_key == document.text_key)
    found = session.scalars(select(Consent).where(same).order_by(Consent.registered_at)).all()
    if revoked := [c for c in found if c.status == "revoked"]:
        raise WorkflowError(_revoked_message(session, revoked[0], document))
    if mine := [c for c in found if c.patient_key == document.patient_key]:
        return replace(consent_view(mine[-1]), existing=True,
                       notice=f"{document.file_name}: already registered as consent {mine[-1].id[:8]}; no second "
                              "copy was made")
    if found:
        raise WorkflowError(f"{document.file_name}: this document is registered already, as consent "
                            f"{found[0].id[:8]} of another patient; a consent belongs to one patient, so check the "
                            "name and reference")
    return None


def _revoked_message(session: Session, revoked: Consent, document: Document) -> str:
    copy = "" if revoked.pdf_sha256 == document.sha256 else "; this file is a copy with the same text"
    return (f"{document.file_name}: this document was revoked on {revoked.status_changed_at.date().isoformat()} "
            f"by {username_of(session, revoked.status_changed_by) or 'the installation'} (consent "
            f"{revoked.id[:8]}{copy}). A revoked consent cannot be registered again: a new signed authorization "
            "is needed")


def _add_consent(records: Records, actor: Actor, verdict: Verdict, blob: str, document: Document,
                 patient_name: str, patient_ref: str, signed_in_veil: dict | None) -> ConsentView:
    now = utcnow()
    with records.transaction() as session:
        one_at_a_time(session)
        earlier = registered_before(session, document)
        if earlier is not None:
            return earlier
        consent = Consent(
            id=uuid.uuid4().hex, pdf_sha256=blob, pdf_blob=blob, check_error=verdict.error,
            text_source=verdict.text_source, social_media=verdict.social_media,
            platforms=list(verdict.platforms), excluded_platforms=list(verdict.excluded_platforms),
            identifiable=verdict.identifiable,
            expires=dt.date.fromisoformat(verdict.expires) if verdict.expires else None,
            has_expiry_event=bool(verdict.expires_event), signed=verdict.signed,
            signature_valid=verdict.signature_valid, status="active", registered_by=actor.id,
            registered_at=now, retain_until=_years_later(now, records.settings.consent_retention_years),
            patient_key=document.patient_key, text_key=document.text_key,
            signed_on=dt.date.fromisoformat(verdict.signed_on) if verdict.signed_on else None)
        if signed_in_veil:
            consent.form_version = signed_in_veil["form_version"]
            consent.form_sha256 = signed_in_veil["form_sha256"]
        revoked = _unfollowed_revocation(session, consent)
        consent.after_revocation_of = revoked.id if revoked is not None else None
        analysis = {k: v for k, v in verdict.to_json().items() if k not in ("path", "text_sha256")}
        consent.analysis_enc = records.keys.encrypt_json(analysis, field_context("consents", "analysis", consent.id))
        consent.patient_name_enc = records.keys.encrypt_text(patient_name.strip(),
                                                             field_context("consents", "patient_name", consent.id))
        consent.patient_ref_enc = records.keys.encrypt_text(patient_ref.strip(),
                                                            field_context("consents", "patient_ref", consent.id))
        session.add(consent)
        session.flush()
        log_event(records, session, actor, "consent.registered", "consent", consent.id, pdf_sha256=blob,
                  verdict={k: analysis[k] for k in ("social_media", "platforms", "excluded_platforms", "identifiable",
                                                  "expires", "signed", "signature_valid", "signed_on")},
                  check_error=bool(verdict.error), after_revocation_of=consent.after_revocation_of,
                  **({"signed_in_veil": signed_in_veil} if signed_in_veil else {}))
        notice = _revocation_notice(session, consent, revoked, document.file_name) if revoked is not None else None
        return replace(consent_view(consent), notice=notice)


def _unfollowed_revocation(session: Session, consent: Consent) -> Consent | None:
    """The patient's latest revoked consent, when this one is not known to be signed after it was revoked
    (a later day: a day's revocation and signing cannot be told apart)."""
    revoked = session.scalars(select(Consent).where(Consent.patient_key == consent.patient_key,
                                                    Consent.status == "revoked")
                              .order_by(Consent.status_changed_at.desc()).limit(1)).first()
    if revoked is None or (consent.signed_on is not None
                           and consent.signed_on > revoked.status_changed_at.date()):
        return None
    return revoked


def _revocation_notice(session: Session, consent: Consent, revoked: Consent, file_name: str) -> str:
    signed = (f"this document was signed on {consent.signed_on.isoformat()}, not after that"
              if consent.signed_on else "no signing date could be read on this document")
    return (f"{file_name}: this patient revoked consent {revoked.id[:8]} on "
            f"{revoked.status_changed_at.date().isoformat()} (by {username_of(session, revoked.status_changed_by)}) "
            f"and {signed}: a person must confirm that it is a new authorization (on the Consents page, with the "
            "scope) before anything under it is released")


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
        analysis = records.keys.decrypt_json(c.analysis_enc, field_context("consents", "analysis", c.id)) or {}
        log_event(records, session, actor, "consent.viewed", "consent", c.id)
        name, ref = patient_of(records, c)
        return {**asdict(consent_view(c)), "revoked_before": _revocation_before(session, c),
                "platforms_quoted": platforms_quoted(analysis.get("evidence", [])),
                "patient_name": name, "patient_ref": ref,
                "evidence": analysis.get("evidence", []), "reasons": analysis.get("reasons", []),
                "expires_event": analysis.get("expires_event"), "analysis": analysis}


def _revocation_before(session: Session, c: Consent) -> dict | None:
    """The patient's revoked consent this one must follow, while no person has confirmed it is a new
    authorization: its id, the day it was revoked and by whom."""
    if c.after_revocation_of is None or c.new_authorization_by is not None:
        return None
    revoked = get_row(session, Consent, c.after_revocation_of)
    return {"consent_id": revoked.id, "revoked_on": revoked.status_changed_at.date().isoformat(),
            "revoked_by": username_of(session, revoked.status_changed_by)}


def platforms_quoted(evidence: list) -> list[str]:
    """The platforms the quoted passages name (the checker's own platform words), whatever it concluded."""
    text = "\n".join(str(quote.get("text", "")) for quote in evidence)
    return [name for name, words in lexicon.PLATFORM.items() if words.search(text)]


def confirm_new_authorization(records: Records, actor: Actor, consent_id: str) -> ConsentView:
    """A person who has seen the document confirms that it is a new authorization the patient gave after
    revoking their earlier consent (audited). Safe to call twice: once confirmed, nothing changes."""
    authorize(records, actor, "confirm_scope")
    with records.transaction() as session:
        c = get_row(session, Consent, consent_id, lock=True)
        if c.after_revocation_of is None or c.new_authorization_by is not None:
            return consent_view(c)
        if c.status != "active":
            raise WorkflowError(f"this consent is {c.status}; it can no longer be confirmed")
        c.new_authorization_by, c.new_authorization_at = actor.id, utcnow()
        log_event(records, session, actor, "consent.new_authorization_confirmed", "consent", c.id,
                  after_revocation_of=c.after_revocation_of, signed_on=as_iso(c.signed_on))
        return consent_view(c)


def confirm_scope(records: Records, actor: Actor, consent_id: str, *, covers_social_media: bool,
                  identifiable: str, platforms: list[str] | None = None,
                  excluded_platforms: list[str] | None = None, expires: dt.date | None = None,
                  signature_attested: bool = False) -> ConsentView:
    """A person, having read the quoted evidence, records the scope. They may narrow what the document
    grants, never widen it: a grant the checker found absent, identifiable use it found refused, a platform
    it did not name, or a later end date are refused with the reason. A grant confirmed on a document signed
    by hand comes with the attestation of that signature, or is refused. Safe to call twice: the second
    confirmation records the same scope again."""
    authorize(records, actor, "confirm_scope")
    with records.transaction() as session:
        c = get_row(session, Consent, consent_id, lock=True)
        if c.status != "active":
            raise WorkflowError(f"this consent is {c.status}; it can no longer be confirmed")
        if (revoked := _revocation_before(session, c)) is not None:
            raise ScopeConflict(f"this patient revoked consent {revoked['consent_id'][:8]} on {revoked['revoked_on']}, "
                                "and nothing shows this document was signed after that: confirm first that it is a "
                                "new authorization")
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
    if covers and not attested and needs_attestation(c):
        raise ScopeConflict(f"the signature is handwritten: tick '{ATTESTATION}' in this same step (without it, "
                            "every release under this consent would be refused)")
    return chosen or list(c.platforms or [])


ATTESTATION = "I have seen the patient's handwritten signature on this document"


def needs_attestation(c) -> bool:
    """Whether only a person can say the document is signed: no digital signature, and not known unsigned.
    Confirming that it grants social media is then one step with attesting the signature."""
    return c.signature_valid is None and c.signed is not False


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
    key = patient_key(records, patient_ref)
    with records.transaction() as session:
        found = session.scalars(select(Consent).where(Consent.patient_key == key)
                                .order_by(Consent.registered_at.desc())).all()
        log_event(records, session, actor, "consent.searched", None, None, found=[c.id for c in found])
        return [consent_view(c) for c in found]


def patient_key(records: Records, patient_ref: str) -> str:
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
    releases to take down. Safe to call twice: the second call is refused ("already revoked"), changing nothing."""
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
