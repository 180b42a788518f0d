"""Work that outlives the page: the intake service queues a job and returns at once; warm worker processes
(`python -m records worker`, started here) do it and record its progress and end in the jobs table. A person
cancels and retries jobs; a worker SIGKILLed in the middle of a video is replaced and its job run once more
to exactly one output; a file that crashes the reader, or makes it hang, fails its own job with the reason
while the pool goes on serving; the next job goes to the person who waited longest (round-robin by owner)."""
from __future__ import annotations

import os
import signal
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from conftest import grace_hopper_path
from faults.sitecustomize import CRASH_MARK, HANG_MARK
from queue_fixtures import (installation_env, pid_of, redis_server, run_queued_jobs, wait_for_job,
                            worker_pool)
from records import services as sv
from records.audit import SYSTEM, Actor
from records.config import ConfigError
from records.queue import WAKE, Queue
from records.models import Job
from records.services.work import claim_next
from records_fixtures import (PASSWORD, PATIENT_NAME, PATIENT_REF, backend, consent_pdf,  # noqa: F401
                              make_settings, pg_server, quick_password_hashing, records)
from sqlalchemy import select
from text_fixtures import covered_share, plant
from video_fixtures import phone_clip


@dataclass
class Clinic:
    records: sv.Records
    admin: Actor
    ann: Actor       # staff
    bob: Actor       # staff
    base: Path

    def upload(self, who: Actor, source: Path | None = None, name: str = "photo.jpg"):
        """Upload `source`, or else a photo of its own (the same content again would be the same asset)."""
        return sv.upload_media(self.records, who, source or self.fresh_photo(), name)

    def fresh_photo(self) -> Path:
        folder = self.base / "photos"
        folder.mkdir(exist_ok=True)
        return marked_photo(folder / f"{uuid.uuid4().hex}.jpg", uuid.uuid4().hex.encode())

    def queue(self, who: Actor, *assets) -> list[sv.JobView]:
        return sv.enqueue_processing(self.records, who, [a.id for a in assets])

    def outputs_of(self, asset) -> list:
        return sv.list_outputs(self.records, self.admin, asset.id)

    def events(self, action: str) -> list[dict]:
        return sv.audit_events(self.records, self.admin, action=action, newest_first=False)


def open_clinic(base: Path, **settings) -> Clinic:
    records = sv.open_records(make_settings(base, **settings))
    admin = sv.add_user(records, SYSTEM, "admin", PASSWORD, "admin")
    return Clinic(records, admin, sv.add_user(records, admin, "ann", PASSWORD, "staff"),
                  sv.add_user(records, admin, "bob", PASSWORD, "staff"), base)


@pytest.fixture(scope="module")
def clinic(tmp_path_factory):
    opened = open_clinic(tmp_path_factory.mktemp("queue"))
    yield opened
    opened.records.close()


@pytest.fixture(scope="module")
def pool(clinic):
    with worker_pool(installation_env(clinic.records.settings), clinic.base / "pool.log") as started:
        yield started


@pytest.fixture(scope="module")
def clip(tmp_path_factory, grace_hopper) -> Path:
    """A 90-frame phone clip: long enough to be caught half-way."""
    return phone_clip(tmp_path_factory.mktemp("clip") / "IMG_0042.MOV", grace_hopper, frames=90, rate=30)


@pytest.fixture(scope="session")
def grace_hopper():
    import numpy as np

    with Image.open(grace_hopper_path()) as img:
        return np.asarray(img.convert("RGB"))


def running_with_progress(job) -> bool:
    return job.state == "running" and job.progress > 0.05


def test_intake_queues_and_returns_at_once_and_a_warm_worker_records_the_output(clinic, pool):
    asset = clinic.upload(clinic.ann)
    (job,) = clinic.queue(clinic.ann, asset)
    assert job.state == "queued" and job.asset_id == asset.id and job.owner == "ann"

    done = wait_for_job(clinic.records, clinic.ann, job.id)
    assert done.state == "done" and done.progress == 1.0 and done.error is None and done.attempts == 1
    (output,) = clinic.outputs_of(asset)
    assert output.id == done.output_id and output.error is None and output.regions   # her face was found
    assert sv.preview_output(clinic.records, clinic.ann, output.id)[:2] == b"\xff\xd8"
    assert [e["subject_id"] for e in clinic.events("job.queued")][-1] == job.id
    assert sv.verify_audit(clinic.records, clinic.admin).ok
    # housekeeping runs as a job of its own, without any browser open
    housekeeping = [j for j in sv.list_jobs(clinic.records, clinic.admin, everyone=True) if j.kind == "housekeeping"]
    assert housekeeping and wait_for_job(clinic.records, clinic.admin, housekeeping[-1].id).state == "done"


