"""Read a consent PDF: text per page, form fields tied to their printed labels, signature fields,
signature integrity, and OCR for image-only pages.

pypdf reads the document structure (text, AcroForm fields, /Sig fields, encryption); pypdfium2
supplies positions (which printed words sit beside a checkbox) and renders pages for OCR and for
checkboxes that are only drawn on the page. Checkbox states and filled-in values are written into
the page text at their label, so the scope analysis reads one annotated text per page:
"☒ label" for a ticked box, "☐ label" for an empty one.
"""
from __future__ import annotations

import ctypes
import hashlib
import io
import logging
import re
import stat
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from pypdf import PdfReader
from pypdf.constants import FieldDictionaryAttributes as FA
from pypdf.errors import LimitReachedError, PdfReadError
from pypdf.filters import decode_stream_data
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, StreamObject

from consent import ocr
from consent.signatures import SignatureCheck, bytes_after_last_eof, check_signatures

# pypdf logs every repaired cross-reference, and at ERROR level quotes names from the file with a
# 256-entry table ("Advanced encoding ... not implemented"): the reader copes, the verdict does not
# depend on them, and nothing from a consent's bytes belongs in the server's log.
logging.getLogger("pypdf").setLevel(logging.CRITICAL)

TICKED, UNTICKED = "☒", "☐"
_BOX_MIN, _BOX_MAX = 5.0, 20.0  # side, in points, of a drawn square that may be a checkbox
_INK_THRESHOLD = 0.06  # share of dark pixels inside a drawn box that means "ticked"
# A page mostly covered by images, with little text (a scan, perhaps under a typed header), is read
# by OCR as well: its wording must not go unseen.
_OCR_BELOW_CHARS = 200  # letters and digits in the text layer
_IMAGE_AREA_SHARE = 0.4
MAX_PAGES = 100  # a consent form; anything longer is refused rather than half-read
# Limits that keep a hostile file's cost bounded; a consent form is far below each of them.
MAX_OCR_PAGES = 10  # scanned pages read by OCR (each costs seconds of Tesseract)
READ_SECONDS = 300  # the whole document, OCR included
MAX_FILE_BYTES = 200 * 1024 * 1024  # read into memory whole; a scanned consent is a few MB
MAX_OBJECTS = 200_000  # objects walked when surveying the document
MAX_DECODED_BYTES = 256 * 1024 * 1024  # all non-image streams together, once decompressed
MAX_IMAGE_PIXELS = 150_000_000  # declared by one image (a Letter page scanned at 1200 dpi is 135 MP)
RENDER_MAX_PIXELS = ocr.MAX_PIXELS  # a page rendered to judge drawn boxes by their ink


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
    ocr: ocr.OcrPage | None = field(default=None, repr=False)  # the OCR reading: which lines are sure


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


def read_pdf(path: str | Path, *, trust_roots: list | None = None, use_ocr: bool = True,
             seconds: float = READ_SECONDS) -> PdfContent:
    """Read a PDF within `seconds` (checked between pages and given to Tesseract as its limit)."""
    path = Path(path)
    deadline = time.monotonic() + seconds
    data = _read_bytes(path)
    reader = _open_reader(path, data)
    encrypted = reader.is_encrypted
    # pypdf looks at every object first: pdfium would inflate a bombed stream in full, or abort.
    try:
        active = _survey(reader, path.name)
    except PdfError:
        raise
    except Exception as exc:  # noqa: BLE001 - reference loops, broken objects: pypdf raises many kinds
        raise PdfError(f"{path.name}: the PDF is damaged and cannot be read ({kind_of(exc)})") from exc
    try:
        doc = pdfium.PdfDocument(data, password="" if encrypted else None)
    except pdfium.PdfiumError as exc:
        raise PdfError(f"{path.name}: the PDF is damaged and cannot be opened ({exc})") from exc
    content = PdfContent(path=path, pages=[], sha256=hashlib.sha256(data).hexdigest(), encrypted=encrypted,
                         active_content=active, bytes_after_eof=bytes_after_last_eof(data))
    try:
        if len(doc) == 0 or len(reader.pages) == 0:
            raise PdfError(f"{path.name}: the PDF has no pages")
        if len(doc) != len(reader.pages):  # a page the page list names is missing or broken
            raise PdfError(f"{path.name}: the PDF is damaged: its list of pages is broken "
                           f"({len(doc)} pages by one reading, {len(reader.pages)} by another)")
        if len(reader.pages) > MAX_PAGES:
            raise PdfError(f"{path.name}: {len(reader.pages)} pages is too long for a consent form "
                           f"(at most {MAX_PAGES}); a person must review it")
        content.signature_fields = _signature_fields(reader)
        for index in range(len(reader.pages)):
            if time.monotonic() > deadline:
                raise PdfError(f"{path.name}: reading took longer than {seconds:.0f} s "
                               f"(stopped at page {index + 1}); a person must review it")
            try:
                content.pages.append(_read_page(reader, doc, index, content, use_ocr, deadline))
            except pdfium.PdfiumError as exc:
                raise PdfError(f"{path.name}: page {index + 1} is damaged and cannot be read ({exc})") from exc
    finally:
        doc.close()
    if any(f.signed for f in content.signature_fields):
        try:
            content.signatures = check_signatures(data, trust_roots)
        except Exception as exc:  # noqa: BLE001 - an unreadable signature is an invalid one
            # pyHanko's parser messages quote the file ("Unexpected escaped string: ..."): the type only
            reason = f"the signed PDF could not be parsed ({kind_of(exc)})"
            content.warnings.append(f"signatures could not be validated: {reason}")
            content.signatures = [SignatureCheck(f.name, f.kind, False, None, None, False, None, error=reason)
                                  for f in content.signature_fields if f.signed]
    return content


