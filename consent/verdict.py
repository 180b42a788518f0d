"""`Verdict`: the judgement on one consent PDF, the object `python -m consent check` prints for each file.

Its first twelve fields are DESIGN.md's `check` contract, in that order; the rest are additions the contract
allows. Nested values (evidence, pages, signatures...) are plain JSON-ready lists and dicts, so `to_json` is
the one place that turns a verdict into what the command line prints and the records store.

evidence[].about is one of: grant, denial, option_not_ticked, needs_review, mention_without_grant,
vague_channel, other_use, identifiable, deidentified_only, expiry, no_expiry, revocation, guardian.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class Verdict:
    # -- DESIGN.md's contract
    path: str                                   # absolute
    error: str | None = None                    # why the PDF could not be read (it names the file)
    text_source: str = "none"                   # text | ocr | mixed | none
    social_media: str = "unclear"               # covered | not_covered | unclear; never covered after an error
    platforms: list[str] = field(default_factory=list)            # lower case; [] with covered: any platform
    excluded_platforms: list[str] = field(default_factory=list)
    identifiable: str = "unclear"               # allowed | deidentified_only | unclear
    expires: str | None = None                  # YYYY-MM-DD
    expires_event: str | None = None            # an end written as an event ("end of treatment")
    signed: bool | None = None                  # None: only a person can tell (wet ink)
    signature_valid: bool | None = None         # None: no digital signature
    evidence: list[dict] = field(default_factory=list)            # [{page (from 1), text, about}]
    # -- additions
    reasons: list[str] = field(default_factory=list)              # why, in words a reviewer can check
    sha256: str | None = None                   # of the bytes judged; None when they could not be read as a PDF
    signed_on: str | None = None                # YYYY-MM-DD: earliest digital signing time, else a date written
                                                # beside a signature; None when neither is found
    text_sha256: str | None = None              # of the text read, normalised (the same for a re-saved copy)
    pages: list[dict] = field(default_factory=list)               # [{page, source, ocr_confidence}]
    encrypted: bool | None = None               # encrypted, and opened with the empty password
    active_content: list[str] = field(default_factory=list)       # JavaScript, Launch actions, attached files, XFA
    expires_ambiguous: bool = False             # a numeric date that reads two ways (the earlier was kept)
    no_expiry_stated: bool = False              # the form says it never expires
    revocation_clause: bool = False             # the form says how the consent can be revoked
    # mentioned: a parent, guardian or representative may sign; signed: their place is filled (None: no place)
    guardian: dict = field(default_factory=lambda: {"mentioned": False, "signed": None})
    signer_trusted: bool | None = None          # every digital signer chains to a given trust root
    # the last signature reaches the end of the file, or only validation data and timestamps follow it
    signature_covers_whole_file: bool | None = None
    signature_fields: list[dict] = field(default_factory=list)    # [{name, page, signed, kind}]
    signatures: list[dict] = field(default_factory=list)          # consent.signatures.SignatureCheck, as dicts
    bytes_after_eof: int | None = None
    checkboxes: list[dict] = field(default_factory=list)          # [{page, label, ticked, source, label_side}]
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        """The JSON object for this PDF (a deep copy: changing it leaves the verdict as it was)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> Verdict:
        """The verdict `to_json` wrote: the JSON holds all of it. (A reading process sends its verdict back
        pickled, not as JSON.)"""
        return cls(**data)