def test_a_cancelled_job_keeps_no_output_and_a_retry_runs_it_from_the_start(clinic, pool, clip):
    video, photo = clinic.upload(clinic.ann, clip, "IMG_0042.MOV"), clinic.upload(clinic.ann)
    video_job, photo_job = clinic.queue(clinic.ann, video, photo)
    wait_for_job(clinic.records, clinic.ann, video_job.id, until=running_with_progress)

    assert sv.cancel_job(clinic.records, clinic.ann, photo_job.id).state == "cancelled"   # still queued: at once
    assert sv.cancel_job(clinic.records, clinic.ann, video_job.id).cancel_requested       # running: at its next report
    assert wait_for_job(clinic.records, clinic.ann, video_job.id).state == "cancelled"
    assert clinic.outputs_of(video) == [] and clinic.outputs_of(photo) == []
    with pytest.raises(sv.WorkflowError, match="already cancelled"):
        sv.cancel_job(clinic.records, clinic.ann, photo_job.id)
    with pytest.raises(sv.PermissionDenied):
        sv.retry_job(clinic.records, clinic.bob, photo_job.id)   # not bob's job

    retried = sv.retry_job(clinic.records, clinic.ann, photo_job.id)
    assert retried.state == "queued" and retried.attempts == 0
    done = wait_for_job(clinic.records, clinic.ann, photo_job.id)
    assert done.state == "done" and [o.id for o in clinic.outputs_of(photo)] == [done.output_id]
    with pytest.raises(sv.WorkflowError, match="only a failed or cancelled job"):
        sv.retry_job(clinic.records, clinic.ann, photo_job.id)


def test_a_worker_killed_mid_video_is_replaced_and_its_job_runs_again_to_one_output(clinic, pool, clip):
    video = clinic.upload(clinic.bob, clip, "IMG_0042.MOV")
    (job,) = clinic.queue(clinic.bob, video)
    running = wait_for_job(clinic.records, clinic.bob, job.id, until=running_with_progress)
    os.kill(pid_of(running.worker), signal.SIGKILL)

    done = wait_for_job(clinic.records, clinic.bob, job.id)
    assert done.state == "done" and done.attempts == 2
    (output,) = clinic.outputs_of(video)                       # one output, not two
    assert output.id == done.output_id and output.frames == 90
    (requeued,) = [e for e in clinic.events("job.requeued") if e["subject_id"] == job.id]
    assert requeued["details"]["reason"].startswith("de-identification stopped on this file: it crashed with "
                                                    "signal SIGKILL")
    assert pool.process.poll() is None and pool.ready_count() >= 2    # the pool replaced its worker

    sv.housekeeping(clinic.records, SYSTEM, grace_seconds=0)   # what the dead worker left: its work folder
    with clinic.records.db.reading() as session:
        referenced = sv.referenced_blobs(session)
    assert {p.name for p in clinic.records.store.root.glob("*/*")} == referenced   # no orphan blob
    assert not [p for p in clinic.records.settings.work_dir.iterdir()]


# -- a re-render after review ------------------------------------------------------------------------------
def labelled_photo(path: Path, text: str):
    """Grace Hopper's portrait with `text` printed on a label below her face."""
    import numpy as np

    rgb = np.asarray(Image.open(grace_hopper_path()).convert("RGB")).copy()
    label = plant(rgb, text, (256, 560), letter_px=20, label=(250, 250, 246))
    Image.fromarray(rgb).save(path)
    return path, label, rgb.shape


