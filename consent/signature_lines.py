"""Printed signature lines ("Signature: ______") in a text PDF, and whether anything is written on them."""
from __future__ import annotations

import re
from dataclasses import dataclass

from consent import lexicon as lx
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
