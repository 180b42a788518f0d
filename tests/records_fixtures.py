"""Fixtures for the system of record: a data folder and key file in a temporary directory, the same
records on SQLite or on a real PostgreSQL server started here, the people of a small clinic, consent PDFs
the real checker judges, and helpers that walk media to a release request.

Test modules import what they use: `from records_fixtures import records, people  # noqa: F401`.
Nothing here touches the user's real data or key folders.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from records import services as sv
from records.audit import SYSTEM, Actor
from records.config import Settings, load_settings
from consent_fixtures import text_pdf

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PG_USER = "veilpg"
PASSWORD = "correct horse battery staple"
PATIENT_NAME = "Rosalind Quennell-Testpatient"
PATIENT_REF = "MRN-0047711"
ORIGINAL_NAME = "rosalind_quennell_MRN0047711_2024-03-01.jpg"


def make_settings(base: Path, database_url: str | None = None, **changes) -> Settings:
    env = {"VEIL_DATA_DIR": str(base / "data"), "VEIL_KEY_FILE": str(base / "keys" / "keyset.json")}
    if database_url:
        env["VEIL_DATABASE_URL"] = database_url
    return load_settings(env=env, secrets_file=base / "no-secrets.toml").with_(**changes)


# -- PostgreSQL ------------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ensure_pg_user() -> None:
    """initdb refuses to run as root: as root, the server runs as an unprivileged system user."""
    if subprocess.run(["id", "-u", PG_USER], capture_output=True).returncode == 0:
        return
    made = subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PG_USER],
                          capture_output=True, text=True)
    if made.returncode != 0 and "already exists" not in made.stderr:
        pytest.skip(f"cannot create the unprivileged user {PG_USER} for PostgreSQL: {made.stderr.strip()}")


def _as_pg_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", PG_USER, "--", *command] if os.geteuid() == 0 else command


@dataclass
class PgServer:
    root: Path
    port: int

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://veil@127.0.0.1:{self.port}/{database}"

    def admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=veil dbname=postgres", autocommit=True) as conn:
            conn.execute(sql)

    def new_database(self) -> str:
        name = f"veil_{uuid.uuid4().hex[:12]}"
        self.admin(f"CREATE DATABASE {name}")
        return name


@pytest.fixture(scope="session")
def pg_server():
    if not (PG_BIN / "initdb").is_file():
        pytest.skip(f"PostgreSQL binaries are absent ({PG_BIN}); install Debian's postgresql to run these")
    root = Path(tempfile.mkdtemp(prefix="veil-pg-"))
    if os.geteuid() == 0:
        _ensure_pg_user()
        shutil.chown(root, PG_USER, PG_USER)
    root.chmod(0o700)
    data, port = root / "cluster", _free_port()
    subprocess.run(_as_pg_user([str(PG_BIN / "initdb"), "-D", str(data), "-U", "veil", "--auth=trust",
                                "--encoding=UTF8", "--no-locale", "--no-sync"]), check=True, capture_output=True)
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50"
    subprocess.run(_as_pg_user([str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "log"),
                                "-w", "-t", "60", "start"]), check=True, capture_output=True)
    try:
        yield PgServer(root, port)
    finally:
        subprocess.run(_as_pg_user([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]),
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


# -- records on either backend ----------------------------------------------------------------------------
@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request) -> str:
    return request.param


@pytest.fixture
def records(request, backend, tmp_path):
    url = None
    if backend == "postgresql":
        server = request.getfixturevalue("pg_server")
        url = server.url(server.new_database())
    opened = sv.open_records(make_settings(tmp_path, url))
    yield opened
    opened.close()


@pytest.fixture
def sqlite_records(tmp_path):
    opened = sv.open_records(make_settings(tmp_path))
    yield opened
    opened.close()


from records import users as record_users  # noqa: E402

INSTALLED_HASHER = record_users._hasher   # the installation's real argon2 parameters, before any test swaps them


@pytest.fixture(autouse=True)
def quick_password_hashing(monkeypatch):
    """argon2 with its cheapest parameters, so the many sign-ins of these tests take milliseconds; the
    installation's real parameters are checked in test_registry_users.py."""
    from argon2 import PasswordHasher

    monkeypatch.setattr("records.users._hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@dataclass
class People:
    admin: Actor
    staff: Actor          # uploads and reviews
    staff2: Actor
    marketing: Actor      # confirms scope, approves
    auditor: Actor


def add_people(records) -> People:
    admin = sv.add_user(records, SYSTEM, "admin", PASSWORD, "admin")
    return People(admin=admin,
                  staff=sv.add_user(records, admin, "sam.staff", PASSWORD, "staff"),
                  staff2=sv.add_user(records, admin, "sol.staff", PASSWORD, "staff"),
                  marketing=sv.add_user(records, admin, "mia.marketing", PASSWORD, "marketing"),
                  auditor=sv.add_user(records, admin, "ada.auditor", PASSWORD, "auditor"))


@pytest.fixture
def people(records) -> People:
    return add_people(records)


def sign_in_from_threads(records, username: str, *, threads: int, times: int) -> list[Exception]:
    """Sign one person in `times` times from each of `threads` threads at once (each sign-in appends an
    audit event); returns what the threads raised."""
    errors: list[Exception] = []

    def sign_in_repeatedly():
        try:
            for _ in range(times):
                sv.authenticate(records, username, PASSWORD)
        except Exception as exc:  # noqa: BLE001 - returned to the test
            errors.append(exc)

    started = [threading.Thread(target=sign_in_repeatedly) for _ in range(threads)]
    for t in started:
        t.start()
    for t in started:
        t.join()
    return errors


# -- consent PDFs the real checker judges -------------------------------------------------------------------
GRANT_ANY = "I authorize the clinic to post my before-and-after photographs on social media."
FACES_OK = "The photographs may show my face."
FACES_NO = "My face must not be shown; photographs must be de-identified."


def consent_pdf(grant: str = GRANT_ANY, faces: str = FACES_OK, expiry: str = "This authorization expires on 2030-12-31.",
                signature: str | None = PATIENT_NAME, extra: str = "", signed_on: str = "2025-01-02") -> bytes:
    """A one-page consent in the clinic's words; `signature=None` leaves the signature line empty."""
    return text_pdf(f"""Photo and video consent

Patient name: {PATIENT_NAME}    Patient reference: {PATIENT_REF}
{grant}
{extra}
{faces}
{expiry}

Signature: {signature or '____________________'}     Date: {signed_on}
""")


def register(records, people: People, pdf: bytes | None = None, *, confirm: bool = True,
             identifiable: str = "allowed", **confirm_kwargs) -> sv.ConsentView:
    consent = sv.register_consent(records, people.staff, pdf or consent_pdf(), PATIENT_NAME, PATIENT_REF)
    if confirm:
        consent = sv.confirm_scope(records, people.marketing, consent.id, covers_social_media=True,
                                   identifiable=identifiable, signature_attested=confirm_kwargs.pop("attest", True),
                                   **confirm_kwargs)
    return consent


# -- media ---------------------------------------------------------------------------------------------
def grace_hopper_path() -> Path:
    import matplotlib.cbook

    return Path(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))