def test_a_re_render_after_review_is_a_job_whose_worker_reads_the_patients_identifiers_itself(clinic, pool, tmp_path):
    records, ann = clinic.records, clinic.ann
    consent = sv.register_consent(records, ann, consent_pdf(), PATIENT_NAME, PATIENT_REF)
    photo, label, shape = labelled_photo(tmp_path / "label.png", "QUENNELL ROSALIND")
    asset = clinic.upload(ann, photo, "before_treatment.png")
    sv.link_consent(records, ann, asset.id, consent.id)
    (job,) = clinic.queue(ann, asset)
    kept = sv.list_outputs(records, ann, asset.id)[0] if wait_for_job(records, ann, job.id).state == "done" else None
    assert kept is not None and kept.error is None                     # the label was covered
    sv.mark_reviewed(records, ann, kept.id)

    drawn = [10, 10, 60, 60]
    edit = sv.enqueue_rerender(records, ann, kept.id, add_regions=[drawn])
    assert edit.kind == "rerender" and edit.state == "queued" and edit.replaces_id == kept.id
    assert [o.id for o in sv.list_outputs(records, ann, asset.id)] == [kept.id]   # nothing rendered by the call
    with pytest.raises(sv.WorkflowError, match="queued already"):
        sv.enqueue_rerender(records, ann, kept.id, add_regions=[drawn])
    done = wait_for_job(records, ann, edit.id)
    assert done.state == "done" and done.worker and done.attempts == 1
    edited = next(o for o in sv.list_outputs(records, ann, asset.id) if o.id == done.output_id)
    assert edited.parent_id == kept.id and edited.regions_added == [drawn] and edited.error is None
    assert not edited.reviewed                                          # a re-rendered output needs its own review
    with pytest.raises(sv.WorkflowError, match="replaced"):
        sv.mark_reviewed(records, ann, kept.id)
    with pytest.raises(sv.WorkflowError, match="already replaced"):
        sv.enqueue_rerender(records, ann, kept.id, add_regions=[drawn])

    # removing the label's regions leaves the patient's name legible: the worker, which got no name through
    # the queue, finds it in the records and withholds the output
    on_label = [r for r, kind in zip(edited.regions, edited.region_kinds)
                if kind == "text" and covered_share(label, [r], shape) > 0.3]
    assert on_label
    unsafe = sv.enqueue_rerender(records, ann, edited.id, remove_regions=on_label)
    failed = wait_for_job(records, ann, unsafe.id)
    assert failed.state == "failed" and "identifiers can still be read" in failed.error
    withheld = next(o for o in sv.list_outputs(records, ann, asset.id) if o.id == failed.output_id)
    assert withheld.sha256 is None and withheld.parent_id == edited.id

    with records.db.reading() as session:
        rows = repr([[getattr(j, c.name) for c in Job.__table__.columns] for j in session.scalars(select(Job))])
    seen = rows + repr(clinic.events("job.queued")) + failed.error + pool.log.read_text()
    words = ["quennell", "rosalind", "0047711", "before_treatment"]
    assert [w for w in words if w in seen.lower()] == []            # no name, reference or file name anywhere


def test_a_consent_pdf_is_read_by_a_warm_worker_which_keeps_no_name_in_the_job(clinic, pool):
    records = clinic.records
    pdf = consent_pdf(expiry="This authorization expires on 2032-02-29.")   # not the other tests' document
    job = sv.enqueue_consent_reading(records, clinic.bob, pdf, PATIENT_NAME, PATIENT_REF,
                                     file_name="quennell_consent.pdf")
    done = wait_for_job(records, clinic.bob, job.id)
    assert done.state == "done" and done.worker and done.consent_id and done.error is None
    consent = next(c for c in sv.list_consents(records, clinic.bob) if c.id == done.consent_id)
    assert consent.social_media == "covered" and consent.signed
    seen = pool.log.read_text() + repr(clinic.events("job.queued")) + repr(done)
    assert [w for w in ("quennell", "rosalind", "0047711") if w in seen.lower()] == []


# -- files that kill or hang their reader -------------------------------------------------------------------
def marked_photo(path: Path, mark: bytes) -> Path:
    """Grace Hopper's portrait with `mark` in a JPEG comment: the planted decoder fault recognises it."""
    with Image.open(grace_hopper_path()) as img:
        img.save(path, "JPEG", quality=90, comment=mark)
    return path


@pytest.fixture(scope="module")
def faulty(tmp_path_factory):
    """A separate installation whose workers' photo decoder crashes or hangs on marked files (see
    tests/faults/sitecustomize.py), with a short silence limit."""
    base = tmp_path_factory.mktemp("faulty")
    opened = open_clinic(base, worker_silent_seconds=20)
    env = installation_env(opened.records.settings, VEIL_WORKER_SILENT_SECONDS="20")
    with worker_pool(env, base / "pool.log", workers=2, faults=True) as started:
        yield opened, started
    opened.records.close()


