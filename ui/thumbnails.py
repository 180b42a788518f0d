"""Outputs shown the way people recognise them: a small picture of the de-identified file and a label in
words (patient, kind of media, day uploaded) instead of a record id."""
from __future__ import annotations

import base64

import streamlit as st

from records import services
from ui.session import FAILED, attempt, remember

SHOWN_WIDTH = 120   # pixels on the page; the thumbnail has twice as many, sharp on dense screens


def output_cards(rec: services.Records, actor, output_ids, *, slot: str) -> dict:
    """The cards of these outputs, fetched once per set of outputs and page (`slot`) in this session: each
    fetch that shows patients' names is audited. An empty dict when they cannot be had (the page goes on)."""
    wanted = tuple(sorted(set(output_ids)))
    if not wanted:
        return {}
    cards = remember(f"cards:{slot}:{','.join(wanted)}", lambda: attempt(
        "Showing the pictures", services.output_cards, rec, actor, list(wanted)), slot=f"cards:{slot}")
    return {} if cards is FAILED else cards


def label(card: services.OutputCard | None) -> str:
    """e.g. "Ada Example (MRN-000123) · photo · 2025-03-01"; without names: "photo · 2025-03-01 · consent 1a2b3c4d"."""
    if card is None:
        return "media no longer on record"
    if card.patient_name:
        return f"{card.patient_name} ({card.patient_ref}) · {card.kind} · {card.uploaded}"
    linked = f"consent {card.consent_id[:8]}" if card.consent_id else "no consent linked"
    return f"{card.kind} · {card.uploaded} · {linked}"


def show(card: services.OutputCard | None, width: int = SHOWN_WIDTH, caption: bool = False) -> None:
    """The card's picture (a placeholder when there is none), with its label beneath when asked."""
    if card is not None and card.thumbnail:
        st.image(card.thumbnail, width=width, caption=label(card) if caption else None)
    else:
        st.caption("No picture (verification failed or the file is gone).")


def data_url(card: services.OutputCard | None) -> str | None:
    """The picture as a data: address, for an image column of a table."""
    if card is None or not card.thumbnail:
        return None
    return "data:image/jpeg;base64," + base64.b64encode(card.thumbnail).decode("ascii")
