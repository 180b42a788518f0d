"""Where Veil keeps its records, and the policies an installation may tune.

Each setting comes from, in order: the environment, `.streamlit/secrets.toml` (top-level keys of the same
names), then an embedded default, so `make run` needs no configuration at all.
"""
from __future__ import annotations

import os
import stat
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping

SECRETS_FILE = Path(".streamlit") / "secrets.toml"


class ConfigError(ValueError):
    """A setting is present but unusable; the message names the setting."""


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    key_file: Path
    two_person_rule: bool = True            # gate rule 4: the approver is not the uploader
    delete_original_on_release: bool = True
    original_retention_days: int = 30       # originals never released are deleted after this
    consent_retention_years: int = 6        # HIPAA keeps authorizations six years
    orphan_grace_seconds: int = 3600        # unreferenced blobs younger than this may be another process's
    max_video_mb: int = 500                 # one video upload (photos have the engine's own, smaller limit)
    max_pdf_mb: int = 50                    # one consent PDF
    max_batch_files: int = 50               # files in one intake batch: uploads are held in memory until kept
    signing_p12: Path | None = None          # the clinic's own certificate for sealing consents signed in Veil
    signing_p12_passphrase: str | None = field(default=None, repr=False)

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def work_dir(self) -> Path:
        return self.data_dir / "work"

    def with_(self, **changes) -> "Settings":
        return replace(self, **changes)


def default_key_file(env: Mapping[str, str] | None = None) -> Path:
    """Outside the data folder, in the user's configuration folder (XDG), so a copied data folder is useless."""
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME") or Path.home()) / ".config")
    return Path(base) / "veil" / "keyset.json"


def load_settings(env: Mapping[str, str] | None = None, secrets_file: Path | None = None) -> Settings:
    env = os.environ if env is None else env
    secrets = _read_secrets(secrets_file if secrets_file is not None else SECRETS_FILE)

    def get(name: str) -> str | None:
        value = env.get(name)
        if value is None and name in secrets:
            value = str(secrets[name])
        return value if value not in (None, "") else None

    data_dir = Path(get("VEIL_DATA_DIR") or "data").expanduser().absolute()
    url = get("VEIL_DATABASE_URL") or f"sqlite:///{data_dir / 'veil.db'}"
    key_file = Path(get("VEIL_KEY_FILE") or default_key_file(env)).expanduser().absolute()
    return Settings(
        data_dir=data_dir, database_url=url, key_file=key_file,
        two_person_rule=_flag(get, "VEIL_TWO_PERSON_RULE", True),
        delete_original_on_release=_flag(get, "VEIL_DELETE_ORIGINAL_ON_RELEASE", True),
        original_retention_days=_number(get, "VEIL_ORIGINAL_RETENTION_DAYS", 30),
        consent_retention_years=_number(get, "VEIL_CONSENT_RETENTION_YEARS", 6),
        max_video_mb=_number(get, "VEIL_MAX_VIDEO_MB", 500, minimum=1),
        max_pdf_mb=_number(get, "VEIL_MAX_PDF_MB", 50, minimum=1),
        max_batch_files=_number(get, "VEIL_MAX_BATCH_FILES", 50, minimum=1),
        signing_p12=Path(p12).expanduser().absolute() if (p12 := get("VEIL_SIGNING_P12")) else None,
        signing_p12_passphrase=get("VEIL_SIGNING_P12_PASSPHRASE"),
    )


def private_folder(path: Path) -> Path:
    """Create `path` for this account alone (0700), tightening a folder someone made with looser rights: the
    database and the working copies inside are only as private as the folder holding them."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if stat.S_IMODE(path.stat().st_mode) & (stat.S_IRWXG | stat.S_IRWXO):
        path.chmod(0o700)
    return path


def _read_secrets(path: Path) -> dict:
    if not path.is_file():
        return {}
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & (stat.S_IRWXG | stat.S_IRWXO):   # it may hold the sign-in client secret and cookie secret
        raise ConfigError(f"{path}: the settings file is readable by other users (mode {mode:o}); "
                          f"run `chmod 600 {path}`")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read settings ({exc})") from exc


def _flag(get, name: str, default: bool) -> bool:
    value = get(name)
    if value is None:
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, not {value!r}")


def _number(get, name: str, default: int, minimum: int = 0) -> int:
    value = get(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {value!r}") from None
    if number < minimum:
        raise ConfigError(f"{name} must be {minimum} or more" if minimum else f"{name} must not be negative")
    return number