def test_a_file_that_crashes_or_hangs_the_reader_fails_its_job_with_the_reason_and_the_pool_keeps_serving(
        faulty, tmp_path):
    clinic, pool = faulty
    crash = clinic.upload(clinic.ann, marked_photo(tmp_path / "rosa_crash.jpg", CRASH_MARK), "rosa_crash.jpg")
    hang = clinic.upload(clinic.bob, marked_photo(tmp_path / "rosa_hang.jpg", HANG_MARK), "rosa_hang.jpg")
    crash_job, hang_job = clinic.queue(clinic.ann, crash)[0], clinic.queue(clinic.bob, hang)[0]

    crashed = wait_for_job(clinic.records, clinic.ann, crash_job.id)
    assert crashed.state == "failed" and crashed.attempts == 2 and crashed.output_id is None
    assert crashed.error == ("de-identification stopped on this file: it crashed with signal SIGSEGV, or needed "
                             "more than 8 GB of memory")
    hung = wait_for_job(clinic.records, clinic.bob, hang_job.id)
    assert hung.state == "failed" and hung.attempts == 2
    assert hung.error == "de-identification stopped on this file: it showed no progress for 20 s"
    assert clinic.outputs_of(crash) == [] and clinic.outputs_of(hang) == []

    good = clinic.upload(clinic.ann)
    (good_job,) = clinic.queue(clinic.ann, good)
    assert wait_for_job(clinic.records, clinic.ann, good_job.id).state == "done"
    assert pool.process.poll() is None
    log = pool.log.read_text()
    assert "rosa" not in log and "rosa" not in str(clinic.events("job.failed"))   # no file name anywhere


# -- fair order -------------------------------------------------------------------------------------------
def test_a_single_photo_behind_another_persons_fifty_photo_batch_starts_within_the_next_two_jobs(records):
    clinic = Clinic(records, *_people(records), base=records.settings.data_dir)
    batch = [clinic.upload(clinic.ann) for _ in range(50)]
    ann_jobs = clinic.queue(clinic.ann, *batch)
    first = claim_next(records, "test:1")
    assert first.id == ann_jobs[0].id                          # a worker is busy with ann's first photo

    (bob_job,) = clinic.queue(clinic.bob, clinic.upload(clinic.bob))
    assert claim_next(records, "test:2").id == bob_job.id      # the next job is bob's single photo
    order = [claim_next(records, "test:3").id for _ in range(49)]
    assert order == [j.id for j in ann_jobs[1:]] and claim_next(records, "test:3") is None


def test_two_people_with_batches_take_turns(records):
    clinic = Clinic(records, *_people(records), base=records.settings.data_dir)
    ann_jobs = clinic.queue(clinic.ann, *[clinic.upload(clinic.ann)] * 3)
    bob_jobs = clinic.queue(clinic.bob, *[clinic.upload(clinic.bob)] * 3)
    order = [claim_next(records, f"test:{n}").id for n in range(6)]
    assert order == [ann_jobs[0].id, bob_jobs[0].id, ann_jobs[1].id, bob_jobs[1].id, ann_jobs[2].id, bob_jobs[2].id]


def test_two_workers_never_take_the_same_job(records):
    clinic = Clinic(records, *_people(records), base=records.settings.data_dir)
    jobs = clinic.queue(clinic.ann, *[clinic.upload(clinic.ann)] * 8)
    jobs += clinic.queue(clinic.bob, clinic.upload(clinic.bob))
    taken: list[str] = []

    def take(worker: str) -> None:
        while (job := claim_next(records, worker)) is not None:
            taken.append(job.id)

    workers = [threading.Thread(target=take, args=(f"test:{n}",)) for n in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert sorted(taken) == sorted(j.id for j in jobs)    # each job taken once, none left behind


def test_a_job_whose_owner_was_disabled_meanwhile_fails_with_the_reason_and_makes_nothing(records):
    clinic = Clinic(records, *_people(records), base=records.settings.data_dir)
    asset = clinic.upload(clinic.ann)
    (job,) = clinic.queue(clinic.ann, asset)
    sv.set_user_active(records, clinic.admin, "ann", False)
    assert run_queued_jobs(records) == ["failed"]
    failed = sv.get_job(records, clinic.admin, job.id)
    assert "ann's account was disabled" in failed.error and clinic.outputs_of(asset) == []


def _people(records) -> tuple[Actor, Actor, Actor]:
    admin = sv.add_user(records, SYSTEM, "admin", PASSWORD, "admin")
    return admin, sv.add_user(records, admin, "ann", PASSWORD, "staff"), sv.add_user(records, admin, "bob", PASSWORD,
                                                                                     "staff")


# -- the queue itself ------------------------------------------------------------------------------------
def test_the_queue_carries_wake_ups_the_same_way_on_sqlite_and_on_redis(tmp_path):
    settings = make_settings(tmp_path)
    with redis_server(tmp_path) as url:
        for queue in (Queue(settings), Queue(settings.with_(queue_url=url))):
            queue.wake(2)
            assert queue.pending() == 2
            assert [queue.receive(), queue.receive()] == [WAKE, WAKE] and queue.receive() is None
    with pytest.raises(ConfigError, match="VEIL_QUEUE_URL must be a Redis address"):
        Queue(settings.with_(queue_url="postgresql://db/veil"))