def _read_bytes(path: Path) -> bytes:
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise PdfError(f"{path.name}: is a folder, not a PDF file")
        if not stat.S_ISREG(info.st_mode):  # a pipe or a device would be read forever
            raise PdfError(f"{path.name}: is not a regular file (a pipe or a device), not a PDF file")
        if info.st_size > MAX_FILE_BYTES:
            raise PdfError(f"{path.name}: the file is {info.st_size >> 20} MB, larger than a consent form "
                           f"(at most {MAX_FILE_BYTES >> 20} MB); a person must review it")
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError as exc:
        raise PdfError(f"{path.name}: file not found") from exc
    except OSError as exc:
        raise PdfError(f"{path.name}: cannot be read ({exc.strerror})") from exc
    if len(data) > MAX_FILE_BYTES:
        raise PdfError(f"{path.name}: the file grew beyond {MAX_FILE_BYTES >> 20} MB while being read")
    if not data:
        raise PdfError(f"{path.name}: the file is empty")
    if b"%PDF-" not in data[:1024]:
        raise PdfError(f"{path.name}: not a PDF file (no %PDF header)")
    return data


def _open_reader(path: Path, data: bytes) -> PdfReader:
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise PdfError(f"{path.name}: the PDF is password-protected; ask for an unprotected copy")
        len(reader.pages)  # forces the page tree, where most damage shows
        return reader
    except PdfError:
        raise
    except NotImplementedError as exc:  # pypdf opens only the standard password scheme
        if "encrypt" not in str(exc).lower():
            raise PdfError(f"{path.name}: the PDF uses a feature the checker cannot read ({kind_of(exc)})") from exc
        raise PdfError(f"{path.name}: the PDF is encrypted with a method the checker cannot open (not a "
                       f"standard password); ask for an unprotected copy") from exc
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        raise PdfError(f"{path.name}: the PDF is damaged and cannot be read ({kind_of(exc)})") from exc
    except Exception as exc:  # noqa: BLE001 - pypdf raises many kinds on malformed files
        if "password" in str(exc).lower() or "decrypt" in str(exc).lower():
            raise PdfError(f"{path.name}: the PDF is encrypted and cannot be decrypted ({kind_of(exc)})") from exc
        raise PdfError(f"{path.name}: the PDF is damaged and cannot be read ({kind_of(exc)})") from exc


def kind_of(exc: BaseException) -> str:
    """What went wrong, for a message that may be stored in clear: the exception's type only.

    Parser messages quote the file ("Invalid Elementary Object ... b'(Jane Doe) ...'"), and a
    consent's bytes hold the patient's name. pdfium's messages are fixed strings and are kept.
    """
    return type(exc).__name__


# --------------------------------------------------------------------------------------- survey

