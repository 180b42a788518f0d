"""Jobs a person asks for: de-identify uploaded media, re-render an output with a reviewer's edits
(records.services.review.enqueue_rerender), or read a consent PDF (records.services.consent_readings.
enqueue_consent_reading), in a worker process instead of the page; see each job's live
progress, cancel it, retry it.

A job is a row (records.models.Job): queued, then running in a worker (records.worker) with its progress,
then done, failed (with the reason) or cancelled. The page enqueues and returns at once; what it shows comes
from these rows, so it survives navigation, a reload, signing out and an app restart. The queue carries only
wake-ups (records.queue); workers take the jobs from the table (records.services.work).
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from records.audit import Actor
from records.models import Asset, ConsentReading, Job, utcnow
from records.services.blobs import delete_unreferenced
from records.services.core import (Records, WorkflowError, as_iso, authorize, get_row, log_event,
                                   original_to_process, username_of)
from records.users import PermissionDenied
from deid.profile import ProfileError, load_profile

ACTIVE = ("queued", "running")
ENDED = ("failed", "cancelled")


@dataclass(frozen=True)
class JobView:
    id: str
    kind: str
    state: str
    progress: float
    stage: str | None
    error: str | None
    attempts: int
    cancel_requested: bool
    asset_id: str | None
    asset_kind: str | None
    output_id: str | None
    replaces_id: str | None   # a re-render: the output it replaces
    consent_id: str | None    # a consent reading: the consent it registered
    profile: str | None
    owner: str | None
    worker: str | None
    created_at: str
    started_at: str | None
    finished_at: str | None

    @property
    def active(self) -> bool:
        return self.state in ACTIVE


def job_view(session, job: Job) -> JobView:
    asset = session.get(Asset, job.asset_id) if job.asset_id else None
    return JobView(id=job.id, kind=job.kind, state=job.state, progress=job.progress, stage=job.stage,
                   error=job.error, attempts=job.attempts, cancel_requested=job.cancel_requested,
                   asset_id=job.asset_id, asset_kind=asset.kind if asset else None, output_id=job.output_id,
                   replaces_id=job.replaces_id, consent_id=job.consent_id, profile=job.profile, owner=username_of(session, job.owner_id),
                   worker=job.worker, created_at=as_iso(job.created_at), started_at=as_iso(job.started_at),
                   finished_at=as_iso(job.finished_at))


def enqueue_processing(records: Records, actor: Actor, asset_ids: list[str], profile: str = "default") -> list[JobView]:
    """One de-identification job per asset, queued for the workers; returns at once."""
    authorize(records, actor, "process")
    try:
        load_profile(profile)
    except ProfileError as exc:
        raise WorkflowError(str(exc)) from None
    with records.transaction() as session:
        views = []
        for asset_id in asset_ids:
            asset = get_row(session, Asset, asset_id)
            original_to_process(asset)
            job = Job(kind="deid", owner_id=actor.id, asset_id=asset.id, profile=profile, state="queued",
                      progress=0.0, attempts=0, cancel_requested=False, created_at=utcnow())
            session.add(job)
            session.flush()
            log_event(records, session, actor, "job.queued", "job", job.id, kind="deid", asset_id=asset.id,
                      profile=profile)
            views.append(job_view(session, job))
    records.queue.wake(len(views))
    return views


def list_jobs(records: Records, actor: Actor, *, everyone: bool = False, limit: int = 50) -> list[JobView]:
    """The newest jobs: the actor's own, or everyone's (an administrator's view of the queue)."""
    authorize(records, actor, "manage_users" if everyone else "view_records")
    with records.db.reading() as session:
        query = select(Job).order_by(Job.created_at.desc(), Job.id).limit(limit)
        if not everyone:
            query = query.where(Job.owner_id == actor.id)
        return [job_view(session, job) for job in session.scalars(query)]


def jobs_replacing(records: Records, actor: Actor, output_id: str) -> list[JobView]:
    """The re-renders asked for an output, newest first, whoever asked (each reviewer sees the output's
    state the same way)."""
    authorize(records, actor, "view_records")
    with records.db.reading() as session:
        query = select(Job).where(Job.replaces_id == output_id).order_by(Job.created_at.desc(), Job.id)
        return [job_view(session, job) for job in session.scalars(query)]


def get_job(records: Records, actor: Actor, job_id: str) -> JobView:
    authorize(records, actor, "view_records")
    with records.db.reading() as session:
        job = get_row(session, Job, job_id)
        _check_owner(actor, job, "see")
        return job_view(session, job)


def forget_reading(session, job: Job) -> str | None:
    """A consent job ended: its consent reading (the PDF's blob, the patient's name and reference) goes;
    returns the blob, for the caller to delete after the commit unless a consent now names it."""
    if job.reading_id is None:
        return None
    reading = session.get(ConsentReading, job.reading_id)
    job.reading_id = None
    session.flush()
    if reading is None:
        return None
    session.delete(reading)
    return reading.pdf_blob


def cancel_job(records: Records, actor: Actor, job_id: str) -> JobView:
    """A queued job never runs; a running one is stopped by its worker at its next progress report (a photo:
    when it is done, and its output is thrown away). Either way no output is kept."""
    authorize(records, actor, "process")
    with records.transaction() as session:
        job = _own_job(session, actor, job_id, "cancel", ACTIVE,
                       "this job is already {state}; there is nothing to cancel")
        blob = None
        if job.state == "queued":
            job.state, job.finished_at = "cancelled", utcnow()
            blob = forget_reading(session, job)
        job.cancel_requested = True
        log_event(records, session, actor, "job.cancelled", "job", job.id, was=job.state)
        view = job_view(session, job)
    delete_unreferenced(records, [blob])
    return view


def retry_job(records: Records, actor: Actor, job_id: str) -> JobView:
    """Queue a failed or cancelled job again, from the start."""
    authorize(records, actor, "process")
    with records.transaction() as session:
        job = _own_job(session, actor, job_id, "retry", ENDED,
                       "this job is {state}; only a failed or cancelled job can be retried")
        if job.asset_id:
            original_to_process(get_row(session, Asset, job.asset_id))
        if job.kind == "consent" and job.reading_id is None:
            raise WorkflowError("the consent PDF of this job is no longer kept; upload it again")
        job.state, job.error, job.stage, job.progress = "queued", None, None, 0.0
        job.attempts, job.cancel_requested, job.worker = 0, False, None
        job.created_at, job.started_at, job.finished_at, job.heartbeat_at = utcnow(), None, None, None
        log_event(records, session, actor, "job.retried", "job", job.id)
        view = job_view(session, job)
    records.queue.wake()
    return view


def _own_job(session, actor: Actor, job_id: str, what: str, states: tuple, refusal: str) -> Job:
    """The job, locked, when the actor may `what` it and it is in one of `states`; else the refusal."""
    job = get_row(session, Job, job_id, lock=True)
    _check_owner(actor, job, what)
    if job.state not in states:
        raise WorkflowError(refusal.format(state=job.state))
    return job


def _check_owner(actor: Actor, job: Job, what: str) -> None:
    if job.owner_id != actor.id and actor.role != "admin":
        raise PermissionDenied(f"only the person who asked for this job or an administrator may {what} it")
