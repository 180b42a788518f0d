"""The app checks consent PDFs in a separate process: a reader that crashes, blows its memory or hangs costs
that one PDF its verdict, never the server (which runs threads, so it cannot simply fork)."""
from __future__ import annotations

import os
import threading

from consent.check import check_pdf
from consent.sandbox import check_in_sandbox
from ui_fixtures import covered_consent_pdf


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
    assert isolated["social_media"] == "covered" and isolated["error"] is None
    assert isolated == check_pdf(path)


def test_a_reader_that_runs_out_of_memory_costs_only_that_verdict_and_the_host_carries_on(tmp_path):
    path = _pdf(tmp_path)
    host = os.getpid()
    starved = check_in_sandbox(path, memory_bytes=1 << 20)
    assert starved["error"].startswith("consent.pdf: ") and "memory" in starved["error"]
    assert starved["social_media"] == "unclear"
    assert os.getpid() == host and check_in_sandbox(path)["social_media"] == "covered"


def test_a_reader_that_hangs_is_stopped_and_explained(tmp_path):
    result = check_in_sandbox(_pdf(tmp_path), kill_seconds=0.001)
    assert result["error"].startswith("consent.pdf: reading took longer than")
    assert result["social_media"] == "unclear"
