"""The worker's side of a job: take the fairest queued one, run it with progress, record its end, and put
back or fail the job of a worker that died.

Fair order: the next job belongs to the owner with the fewest jobs running, and among those to the one whose
last job started longest ago (round-robin), so one person's single photo waits behind at most one job of
another person's fifty-photo batch. A job is taken by a conditional update (queued -> running), so two
workers never take the same one; its output and its end are committed in one transaction, and only by the
worker that holds it, so a job put back after its worker was thought dead never yields a second output.
"""
from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass
from typing import Callable

from sqlalchemy import func, select, update

from records.audit import SYSTEM, Actor
from records.models import Job, User, utcnow
from records.services.blobs import delete_unreferenced
from records.services.core import Records, RecordNotFound, WorkflowError, authorize, get_row, log_event
from records.services.consent_readings import media_to_link, read_queued_consent
from records.services.consents import ReadingCancelled
from records.services.intake import link_read_media, render_output
from records.services.jobs import forget_reading
from records.services.review import replaceable
from records.services.upkeep import housekeeping
from records.users import PermissionDenied

MAX_ATTEMPTS = 2            # a job whose worker died is run once more, then failed with the reason
PROGRESS_EVERY = 1.0        # seconds between two progress writes of one job
CLAIM_TRIES = 5             # another worker may take the chosen job first
FAIRNESS_WINDOW = dt.timedelta(days=1)


class JobLost(Exception):
    """The job is no longer this worker's (cancelled, or put back after its worker was thought dead)."""

    def __init__(self, blob: str | None):
        super().__init__("the job was taken away from this worker")
        self.blob = blob


@dataclass(frozen=True)
class Claimed:
    id: str
    kind: str
    owner_id: str | None
    asset_id: str | None
    profile: str | None
    attempts: int
    replaces_id: str | None = None   # a re-render: the output it replaces, and the reviewer's regions
    regions: dict | None = None
    reading_id: str | None = None    # a consent job: the queued PDF and its patient


# -- taking a job ---------------------------------------------------------------------------------------------
def claim_next(records: Records, worker: str) -> Claimed | None:
    """Mark the fairest queued job as running in `worker`'s hands; None when nothing is queued."""
    for _ in range(CLAIM_TRIES):
        with records.db.reading() as session:
            job_id = _fairest(session)
        if job_id is None:
            return None
        now = utcnow()
        with records.transaction() as session:
            taken = session.execute(
                update(Job).where(Job.id == job_id, Job.state == "queued")
                .values(state="running", worker=worker, started_at=now, heartbeat_at=now, progress=0.0,
                        stage="starting", attempts=Job.attempts + 1)).rowcount
            if taken:
                job = session.get(Job, job_id)
                return Claimed(job.id, job.kind, job.owner_id, job.asset_id, job.profile, job.attempts,
                               job.replaces_id, job.regions, job.reading_id)
    return None


def _fairest(session) -> str | None:
    queued = session.execute(select(Job.id, Job.owner_id).where(Job.state == "queued")
                             .order_by(Job.created_at, Job.id).limit(500)).all()
    if not queued:
        return None
    running = dict(session.execute(select(Job.owner_id, func.count()).where(Job.state == "running")
                                   .group_by(Job.owner_id)).all())
    since = utcnow() - FAIRNESS_WINDOW
    last_start = dict(session.execute(select(Job.owner_id, func.max(Job.started_at))
                                      .where(Job.started_at >= since).group_by(Job.owner_id)).all())
    never = dt.datetime.min.replace(tzinfo=dt.timezone.utc)
    first_of: dict = {}
    for position, (job_id, owner) in enumerate(queued):
        first_of.setdefault(owner, (position, job_id))
    owner = min(first_of, key=lambda o: (running.get(o, 0), _aware(last_start.get(o)) or never, first_of[o][0]))
    return first_of[owner][1]


def _aware(when: dt.datetime | None) -> dt.datetime | None:
    """func.max bypasses the UTC column type on SQLite: the value may come back naive (it is UTC)."""
    if when is None or when.tzinfo is not None:
        return when
    return when.replace(tzinfo=dt.timezone.utc)