_ACTIVE = {  # what a viewer may run or show beyond the printed page, as a reviewer should read it
    "js": "JavaScript (it can change what the form shows when it is opened)",
    "launch": "a Launch action (it asks the viewer to open another program or file)",
    "import": "an action that fills the form from another file",
    "xfa": "an XFA form (what a viewer shows can differ from the page the checker reads)",
    "files": "attached files (the checker does not read them)",
}


def _survey(reader: PdfReader, name: str) -> list[str]:
    """One bounded walk over every object reachable from the document catalog.

    Returns the active content found (`_ACTIVE` descriptions, nothing is ever run) and refuses a
    stream that decompresses beyond pypdf's limits or MAX_DECODED_BYTES in all: pdfium, which reads
    the pages next, would inflate it whole. Images are checked by their declared size only: pdfium
    decodes them line by line, to the size it needs.
    """
    found: set[str] = set()
    seen: set[tuple[int, int]] = set()
    stack: list = [reader.trailer.get("/Root")]
    walked = decoded = 0
    while stack:
        obj = stack.pop()
        if isinstance(obj, IndirectObject):
            if (obj.idnum, obj.generation) in seen:
                continue
            seen.add((obj.idnum, obj.generation))
            obj = obj.get_object()
        walked += 1
        if walked > MAX_OBJECTS:
            raise PdfError(f"{name}: the PDF holds more than {MAX_OBJECTS} objects, far beyond a consent form; "
                           f"a person must review it")
        if isinstance(obj, ArrayObject):
            stack.extend(obj)
        elif isinstance(obj, DictionaryObject):
            found |= _active_in(obj)
            if isinstance(obj, StreamObject):
                decoded += _stream_size(obj, name)
                if decoded > MAX_DECODED_BYTES:
                    raise PdfError(f"{name}: the PDF's content expands beyond {MAX_DECODED_BYTES >> 20} MB "
                                   f"when decompressed (a decompression bomb?); it is refused")
            stack.extend(obj.values())
    return [_ACTIVE[key] for key in _ACTIVE if key in found]


def _active_in(obj: DictionaryObject) -> set[str]:
    action = _resolved(obj.get("/S"))
    kinds = set()
    if "/JS" in obj or action == "/JavaScript":
        kinds.add("js")
    if action == "/Launch":
        kinds.add("launch")
    if action == "/ImportData":
        kinds.add("import")
    if "/XFA" in obj:
        kinds.add("xfa")
    if ("/EmbeddedFiles" in obj or "/EF" in obj or _resolved(obj.get("/Subtype")) == "/FileAttachment"):
        kinds.add("files")
    return kinds


def _resolved(value):
    return value.get_object() if isinstance(value, IndirectObject) else value


def _stream_size(stream: StreamObject, name: str) -> int:
    """Decompressed size of a stream that is not an image; an image's declared pixels are checked."""
    if _resolved(stream.get("/Subtype")) == "/Image":
        try:
            pixels = int(_resolved(stream.get("/Width", 0))) * int(_resolved(stream.get("/Height", 0)))
        except (TypeError, ValueError):
            return 0  # pdfium will not draw it either
        if pixels > MAX_IMAGE_PIXELS:
            raise PdfError(f"{name}: an image in the PDF declares {pixels // 1_000_000} megapixels, far beyond "
                           f"a scanned page (at most {MAX_IMAGE_PIXELS // 1_000_000}); it is refused")
        return 0
    try:
        return len(decode_stream_data(stream))
    except LimitReachedError as exc:
        raise PdfError(f"{name}: a stream in the PDF expands beyond the reader's limit when decompressed "
                       f"(a decompression bomb?); it is refused") from exc
    except Exception:  # noqa: BLE001 - a stream pypdf cannot decode is left to the page readers
        return 0


# ---------------------------------------------------------------------------------------- pages

