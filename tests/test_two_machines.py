"""A two-machine rehearsal on loopback: "machines" A and B each have their own work folder, their own app
process and their own worker pool; they share one PostgreSQL database, one Redis queue and one S3 bucket, all
started here. A photo sent through app A is de-identified by a worker of machine B and released through app
B; the audit chain verifies; a worker killed in the middle of a video has its job run again, and the output
appears once. (An "app" here is a process calling the services the pages call, with that machine's settings.)"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import asdict

import pytest

from conftest import ROOT, grace_hopper_path
from process_tree import descendants
from queue_fixtures import installation_env, pid_of, redis_server, s3_bucket, wait_for_job, worker_pool
from records import services as sv
from records.audit import SYSTEM
from records_fixtures import PASSWORD, make_settings, pg_server  # noqa: F401
from ui_fixtures import PATIENT, covered_consent_pdf
from video_fixtures import phone_clip

APP = r"""
import json, sys
from pathlib import Path
from records import services as sv
from records.audit import Actor
action, people, args = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3:]
staff, marketing = Actor(**people["staff"]), Actor(**people["marketing"])
records = sv.open_records(housekeep=False)
if action == "send":
    pdf, media, name, name_ref = args[0], args[1], args[2], json.loads(args[3])
    consent = sv.register_consent(records, staff, Path(pdf).read_bytes(), *name_ref)
    asset = sv.upload_media(records, staff, Path(media), name, consent.id)
    (job,) = sv.enqueue_processing(records, staff, [asset.id])
    print(json.dumps({"consent": consent.id, "asset": asset.id, "job": job.id}))
elif action == "release":
    consent_id, asset_id, output_id = args
    sv.confirm_patient(records, staff, asset_id)
    sv.mark_reviewed(records, staff, output_id)
    sv.confirm_scope(records, marketing, consent_id, covers_social_media=True, identifiable="deidentified_only",
                     platforms=["instagram"])
    release = sv.request_release(records, staff, output_id, "instagram")
    decision = sv.approve_release(records, marketing, release.id)
    name, data = sv.download_output(records, marketing, output_id)
    print(json.dumps({"allowed": decision.allowed, "reasons": [r.code for r in decision.reasons],
                      "downloaded": len(data)}))
records.close()
"""


@pytest.fixture(scope="module")
def shared(tmp_path_factory, pg_server):
    """PostgreSQL, Redis and S3 on loopback, and the settings of machines A and B (same key, own folders)."""
    base = tmp_path_factory.mktemp("two-machines")
    with redis_server(base) as queue_url, s3_bucket(base) as bucket:
        url = pg_server.url(pg_server.new_database())
        machines = {name: make_settings(base / name, url, queue_url=queue_url, blob_url=f"s3://{bucket}/clinic")
                    for name in ("A", "B")}
        records = sv.open_records(machines["A"])
        (base / "B" / "keys").mkdir(parents=True, mode=0o700)
        machines["B"].key_file.write_bytes(machines["A"].key_file.read_bytes())   # the key, copied once
        machines["B"].key_file.chmod(0o600)
        admin = sv.add_user(records, SYSTEM, "admin", PASSWORD, "admin")
        people = {"staff": sv.add_user(records, admin, "sam", PASSWORD, "staff"),
                  "marketing": sv.add_user(records, admin, "mia", PASSWORD, "marketing")}
        yield records, admin, people, machines, base
        records.close()


def app(settings, people: dict, action: str, *args: str) -> dict:
    done = subprocess.run([sys.executable, "-c", APP, action, json.dumps({k: asdict(v) for k, v in people.items()}),
                           *args], cwd=ROOT, env=installation_env(settings), capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_sent_on_a_processed_on_b_released_on_b_and_a_killed_worker_costs_one_retry(shared, tmp_path, grace_hopper):
    records, admin, people, machines, base = shared
    consent_pdf = tmp_path / "consent.pdf"
    consent_pdf.write_bytes(covered_consent_pdf())
    env = {name: installation_env(settings) for name, settings in machines.items()}

    with worker_pool(env["B"], base / "pool-B.log") as pool_b:
        sent = app(machines["A"], people, "send", str(consent_pdf), str(grace_hopper_path()), "ada.jpg",
                   json.dumps(PATIENT))
        job = wait_for_job(records, admin, sent["job"])
        assert job.state == "done", job.error
        assert pid_of(job.worker) in descendants(pool_b.process.pid)     # machine B's worker did it
        (created,) = sv.audit_events(records, admin, action="output.created", subject_id=job.output_id)
        released = app(machines["B"], people, "release", sent["consent"], sent["asset"], job.output_id)
        assert released["allowed"], released["reasons"]
        assert released["downloaded"] > 0
        assert not [p for m in machines.values() for p in m.blob_dir.glob("*/*")]   # the blobs are in the bucket

        with worker_pool(env["A"], base / "pool-A.log") as pool_a:
            clip = phone_clip(tmp_path / "IMG_0042.MOV", grace_hopper, frames=90, rate=30)
            video = sv.upload_media(records, people["staff"], clip, "IMG_0042.MOV")
            (video_job,) = sv.enqueue_processing(records, people["staff"], [video.id])
            running = wait_for_job(records, admin, video_job.id,
                                   until=lambda j: j.state == "running" and j.progress > 0.05)
            os.kill(pid_of(running.worker), signal.SIGKILL)
            done = wait_for_job(records, admin, video_job.id)
            assert done.state == "done" and done.attempts == 2
            assert [o.id for o in sv.list_outputs(records, admin, video.id)] == [done.output_id]   # once
            assert pool_a.process.poll() is None and pool_b.process.poll() is None

    assert sv.verify_audit(records, admin).ok
    assert created["actor"] == "sam"
