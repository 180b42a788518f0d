"""De-identification profiles: versioned TOML data with an id and a content hash."""
from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from pathlib import Path

PROFILE_DIR = Path(__file__).resolve().parent.parent / "assets" / "profiles"
METHODS = ("blur", "pixelate", "solid")
TEXT_ACTIONS = ("redact", "flag", "keep")
TEXT_METHODS = ("solid", "pixelate")   # irreversible for letters; a blur keeps the shape of large print
# Numbers the engine reads, with their allowed range: checked once here, not at every use.
NUMBERS = (("faces", "padding", 0, 1), ("faces", "extend_up", 0, 1), ("faces", "strength", 1, 64),
           ("verify", "residual_threshold", 0, 1), ("output", "jpeg_quality", 1, 100),
           ("text", "padding", 0, 2), ("text", "strength", 1, 4), ("text", "allow_confidence", 0.5, 1))
# The value of every setting the engine reads from [faces], [verify] and [output] when a profile leaves it
# out, stated here only (faces.action, faces.method and faces.padding are required). [detector] defaults
# are deid.detect.DEFAULTS; [video] defaults are deid.video.settings.VideoSettings; [text] keys of the
# detector (max_side, turn, thresholds) default to deid.text.DEFAULTS.
DEFAULTS = {"faces": {"extend_up": 0.2, "strength": 6},
            "verify": {"residual_faces": True, "residual_threshold": 0.6},
            "output": {"jpeg_quality": 92},
            "text": {"action": "redact", "method": "solid", "strength": 2}}


class ProfileError(ValueError):
    """A profile is missing or malformed."""


@dataclass(frozen=True)
class ProfileStamp:
    """What every report and manifest names: which profile, exactly which bytes."""
    id: str
    sha256: str


@dataclass(frozen=True)
class Profile:
    id: str
    sha256: str
    settings: dict

    def section(self, name: str) -> dict:
        return self.settings.get(name, {})

    def setting(self, section: str, key: str):
        """A setting of the profile, or its default."""
        return self.section(section).get(key, DEFAULTS.get(section, {}).get(key))

    @property
    def keeps_faces(self) -> bool:
        return self.settings["faces"]["action"] == "keep"

    @property
    def method(self) -> str:
        """How faces are redacted: one of METHODS."""
        return self.settings["faces"]["method"]

    @property
    def strength(self) -> int:
        """Blur and pixelate: cells across a face's shorter side."""
        return int(self.setting("faces", "strength"))

    @property
    def padding(self) -> float:
        """Share of a face box's size added on every side."""
        return float(self.settings["faces"]["padding"])

    @property
    def extend_up(self) -> float:
        """Share of a face box's height added above it first (forehead and hair)."""
        return float(self.setting("faces", "extend_up"))

    @property
    def text_action(self) -> str:
        """What happens to text, barcodes and QR codes: "redact" (the default: fail closed), "flag" (found and
        reported, left for a person), or "keep"."""
        return self.setting("text", "action")

    @property
    def text_method(self) -> str:
        """How text and codes are redacted: one of TEXT_METHODS."""
        return self.setting("text", "method")

    @property
    def text_strength(self) -> int:
        """Pixelate: cells across a line's height."""
        return int(self.setting("text", "strength"))

    @property
    def jpeg_quality(self) -> int:
        return int(self.setting("output", "jpeg_quality"))

    @property
    def residual_threshold(self) -> float | None:
        """The residual-face check's threshold on outputs; None where the check does not apply (never to a
        profile that keeps faces on purpose)."""
        if self.keeps_faces or not self.setting("verify", "residual_faces"):
            return None
        return float(self.setting("verify", "residual_threshold"))

    def stamp(self) -> ProfileStamp:
        return ProfileStamp(self.id, self.sha256)


def available_profiles() -> list[str]:
    return sorted(p.stem for p in PROFILE_DIR.glob("*.toml"))


def load_profile(name: str = "default") -> Profile:
    path = Path(name) if name.endswith(".toml") else PROFILE_DIR / f"{name}.toml"
    if not path.is_file():
        raise ProfileError(f"unknown de-id profile {name!r}; available: {', '.join(available_profiles())}")
    raw = path.read_bytes()
    try:
        settings = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ProfileError(f"profile {path.name} is not valid TOML: {exc}") from exc
    _validate(path.name, settings)
    return Profile(id=settings["id"], sha256=hashlib.sha256(raw).hexdigest(), settings=settings)


def _validate(name: str, settings: dict) -> None:
    faces = settings.get("faces", {})
    if "id" not in settings:
        raise ProfileError(f"profile {name} has no id")
    if faces.get("action") not in ("redact", "keep"):
        raise ProfileError(f"profile {name}: faces.action must be 'redact' or 'keep'")
    if faces.get("method") not in METHODS:
        raise ProfileError(f"profile {name}: faces.method must be one of {METHODS}")
    for section, key, low, high in NUMBERS:
        value = settings.get(section, {}).get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                  or not low <= value <= high):
            raise ProfileError(f"profile {name}: {section}.{key} must be a number from {low} to {high}")
    if "padding" not in faces:
        raise ProfileError(f"profile {name}: faces.padding is required")
    _validate_text(name, settings.get("text", {}))


def _validate_text(name: str, text: dict) -> None:
    if text.get("action", "redact") not in TEXT_ACTIONS:
        raise ProfileError(f"profile {name}: text.action must be one of {TEXT_ACTIONS}")
    if text.get("method", "solid") not in TEXT_METHODS:
        raise ProfileError(f"profile {name}: text.method must be one of {TEXT_METHODS}")
    allow = text.get("allow", [])
    if not isinstance(allow, list) or not all(isinstance(p, str) for p in allow):
        raise ProfileError(f"profile {name}: text.allow must be a list of phrases")