def _read_page(reader: PdfReader, doc: pdfium.PdfDocument, index: int, content: PdfContent, use_ocr: bool,
               deadline: float) -> Page:
    number = index + 1
    try:
        text = reader.pages[index].extract_text() or ""
    except Exception as exc:  # noqa: BLE001 - pypdf raises many kinds on a broken content stream
        # A page left unread may be the one that withdraws the consent: the whole file is refused.
        raise PdfError(f"{content.path.name}: the text of page {number} cannot be read (its content is damaged: "
                       f"{kind_of(exc)})") from exc
    text = normalise_text(text)
    page = doc[index]
    try:
        textpage = page.get_textpage()
        chars = _Chars(textpage)
        image_share = _image_area_share(page)
        widgets = _widgets(reader.pages[index])
        text = _annotate_widgets(text, number, widgets, chars, content)
        text = _annotate_drawn_boxes(text, number, page, chars, widgets, content)
        if image_share < _IMAGE_AREA_SHARE or sum(ch.isalnum() for ch in text) >= _OCR_BELOW_CHARS:
            source = "text" if text.strip() else "none"
            return Page(number, text, source, has_images=image_share > 0)
        if not use_ocr:
            return Page(number, text, "none", has_images=True)
        content.ocr_pages += 1
        if content.ocr_pages > MAX_OCR_PAGES:
            raise PdfError(f"{content.path.name}: more than {MAX_OCR_PAGES} scanned pages to read by OCR, "
                           f"beyond a consent form; a person must review it")
        try:
            result = ocr.ocr_pdf_page(page, deadline=deadline)
        except ocr.OcrUnavailable as exc:
            raise PdfError(f"{content.path.name}: page {number} is a scan and cannot be read ({exc})") from exc
        # Tesseract often reads a capital I standing alone as "|"
        read = re.sub(r"(?<!\S)\|(?=\s)", "I", normalise_text(result.text))
        combined = (text + "\n" + read).strip()
        return Page(number, combined, "ocr" if combined else "none", has_images=True,
                    ocr_confidence=result.confidence, ocr=result)
    finally:
        page.close()


def normalise_text(text: str) -> str:
    """NFKC (ligatures, full-width forms), one space between words, no trailing blanks."""
    text = unicodedata.normalize("NFKC", text).replace("\u00ad", "").replace("\r\n", "\n").replace("\r", "\n")
    lines = [re.sub(r"[ \t\u00a0\u2000-\u200b]+", " ", line).strip() for line in text.split("\n")]
    return "\n".join(lines).strip()


def _image_area_share(page: pdfium.PdfPage) -> float:
    width, height = page.get_size()
    area = 0.0
    for obj in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,), max_depth=3):
        left, bottom, right, top = obj.get_bounds()
        area += max(0.0, right - left) * max(0.0, top - bottom)
    return min(1.0, area / max(1.0, width * height))


# ------------------------------------------------------------------------------ positioned chars

