"""Printed signature lines ("Signature: ______") in a text PDF, whether anything is written on them, and
the day the document was signed."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from consent import lexicon as lx
from consent.dates import find_dates
from consent.segments import short


@dataclass
class SignatureLine:
    page: int
    text: str
    filled: bool
    optional: bool  # a guardian's line "if a minor", a witness line
    guardian: bool


def signature_lines(pages: list[tuple[int, str, str]]) -> list[SignatureLine]:
    """pages: (number, text, source). Lines to sign on, not prose that mentions a signature."""
    found = []
    for number, text, _source in pages:
        for line in text.split("\n"):
            line = line.strip()
            match = lx.SIGNATURE_WORD.search(line)
            if not match or len(line) > 160 or re.match(r"^\W*(?:by|al|con)\b", line, re.I):
                continue
            if "_" not in line and ":" not in line and len(line.split()) > 6:
                continue  # "If this release is obtained from a minor, the signature of a parent is required"
            value = lx.SIGNATURE_NEXT_LABEL.split(line[match.end():])[0]
            leftover = lx.SIGNATURE_ROLE_WORDS.sub(" ", re.sub(r"[_:()/\-.,'’\[\]]", " ", value))
            filled = bool(re.search(r"[A-Za-zÁÉÍÓÚÑáéíóúñ]{2,}", leftover))
            found.append(SignatureLine(number, short(line, 200), filled, bool(lx.OPTIONAL_SIGNATURE.search(line)),
                                       bool(lx.GUARDIAN.search(line))))
    return found


_DATE_LABEL = re.compile(r"(?<![A-Za-z])(?:date|dated|fecha|signed\s+on|firmado\s+el)(?![A-Za-z])", re.I)
_NOT_SIGNING_DATE = re.compile(r"birth|nacimiento|\bDOB\b|\bd\.o\.b\b", re.I)


def signed_on(pages: list[tuple[int, str, str]], signatures: list) -> str | None:
    """The day the document was signed (ISO date), or None when nothing says: the earliest digital signing
    time (in UTC), else the earliest date written on a signature line or on a "Date:" line just below one.
    The earliest, because the caller asks whether a document was signed after some day: too early a
    reading can only make a person look."""
    digital = [_utc_day(s.signing_time) for s in signatures if s.kind == "signature" and s.signing_time]
    if digital:
        return min(digital)
    written = [found.isoformat() for number, text, _source in pages for found in _dates_by_signatures(text)]
    return min(written) if written else None


def _utc_day(stamp: str) -> str:
    when = dt.datetime.fromisoformat(stamp)
    return (when.astimezone(dt.timezone.utc) if when.tzinfo else when).date().isoformat()


def _dates_by_signatures(text: str) -> list[dt.date]:
    lines = [line.strip() for line in text.split("\n")]
    found = []
    for index, line in enumerate(lines):
        match = lx.SIGNATURE_WORD.search(line)
        if not match or len(line) > 160:
            continue
        beside = [line[match.end():]]
        if index + 1 < len(lines) and _DATE_LABEL.match(lines[index + 1]):
            beside.append(lines[index + 1])
        for part in beside:
            found += [d.value for d in find_dates(part) if not _NOT_SIGNING_DATE.search(part[:d.start])]
    return found
