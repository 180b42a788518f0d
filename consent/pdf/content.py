"""What reading a consent PDF yields: pages of annotated text, checkboxes, fields, signatures."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from consent.ocr import OcrPage
from consent.signatures import SignatureCheck

TICKED, UNTICKED = "☒", "☐"
# the mark written before a checkbox's label: (label side ambiguous, ticked) -> mark
MARKS = {(False, True): TICKED + " ", (False, False): UNTICKED + " ", (True, True): "[?] ", (True, False): "[?] "}


class PdfError(Exception):
    """A PDF that cannot be read; the message names the file and says why."""


@dataclass
class Checkbox:
    page: int
    label: str
    ticked: bool
    source: str  # "acroform" | "drawn"
    name: str | None = None
    label_side: str = "right"  # where the label was printed: "right", "left", "ambiguous", "none"


@dataclass
class TextField:
    page: int | None
    name: str
    label: str
    value: str


@dataclass
class SignatureField:
    name: str
    page: int | None
    signed: bool
    kind: str  # "signature" | "timestamp"


@dataclass
class Page:
    number: int  # from 1
    text: str  # annotated text (checkbox marks and field values written in)
    source: str  # "text" | "ocr" | "none"
    has_images: bool = False
    ocr_confidence: float | None = None
    ocr: OcrPage | None = field(default=None, repr=False)  # the OCR reading: which lines are sure


@dataclass
class PdfContent:
    path: Path
    pages: list[Page]
    sha256: str = ""  # of the bytes read and judged
    checkboxes: list[Checkbox] = field(default_factory=list)
    text_fields: list[TextField] = field(default_factory=list)
    signature_fields: list[SignatureField] = field(default_factory=list)
    signatures: list[SignatureCheck] = field(default_factory=list)
    encrypted: bool = False
    active_content: list[str] = field(default_factory=list)  # JavaScript, Launch actions, attached files...
    bytes_after_eof: bool = False  # something appended after the last %%EOF marker
    warnings: list[str] = field(default_factory=list)
    ocr_pages: int = 0  # pages read by OCR so far

    @property
    def text_source(self) -> str:
        kinds = {p.source for p in self.pages} - {"none"}
        if not kinds:
            return "none"
        return kinds.pop() if len(kinds) == 1 else "mixed"


def kind_of(exc: BaseException) -> str:
    """What went wrong, for a message that may be stored in clear: the exception's type only.

    Parser messages quote the file ("Invalid Elementary Object ... b'(Jane Doe) ...'"), and a
    consent's bytes hold the patient's name. pdfium's messages are fixed strings and are kept.
    """
    return type(exc).__name__


def normalise_text(text: str) -> str:
    """NFKC (ligatures, full-width forms), one space between words, no trailing blanks."""
    text = unicodedata.normalize("NFKC", text).replace("\u00ad", "").replace("\r\n", "\n").replace("\r", "\n")
    lines = [re.sub(r"[ \t\u00a0\u2000-\u200b]+", " ", line).strip() for line in text.split("\n")]
    return "\n".join(lines).strip()
