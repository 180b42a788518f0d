"""Outputs shown the way people recognise them: a small picture of the de-identified file and a label in
words (patient, kind of media, day uploaded) instead of a record id."""
from __future__ import annotations

import base64
from contextlib import contextmanager
from typing import Iterator

import streamlit as st

from records import services
from ui.session import FAILED, attempt, remember

SHOWN_WIDTH = 120   # pixels on the page; the thumbnail has twice as many, sharp on dense screens


def output_labels(rec: services.Records, actor, output_ids, *, slot: str) -> dict:
    """The labels of these outputs, fetched once per set of outputs and page (`slot`) in this session: each
    fetch that shows patients' names is audited. An empty dict when they cannot be had (the page goes on)."""
    wanted = tuple(sorted(set(output_ids)))
    if not wanted:
        return {}
    labels = remember(f"labels:{slot}:{','.join(wanted)}", lambda: attempt(
        "Labelling the outputs", services.output_labels, rec, actor, list(wanted)), slot=f"labels:{slot}")
    return {} if labels is FAILED else labels


def pictures(rec: services.Records, actor, output_ids) -> dict:
    """The thumbnails of the outputs about to be shown (the service keeps them, so this is cheap on reruns);
    an empty dict when they cannot be had (the error is shown; each picture then says it is missing)."""
    found = attempt("Showing the pictures", services.output_thumbnails, rec, actor, list(set(output_ids)))
    return {} if found is FAILED else found


def label(facts: services.OutputLabel | None) -> str:
    """e.g. "Ada Example (MRN-000123) · photo · 2025-03-01"; for a role that does not see names,
    "photo · 2025-03-01 · consent 1a2b3c4d"."""
    if facts is None:
        return "media not on record"
    if facts.patient_name:
        return f"{facts.patient_name} ({facts.patient_ref}) · {facts.kind} · {facts.uploaded}"
    linked = f"consent {facts.consent_id[:8]}" if facts.consent_id else "no consent linked"
    return f"{facts.kind} · {facts.uploaded} · {linked}"


def show(picture: bytes | None, caption: str | None = None, width: int = SHOWN_WIDTH) -> None:
    """A thumbnail, or a note saying why there is none."""
    if picture:
        st.image(picture, width=width, caption=caption)
    else:
        st.caption("No picture (verification failed, or the file is gone).")


def data_url(picture: bytes | None) -> str | None:
    """A thumbnail as a data: address, for an image column of a table."""
    return "data:image/jpeg;base64," + base64.b64encode(picture).decode("ascii") if picture else None


@contextmanager
def beside_picture(picture: bytes | None) -> Iterator[None]:
    """A bordered card with the thumbnail on its left; what is written inside the block stands beside it."""
    with st.container(border=True):
        left, body = st.columns([1, 5])
        with left:
            show(picture)
        with body:
            yield
