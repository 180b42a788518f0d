"""Flag identifiers in an original file name. The name itself is never reused, echoed or stored."""
from __future__ import annotations

import re
from pathlib import PurePath

# Words that camera apps, scanners and editors put in file names; they identify nobody.
GENERIC_WORDS = frozenset("""
img image images dsc dscn dscf dcim pxl pict pic photo photos foto picture screenshot screen shot scan scanned
video vid mov movie clip edit edited copy final draft new old before after pre post op preop postop day week
month year left right front back side profile view close up closeup face treatment result results session
visit follow followup patient tmp temp file export exported resized small large medium thumb thumbnail
burst portrait selfie live wa whatsapp signal telegram snapchat insta instagram facebook tiktok pano hdr raw
jpeg jpg png heic heif webp tif tiff mp mpg mp4 mpeg avi mkv webm gif bmp dng cr nef arw orf rw sample test
""".split())

_DATE = re.compile(r"(?<!\d)(19|20)\d{2}[-_.]?(0[1-9]|1[0-2])[-_.]?(0[1-9]|[12]\d|3[01])(?!\d)"
                   r"|(?<!\d)(0?[1-9]|[12]\d|3[01])[-_.](0?[1-9]|1[0-2])[-_.](19|20)?\d{2}(?!\d)")
_LONG_DIGITS = re.compile(r"\d{5,}")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
_PHONE = re.compile(r"(?<!\d)(\+?\d[\d ()-]{8,}\d)(?!\d)")


def filename_warnings(name: str) -> list[str]:
    """Warnings about what in the name could identify a patient; they describe, never quote."""
    stem = _stem(name)
    warnings = []
    if _EMAIL.search(stem):
        warnings.append("file name contains an e-mail address")
    if _DATE.search(stem):
        warnings.append("file name contains a date (dates of service are identifiers under HIPAA)")
    digits_left = _DATE.sub(" ", stem)
    if _PHONE.search(digits_left) and not _LONG_DIGITS.fullmatch(digits_left.strip()):
        warnings.append("file name contains what may be a phone number")
    if _LONG_DIGITS.search(digits_left):
        warnings.append("file name contains a long digit run (a record number, MRN or date?)")
    names = [w for w in _words(stem) if _could_be_name(w)]
    if names:
        warnings.append(f"file name contains {len(names)} word(s) that may be a person's name")
    return warnings


def possible_names(name: str) -> list[str]:
    """What in the name may name a person, to compare with whose file it should be: long digit runs (dates set
    aside), and name-like words that are capitalised (Jane, DOE) or stand beside another (jane_doe). A lone
    lower-case word ("knee", "broken") is left to `filename_warnings`."""
    stem = _stem(name)
    words = _words(stem)
    named = [_could_be_name(w) for w in words]
    found = []
    for index, word in enumerate(words):
        beside = any(0 <= j < len(words) and named[j] for j in (index - 1, index + 1))
        if named[index] and (_capitalised(word) or beside):
            found.append(word)
    return found + _LONG_DIGITS.findall(_DATE.sub(" ", stem))


def _stem(name: str) -> str:
    """The file's name without its folders and its last extension."""
    return PurePath(name).name.rsplit(".", 1)[0]


def _capitalised(word: str) -> bool:
    return (word[0].isupper() and word[1:].islower()) or (word.isupper() and len(word) > 3)


def _words(stem: str) -> list[str]:
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", stem)   # JaneDoe, MariaQExample
    return [w for w in re.split(r"[^A-Za-zÀ-ÿ]+", spaced) if w]


def _could_be_name(word: str) -> bool:
    return len(word) >= 2 and word.lower() not in GENERIC_WORDS and not re.fullmatch(r"[A-Z]{1,3}", word)