def plain_photo(path: Path, seed: int = 0, size=(320, 240)) -> Path:
    """A photo without a face: smooth shapes in colour (distinct per seed), written with Pillow."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size[1], 0:size[0]]
    channels = []
    for _ in range(3):
        fx, fy, phase = rng.uniform(0.5, 3.0), rng.uniform(0.5, 3.0), rng.uniform(0, 6.28)
        channels.append(127 + 120 * np.sin(xx / size[0] * fx * 6.28 + phase) * np.cos(yy / size[1] * fy * 6.28))
    Image.fromarray(np.stack(channels, -1).astype(np.uint8)).save(path, "JPEG", quality=92)
    return path


def synthetic_clip(path: Path, seed: int = 0, frames: int = 36, rate: int = 12, size=(320, 240)) -> Path:
    """A short H.264 clip written with PyAV: coloured blobs drifting over a gradient (no face), distinct
    per seed."""
    import av

    rng = np.random.default_rng(seed)
    width, height = size
    yy, xx = np.mgrid[0:height, 0:width]
    backdrop = np.stack([xx * 255 // width, yy * 255 // height, np.full_like(xx, int(rng.integers(0, 255)))], -1)
    blobs = [(rng.uniform(0, width), rng.uniform(0, height), rng.uniform(-4, 4), rng.uniform(-4, 4),
              rng.uniform(20, 60), rng.integers(0, 255, 3)) for _ in range(5)]
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=rate, options={"preset": "ultrafast", "crf": "18"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(frames):
            frame = backdrop.copy()
            for x, y, dx, dy, radius, colour in blobs:
                inside = (xx - (x + dx * i)) ** 2 + (yy - (y + dy * i)) ** 2 < radius ** 2
                frame[inside] = colour
            out.mux(stream.encode(av.VideoFrame.from_ndarray(frame.astype(np.uint8), format="rgb24")))
        out.mux(stream.encode(None))
    return path


def reencode_like_a_social_network(source: Path, target: Path, scale: float = 0.5, keep_every: int = 1,
                                   crf: int = 32) -> Path:
    """Decode a video and encode it again smaller, at a lower quality (and optionally fewer frames)."""
    import av

    with av.open(str(source)) as src, av.open(str(target), "w", format="mp4") as out:
        vin = src.streams.video[0]
        rate = vin.average_rate / keep_every
        stream = out.add_stream("libx264", rate=rate, options={"preset": "veryfast", "crf": str(crf)})
        stream.width = int(vin.codec_context.width * scale) // 2 * 2
        stream.height = int(vin.codec_context.height * scale) // 2 * 2
        stream.pix_fmt = "yuv420p"
        kept = 0
        for i, frame in enumerate(src.decode(vin)):
            if i % keep_every == 0:
                small = frame.reformat(width=stream.width, height=stream.height, format="yuv420p")
                small.pts, small.time_base = kept, 1 / rate
                kept += 1
                out.mux(stream.encode(small))
        out.mux(stream.encode(None))
    return target


def processed(records, people: People, source: Path | None = None, *, consent_id: str | None = None,
              profile: str = "default", review: bool = True, confirm_patient: bool = True,
              original_name: str = ORIGINAL_NAME):
    """Upload (by staff), process, and optionally review and confirm the patient. Returns (asset, output)."""
    asset = sv.upload_media(records, people.staff, source or grace_hopper_path(), original_name, consent_id)
    output = sv.process(records, people.staff, asset.id, profile)
    if review and output.error is None:
        output = sv.mark_reviewed(records, people.staff, output.id)
    if confirm_patient and consent_id:
        asset = sv.confirm_patient(records, people.staff, asset.id)
    return asset, output


def wait_for(path: Path, seconds: float = 60.0) -> bool:
    """Poll for a file a subprocess writes when it reaches a point (not a timing measurement)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists():
            return True
        time.sleep(0.02)
    return False
