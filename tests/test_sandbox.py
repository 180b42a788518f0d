"""The app checks consent PDFs in a separate process: a reader that crashes, blows its memory or hangs costs
that one PDF its verdict, never the server (which runs threads, so it cannot simply fork)."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from PIL import Image

from conftest import ROOT, grace_hopper_path
from consent.check import check_pdf
from consent.signatures import load_trust_roots
from consent_fixtures import self_signed_identity, sign, text_pdf, write
from deid.api import redact_file
from process_tree import descendants, parents, still_running
from records.sandbox import check_in_sandbox, redact_in_sandbox
from ui_fixtures import covered_consent_pdf
from video_fixtures import phone_clip


def _pdf(tmp_path):
    path = tmp_path / "consent.pdf"
    path.write_bytes(covered_consent_pdf())
    return path


def test_a_threaded_host_gets_the_same_verdict_as_reading_in_process(tmp_path):
    path = _pdf(tmp_path)
    stop = threading.Event()
    busy = [threading.Thread(target=stop.wait) for _ in range(4)]   # like a server's worker threads
    for thread in busy:
        thread.start()
    try:
        isolated = check_in_sandbox(path)
    finally:
        stop.set()
    assert isolated.social_media == "covered" and isolated.error is None
    assert isolated == check_pdf(path)


def test_the_apps_trust_roots_reach_the_reading_process(tmp_path):
    """Certificates do not survive pickling into a fresh process as objects; they travel as DER."""
    identity = self_signed_identity()
    path = write(tmp_path, "signed.pdf", sign(text_pdf("I authorize posting on Instagram."), identity))
    result = check_in_sandbox(path, trust_roots=load_trust_roots(identity.cert_pem))
    assert result.signature_valid is True and result.signer_trusted is True


def test_a_reader_that_runs_out_of_memory_costs_only_that_verdict_and_the_host_carries_on(tmp_path):
    path = _pdf(tmp_path)
    host = os.getpid()
    starved = check_in_sandbox(path, memory_bytes=1 << 20)
    assert starved.error.startswith("consent.pdf: ") and "memory" in starved.error
    assert starved.social_media == "unclear"
    assert os.getpid() == host and check_in_sandbox(path).social_media == "covered"


def test_a_reader_that_hangs_is_stopped_and_explained(tmp_path):
    result = check_in_sandbox(_pdf(tmp_path), kill_seconds=0.001)
    assert result.error.startswith("consent.pdf: reading took longer than")
    assert result.social_media == "unclear"


# -- de-identification ---------------------------------------------------------------------------------------
def test_a_photo_de_identified_in_the_sandbox_matches_the_in_process_result(tmp_path):
    grace_hopper = grace_hopper_path()
    isolated = redact_in_sandbox(grace_hopper, tmp_path / "a", "default", original_name="photo.jpg")
    direct = redact_file(grace_hopper, tmp_path / "b", "default", original_name="photo.jpg")
    assert isolated.error is None and Path(isolated.output).is_file()
    assert isolated.regions == direct.regions and isolated.verified == direct.verified
    assert isolated.removed == direct.removed


def test_a_videos_progress_reaches_the_host_as_it_goes(tmp_path, grace_hopper):
    clip = tmp_path / "clip.mp4"
    phone_clip(clip, grace_hopper, frames=30)
    seen = []
    report = redact_in_sandbox(clip, tmp_path / "out", "default", progress=lambda f, m: seen.append((f, m)))
    assert report.error is None and report.frames == 30
    fractions = [f for f, _ in seen]
    assert len(seen) >= 3 and fractions == sorted(fractions) and seen[-1] == (1.0, "done")


def test_a_worker_that_falls_silent_is_killed_and_the_file_gets_the_reason(tmp_path):
    grace_hopper = grace_hopper_path()
    report = redact_in_sandbox(grace_hopper, tmp_path / "out", "default", silent_seconds=0.05)
    assert report.output is None and report.error.startswith("de-identification stopped on this file")
    assert report.profile.id.startswith("default")
    assert redact_in_sandbox(grace_hopper, tmp_path / "out", "default").error is None   # the next one works


HOST = r"""
import sys
from records.sandbox import redact_in_sandbox
redact_in_sandbox(*sys.argv[1:3], "default")
"""


def _worker_of(host: int) -> int | None:
    """The de-identification worker: forked by the fork server (so it shares its command line), which is the
    host's child; other grandchildren (an import running ldconfig, say) come and go."""
    tree = parents()
    for pid, parent in tree.items():
        if tree.get(parent) == host:
            try:
                if b"forkserver" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    return pid
            except OSError:
                continue
    return None


def test_when_the_app_is_killed_its_worker_dies_at_once_and_writes_nothing(tmp_path, grace_hopper):
    photo, out = tmp_path / "big.jpg", tmp_path / "out"
    Image.fromarray(grace_hopper).resize((6000, 7000)).save(photo, quality=90)   # 42 MP: seconds of work
    host = subprocess.Popen([sys.executable, "-c", HOST, str(photo), str(out)], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not (worker := _worker_of(host.pid)) and time.monotonic() < deadline:
            time.sleep(0.05)
        workers = descendants(host.pid)
    finally:
        host.kill()
        host.wait()
    assert worker in workers
    assert still_running(workers) == set()
    assert not out.exists() or not [f for f in out.iterdir() if not f.name.startswith(".")]   # no output came
