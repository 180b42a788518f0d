"""Cryptographic integrity of the digital signatures in a PDF, checked offline with pyHanko.

Integrity (the signed bytes are unchanged and only permitted updates follow) and signer trust (the
certificate chains to an anchor the clinic configured) are reported separately: a self-signed
certificate can protect a file perfectly well, but says nothing about who signed it.
"""
from __future__ import annotations

import io
import logging
from dataclasses import asdict, dataclass

from asn1crypto import core, pem, x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.validation import validate_pdf_signature, validate_pdf_timestamp
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

# pyHanko logs a full traceback for every untrusted chain; the verdict below already says it.
for _name in ("pyhanko", "pyhanko_certvalidator"):
    logging.getLogger(_name).setLevel(logging.CRITICAL)

# Updates that may follow an earlier signature: later signatures, validation data and form filling
# (pyHanko's diff policy); after the last signature only timestamps and validation data may follow.
_PERMITTED_BETWEEN = (ModificationLevel.NONE, ModificationLevel.LTA_UPDATES, ModificationLevel.FORM_FILLING)


@dataclass
class SignatureCheck:
    field: str
    kind: str  # "signature" | "timestamp"
    intact: bool  # the signed bytes hash to what the signer signed, and the CMS signature verifies
    coverage: str | None  # "entire_file" | "entire_revision" | "partial" | "unclear"
    modifications: str | None  # what changed after signing: "none", "lta_updates", "form_filling", ...
    trusted: bool  # the signer's certificate chains to a configured trust anchor
    signing_time: str | None
    note: str | None = None
    error: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def load_trust_roots(pem_or_der: bytes) -> list[bytes]:
    """The certificates of a PEM bundle (or one DER certificate) to use as signer trust anchors, each as DER:
    the form trust roots take everywhere but in `_context` (DER crosses a process boundary intact, where a
    pickled asn1crypto certificate loses its parse). A ValueError when one is not a certificate: refused
    here, it would otherwise make every signature read as broken."""
    blocks = pem.unarmor(pem_or_der, multiple=True) if pem.detect(pem_or_der) else [("CERTIFICATE", {}, pem_or_der)]
    ders = []
    for kind, _headers, der in blocks:
        if kind != "CERTIFICATE":
            raise ValueError(f"it holds a {kind}, not only certificates")
        try:
            x509.Certificate.load(der).native  # noqa: B018 - parsed whole: asn1crypto parses lazily
        except (ValueError, TypeError, KeyError) as exc:
            raise ValueError(f"a certificate in it is damaged ({type(exc).__name__})") from None
        ders.append(der)
    return ders


def check_signatures(data: bytes, trust_roots: list[bytes] | None = None,
                     password: bytes = b"") -> list[SignatureCheck]:
    """Validate every embedded signature and document timestamp, without any network access. `trust_roots`:
    DER certificates (`load_trust_roots`)."""
    reader = PdfFileReader(io.BytesIO(data), strict=False)
    if reader.encrypted:
        reader.decrypt(password)
    checks = []
    for emb in reader.embedded_signatures:
        checks.append(_check_one(emb, trust_roots or []))
    return checks


def _context(trust_roots: list[bytes]) -> ValidationContext:
    # allow_fetching=False: no OCSP, CRL or AIA look-ups; an explicit (possibly empty) root list
    # so that nothing falls back to the operating system's TLS trust store. The one place DER becomes
    # certificates.
    roots = [x509.Certificate.load(bytes(der)) for der in trust_roots]
    return ValidationContext(trust_roots=roots, allow_fetching=False, revocation_mode="soft-fail")


