"""Review: a person edits an output's regions (it is re-rendered, by a worker when a page asks), looks at the
result and marks it reviewed."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from records.audit import Actor
from records.models import Asset, Consent, Job, Output, utcnow
from records.services.core import Records, WorkflowError, authorize, get_row, log_event, original_to_process
from records.services.intake import render_output
from records.services.jobs import ACTIVE, JobView, job_view
from records.services.views import OutputView, output_view


def rerender_with_edits(records: Records, actor: Actor, output_id: str, *, add_regions: list | None = None,
                        remove_regions: list | None = None) -> OutputView:
    """Re-render an output with a reviewer's edits (regions drawn by hand added, false detections removed), here
    and now (the command line, tests); the pages queue it for a worker instead (`enqueue_rerender`).
    The new output replaces the old one, which can no longer be released; the new one needs its own review."""
    authorize(records, actor, "review")
    with records.db.reading() as session:
        old = replaceable(session, output_id)
        asset_id, profile = old.asset_id, old.profile_id or "default"
        added, removed = _edited(old, add_regions, remove_regions)
    return render_output(records, actor, asset_id, profile, added, removed, output_id, None)


def enqueue_rerender(records: Records, actor: Actor, output_id: str, *, add_regions: list | None = None,
                     remove_regions: list | None = None) -> JobView:
    """Queue the re-render for a worker and return at once: the job (kind "rerender") holds the output it
    replaces and the edited regions (pixel boxes); the worker reads the patient's identifiers for the
    engine's check from the records itself. One re-render of an output at a time."""
    authorize(records, actor, "review")
    with records.transaction() as session:
        old = replaceable(session, output_id, lock=True)
        original_to_process(get_row(session, Asset, old.asset_id))
        added, removed = _edited(old, add_regions, remove_regions)
        if not (add_regions or remove_regions):
            raise WorkflowError("draw a region to add or choose one to remove before re-rendering")
        if session.scalar(select(Job.id).where(Job.replaces_id == old.id, Job.state.in_(ACTIVE))) is not None:
            raise WorkflowError("a re-render of this output is queued already; its result appears when it is done")
        job = Job(kind="rerender", owner_id=actor.id, asset_id=old.asset_id, profile=old.profile_id or "default",
                  replaces_id=old.id, regions={"added": added, "removed": removed}, state="queued", progress=0.0,
                  attempts=0, cancel_requested=False, created_at=utcnow())
        session.add(job)
        session.flush()
        log_event(records, session, actor, "job.queued", "job", job.id, kind="rerender", asset_id=old.asset_id,
                  replaces=old.id, added=len(added), removed=len(removed))
        view = job_view(session, job)
    records.queue.wake()
    return view


def replaceable(session: Session, output_id: str, *, lock: bool = False) -> Output:
    """The output, when a reviewer's edits may replace it: a photo's, not replaced already."""
    old = get_row(session, Output, output_id, lock=lock)
    if old.kind != "image":
        raise WorkflowError("regions can be edited on photos only; for a video, re-process it")
    if old.superseded:
        raise WorkflowError("this output was already replaced; review the newest one")
    return old


def _edited(old: Output, add_regions: list | None, remove_regions: list | None) -> tuple[list, list]:
    """The regions drawn by hand and removed, for the old output's re-render with these edits."""
    drop = [_box(r)[:4] for r in remove_regions or []]
    drawn = [_box(r) for r in (old.regions_added or []) + list(add_regions or [])]
    # removing a region drawn earlier un-draws it; removing a detected one tells the engine to skip it
    added = [r for r in drawn if r[:4] not in drop]
    removed = [_box(r) for r in old.regions_removed or []] + [r for r in drop if r not in [d[:4] for d in drawn]]
    return added, removed


def _box(region) -> list:
    """[x0, y0, x1, y1]; a region drawn over writing keeps "text" after its corners (the engine covers it as
    text: solid). Anything else is refused."""
    region = list(region)
    corners, kind = region[:4], region[4:]
    try:
        box = [int(v) for v in corners]
    except (TypeError, ValueError):
        box = []
    if len(box) != 4 or kind not in ([], ["text"]) or box[2] <= box[0] or box[3] <= box[1]:
        raise WorkflowError('a region is [x0, y0, x1, y1] with x1 > x0 and y1 > y0, and "text" after them for '
                            "writing")
    return box + kind


def mark_reviewed(records: Records, actor: Actor, output_id: str) -> OutputView:
    """A person looked at the output and confirms no face or other identifier is visible."""
    authorize(records, actor, "review")
    with records.transaction() as session:
        output = get_row(session, Output, output_id, lock=True)
        if output.blob is None:
            raise WorkflowError("this output failed verification; there is nothing to confirm")
        if output.superseded:
            raise WorkflowError("this output was replaced; review the newest one")
        output.reviewed_by, output.reviewed_at = actor.id, utcnow()
        log_event(records, session, actor, "output.reviewed", "output", output.id, regions=len(output.regions))
        return output_view(output)


def list_outputs(records: Records, actor: Actor, asset_id: str | None = None) -> list[OutputView]:
    authorize(records, actor, "view_records")
    with records.db.reading() as session:
        query = select(Output).order_by(Output.created_at)
        if asset_id:
            query = query.where(Output.asset_id == asset_id)
        return [output_view(o) for o in session.scalars(query)]


def preview_output(records: Records, actor: Actor, output_id: str) -> bytes:
    """The de-identified file, for review on screen (downloads go through `download_output`)."""
    authorize(records, actor, "review")
    with records.db.reading() as session:
        output = get_row(session, Output, output_id)
        if output.blob is None:
            raise WorkflowError("this output failed verification and was not kept")
        _refuse_if_revoked(session, output)
        return records.store.read_bytes(output.blob)


def _refuse_if_revoked(session: Session, output: Output) -> None:
    consent_id = session.get(Asset, output.asset_id).consent_id
    consent = session.get(Consent, consent_id) if consent_id else None
    if consent is not None and consent.status == "revoked":
        raise WorkflowError("the consent for this media was revoked; its outputs can no longer be used")
