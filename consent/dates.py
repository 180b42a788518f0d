"""Dates as consent forms write them, in English and Spanish.

When a numeric date reads two ways (03/04/2027: 4 March or 3 April) the earlier reading is kept and
marked ambiguous: for an expiry, ending sooner is the safe mistake.
"""
from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

_MONTHS = {
    # English
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7,
    "august": 8, "september": 9, "october": 10, "november": 11, "december": 12,
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "sept": 9,
    "oct": 10, "nov": 11, "dec": 12,
    # Spanish
    "enero": 1, "febrero": 2, "marzo": 3, "abril": 4, "mayo": 5, "junio": 6, "julio": 7, "agosto": 8,
    "septiembre": 9, "setiembre": 9, "octubre": 10, "noviembre": 11, "diciembre": 12,
    "ene": 1, "abr": 4, "ago": 8, "dic": 12,
}
_MONTH = r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DAY = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th|º|°)?"
_YEAR = r"(?P<year>\d{4})"

_PATTERNS = [
    re.compile(r"\b(?P<year>\d{4})[-/.](?P<a>\d{1,2})[-/.](?P<b>\d{1,2})\b"),  # 2027-06-30
    re.compile(r"\b(?P<a>\d{1,2})[-/.](?P<b>\d{1,2})[-/.](?P<year>\d{4}|\d{2})\b"),  # 06/30/2027, 30.06.27
    re.compile(rf"\b{_MONTH}\s+{_DAY},?\s+{_YEAR}\b", re.I),  # June 30, 2027
    # 30 June 2027, 30 de junio de 2027
    re.compile(rf"\b{_DAY}\s+(?:of\s+|de\s+)?{_MONTH},?\s+(?:de(?:l)?\s+)?{_YEAR}\b", re.I),
    re.compile(rf"\b{_MONTH},?\s+(?:de(?:l)?\s+)?{_YEAR}\b", re.I),  # June 2027, junio de 2027
]


@dataclass(frozen=True)
class FoundDate:
    value: date
    ambiguous: bool
    start: int
    end: int


def find_dates(text: str) -> list[FoundDate]:
    """Every date written in text, earliest reading for ambiguous ones, in order of appearance."""
    found: list[FoundDate] = []
    taken: list[tuple[int, int]] = []
    for pattern in _PATTERNS:
        for match in pattern.finditer(text):
            if any(match.start() < end and start < match.end() for start, end in taken):
                continue
            readings = _readings(match)
            if not readings:
                continue
            taken.append((match.start(), match.end()))
            found.append(FoundDate(min(readings), len(set(readings)) > 1, match.start(), match.end()))
    return sorted(found, key=lambda d: d.start)


def _readings(match: re.Match) -> list[date]:
    groups = match.groupdict()
    year = int(groups["year"])
    if year < 100:
        year += 2000
    if groups.get("month"):
        month = _MONTHS[groups["month"].lower().rstrip(".")]
        if groups.get("day"):
            return _valid(year, month, int(groups["day"]))
        return _valid(year, month, 1)  # "June 2027": the first day is the earliest reading
    a, b = int(groups["a"]), int(groups["b"])
    if match.re is _PATTERNS[0]:
        return _valid(year, a, b)
    return _valid(year, a, b) + _valid(year, b, a)  # month/day (US) or day/month (Europe, Latin America)


def _valid(year: int, month: int, day: int) -> list[date]:
    if 1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1] and 1900 <= year <= 2200:
        return [date(year, month, day)]
    return []