class _Chars:
    """The characters pdfium found on a page, with boxes, to find the words beside a widget."""

    def __init__(self, textpage: pdfium.PdfTextPage):
        self.textpage = textpage
        self.count = textpage.count_chars()
        self.chars = [chr(pdfium_c.FPDFText_GetUnicode(textpage, i)) for i in range(self.count)]
        self.boxes = [textpage.get_charbox(i) for i in range(self.count)]

    def box_label(self, rect, stop_left: float | None, stop_right: float | None) -> tuple[str, str]:
        """(label, side) for a checkbox: the words beside it on its line.

        side is "right" (box before its label, the usual layout), "left" ("Website [x]"), or
        "ambiguous" when words sit about as close on both sides: reading the wrong neighbour would
        move a tick to another option, so such a box is reported as unreadable.
        """
        right, gap_right = self._label(rect, "right", stop_right)
        left, gap_left = self._label(rect, "left", stop_left)
        if right and (not left or gap_right < 0.6 * gap_left):
            return right, "right"
        if left and (not right or gap_left < 0.6 * gap_right):
            return left, "left"
        return (right or left), ("ambiguous" if right or left else "none")

    def label_left_of(self, rect) -> str:
        return self._label(rect, "left", None)[0]

    def _label(self, rect, side: str, stop_x: float | None) -> tuple[str, float]:
        """The run of words on one side of rect, and its distance from rect (inf when none)."""
        x0, y0, x1, y1 = rect
        band = max(2.0, (y1 - y0) * 0.3)
        on_line = [i for i in range(self.count) if self._visible(i) and y0 - band <= self._mid_y(i) <= y1 + band]
        if side == "right":
            candidates = sorted((i for i in on_line if self.boxes[i][0] >= x1 - 1.0
                                 and (stop_x is None or self.boxes[i][0] < stop_x - 0.5)),
                                key=lambda i: self.boxes[i][0])
        else:
            candidates = sorted((i for i in on_line if self.boxes[i][2] <= x0 + 1.0
                                 and (stop_x is None or self.boxes[i][2] > stop_x + 0.5)),
                                key=lambda i: -self.boxes[i][2])
        picked, last_edge = [], x1 if side == "right" else x0
        for i in candidates:
            left, _, right, top = self.boxes[i]
            height = max(4.0, top - self.boxes[i][1])
            gap = left - last_edge if side == "right" else last_edge - right
            if gap > max(14.0, 2.5 * height):
                break
            picked.append(i)
            last_edge = right if side == "right" else left
        if not picked:
            return "", float("inf")
        nearest = picked[0]
        distance = self.boxes[nearest][0] - x1 if side == "right" else x0 - self.boxes[nearest][2]
        first, last = min(picked), max(picked)
        text = "".join(self.chars[first:last + 1])
        text = text.split("\n")[0] if side == "right" else text.split("\n")[-1]
        return normalise_text(text), max(0.0, distance)

    def font_name(self, index: int) -> str:
        size = pdfium_c.FPDFText_GetFontInfo(self.textpage, index, None, 0, None)
        if size <= 0:
            return ""
        buffer = ctypes.create_string_buffer(size)
        pdfium_c.FPDFText_GetFontInfo(self.textpage, index, buffer, size, None)
        return buffer.value.decode("utf-8", "replace")

    def first_right_of(self, rect) -> int | None:
        x0, y0, x1, y1 = rect
        band = max(2.0, (y1 - y0) * 0.3)
        right = [i for i in range(self.count) if self._visible(i) and self.boxes[i][0] >= x1 - 1.0
                 and y0 - band <= self._mid_y(i) <= y1 + band]
        return min(right, key=lambda i: self.boxes[i][0], default=None)

    def line_starts(self) -> list[int]:
        """Index of the first visible character of every line pdfium found."""
        starts, fresh = [], True
        for i, ch in enumerate(self.chars):
            if ch in "\r\n":
                fresh = True
            elif fresh and self._visible(i):
                starts.append(i)
                fresh = False
        return starts

    def line_of(self, index: int | None) -> int | None:
        if index is None:
            return None
        while index > 0 and self.chars[index - 1] not in "\r\n":
            index -= 1
        return index

    def line_text(self, start: int) -> str:
        end = start
        while end < self.count and self.chars[end] not in "\r\n":
            end += 1
        return normalise_text("".join(self.chars[start:end]))

    def any_in(self, zone) -> bool:
        x0, y0, x1, y1 = zone
        return any(self._visible(i) and self.boxes[i][0] < x1 and self.boxes[i][2] > x0
                   and self.boxes[i][1] < y1 and self.boxes[i][3] > y0 for i in range(self.count))

    def _visible(self, i: int) -> bool:
        left, bottom, right, top = self.boxes[i]
        return not self.chars[i].isspace() and right > left and top > bottom

    def _mid_y(self, i: int) -> float:
        return (self.boxes[i][1] + self.boxes[i][3]) / 2


# ---------------------------------------------------------------------------- AcroForm widgets

@dataclass
class _Widget:
    kind: str  # "checkbox" | "text" | "other"
    name: str
    rect: tuple[float, float, float, float]
    ticked: bool = False
    value: str = ""
    tooltip: str = ""


def _inherited(obj: DictionaryObject, key: str):
    seen = 0
    while obj is not None and seen < 32:
        if key in obj:
            return obj[key]
        obj = obj.get("/Parent")
        obj = obj.get_object() if obj is not None else None
        seen += 1
    return None


def _qualified_name(obj: DictionaryObject) -> str:
    parts, seen = [], 0
    while obj is not None and seen < 32:
        if "/T" in obj:
            parts.append(str(obj["/T"]))
        obj = obj.get("/Parent")
        obj = obj.get_object() if obj is not None else None
        seen += 1
    return ".".join(reversed(parts))