# -- running it -----------------------------------------------------------------------------------------------
class Progress:
    """The engine's progress reports: each one is a sign of life (`beat`), written to the job at most once a
    second, which is also when the worker learns that a person cancelled the job."""

    def __init__(self, records: Records, job_id: str, worker: str, beat: Callable[[], None]):
        self.records, self.job_id, self.worker, self.beat = records, job_id, worker, beat
        self.cancelled = False
        self._written = 0.0

    def __call__(self, fraction: float, stage: str) -> None:
        self.beat()
        now = time.monotonic()
        if now - self._written < PROGRESS_EVERY and fraction < 1.0:
            return
        self._written = now
        with self.records.transaction() as session:
            session.execute(update(Job).where(Job.id == self.job_id, Job.worker == self.worker,
                                              Job.state == "running")
                            .values(progress=max(0.0, min(1.0, float(fraction))), stage=str(stage)[:80],
                                    heartbeat_at=utcnow()))
            self.cancelled = bool(session.scalar(select(Job.cancel_requested).where(Job.id == self.job_id)))

    def cancel_requested(self) -> bool:
        return self.cancelled


def run_claimed(records: Records, job: Claimed, worker: str, engine: Callable, beat: Callable[[], None]) -> str:
    """Do the job in this process and record how it ended; returns its final state."""
    if job.kind == "housekeeping":
        try:
            housekeeping(records, SYSTEM)
        except Exception as exc:  # the next period tries again; the row says why this one failed
            return _end(records, job.id, worker, "failed", _reason(exc))
        return _end(records, job.id, worker, "done")
    if job.kind == "consent":
        return _read_consent(records, job, worker, beat)
    progress = Progress(records, job.id, worker, beat)

    def finish(session, output) -> None:
        row = session.get(Job, job.id, with_for_update=True)
        if row is None or row.state != "running" or row.worker != worker or row.cancel_requested:
            raise JobLost(output.blob)
        row.state = "done" if output.blob else "failed"
        row.output_id, row.error, row.progress, row.finished_at = output.id, output.error, 1.0, utcnow()

    def run_engine(path, out_dir, profile, **options):
        return engine(path, out_dir, profile, cancel=progress.cancel_requested, **options)

    try:
        owner = _owner(records, job.owner_id)
        added, removed = _regions_if_allowed(records, job, owner)
        output = render_output(records, owner, job.asset_id, job.profile or "default", added, removed,
                               job.replaces_id, progress, engine=run_engine, on_commit=finish)
    except JobLost as lost:
        delete_unreferenced(records, [lost.blob])   # the output of a job no longer ours is not kept
        return _end(records, job.id, worker, "cancelled", only_if_cancelled=True)
    except Exception as exc:  # the owner lost the right, the original is gone: the job fails with the reason
        return _end(records, job.id, worker, "failed", _reason(exc))
    if output.existing:   # made meanwhile by another call for the same work: this job ends with that output
        return _end(records, job.id, worker, "failed" if output.error else "done", output.error,
                    output_id=output.id)
    if not output.error:
        _read_for_consent_linked_meanwhile(records, owner, job.asset_id)
    return "failed" if output.error else "done"


def _read_for_consent_linked_meanwhile(records: Records, owner: Actor, asset_id: str) -> None:
    """A consent linked while the photo was rendered (its PDF read by another worker meanwhile) found no
    output to read again: read this one now for that patient's identifiers, in this process. Otherwise
    nothing is read (the output was read for its consent as it was rendered)."""
    from records.reread import count_readable
    from records.services.recheck import recheck_outputs_of

    try:
        recheck_outputs_of(records, owner, asset_id, reread=count_readable)
    except Exception:  # noqa: BLE001 - the gate refuses the output until it is read, and offers the reading
        pass


