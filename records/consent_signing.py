"""A consent signed in Veil, the service: the model form filled on a tablet, signed by the patient, sealed
with the installation's certificate, then registered on the same road as an uploaded consent PDF
(`register_consent`: the checker in its sandbox, the encrypted blob, the verdict). The form's version and
the SHA-256 of its text are recorded with the consent, and the patient's copy is handed out audited.
"""
from __future__ import annotations

import datetime as dt
import uuid

from consent.form_versions import FormVersionError, current_version, load_version
from consent.signature_pad import Signature, signature_png, signature_problem
from consent.signed_form import Signing, render_signed_form
from records import services
from records.audit import Actor
from records.models import Consent, utcnow
from records.services import ConsentView, Records, WorkflowError
from records.signing import SigningError, seal, sealing_identity, trust_roots
from records.users import require

COPY_CHANNELS = ("download", "print")


def sign_consent_in_veil(records: Records, actor: Actor, *, version_id: str, patient_name: str, patient_ref: str,
                         answers: dict[str, bool | str], signature: Signature,
                         now: dt.datetime | None = None) -> ConsentView:
    """Render the form version the patient read with their answers and drawn signature, seal it, and
    register it. An empty or trivial signature, a form version that is no longer the current one, or a
    seal that cannot be made is refused with the reason, and nothing is stored."""
    require(actor, "register_consent")
    if not patient_name.strip() or not patient_ref.strip():
        raise WorkflowError("a consent needs the patient's name and reference (record number)")
    problem = signature_problem(signature)
    if problem:
        raise WorkflowError(f"the signature was refused: {problem}; nothing was stored")
    version = _offered_version(version_id)
    signing = Signing(uuid.uuid4().hex, now or utcnow(), actor.username, patient_name.strip(), patient_ref.strip(),
                      by_representative=bool(answers.get("minor_guardian")))
    try:
        unsealed = render_signed_form(version, answers, signature_png(signature), signing)
        identity = sealing_identity(records, actor)
        sealed = seal(unsealed, identity)
    except (ValueError, SigningError) as exc:
        raise WorkflowError(f"the consent could not be made: {exc}; nothing was stored") from None
    view = services.register_consent(records, actor, sealed, signing.patient_name, signing.patient_reference,
                                     trust_roots=trust_roots(records))
    with records.transaction() as session:
        consent = session.get(Consent, view.id, with_for_update=True)
        consent.form_version, consent.form_sha256 = version.id, version.sha256
        services._log(records, session, actor, "consent.signed_in_veil", "consent", consent.id,
                      document_id=signing.document_id, form_version=version.id, form_sha256=version.sha256,
                      witness=actor.username, sealed_by=identity.subject, certificate=identity.source,
                      pdf_sha256=view.pdf_sha256)
    return view


def _offered_version(version_id: str):
    try:
        version = load_version(version_id)
        newest = current_version(version.language)
    except FormVersionError as exc:
        raise WorkflowError(f"the consent form cannot be used: {exc}") from None
    if newest.id != version.id:
        raise WorkflowError(f"form {version.id} was replaced by {newest.id} while it was open; show the patient "
                            "the new form")
    return version


def signed_form_of(records: Records, actor: Actor, consent_id: str) -> dict[str, str | None]:
    """The form version and text hash a consent was signed on (None for an uploaded consent)."""
    require(actor, "view_records")
    with records.db.reading() as session:
        consent = session.get(Consent, consent_id)
        if consent is None:
            raise services.RecordNotFound(f"no consent with id {consent_id!r}")
        return {"form_version": consent.form_version, "form_sha256": consent.form_sha256}


def patient_copy(records: Records, actor: Actor, consent_id: str, channel: str) -> bytes:
    """The sealed PDF, handed to the patient by download or print; the audit log records that it was."""
    services._authorize(records, actor, "view_consent_pdf")
    if channel not in COPY_CHANNELS:
        raise WorkflowError(f"a copy is offered by {' or '.join(COPY_CHANNELS)}, not {channel!r}")
    with records.transaction() as session:
        consent = session.get(Consent, consent_id)
        if consent is None or consent.pdf_blob is None:
            raise WorkflowError("this consent's PDF is not kept; no copy can be offered")
        data = records.store.read_bytes(consent.pdf_blob)
        services._log(records, session, actor, "consent.copy_offered", "consent", consent.id, channel=channel)
        return data