def _widgets(pdf_page) -> list[_Widget]:
    annots = pdf_page.get("/Annots")
    if annots is None:
        return []
    widgets = []
    for ref in annots.get_object() if isinstance(annots.get_object(), ArrayObject) else []:
        annot = ref.get_object()
        if not isinstance(annot, DictionaryObject) or annot.get("/Subtype") != "/Widget" or "/Rect" not in annot:
            continue
        x0, y0, x1, y1 = (float(v) for v in annot["/Rect"])
        rect = (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))
        field_type = _inherited(annot, FA.FT)
        flags = int(_inherited(annot, FA.Ff) or 0)
        name = _qualified_name(annot)
        tooltip = str(_inherited(annot, FA.TU) or "")
        if field_type == "/Btn" and not flags & (1 << 16):  # not a push button
            widgets.append(_Widget("checkbox", name, rect, ticked=_is_on(annot), tooltip=tooltip))
        elif field_type in ("/Tx", "/Ch"):
            value = _inherited(annot, FA.V)
            if isinstance(value, ArrayObject):
                value = ", ".join(str(v) for v in value)
            widgets.append(_Widget("text", name, rect, value=normalise_text(str(value or "")), tooltip=tooltip))
    return widgets


def _is_on(annot: DictionaryObject) -> bool:
    state = annot.get("/AS")
    if state is not None:
        return str(state) not in ("/Off", "")
    value = _inherited(annot, FA.V)
    if value is None or str(value) == "/Off":
        return False
    on_states = [k for k in annot.get("/AP", {}).get("/N", {}) if k != "/Off"] if "/AP" in annot else []
    return str(value) in on_states if on_states else False


def _annotate_widgets(text: str, number: int, widgets: list[_Widget], chars: _Chars, content: PdfContent) -> str:
    """Write each checkbox state before its label, and each text field value after its label."""
    ordered = sorted(widgets, key=lambda w: (-w.rect[3], w.rect[0]))
    cursor = 0
    for widget in ordered:
        if widget.kind == "checkbox":
            others = [w.rect for w in widgets if w is not widget]
            label, side = chars.box_label(widget.rect, *_neighbour_stops(widget.rect, others))
            label = label or widget.tooltip or widget.name
            mark = _MARKS[side == "ambiguous", widget.ticked]
            content.checkboxes.append(Checkbox(number, label, widget.ticked, "acroform", widget.name, side))
            text, cursor = _insert(text, label, mark, before=True, start=cursor)
        elif widget.kind == "text":
            label = chars.label_left_of(widget.rect) or widget.tooltip or widget.name
            content.text_fields.append(TextField(number, widget.name, label, widget.value))
            # An empty field reads like a printed blank ("Expires on: ____"), so it introduces nothing;
            # a filled one ends its statement, so the next printed line is not read as part of it.
            value = widget.value.rstrip() if widget.value else "____"
            if widget.value and not value.endswith((".", "!", "?")):
                value += "."
            text, cursor = _insert(text, label, " " + value, before=False, start=cursor)
    return text


_MARKS = {(False, True): TICKED + " ", (False, False): UNTICKED + " ", (True, True): "[?] ", (True, False): "[?] "}


def _neighbour_stops(rect, others) -> tuple[float | None, float | None]:
    """x where the nearest other box on the same line begins (right) or ends (left): labels stop there."""
    line = [o for o in others if _same_line(o, rect)]
    left = max((o[2] for o in line if o[2] <= rect[0]), default=None)
    right = min((o[0] for o in line if o[0] >= rect[2]), default=None)
    return left, right


def _same_line(a, b) -> bool:
    return not (a[3] < b[1] or b[3] < a[1])


def _insert(text: str, label: str, insertion: str, *, before: bool, start: int) -> tuple[str, int]:
    """Insert next to the first loose match of label at or after start (or anywhere); else append a line."""
    span = _loose_find(text, label, start) or _loose_find(text, label, 0)
    if span is None:
        line = f"{insertion.strip()} {label}" if before else f"{label} {insertion.strip()}"
        text = (text + "\n" + line).strip()
        return text, len(text)
    at = span[0] if before else span[1]
    return text[:at] + insertion + text[at:], at + len(insertion)


_FOLD = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"',
                       "–": "-", "—": "-", "\u2010": "-", "\u2011": "-"})


def _folded(text: str) -> tuple[str, list[int]]:
    """Text without whitespace, case-folded, with the index in `text` of every kept character."""
    kept, where = [], []
    for index, ch in enumerate(text):
        for folded in unicodedata.normalize("NFKC", ch).translate(_FOLD).casefold():
            if not folded.isspace():
                kept.append(folded)
                where.append(index)
    return "".join(kept), where


