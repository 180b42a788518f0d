"""What makes two consent PDFs the same document although their bytes differ (a re-saved or re-printed
copy): the same words in the same order, once case, accents' composition, spacing and punctuation are set
aside."""
from __future__ import annotations

import hashlib
import re
import unicodedata

MIN_CHARACTERS = 40   # less text than this says too little to tell one document from another


def text_fingerprint(pages: list[tuple[int, str, str]]) -> str | None:
    """SHA-256 of the normalised text of every page read (number, text, source), or None when too little was
    read. The digest is for the records to key with the installation's secret; the text itself stays here."""
    text = "".join(_normalised(page_text) for _number, page_text, _source in pages)
    if len(text) < MIN_CHARACTERS:
        return None
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _normalised(text: str) -> str:
    return re.sub(r"[\W_]+", "", unicodedata.normalize("NFKC", text).casefold())
