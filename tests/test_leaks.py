"""No leaks: after a whole flow (the registry journey of test_registry_journey.py, then a photo whose
processing fails, a file looked up under the patient's own file name, a revocation whose note names the
patient, housekeeping), with every logger at DEBUG, stderr captured and TMPDIR pointed at a folder of the
test's own, nothing holds the patient's name, reference or original file name: no log record, no warning,
no stderr or stdout line, no text column of any table (audit details and stored errors included). No file
in the data folder, TMPDIR or the export holds them or the original's bytes or pixels in plaintext (the
SQLite WAL scanned while the records are open, the database again after they close), and the temporary
files are gone: TMPDIR and the data folder's work area are empty."""
from __future__ import annotations

import logging
import os
import stat
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import String, Text, inspect, select, text

from records import services as sv
from conftest import ROOT
from records_fixtures import (ORIGINAL_NAME, PATIENT_NAME, PATIENT_REF, add_people, grace_hopper_path,  # noqa: F401
                              make_settings, quick_password_hashing)
from test_registry_journey import _files, _needles, journey

# what must never appear in clear, matched without regard to case
WORDS = (PATIENT_NAME, "Quennell", "Rosalind", PATIENT_REF, "MRN0047711", ORIGINAL_NAME, Path(ORIGINAL_NAME).stem)
BROKEN_NAME = "rosalind_quennell_MRN0047711_2024-03-02_broken.jpg"


def phi_in(text_: str) -> list[str]:
    lowered = text_.lower()
    return [w for w in WORDS if w.lower() in lowered]


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))   # the message, its arguments and any traceback


@pytest.fixture
def every_log_record():
    """Every logger at DEBUG, none disabled, each record collected. Veil's modules are imported first, since
    some quieten third-party loggers when imported."""
    import consent.check, records.lookup, consent.pdf, consent.signatures, deid.api, deid.video  # noqa: E401,F401

    handler = _Collect()
    loggers = [logging.getLogger()] + [lg for lg in logging.root.manager.loggerDict.values()
                                       if isinstance(lg, logging.Logger)]
    saved = [(lg, lg.level, lg.disabled, lg.propagate) for lg in loggers]
    disabled = logging.root.manager.disable
    logging.disable(logging.NOTSET)
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
        lg.disabled = False
        if not lg.propagate:
            lg.addHandler(handler)
    logging.getLogger().addHandler(handler)
    yield handler.lines
    for lg, level, was_disabled, _ in saved:
        lg.setLevel(level)
        lg.disabled = was_disabled
        lg.removeHandler(handler)
    logging.disable(disabled)


@pytest.fixture
def own_tmpdir(monkeypatch) -> Path:
    # short, under /tmp: a fork server's socket lives in TMPDIR, and a socket path holds at most 107 bytes
    folder = Path(tempfile.mkdtemp(prefix="veil-leaks-", dir="/tmp"))
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", None)   # gettempdir() reads TMPDIR again
    assert tempfile.gettempdir() == str(folder)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _needles_with_pixels() -> dict[str, bytes]:
    needles = _needles()
    for word in ("quennell", "rosalind", "mrn0047711"):
        needles[f"{word} (lower case)"] = word.encode()
    with Image.open(grace_hopper_path()) as img:
        rgb = np.asarray(img.convert("RGB"))
    for row in (150, 300, 450):
        needles[f"original pixels, row {row}"] = rgb[row, 100:200].tobytes()
    return needles


def _scan(needles: dict[str, bytes], *roots: Path) -> int:
    scanned = 0
    for path in _files(*roots):
        data = path.read_bytes()
        scanned += 1
        found = [what for what, needle in needles.items() if needle in data]
        assert not found, f"{', '.join(found)} in plaintext in {path}"
        assert not phi_in(path.name), path
    return scanned


def _text_cells(records) -> list[tuple[str, str, str]]:
    """(table, column, value) of every text value in every table, audit details and stored errors included."""
    cells = []
    with records.db.sessions() as session:
        schema = inspect(session.connection())
        for table in schema.get_table_names():
            for column in schema.get_columns(table):
                if isinstance(column["type"], (String, Text)):
                    for (value,) in session.execute(select(text(f'"{column["name"]}"')).select_from(text(table))):
                        if value:
                            cells.append((table, column["name"], str(value)))
    return cells


