"""Killing Veil (SIGKILL) in the middle of processing or releasing leaves no half-written record and no
orphan that trips the next run: the audit chain verifies, the interrupted action never happened or fully
happened, housekeeping removes what the dead process left (temporary and unreferenced blobs, its work
folder with a decrypted original), and doing the action again succeeds.

Each case runs the real service in a child process that stops at a chosen point and waits there to be
killed; the parent kills it, reopens the records and inspects them."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pytest

from conftest import ROOT
from consent import services as sv
from records_fixtures import (add_people, plain_photo, quick_password_hashing, register,  # noqa: F401
                              sqlite_records, wait_for)

CHILD = r"""
import json, os, sys, time
from pathlib import Path
point, marker, actor_json, target = sys.argv[1:5]
from consent import audit, services as sv
from consent.audit import Actor
from consent.store import BlobStore

def halt(*_):
    Path(marker).write_text(point)
    time.sleep(600)

def halt_after(action):
    real = audit.append
    def append(session, keys, actor, name, *args, **details):
        event = real(session, keys, actor, name, *args, **details)   # flushed, not committed
        if name == action:
            halt()
        return event
    audit.append = append

if point == "process: output blob written, rows flushed, before commit":
    halt_after("output.created")
elif point == "process: output encrypted into a temporary file, before its rename":
    real_replace = os.replace
    def replace(src, dst):
        if Path(src).name.startswith(".tmp-"):
            halt()
        return real_replace(src, dst)
    os.replace = replace
elif point == "release: decision flushed, before commit":
    halt_after("release.allowed")
elif point == "release: committed, before the original's blob is deleted":
    BlobStore.delete = halt
records = sv.open_records(housekeep=False)
actor = Actor(**json.loads(actor_json))
if point.startswith("process"):
    sv.process(records, actor, target)
else:
    sv.approve_release(records, actor, target)
Path(marker).write_text("finished without stopping")
"""


def run_until_killed(records, point: str, actor, target: str, tmp_path: Path) -> None:
    marker = tmp_path / "reached"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VEIL_DATA_DIR": str(records.settings.data_dir),
           "VEIL_KEY_FILE": str(records.settings.key_file), "VEIL_DATABASE_URL": records.settings.database_url,
           "GLOG_minloglevel": "2", "TF_CPP_MIN_LOG_LEVEL": "3"}
    child = subprocess.Popen([sys.executable, "-c", CHILD, point, str(marker), json.dumps(asdict(actor)), target],
                             env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        reached = wait_for(marker, 180)
        assert reached and marker.read_text() == point, child.stderr.read() if child.poll() is not None else "stuck"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL


@pytest.fixture
def ready(sqlite_records, tmp_path):
    """A confirmed consent and an uploaded photo, in records a child process can open."""
    records = sqlite_records
    people = add_people(records)
    consent = register(records, people)
    asset = sv.upload_media(records, people.staff, plain_photo(tmp_path / "p.jpg"), "p.jpg", consent.id)
    sv.confirm_patient(records, people.staff, asset.id)
    return records, people, asset


def released_ready(records, people, asset):
    output = sv.confirm_review(records, people.staff, sv.process(records, people.staff, asset.id).id)
    return sv.request_release(records, people.staff, output.id, "instagram")


def blob_files(records) -> set[str]:
    return {p.name for p in records.store.root.glob("*/*")}


def referenced(records) -> set[str]:
    with records.db.sessions() as session:
        return sv._referenced(session)


def assert_tidy(records, people) -> None:
    """After housekeeping: the chain verifies, every blob file is referenced and every reference has its
    file, no temporary file and no work folder is left."""
    assert sv.verify_audit(records, people.auditor).ok
    assert blob_files(records) == referenced(records)
    assert not list(records.settings.work_dir.iterdir())


def test_killed_while_processing_before_the_commit_leaves_no_output_row_and_an_orphan_swept_later(ready, tmp_path):
    records, people, asset = ready
    before = blob_files(records)
    run_until_killed(records, "process: output blob written, rows flushed, before commit", people.staff, asset.id,
                     tmp_path)
    assert sv.list_outputs(records, people.staff) == []
    assert not sv.audit_events(records, people.admin, action="output.created")
    assert sv.verify_audit(records, people.auditor).ok
    assert len(blob_files(records) - before) == 1   # the dead run's encrypted output, referenced by nothing
    assert not list(records.settings.work_dir.iterdir())   # its decrypted original was gone before the commit
    report = sv.housekeeping(records, people.admin, grace_seconds=0)
    assert report["orphan_blobs"] == 1
    assert_tidy(records, people)
    output = sv.process(records, people.staff, asset.id)
    assert output.error is None and records.store.exists(output.sha256)


def test_killed_while_storing_the_output_leaves_a_temporary_file_that_does_not_trip_the_next_run(ready, tmp_path):
    records, people, asset = ready
    run_until_killed(records, "process: output encrypted into a temporary file, before its rename", people.staff,
                     asset.id, tmp_path)
    assert list(records.store.root.glob("*/.tmp-*"))
    assert sv.list_outputs(records, people.staff) == []
    output = sv.process(records, people.staff, asset.id)   # before any housekeeping: the leftover is harmless
    assert output.error is None and records.store.read_bytes(output.sha256)
    report = sv.housekeeping(records, people.admin, grace_seconds=0)
    assert report["temp_files"] == 1 and report["work_dirs"] == 1
    assert_tidy(records, people)


def test_killed_while_releasing_before_the_commit_leaves_the_request_undecided(ready, tmp_path):
    records, people, asset = ready
    request = released_ready(records, people, asset)
    run_until_killed(records, "release: decision flushed, before commit", people.marketing, request.id, tmp_path)
    [release] = sv.list_releases(records, people.auditor)
    assert release.status == "requested" and release.decided_at is None
    assert not sv.audit_events(records, people.admin, action="release.allowed")
    assert sv.list_assets(records, people.staff)[0].original_kept
    sv.housekeeping(records, people.admin, grace_seconds=0)
    assert_tidy(records, people)
    assert sv.approve_release(records, people.marketing, request.id).allowed


def test_killed_after_the_release_commits_leaves_only_the_originals_blob_which_housekeeping_removes(ready, tmp_path):
    records, people, asset = ready
    request = released_ready(records, people, asset)
    run_until_killed(records, "release: committed, before the original's blob is deleted", people.marketing,
                     request.id, tmp_path)
    assert [r.status for r in sv.list_releases(records, people.auditor)] == ["released"]
    assert not sv.list_assets(records, people.staff)[0].original_kept
    assert records.store.exists(asset.original_sha256)   # the dead process did not get to delete it
    assert sv.audit_events(records, people.admin, action="media.original_deleted")
    report = sv.housekeeping(records, people.admin, grace_seconds=0)
    assert report["orphan_blobs"] == 1 and not records.store.exists(asset.original_sha256)
    assert_tidy(records, people)
