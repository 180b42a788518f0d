"""`check_pdf`: one consent PDF in, its `Verdict` (consent.verdict, what `python -m consent check` prints) out.

Never raises for a bad PDF: an unreadable file gets `error` and `social_media: "unclear"`.
"""
from __future__ import annotations

import re
from pathlib import Path

from consent.limits import READ_SECONDS
from consent.pdf import PdfContent, PdfError, kind_of, read_pdf
from consent.scope import ScopeResult, judge
from consent.fingerprint import text_fingerprint
from consent.signature_lines import signature_lines, signed_on
from consent.signatures import integrity_verdict
from consent.verdict import Verdict

_SIGNATURE_NAME = re.compile(r"signature|signed|firma", re.I)
_GUARDIAN_NAME = re.compile(r"parent|guardian|representative|tutor|padre|madre|representante", re.I)
_OPTIONAL_NAME = re.compile(r"\bif\b|witness|testigo|optional|si\s+es", re.I)


def check_pdf(path: str | Path, *, trust_roots: list[bytes] | None = None, use_ocr: bool = True,
              seconds: float = READ_SECONDS) -> Verdict:
    """Read and judge one consent PDF. `trust_roots`: DER certificates trusted as signers (default none);
    `seconds`: the time allowed for reading it, OCR included."""
    path = Path(path).absolute()
    try:
        content = read_pdf(path, trust_roots=trust_roots, use_ocr=use_ocr, seconds=seconds)
    except PdfError as exc:
        return unreadable(path, str(exc))
    except MemoryError:
        return unreadable(path, f"{path.name}: the PDF needs more memory to read than allowed "
                                f"(a decompression bomb?)")
    except Exception as exc:  # noqa: BLE001 - fail closed on anything unforeseen, naming the file
        return unreadable(path, f"{path.name}: unexpected error while reading the PDF ({kind_of(exc)})")
    pages = [(p.number, p.text, p.source) for p in content.pages if p.source != "none"]
    sure_ocr = {p.number: p.ocr for p in content.pages if p.ocr is not None}   # OCR lines read surely
    return _judged(path, content, judge(pages, sure_ocr), pages)


def unreadable(path: str | Path, message: str) -> Verdict:
    """The verdict for a PDF that could not be read: `message` names the file and says why."""
    return Verdict(path=str(Path(path).absolute()), error=message,
                   reasons=["the PDF could not be read: a person must look at it"])


def _judged(path: Path, content: PdfContent, scope: ScopeResult, pages: list) -> Verdict:
    valid, whole = integrity_verdict(content.signatures, content.bytes_after_eof)
    signed, guardian_signed = _signed(content, pages)
    verdict = Verdict(
        path=str(path),
        text_source=content.text_source,
        social_media=scope.social_media,
        platforms=scope.platforms,
        excluded_platforms=scope.excluded_platforms,
        identifiable=scope.identifiable,
        expires=scope.expires,
        expires_event=scope.expires_event,
        signed=signed,
        signature_valid=valid,
        evidence=[e.as_dict() for e in scope.evidence],
        reasons=list(scope.reasons),
        sha256=content.sha256,
        signed_on=signed_on(pages, content.signatures),
        text_sha256=text_fingerprint(pages),
        pages=[{"page": p.number, "source": p.source, "ocr_confidence": p.ocr_confidence} for p in content.pages],
        encrypted=content.encrypted,
        active_content=content.active_content,
        expires_ambiguous=scope.expires_ambiguous,
        no_expiry_stated=scope.no_expiry_stated,
        revocation_clause=scope.revocation_clause,
        guardian={"mentioned": scope.guardian, "signed": guardian_signed},
        signer_trusted=(all(s.trusted for s in content.signatures) if content.signatures else None),
        signature_covers_whole_file=whole,
        signature_fields=[{"name": f.name, "page": f.page, "signed": f.signed, "kind": f.kind}
                          for f in content.signature_fields],
        signatures=[s.as_dict() for s in content.signatures],
        bytes_after_eof=content.bytes_after_eof,
        checkboxes=[{"page": c.page, "label": c.label, "ticked": c.ticked, "source": c.source,
                     "label_side": c.label_side} for c in content.checkboxes],
        warnings=content.warnings,
    )
    if content.text_source == "none":
        verdict.reasons.append("no text could be read, not even by OCR")
    if content.active_content:  # the page read here may not be the page the patient saw and signed
        verdict.reasons.append(
            f"the PDF carries {', '.join(content.active_content)}: never judged covered; a person must look "
            f"at it, or ask for a copy without scripts or attachments")
        verdict.social_media = "unclear"
    unread = [p.number for p in content.pages if p.source == "none" and p.has_images]
    if unread:  # a scanned page left unread (OCR off) may say anything: never "covered" around it
        verdict.reasons.append(f"scanned page(s) {', '.join(map(str, unread))} not read")
        if verdict.social_media == "covered":
            verdict.social_media = "unclear"
    return verdict


def _signed(content: PdfContent, pages: list) -> tuple[bool | None, bool | None]:
    """(signed, guardian signed) per DESIGN.md: true when every signature place is filled, false when
    one is empty, null when only a person can tell (wet ink on a scan, an image on the line)."""
    people = [f for f in content.signature_fields if f.kind == "signature" or not f.signed]
    if people:
        guardian = [f.signed for f in people if _GUARDIAN_NAME.search(f.name)]
        return all(f.signed for f in people), _all_or_none(guardian)

    typed = [f for f in content.text_fields if _SIGNATURE_NAME.search(f"{f.name} {f.label}")]
    if typed:
        required = [bool(f.value) for f in typed if not _OPTIONAL_NAME.search(f"{f.name} {f.label}")]
        guardian = [bool(f.value) for f in typed if _GUARDIAN_NAME.search(f"{f.name} {f.label}")]
        return _all_or_none(required), _all_or_none(guardian)

    lines = signature_lines([p for p in pages if p[2] == "text"])
    guardian = _all_or_none([line.filled for line in lines if line.guardian])
    if any(p.source == "ocr" for p in content.pages):
        return None, None  # a scan: ink on paper, only a person can tell
    required = [line for line in lines if not line.optional]
    if not required:
        return None, guardian
    if all(line.filled for line in required):
        return True, guardian
    pages_with_images = {p.number for p in content.pages if p.has_images}
    if any(not line.filled and line.page in pages_with_images for line in required):
        return None, guardian  # a signature may be an image placed on the line
    return False, guardian


def _all_or_none(filled: list[bool]) -> bool | None:
    """Every place filled; None when there is no such place."""
    return all(filled) if filled else None
