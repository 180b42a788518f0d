"""Reading a photo output again for the name and reference of the patient whose consent is linked to its media
now (gate rule "identifiers_unchecked"): an output rendered before that consent was linked was read for no
name, or for another patient's. The output is decrypted to memory, read in a process of its own
(records.reread), and then either recorded as checked for this consent or withheld, with a reason that gives
a count, never a name. The identifiers are handed over in memory only: never queued, logged or stored.
"""
from __future__ import annotations

from typing import Callable

from sqlalchemy import select

import isolation
from records.audit import Actor
from records.crypto import DecryptionError
from records.models import Asset, Output
from records.reread import count_readable_isolated
from records.services.core import Records, WorkflowError, authorize, get_row, log_event
from records.services.intake import _patient_identifiers
from records.services.views import OutputView, output_view


def recheck_identifiers(records: Records, actor: Actor, output_id: str) -> OutputView:
    """Read a photo output again for the linked consent's patient (the gate's fix "recheck_identifiers"). Safe
    to call twice: an output already read for that consent is returned as it is."""
    authorize(records, actor, "review")
    return _recheck(records, actor, output_id)


def recheck_outputs_of(records: Records, actor: Actor, asset_id: str, *,
                       reread: Callable | None = None) -> list[OutputView]:
    """After a consent is linked: read the media's current photo outputs again. One that cannot be read now
    stays refused at the gate, which offers the reading again, so a failure here does not undo the link.
    `reread` (records.reread.count_readable's arguments): in a process of its own by default; a worker, the
    isolation unit itself, passes count_readable to read in its own process."""
    with records.db.reading() as session:
        current = session.scalars(select(Output.id).where(
            Output.asset_id == asset_id, Output.kind == "image", Output.superseded.is_(False),
            Output.blob.is_not(None), Output.error.is_(None))).all()
    views = []
    for output_id in current:
        try:
            views.append(_recheck(records, actor, output_id, reread or count_readable_isolated))
        except WorkflowError:
            continue
    return views


def _recheck(records: Records, actor: Actor, output_id: str,
             reread: Callable = count_readable_isolated) -> OutputView:
    with records.db.reading() as session:
        output = get_row(session, Output, output_id)
        _refuse_unreadable(output)
        asset = get_row(session, Asset, output.asset_id)
        consent_id = asset.consent_id
        if output.identifiers_consent_id == consent_id or consent_id is None:
            return output_view(output)   # read for this consent already, or there is no patient to read for
        blob, profile_id = output.blob, output.profile_id
        identifiers = _patient_identifiers(records, session, asset)
    try:
        picture = records.store.read_bytes(blob)
    except (OSError, DecryptionError) as exc:   # gone or altered: the gate keeps refusing it
        raise WorkflowError(f"the output's stored file could not be opened ({type(exc).__name__}); it stays "
                            "held back at the gate") from None
    try:
        readable = reread(picture, identifiers, profile_id)
    except isolation.Failed as failure:
        raise WorkflowError(f"the output could not be read again ({failure.reason}); it stays held back at "
                            "the gate") from None
    return _record(records, actor, output_id, consent_id, blob, readable)


def _refuse_unreadable(output: Output) -> None:
    if output.kind != "image":
        raise WorkflowError("only a photo is read for the patient's name and reference")
    if output.blob is None or output.error:
        raise WorkflowError("this output was not kept (it failed verification): there is nothing to read again")


def _record(records: Records, actor: Actor, output_id: str, consent_id: str, blob: str, readable: int) -> OutputView:
    """The reading's result, if the output and its media's consent are still what was read."""
    with records.transaction() as session:
        output = get_row(session, Output, output_id)
        asset = get_row(session, Asset, output.asset_id, lock=True)   # as a rendering is recorded: one at a time
        if asset.consent_id != consent_id or output.blob != blob or output.error:
            raise WorkflowError("the media or its output changed while it was read: read it again")
        if readable:
            output.error = (f"output withheld: {readable} of the patient's identifiers can still be read in the "
                            "picture; cover them by hand in review")
            log_event(records, session, actor, "output.withheld", "output", output.id, asset_id=asset.id,
                      consent_id=consent_id, identifiers_readable=readable)
        else:
            output.identifiers_consent_id = consent_id
            log_event(records, session, actor, "output.identifiers_checked", "output", output.id, asset_id=asset.id,
                      consent_id=consent_id, identifiers_readable=0)
        return output_view(output)