def _loose_find(text: str, needle: str, start: int) -> tuple[int, int] | None:
    hay, where = _folded(text)
    pin, _ = _folded(needle)
    if not pin:
        return None
    first = next((k for k, idx in enumerate(where) if idx >= start), len(where))
    at = hay.find(pin[:60], first)
    if at < 0:
        return None
    end = at + min(len(pin), 60) - 1
    if len(pin) > 60:  # the rest of a long label must follow too, or it is not this label
        tail = hay.find(pin[60:], end + 1)
        if tail != end + 1:
            return None
        end = at + len(pin) - 1
    return where[at], where[end] + 1


# ------------------------------------------------------------------------------ printed marks

def _annotate_drawn_boxes(text: str, number: int, page: pdfium.PdfPage, chars: _Chars,
                          widgets: list[_Widget], content: PdfContent) -> str:
    """Marks printed on the page rather than written as text or form fields.

    Squares drawn as vector paths are checkboxes: ink inside (judged on a rendering) means ticked.
    Any other graphic just left of a line's first word (a drawn bullet, a box made of four strokes,
    a tick in an image), or a line opening with a symbol-font glyph (a Wingdings box read as a
    letter), is a mark whose meaning we cannot read: the line gets "[?]", so an option behind it
    can never count as ticked.
    """
    if page.get_rotation() % 360:
        return text  # positions would need turning; the items stay unmarked and so never count
    graphics = any(True for _ in page.get_objects(
        filter=(pdfium_c.FPDF_PAGEOBJ_PATH, pdfium_c.FPDF_PAGEOBJ_IMAGE), max_depth=3))
    scale = 3.0
    rendered: list[np.ndarray] = []
    crop_left, crop_bottom, crop_right, crop_top = page.get_cropbox()
    width, height = page.get_size()
    whole_page = width * height * scale * scale <= RENDER_MAX_PIXELS

    def pixels(rect) -> np.ndarray:
        x0, y0, x1, y1 = rect
        if not whole_page:  # a huge page: render just the region asked about, never the whole sheet
            x0, y0 = max(x0, crop_left), max(y0, crop_bottom)
            x1, y1 = min(x1, crop_right, x0 + 200.0), min(y1, crop_top, y0 + 200.0)
            if x1 <= x0 or y1 <= y0:
                return np.zeros((0, 0), np.uint8)
            crop = (x0 - crop_left, y0 - crop_bottom, crop_right - x1, crop_top - y1)
            return np.asarray(page.render(scale=scale, crop=crop, grayscale=True, may_draw_forms=False,
                                          draw_annots=False).to_pil().convert("L"))
        if not rendered:  # only once a box or a mark is to be judged by its ink: never for a bare scan
            rendered.append(np.asarray(page.render(scale=scale, grayscale=True, may_draw_forms=False,
                                                   draw_annots=False).to_pil().convert("L")))
        gray = rendered[0]
        return gray[max(0, int((crop_top - y1) * scale)):max(0, int((crop_top - y0) * scale)),
                    max(0, int((x0 - crop_left) * scale)):max(0, int((x1 - crop_left) * scale))]

    boxes = _drawn_squares(page, widgets) if graphics else []
    cursor = 0
    marked_lines: set[int | None] = set()
    for rect in sorted(boxes, key=lambda r: (-r[3], r[0])):
        x0, y0, x1, y1 = rect
        dx, dy = (x1 - x0) * 0.25, (y1 - y0) * 0.25
        inner = pixels((x0 + dx, y0 + dy, x1 - dx, y1 - dy))
        ticked = inner.size > 0 and float((inner < 140).mean()) > _INK_THRESHOLD
        label, side = chars.box_label(rect, *_neighbour_stops(rect, [b for b in boxes if b is not rect]))
        if not label:
            continue  # a square with no words beside it is decoration, not an option
        marked_lines.add(chars.line_of(chars.first_right_of(rect)))
        content.checkboxes.append(Checkbox(number, label, ticked, "drawn", None, side))
        text, cursor = _insert(text, label, _MARKS[side == "ambiguous", ticked], before=True, start=cursor)

    cursor = 0
    for start in chars.line_starts():
        if chars.line_of(start) in marked_lines or _beside_widget(chars.boxes[start], widgets):
            continue
        first = chars.chars[start]
        mapped_mark = not (first.isalnum() or "\ue000" <= first <= "\uf8ff")  # "•", "☐": read as such
        if mapped_mark or not _SYMBOL_FONT.search(chars.font_name(start)):
            if not graphics:
                continue
            left, bottom, _, top = chars.boxes[start]
            height = max(4.0, top - bottom)
            zone = (left - 2.5 * height - 6.0, bottom - 0.15 * height, left - 1.0, top + 0.15 * height)
            if chars.any_in(zone) or not _has_mark(pixels(zone), scale):
                continue
        label = chars.line_text(start)[:60]
        if label:
            text, cursor = _insert(text, label, "[?] ", before=True, start=cursor)
    return text


