"""Where Veil keeps its records, and the policies an installation may tune.

Each setting comes from, in order: the environment, `.streamlit/secrets.toml` (top-level keys of the same
names), then an embedded default, so `make run` needs no configuration at all.
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, replace
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
    )


def _read_secrets(path: Path) -> dict:
    if not path.is_file():
        return {}
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


def _number(get, name: str, default: int) -> int:
    value = get(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {value!r}") from None
    if number < 0:
        raise ConfigError(f"{name} must not be negative")
    return number