def leaky_flow(records, people, tmp_path: Path) -> dict:
    done = journey(records, people, tmp_path)
    consent = done["consent"]
    truncated = grace_hopper_path().read_bytes()[:6000]
    broken = sv.upload_media(records, people.staff, truncated, BROKEN_NAME, consent.id)
    failed = sv.process(records, people.staff, broken.id)
    query = tmp_path / "query" / ORIGINAL_NAME
    query.parent.mkdir()
    shutil.copyfile(grace_hopper_path(), query)
    sv.find_file(records, people.auditor, query)
    sv.revoke_consent(records, people.staff, consent.id, f"{PATIENT_NAME} ({PATIENT_REF}) withdrew by phone")
    sv.housekeeping(records, people.admin, grace_seconds=0)
    return {**done, "failed": failed}


@pytest.fixture
def sandbox_calls(monkeypatch) -> list[str]:
    """What the app hands its sandboxed readers, as text. Their logs are the fork server's, not this process's,
    so what they cannot leak is shown by what they are given: no name reaches them, but for the patient's
    identifiers the engine must look for on its output (`identifiers`, in memory, never in a message: the
    engine returns a count). That argument is left out here; everything else is recorded."""
    import records.sandbox

    calls = []
    for name in ("check_in_sandbox", "redact_in_sandbox"):
        real = getattr(records.sandbox, name)

        def spy(*args, _real=real, **kwargs):
            calls.append(repr((args, {k: v for k, v in kwargs.items() if k != "identifiers"})))
            return _real(*args, **kwargs)

        monkeypatch.setattr(records.sandbox, name, spy)
    return calls


def test_a_whole_flow_leaves_no_name_file_name_or_original_pixels_in_logs_records_or_files(
        every_log_record, own_tmpdir, capfd, recwarn, sandbox_calls, tmp_path):
    records = sv.open_records(make_settings(tmp_path))
    try:
        people = add_people(records)
        done = leaky_flow(records, people, tmp_path)
        assert done["failed"].error and done["failed"].sha256 is None   # the error case really failed
        assert len(sandbox_calls) >= 4 and [c for c in sandbox_calls if phi_in(c)] == []
        needles = _needles_with_pixels()
        assert _scan(needles, records.settings.data_dir, own_tmpdir, done["package"]) >= 4
        assert list(records.settings.data_dir.glob("*-wal")), "the WAL was not there to be scanned"
        cells = _text_cells(records)
        assert any(t == "outputs" and c == "error" for t, c, _ in cells) and any(t == "audit_events" for t, *_ in cells)
        leaked = [(t, c, v[:200]) for t, c, v in cells if phi_in(v)]
        assert leaked == []
        events = sv.audit_events(records, people.auditor)
        assert [e for e in events if phi_in(repr(e))] == []
    finally:
        records.close()
    _scan(needles, records.settings.data_dir)   # the database after the WAL was checkpointed into it
    assert [p for p in own_tmpdir.iterdir() if not _fork_server_socket_folder(p)] == [], \
        "temporary files left in TMPDIR"
    assert list(records.settings.work_dir.iterdir()) == [], "decrypted files left in the work area"
    captured = capfd.readouterr()
    logs = "\n".join(every_log_record)
    assert len(every_log_record) > 10   # the loggers really were listening
    assert phi_in(logs) == [], [line for line in every_log_record if phi_in(line)][:5]
    assert phi_in(captured.err) == [] and phi_in(captured.out) == []
    assert [str(w.message) for w in recwarn if phi_in(str(w.message))] == []


def _fork_server_socket_folder(path: Path) -> bool:
    """multiprocessing's folder for the sandbox's fork-server socket (removed when the app exits): it may hold
    sockets, nothing else."""
    return path.name.startswith("pymp-") and all(stat.S_ISSOCK(f.lstat().st_mode) for f in path.iterdir())


def test_the_face_detector_leaves_nothing_in_tmpdir_nor_a_telemetry_id_at_home(tmp_path):
    """onnxruntime's telemetry (on by default on Linux) would write a session file into TMPDIR and a device id
    under ~/.cache/Microsoft; deid.detectors switches it off itself."""
    folder = tmp_path / "TMPDIR"
    folder.mkdir()
    env = {**os.environ, "TMPDIR": str(folder), "HOME": str(tmp_path / "home"), "PYTHONPATH": str(ROOT)}
    env.pop("ORT_DISABLE_TELEMETRY", None)   # Veil must switch it off itself, not rely on the environment
    done = subprocess.run([sys.executable, "-m", "deid", "detect", str(grace_hopper_path()), "--json"], env=env,
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert [p.name for p in folder.iterdir()] == []
    assert not (tmp_path / "home" / ".cache" / "Microsoft").exists()
