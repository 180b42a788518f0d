"""Seconds per stage of the face part of a photo's run: each view of the ensemble, fusion, the residual check.

    python -m benchmarks.face_stages PHOTO [PHOTO ...] [--megapixels 12] [--repeat 3] [--json]

Each photo is first scaled to about `--megapixels` (keeping its shape; 0 keeps it as it is), so that a
WIDER crowd stands in for a 12 MP clinic photo with faces. The ensemble runs with the default profile's
detector settings; its regions are then redacted as a photo's run redacts them, and the residual check runs
on that output, as verification does. Stages are timed by wrapping the functions of deid/detect.py that do
them, so the same script times older and newer code. Each figure is the median of `--repeat` runs after
one warm-up.
"""
from __future__ import annotations

import argparse
import inspect
import json
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from deid import detect  # noqa: E402
from deid.api import face_regions  # noqa: E402
from deid.profile import load_profile  # noqa: E402
from deid.redact import redact  # noqa: E402

STAGES: dict[str, float] = defaultdict(float)


def _timed(name: str, function, key=None):
    """`function`, adding its seconds to STAGES under `name` (or `key(args)` when given)."""
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            STAGES[key(args) if key else name] += time.perf_counter() - start
    return wrapper


def instrument() -> None:
    """Wrap the stage functions that exist in this version of deid/detect.py."""
    def view_name(args):
        return "view " + args[1].name

    wraps = {"_look": view_name, "_agree": "fusion", "_small_face_windows": "windows", "_where": "windows",
             "_second_look": "residual confirm", "on_tiles": "residual proposals"}
    for function, name in wraps.items():
        if hasattr(detect, function):
            key = name if callable(name) else None
            setattr(detect, function, _timed(name if isinstance(name, str) else function,
                                             getattr(detect, function), key))


def photo(path: Path, megapixels: float) -> np.ndarray:
    with Image.open(path) as img:
        img = img.convert("RGB")
        if megapixels:
            factor = (megapixels * 1e6 / (img.width * img.height)) ** 0.5
            img = img.resize((round(img.width * factor), round(img.height * factor)), Image.BILINEAR)
        return np.asarray(img)


def one_run(rgb: np.ndarray, profile) -> dict[str, float]:
    STAGES.clear()
    start = time.perf_counter()
    regions = face_regions(rgb, profile)
    ensemble_s = time.perf_counter() - start
    out = redact(rgb, regions, profile.method, profile.strength)
    check = detect.residual_detector(profile.residual_threshold)
    start = time.perf_counter()
    if "redacted" in inspect.signature(check).parameters:
        left = check(out, redacted=regions)
    else:
        left = check(out)
    residual_s = time.perf_counter() - start
    figures = dict(STAGES)
    figures.update({"ensemble total": ensemble_s, "residual total": residual_s, "regions": len(regions),
                    "faces left": len(left)})
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", type=Path, nargs="+")
    parser.add_argument("--megapixels", type=float, default=12.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", default="default")
    parser.add_argument("--json", action="store_true", help="one JSON object per photo instead of a table")
    args = parser.parse_args()
    profile = load_profile(args.profile)
    instrument()
    for path in args.photos:
        rgb = photo(path, args.megapixels)
        one_run(rgb, profile)  # warm-up: models loaded, arenas grown
        runs = [one_run(rgb, profile) for _ in range(args.repeat)]
        names = sorted({n for r in runs for n in r}, key=lambda n: (n.startswith("residual"), n))
        medians = {n: statistics.median(r.get(n, 0.0) for r in runs) for n in names}
        if args.json:
            print(json.dumps({"photo": path.name, "size": list(rgb.shape[1::-1]), **medians}))
            continue
        print(f"\n{path.name}: {rgb.shape[1]}x{rgb.shape[0]}, median of {args.repeat}")
        for name in names:
            value = medians[name]
            print(f"  {name:24}" + (f"{value:8.3f} s" if isinstance(value, float) and name not in
                                    ("regions", "faces left") else f"{value:8}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
