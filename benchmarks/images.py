"""Seconds per image and per megapixel for `deid` on every file under DIR, with each file's outcome.

    python benchmarks/images.py ../shared/data/metadata-photos [--profile default]

Run by hand; the figures go into issue notes. Every output is verified by the engine (ExifTool allow-list,
residual-face check) before it counts as done.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from deid.api import redact_file  # noqa: E402
from deid.profile import load_profile  # noqa: E402
from deid.report import DeidReport  # noqa: E402


def megapixels(report: DeidReport) -> float:
    from PIL import Image

    with Image.open(report.output) as img:
        return img.width * img.height / 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", type=Path)
    parser.add_argument("--profile", default="default")
    args = parser.parse_args()
    profile = load_profile(args.profile)
    files = sorted(p for p in args.dir.rglob("*") if p.is_file() and not p.name.startswith("."))
    redact_file(files[0], tempfile.mkdtemp(), profile)  # load the models before timing
    outcomes, total_s, total_mp, done = Counter(), 0.0, 0.0, 0
    with tempfile.TemporaryDirectory() as out:
        for path in files:
            start = time.perf_counter()
            report = redact_file(path, out, profile)
            elapsed = time.perf_counter() - start
            rel = path.relative_to(args.dir)
            if report.error:
                outcomes["error"] += 1
                print(f"ERROR  {rel}: {report.error}")
                continue
            mp = megapixels(report)
            outcomes["clean"] += 1
            total_s, total_mp, done = total_s + elapsed, total_mp + mp, done + 1
            print(f"clean  {rel}: {elapsed:.2f} s, {mp:.1f} MP, {len(report.regions)} regions, "
                  f"{len(report.removed)} tags removed")
    print(f"\n{len(files)} files: {outcomes['clean']} clean outputs, {outcomes['error']} errors")
    if done:
        print(f"{total_s / done:.3f} s per image, {total_s / total_mp:.3f} s per megapixel "
              f"({total_mp / done:.1f} MP per image on average)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
