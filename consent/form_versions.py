"""Versions of the model consent form: each one's text, language and SHA-256, from assets/consent_form/.

A version is identified by an id ("en-1") and the SHA-256 of its canonical text: the title, subtitle,
language, blocks and attestation labels of its TOML file as canonical JSON (sorted keys, UTF-8, no
spaces), so reformatting the file or editing its comments changes nothing, and any change to a word does.
versions.toml is the ledger of every version ever offered for signing; a consent signed in Veil records
its version's id and hash, and keeps pointing at them when a newer version replaces that text.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from consent.forms import ASSET_DIR, load_spec

LEDGER = ASSET_DIR / "versions.toml"
LANGUAGES = {"en": "English", "es": "Español"}
_CANONICAL_KEYS = ("title", "subtitle", "language", "block", "attestation")


class FormVersionError(ValueError):
    """The form's text and the ledger disagree, or no such version exists; the message says which."""


@dataclass(frozen=True)
class FormVersion:
    id: str
    language: str
    sha256: str
    spec: dict

    @property
    def fields(self) -> list[str]:
        """The form's field names, in the order they appear."""
        names = []
        for block in self.spec.get("block", []):
            names += block.get("names", [block["name"]] if "name" in block else [])
        return names


def canonical_text(spec: dict) -> bytes:
    """What the version hash covers: every word of the form a patient reads, nothing else."""
    content = {key: spec[key] for key in _CANONICAL_KEYS if key in spec}
    return json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def text_sha256(spec: dict) -> str:
    return hashlib.sha256(canonical_text(spec)).hexdigest()


def ledger() -> list[dict]:
    """Every version ever offered, oldest first: {id, language, file, sha256}."""
    return load_spec(LEDGER)["version"]


def load_version(version_id: str) -> FormVersion:
    """One version by id; its file must still hold exactly the text the ledger's hash names."""
    for entry in ledger():
        if entry["id"] == version_id:
            return _checked(entry)
    raise FormVersionError(f"no consent form version {version_id!r} in {LEDGER.name}")


def current_version(language: str = "en") -> FormVersion:
    """The newest version in that language: the one offered for signing today."""
    entries = [e for e in ledger() if e["language"] == language]
    if not entries:
        raise FormVersionError(f"no consent form in language {language!r}; have {', '.join(sorted(LANGUAGES))}")
    return _checked(entries[-1])


def _checked(entry: dict) -> FormVersion:
    path = ASSET_DIR / entry["file"]
    spec = load_spec(path)
    digest = text_sha256(spec)
    if digest != entry["sha256"] or spec.get("language") != entry["language"]:
        raise FormVersionError(
            f"{path.name}: its text is not version {entry['id']} any more (SHA-256 {digest[:12]}…, the ledger "
            f"says {entry['sha256'][:12]}…); a changed text is a new version: see the steps in {LEDGER.name}")
    return FormVersion(entry["id"], entry["language"], digest, spec)
