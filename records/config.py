"""Where Veil keeps its records, and the policies an installation may tune.

Each setting comes from, in order: the environment, `.streamlit/secrets.toml` (top-level keys of the same
names), then an embedded default, so `make run` needs no configuration at all. Each default is written once,
in `Settings`; nothing else states it again (a page or a service reads it from the settings).
"""
from __future__ import annotations

import os
import stat
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Mapping

SECRETS_FILE = Path(".streamlit") / "secrets.toml"


class ConfigError(ValueError):
    """A setting is present but unusable; the message names the setting."""


def _tunable(variable: str, default: bool | int, *, minimum: int = 0):
    """A policy an installation may set through `variable` (a whole number of at least `minimum`, or a
    true/false flag when `default` is one)."""
    return field(default=default, metadata={"variable": variable, "minimum": minimum})


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    key_file: Path
    # gate rule 4: the approver is not the uploader
    two_person_rule: bool = _tunable("VEIL_TWO_PERSON_RULE", True)
    delete_original_on_release: bool = _tunable("VEIL_DELETE_ORIGINAL_ON_RELEASE", True)
    # originals never released are deleted after this; HIPAA keeps authorizations six years
    original_retention_days: int = _tunable("VEIL_ORIGINAL_RETENTION_DAYS", 30)
    consent_retention_years: int = _tunable("VEIL_CONSENT_RETENTION_YEARS", 6)
    # one video upload (photos have the engine's own, smaller limit); one consent PDF; files in one intake
    # batch (uploads are held in memory until kept)
    max_video_mb: int = _tunable("VEIL_MAX_VIDEO_MB", 500, minimum=1)
    max_pdf_mb: int = _tunable("VEIL_MAX_PDF_MB", 50, minimum=1)
    max_batch_files: int = _tunable("VEIL_MAX_BATCH_FILES", 50, minimum=1)
    # idle time before a signed-in session is signed out
    session_timeout_minutes: int = _tunable("VEIL_SESSION_TIMEOUT_MINUTES", 30, minimum=1)
    # worker processes `make run` and `python -m records worker` start (0: one per core); each one's
    # address-space limit, and the longest it may go without a sign of life before it is replaced
    workers: int = _tunable("VEIL_WORKERS", 0)
    worker_memory_mb: int = _tunable("VEIL_WORKER_MEMORY_MB", 8192, minimum=256)
    worker_silent_seconds: int = _tunable("VEIL_WORKER_SILENT_SECONDS", 300, minimum=1)
    # several machines: a Redis queue (default: SQLite in the data folder), an S3 bucket for the encrypted
    # blobs (default: the data folder)
    queue_url: str | None = None
    blob_url: str | None = None
    # unreferenced blobs younger than this may be another process's (not tunable)
    orphan_grace_seconds: int = 3600
    # the clinic's own certificate (PKCS#12) for sealing consents signed in Veil, and its passphrase
    # (VEIL_SIGNING_P12, VEIL_SIGNING_P12_PASSPHRASE); without it Veil makes an installation certificate
    signing_p12: Path | None = None
    signing_p12_passphrase: str | None = field(default=None, repr=False)

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def work_dir(self) -> Path:
        return self.data_dir / "work"

    @property
    def queue_file(self) -> Path:
        return self.data_dir / "queue.db"

    def worker_count(self) -> int:
        return self.workers or os.cpu_count() or 1

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
    policies = {f.name: _policy(get, f) for f in fields(Settings) if "variable" in f.metadata}
    p12 = get("VEIL_SIGNING_P12")
    return Settings(data_dir=data_dir, database_url=url, key_file=key_file, **policies,
                    queue_url=get("VEIL_QUEUE_URL"), blob_url=get("VEIL_BLOB_URL"),
                    signing_p12=Path(p12).expanduser().absolute() if p12 else None,
                    signing_p12_passphrase=get("VEIL_SIGNING_P12_PASSPHRASE"))


def _policy(get, setting) -> bool | int:
    """One tunable setting's value: what its variable says, else its default."""
    variable, default = setting.metadata["variable"], setting.default
    if isinstance(default, bool):
        return _flag(get, variable, default)
    return _number(get, variable, default, minimum=setting.metadata["minimum"])


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
