"""What lets a person recognise an output where they decide about it: the facts of a label (the kind of
media, the day it was uploaded, and the patient's name and reference to the roles that see names, their
showing audited), and a small picture made from the de-identified output (a photo reduced, or one frame of
a video; never the original), made once and kept by content address.
"""
from __future__ import annotations

import io
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass

import av
from PIL import Image
from sqlalchemy import select

from deid.api import decode_upright
from deid.image import ImageReadError
from records.audit import Actor
from records.models import Asset, Consent, Output
from records.services.core import Records, authorize, log_event, patient_of
from records.store import WorkDir
from records.users import PERMISSIONS

THUMBNAIL_SIDE = 240          # pixels, the longer side; shown at about half that, sharp on dense screens
FRAME_AT_SECONDS = 1.0        # a video's picture: its frame at one second (the first ones are often dark)


@dataclass(frozen=True)
class OutputLabel:
    output_id: str
    kind: str                      # "photo" or "video"
    uploaded: str                  # YYYY-MM-DD
    consent_id: str | None
    patient_name: str | None       # None for roles that do not see names, or media without a consent
    patient_ref: str | None


def output_labels(records: Records, actor: Actor, output_ids: list[str]) -> dict[str, OutputLabel]:
    """The facts of a label for each known output of `output_ids` (unknown ids are left out)."""
    authorize(records, actor, "see_outputs")
    with records.db.reading() as session:
        rows = session.execute(select(Output.id, Output.kind, Asset.uploaded_at, Asset.consent_id)
                               .join(Asset, Output.asset_id == Asset.id).where(Output.id.in_(set(output_ids)))).all()
        consent_ids = {cid for *_, cid in rows if cid}
        names = _patients(records, session, consent_ids) if actor.role in PERMISSIONS["see_patient_names"] else {}
    if names:
        with records.transaction() as session:
            log_event(records, session, actor, "patients.shown", None, None, consents=sorted(names))
    return {oid: OutputLabel(oid, "photo" if kind == "image" else "video", uploaded.date().isoformat(), cid,
                             *names.get(cid, (None, None)))
            for oid, kind, uploaded, cid in rows}


def output_thumbnails(records: Records, actor: Actor, output_ids: list[str]) -> dict[str, bytes | None]:
    """A small JPEG of each known output of `output_ids`, made from the de-identified file; None for an output
    that failed verification (there is no file) or cannot be read."""
    authorize(records, actor, "see_outputs")
    with records.db.reading() as session:
        rows = session.execute(select(Output.id, Output.blob, Output.kind)
                               .where(Output.id.in_(set(output_ids)))).all()
    return {oid: _thumbnail(records, blob, kind) for oid, blob, kind in rows}


def _patients(records: Records, session, consent_ids: set[str]) -> dict[str, tuple[str, str]]:
    return {c.id: patient_of(records, c) for c in session.scalars(select(Consent).where(Consent.id.in_(consent_ids)))}


# -- the pictures ---------------------------------------------------------------------------------------------
class _Recent:
    """The latest thumbnails made, by the output's content address: each is made once, not on every page run."""

    def __init__(self, size: int = 512):
        self._held: OrderedDict[str, bytes | None] = OrderedDict()
        self._size, self._lock = size, threading.Lock()

    def get(self, key: str):
        with self._lock:
            if key in self._held:
                self._held.move_to_end(key)
                return self._held[key]
            return _MISSING

    def put(self, key: str, value: bytes | None) -> None:
        with self._lock:
            self._held[key] = value
            while len(self._held) > self._size:
                self._held.popitem(last=False)


_MISSING = object()
_recent = _Recent()


def _thumbnail(records: Records, blob: str | None, kind: str) -> bytes | None:
    if blob is None:
        return None
    held = _recent.get(blob)
    if held is _MISSING:
        try:
            held = _make_thumbnail(records, blob, kind)
        except OSError:   # the store could not be read now (a network hiccup, say): the next run tries again
            return None
        _recent.put(blob, held)
    return held


def _make_thumbnail(records: Records, blob: str, kind: str) -> bytes | None:
    try:
        if kind == "image":
            picture = Image.fromarray(decode_upright(records.store.read_bytes(blob)))
        else:
            with WorkDir(records.settings.work_dir) as work:   # a video is decoded from a file, never held whole
                picture = _frame(records.store.decrypt_to(blob, work / uuid.uuid4().hex))
    except (ImageReadError, av.FFmpegError, ValueError):
        return None   # the page says "no picture"; the output itself is checked where it is reviewed
    if picture is None:
        return None
    picture.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.BILINEAR)
    buffer = io.BytesIO()
    picture.convert("RGB").save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def _frame(path) -> Image.Image | None:
    """The frame at FRAME_AT_SECONDS, or the last one of a shorter video (outputs are upright already)."""
    chosen = None
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            chosen = frame
            if frame.time is not None and frame.time >= FRAME_AT_SECONDS:
                break
        return chosen.to_image() if chosen is not None else None
