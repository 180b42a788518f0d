"""Where the model weights (faces, text) live, and proof that they are the pinned ones."""
from __future__ import annotations

import hashlib
import os
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "assets" / "models.toml"


class ModelError(RuntimeError):
    """A weight file is missing or is not the one pinned in the manifest."""


def models_dir() -> Path:
    return Path(os.environ.get("VEIL_MODELS_DIR", ROOT / "models"))


def manifest() -> dict[str, dict]:
    with MANIFEST.open("rb") as fh:
        return tomllib.load(fh)["models"]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


_verified: dict[str, Path] = {}


def model_path(name: str) -> Path:
    """Path of a verified weight file; raises ModelError when absent or altered."""
    if name in _verified:
        return _verified[name]
    entry = manifest()[name]
    path = models_dir() / entry["file"]
    if not path.is_file():
        raise ModelError(f"model file {path} is missing; run `make models` to fetch it")
    if sha256_file(path) != entry["sha256"]:
        raise ModelError(f"model file {path} does not match its pinned SHA-256; run `make models`")
    _verified[name] = path
    return path