_SYMBOL_FONT = re.compile(r"wingding|webding|dingbat|symbol", re.I)


def _beside_widget(box, widgets: list[_Widget]) -> bool:
    left, bottom, _, top = box
    return any(w.rect[2] <= left + 1 and left - w.rect[2] < 30 and _same_line(w.rect, (0, bottom, 0, top))
               for w in widgets)


def _has_mark(zone: np.ndarray, scale: float) -> bool:
    """Ink with some extent both ways (a box, dot or tick), not a lone table rule."""
    if zone.size == 0:
        return False
    ink = zone < 140
    cols, rows = np.flatnonzero(ink.any(axis=0)), np.flatnonzero(ink.any(axis=1))
    if cols.size == 0:
        return False
    return (cols[-1] - cols[0] + 1) >= 2.0 * scale and (rows[-1] - rows[0] + 1) >= 2.0 * scale


def _drawn_squares(page: pdfium.PdfPage, widgets: list[_Widget]) -> list[tuple[float, float, float, float]]:
    squares: list[tuple[float, float, float, float]] = []
    for obj in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_PATH,), max_depth=3):
        x0, y0, x1, y1 = obj.get_bounds()
        w, h = x1 - x0, y1 - y0
        if not (_BOX_MIN <= w <= _BOX_MAX and _BOX_MIN <= h <= _BOX_MAX and max(w, h) <= 1.25 * min(w, h)):
            continue
        rect = (x0, y0, x1, y1)
        if any(_overlap(rect, wd.rect) for wd in widgets):
            continue  # an AcroForm widget's own frame; its state comes from the field
        if any(_overlap(rect, s) for s in squares):
            continue  # the same box drawn twice (fill and stroke), or a tick drawn inside it
        squares.append(rect)
    return squares


def _overlap(a, b) -> bool:
    ix = min(a[2], b[2]) - max(a[0], b[0])
    iy = min(a[3], b[3]) - max(a[1], b[1])
    if ix <= 0 or iy <= 0:
        return False
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return ix * iy >= 0.5 * smaller


# ---------------------------------------------------------------------------- signature fields

def _signature_fields(reader: PdfReader) -> list[SignatureField]:
    root = reader.trailer["/Root"].get_object()
    acroform = root.get("/AcroForm")
    if acroform is None:
        return []
    page_of = {}
    for number, page in enumerate(reader.pages, start=1):
        for ref in (page.get("/Annots") or []):
            if hasattr(ref, "idnum"):
                page_of[ref.idnum] = number
    found: list[SignatureField] = []
    visited: set[int] = set()  # a field tree whose kids name their ancestors twice would branch forever

    def walk(ref, depth: int) -> None:
        obj = ref.get_object()
        if not isinstance(obj, DictionaryObject) or depth > 32 or id(obj) in visited:
            return
        visited.add(id(obj))
        kids = obj.get("/Kids")
        if kids and any("/T" in k.get_object() for k in kids):
            for kid in kids:
                walk(kid, depth + 1)
            return
        if _inherited(obj, FA.FT) != "/Sig":
            return
        value = obj.get("/V")
        value = value.get_object() if value is not None else None
        signed = isinstance(value, DictionaryObject)
        kind = "timestamp" if signed and value.get("/Type") == "/DocTimeStamp" else "signature"
        page = page_of.get(getattr(ref, "idnum", None))
        if page is None and kids:
            page = next((page_of.get(getattr(k, "idnum", None)) for k in kids), None)
        found.append(SignatureField(_qualified_name(obj), page, signed, kind))

    for ref in acroform.get_object().get("/Fields", []):
        walk(ref, 0)
    return found
