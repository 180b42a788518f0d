"""A consent signed in Veil: the model form filled on a tablet, signed by the patient with a finger or a
stylus, sealed with the installation's certificate (records.signing), then registered on the same road as
an uploaded consent PDF (`register_consent`: the checker in its sandbox, the encrypted blob, the verdict),
with the form's version and the SHA-256 of its text recorded on the consent and in its audit event.
The patient's copy is handed out through `view_consent_pdf(..., patient_copy=...)`, audited.
"""
from __future__ import annotations

import datetime as dt
import uuid

from consent.form_versions import FormVersion, FormVersionError, current_version, load_version
from consent.signature_pad import Signature, signature_png, signature_problem
from consent.signed_form import Signing, render_signed_form
from records.audit import Actor
from records.models import utcnow
from records.services.consents import register_consent
from records.services.core import Records, WorkflowError, authorize
from records.services.views import ConsentView
from records.signing import SigningError, seal, sealing_identity


def sign_consent_in_veil(records: Records, actor: Actor, *, version_id: str, patient_name: str, patient_ref: str,
                         answers: dict[str, bool | str], signature: Signature,
                         now: dt.datetime | None = None) -> ConsentView:
    """Render the form version the patient read with their answers (by field name) and drawn signature, seal
    it and register it; the signed-in `actor` is the witness. An empty or trivial signature, a form version
    that is no longer the one offered, or a seal that cannot be made is refused with the reason, and
    nothing is stored."""
    authorize(records, actor, "register_consent")
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
    facts = {"document_id": signing.document_id, "form_version": version.id, "form_sha256": version.sha256,
             "witness": actor.username, "sealed_by": identity.subject, "certificate": identity.source}
    return register_consent(records, actor, sealed, signing.patient_name, signing.patient_reference,
                            signed_in_veil=facts)


def _offered_version(version_id: str) -> FormVersion:
    """The version the patient read, if it is still the one offered in its language."""
    try:
        version = load_version(version_id)
        newest = current_version(version.language)
    except FormVersionError as exc:
        raise WorkflowError(f"the consent form cannot be used: {exc}") from None
    if newest.id != version.id:
        raise WorkflowError(f"form {version.id} was replaced by {newest.id} while it was open; show the patient "
                            "the new form")
    return version
