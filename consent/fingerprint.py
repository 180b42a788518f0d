"""What makes two consent PDFs the same document although their bytes differ (a re-saved or re-printed
copy): the same words and the same boxes ticked, in the same order, once case, accents' composition, spacing
and punctuation are set aside. The marks of the boxes count: two copies of a form that differ only in which
boxes are ticked grant different things, and are different documents."""
from __future__ import annotations

import hashlib
import re
import unicodedata

MIN_CHARACTERS = 40   # less text than this says too little to tell one document from another
_UNREAD_BOX = "[?]"   # consent.pdf's mark for a box it could not read; the others (☒, ☐) are symbols


def text_fingerprint(pages: list[tuple[int, str, str]]) -> str | None:
    """SHA-256 of the normalised text of every page read (number, text, source), or None when too little was
    read. The digest is for the records to key with the installation's secret; the text itself stays here."""
    text = "".join(_normalised(page_text) for _number, page_text, _source in pages)
    if len(text) < MIN_CHARACTERS:
        return None
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _normalised(text: str) -> str:
    """Letters and digits, and the symbols that mark boxes (☒ ☐ ✓ ■ ...); "[?]" becomes the symbol ⍰."""
    text = unicodedata.normalize("NFKC", text).casefold().replace(_UNREAD_BOX, "\u2370")
    return re.sub(r"[\W_]+", lambda run: "".join(ch for ch in run.group() if unicodedata.category(ch) == "So"), text)