def _check_one(emb, trust_roots: list[bytes]) -> SignatureCheck:
    is_timestamp = emb.sig_object.get("/Type") == "/DocTimeStamp"
    kind = "timestamp" if is_timestamp else "signature"
    note = None
    try:
        status = _validate(emb, is_timestamp, trust_roots)
    except Exception as exc:  # noqa: BLE001 - any failure to validate means "not intact"
        if not _empty_encapsulated_content(emb):
            return _broken(emb, kind, exc)
        # Some signers put an empty eContent into a detached PDF signature. pyHanko rejects the
        # structure; the signed message digest still has to match the byte range, so we drop the
        # empty field and validate the cryptography as usual, saying so in a note.
        emb.signed_data["encap_content_info"]["content"] = None
        try:
            status = _validate(emb, is_timestamp, trust_roots)
        except Exception as exc2:  # noqa: BLE001
            return _broken(emb, kind, exc2)
        note = "non-standard CMS structure (empty encapsulated content) tolerated; digest checked over the byte range"
    intact = bool(status.intact and status.valid)
    when = getattr(status, "signer_reported_dt", None) or getattr(status, "timestamp", None)
    return SignatureCheck(
        field=emb.field_name,
        kind=kind,
        intact=intact,
        coverage=_coverage_name(status.coverage),
        modifications=status.modification_level.name.lower() if status.modification_level is not None else None,
        trusted=bool(status.trusted),
        signing_time=when.isoformat() if when else None,
        note=note,
    )


def _validate(emb, is_timestamp: bool, trust_roots: list[bytes]):
    if is_timestamp:
        return validate_pdf_timestamp(emb, validation_context=_context(trust_roots))
    return validate_pdf_signature(emb, signer_validation_context=_context(trust_roots))


def _broken(emb, kind: str, exc: Exception) -> SignatureCheck:
    message = str(exc).strip() or type(exc).__name__
    return SignatureCheck(emb.field_name, kind, intact=False, coverage=None, modifications=None,
                          trusted=False, signing_time=None, error=message[:300])


def _empty_encapsulated_content(emb) -> bool:
    eci = emb.signed_data["encap_content_info"]
    content = eci["content"]
    return eci["content_type"].native == "data" and content is not core.VOID and not bytes(content.native or b"")


def _coverage_name(level) -> str | None:
    if level is None:
        return None
    return {
        SignatureCoverageLevel.ENTIRE_FILE: "entire_file",
        SignatureCoverageLevel.ENTIRE_REVISION: "entire_revision",
        SignatureCoverageLevel.CONTIGUOUS_BLOCK_FROM_START: "partial",
    }.get(level, "unclear")


def bytes_after_last_eof(data: bytes) -> bool:
    """Anything but whitespace after the final %%EOF: bytes added without even an incremental update."""
    end = data.rfind(b"%%EOF")
    return end >= 0 and bool(data[end + 5:].strip(b" \t\r\n\x00"))


def integrity_verdict(checks: list[SignatureCheck], tail_garbage: bool = False) -> tuple[bool | None, bool | None]:
    """(signature_valid, covers_whole_file) per DESIGN.md; (None, None) without digital signatures.

    Valid only when every signature is intact, each earlier one is followed only by further
    signatures or form filling, and nothing but document timestamps or validation data (DSS)
    follows the last signature.
    """
    if not checks:
        return None, None
    for check in checks:
        if not check.intact or check.coverage not in ("entire_file", "entire_revision"):
            return False, False
        if _level(check) not in _PERMITTED_BETWEEN:
            return False, False
    signatures = [c for c in checks if c.kind == "signature"]
    if tail_garbage:
        return False, False
    if signatures and _level(signatures[-1]) not in (ModificationLevel.NONE, ModificationLevel.LTA_UPDATES):
        return False, False
    # The last signature or timestamp must reach the end of the file, or be followed only by
    # validation data. "entire_revision" with no modification at all means bytes after the signed
    # revision that do not even form a revision: appended after signing.
    last = checks[-1]
    whole = last.coverage == "entire_file" or _level(last) == ModificationLevel.LTA_UPDATES
    return whole, whole


def _level(check: SignatureCheck) -> ModificationLevel | None:
    if check.modifications is None:
        return None
    return ModificationLevel[check.modifications.upper()]