def _read_consent(records: Records, job: Claimed, worker: str, beat: Callable[[], None]) -> str:
    """Read the queued consent PDF here and register it; its reading is forgotten when the job ends. Run
    again after a worker died, it finds the consent registered the first time (the same document for the
    same patient) instead of making a second."""
    from consent.check import check_pdf   # here: only a worker reading a consent needs the judge

    progress = Progress(records, job.id, worker, beat)
    try:
        owner = _owner(records, job.owner_id)
        authorize(records, owner, "register_consent")
        progress(0.1, "reading the consent PDF")
        view = read_queued_consent(records, owner, job.reading_id, _beating(check_pdf, beat),
                                   still_wanted=lambda: not _cancel_requested(records, job.id))
    except ReadingCancelled:
        return _end(records, job.id, worker, "cancelled")
    except Exception as exc:  # unreadable, revoked, another patient's: the job fails with the reason
        return _end(records, job.id, worker, "failed", _reason(exc))
    notes = [_registered_note(view), _link_media(records, owner, job.reading_id, view.id, progress)]
    return _end(records, job.id, worker, "done", "\n".join(n for n in notes if n) or None, consent_id=view.id)


def _registered_note(view) -> str | None:
    """What the person who sent the PDF must know of the consent registered (no PHI): the job's note, one
    line a finding."""
    if view.existing:
        return view.notice
    found = (f"the checker found social-media use {view.social_media.replace('_', ' ')}; a release will be "
             "refused unless a person confirms a written grant." if view.social_media != "covered" else None)
    return "\n".join(n for n in (found, view.notice) if n) or None


def _link_media(records: Records, owner: Actor, reading_id: str, consent_id: str, progress: Progress) -> str | None:
    """Link the media queued with the consent (Intake) to it, reading their photos already rendered again for
    the patient's identifiers here, in the worker's own process. The consent stays registered whatever
    happens here: a failure is the job's note (the media can be linked in Review), not its end."""
    from records.reread import count_readable   # here: only a worker linking rendered photos reads them

    try:
        asset_ids = media_to_link(records, reading_id)
        if asset_ids:
            progress(0.8, "linking the media to the consent")
            link_read_media(records, owner, asset_ids, consent_id, reread=count_readable)
    except Exception as exc:  # the owner lost the right, or a reading failed unexpectedly
        return (f"Registered, but linking the media sent with it, or reading their photos again for the "
                f"patient's name and reference, failed ({_reason(exc)}): check them in Review.")
    return None


def _beating(check: Callable, beat: Callable[[], None]) -> Callable:
    """The checker, with a sign of life beside it every half second while it reads (it reports no progress of
    its own); the reader stops itself at its own time budget, and a hang past that is the silence limit's."""
    def checked(path, **options):
        done = threading.Event()

        def keep_beating():
            while not done.wait(0.5):
                beat()
        beater = threading.Thread(target=keep_beating, daemon=True, name="reading-beat")
        beater.start()
        try:
            return check(path, **options)
        finally:
            done.set()
            beater.join()
    return checked


def _cancel_requested(records: Records, job_id: str) -> bool:
    with records.db.reading() as session:
        return bool(session.scalar(select(Job.cancel_requested).where(Job.id == job_id)))


def _regions_if_allowed(records: Records, job: Claimed, owner: Actor) -> tuple[list, list]:
    """Check the owner may still do this job (an account may have been disabled meanwhile); a re-render's
    regions, once its output is known to be still replaceable, else none."""
    if job.kind != "rerender":
        authorize(records, owner, "process")
        return [], []
    authorize(records, owner, "review")
    with records.db.reading() as session:
        replaceable(session, job.replaces_id)
    regions = job.regions or {}
    return list(regions.get("added") or []), list(regions.get("removed") or [])


def _owner(records: Records, owner_id: str | None) -> Actor:
    with records.db.reading() as session:
        user = get_row(session, User, owner_id)
        return Actor(user.id, user.username, user.role)


def _reason(exc: Exception) -> str:
    if isinstance(exc, (WorkflowError, PermissionDenied, RecordNotFound)):
        return str(exc)
    return f"the job failed unexpectedly ({type(exc).__name__}); please tell your administrator"


