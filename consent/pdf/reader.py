"""Reading a consent PDF within limits: bytes, structure survey, pages (text, fields, marks, OCR), signatures."""
from __future__ import annotations

import hashlib
import io
import logging
import stat
import time
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from pypdf import PdfReader
from pypdf.errors import LimitReachedError, PdfReadError
from pypdf.filters import decode_stream_data
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, StreamObject

from consent import ocr
from consent.limits import (MAX_DECODED_BYTES, MAX_FILE_BYTES, MAX_IMAGE_PIXELS, MAX_OBJECTS, MAX_OCR_PAGES, MAX_PAGES,
                            READ_SECONDS)
from consent.pdf.chars import PageChars
from consent.pdf.content import Page, PdfContent, PdfError, kind_of, normalise_text
from consent.pdf.fields import annotate_widgets, signature_fields, widgets_on
from consent.pdf.marks import annotate_drawn_boxes
from consent.signatures import SignatureCheck, bytes_after_last_eof, check_signatures

# pypdf logs every repaired cross-reference, and at ERROR level quotes names from the file with a
# 256-entry table ("Advanced encoding ... not implemented"): the reader copes, the verdict does not
# depend on them, and nothing from a consent's bytes belongs in the server's log.
logging.getLogger("pypdf").setLevel(logging.CRITICAL)

# A page mostly covered by images, with little text (a scan, perhaps under a typed header), is read
# by OCR as well: its wording must not go unseen.
_OCR_BELOW_CHARS = 200  # letters and digits in the text layer
_IMAGE_AREA_SHARE = 0.4


def read_pdf(path: str | Path, *, trust_roots: list[bytes] | None = None, use_ocr: bool = True,
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
        content.signature_fields = signature_fields(reader)
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
        chars = PageChars(textpage)
        image_share = _image_area_share(page)
        widgets = widgets_on(reader.pages[index])
        text = annotate_widgets(text, number, widgets, chars, content)
        text = annotate_drawn_boxes(text, number, page, chars, widgets, content)
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
        read = normalise_text(result.text)  # a lone "|" is already the "I" Tesseract misread (ocr._normal_word)
        combined = (text + "\n" + read).strip()
        return Page(number, combined, "ocr" if combined else "none", has_images=True,
                    ocr_confidence=result.confidence, ocr=result)
    finally:
        page.close()


def _image_area_share(page: pdfium.PdfPage) -> float:
    width, height = page.get_size()
    area = 0.0
    for obj in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,), max_depth=3):
        left, bottom, right, top = obj.get_bounds()
        area += max(0.0, right - left) * max(0.0, top - bottom)
    return min(1.0, area / max(1.0, width * height))