def _end(records: Records, job_id: str, worker: str, state: str, error: str | None = None, *,
         only_if_cancelled: bool = False, output_id: str | None = None, consent_id: str | None = None) -> str:
    with records.transaction() as session:
        job = session.get(Job, job_id, with_for_update=True)
        if job is None or job.state != "running" or job.worker != worker:
            return job.state if job else state
        if only_if_cancelled and not job.cancel_requested:
            return job.state
        job.state = "cancelled" if job.cancel_requested and not consent_id else state
        job.error, job.finished_at = (None if job.state == "cancelled" else error), utcnow()
        if job.state != "cancelled" and (output_id or consent_id):
            job.output_id, job.consent_id, job.progress = output_id, consent_id, 1.0
        blob = forget_reading(session, job)
        if job.state == "failed":
            log_event(records, session, SYSTEM, "job.failed", "job", job.id, reason=error)
        ended = job.state
    delete_unreferenced(records, [blob])   # a consent PDF no consent came to name
    return ended


# -- a worker that died ---------------------------------------------------------------------------------------
def recover(records: Records, job_id: str, worker: str, reason: str) -> str | None:
    """The worker holding this job died (`reason` says how): run it once more, or fail it with the reason.
    Returns the job's new state, or None when it had already ended."""
    with records.transaction() as session:
        job = session.get(Job, job_id, with_for_update=True)
        if job is None or job.state != "running" or job.worker != worker:
            return None
        job.worker, job.heartbeat_at = None, None
        if job.cancel_requested:
            job.state, job.finished_at = "cancelled", utcnow()
        elif job.attempts < MAX_ATTEMPTS:
            job.state, job.progress, job.stage = "queued", 0.0, "queued again: its worker stopped"
            log_event(records, session, SYSTEM, "job.requeued", "job", job.id, reason=reason, attempts=job.attempts)
        else:
            job.state, job.error, job.finished_at = "failed", reason, utcnow()
            log_event(records, session, SYSTEM, "job.failed", "job", job.id, reason=reason, attempts=job.attempts)
        state = job.state
        blob = forget_reading(session, job) if state != "queued" else None
    delete_unreferenced(records, [blob])
    if state == "queued":
        records.queue.wake()
    return state


def recover_worker(records: Records, worker: str, reason: str) -> list[tuple[str, str]]:
    """Recover every job the dead `worker` held: [(job id, its new state)]."""
    with records.db.reading() as session:
        held = session.scalars(select(Job.id).where(Job.worker == worker, Job.state == "running")).all()
    return [(job_id, state) for job_id in held if (state := recover(records, job_id, worker, reason))]


def put_back(records: Records, worker: str) -> None:
    """The workers are being stopped: the worker's job goes back to the queue; this attempt does not count."""
    with records.transaction() as session:
        session.execute(update(Job).where(Job.worker == worker, Job.state == "running")
                        .values(state="queued", worker=None, heartbeat_at=None, progress=0.0,
                                stage="queued again: the workers were stopped", attempts=Job.attempts - 1))


def reap_stale(records: Records, silent_seconds: float, spare: set[str] = frozenset()) -> int:
    """Recover running jobs whose worker gave no sign of life for longer than its supervisor allows (the
    worker's whole machine may have stopped); `spare` lists live workers of this machine."""
    cutoff = utcnow() - dt.timedelta(seconds=silent_seconds)
    with records.db.reading() as session:
        stale = session.execute(select(Job.id, Job.worker).where(Job.state == "running",
                                                                 Job.heartbeat_at < cutoff)).all()
    reason = f"its worker gave no sign of life for {silent_seconds:.0f} s (its machine may have stopped)"
    return sum(1 for job_id, worker in stale
               if worker not in spare and recover(records, job_id, worker, reason) is not None)


def enqueue_housekeeping(records: Records) -> bool:
    """Queue housekeeping unless it is queued or running already (several machines may find it due)."""
    with records.transaction() as session:
        if session.scalar(select(func.count()).where(Job.kind == "housekeeping", Job.state.in_(("queued",
                                                                                               "running")))):
            return False
        session.add(Job(kind="housekeeping", state="queued", progress=0.0, attempts=0, cancel_requested=False,
                        created_at=utcnow()))
    records.queue.wake()
    return True
