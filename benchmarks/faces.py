"""Face protection on WIDER FACE boxes, per face size, for Veil and for deface 1.5.0 in the same run.

    python benchmarks/faces.py ../shared/data/faces-wider-subset [--quick] [--profile default] [--no-peer]

Veil's regions are the face regions of `python -m deid detect --json` (deid.api.face_regions, padding
included; text and code regions, measured by benchmarks/text.py, are left out, and so is their time);
deface's are its CenterFace boxes at its defaults (threshold 0.2, full resolution) grown by its default
mask scale 1.3, computed by the deface package itself in its own virtual environment
(benchmarks/.peer-venv). A valid face is protected when at least 90 % of its box lies inside the union of
the regions. A stray region touches no annotated face (a region touching only a WIDER 'invalid' box counts
as neither). Excess area is the mean share of an image redacted outside every annotated box. Seconds per
image cover reading, decoding and detecting, after one warm-up image, with both cores available.
Figures are printed for the even-numbered images (sorted order, from 0; where thresholds are chosen),
the odd-numbered ones, and the whole set. Run by hand; the figures go into issue notes.

With --residual it also measures the residual check of verification: how many images it would block
once every annotated face is redacted with the profile's padding and blur and the check is told those
regions, as verification tells it (it should block none), and
which share of the unredacted faces it finds, per size.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
# The repository, not this script's folder, comes first: benchmarks/queue.py would hide the standard
# library's queue (which MediaPipe imports) when the script is run by its path.
sys.path[0] = str(ROOT)

BUCKETS = [(0, 16, "<16"), (16, 32, "16-32"), (32, 64, "32-64"), (64, 128, "64-128"), (128, 10**9, ">=128")]
PROTECTED_SHARE = 0.9
PEER_VENV = ROOT / "benchmarks" / ".peer-venv"

# Runs inside the peer's venv: deface's own CenterFace class and box scaling at the CLI's defaults. It reads
# one image path per line and answers one JSON line, so that deface and Veil take turns image by image and
# share whatever else the machine is doing alike.
PEER_SCRIPT = r"""
import json, sys, time
import imageio.v2 as iio
from deface.centerface import CenterFace
from deface.deface import scale_bb
THRESHOLD, MASK_SCALE = 0.2, 1.3
net = CenterFace()
print(json.dumps("ready"), flush=True)
for line in sys.stdin:
    path = json.loads(line)
    start = time.perf_counter()
    frame = iio.imread(path)
    dets, _ = net(frame, threshold=THRESHOLD)
    regions = []
    for det in dets:
        x1, y1, x2, y2 = det[:4].astype(int)  # as deface.anonymize_frame does
        x1, y1, x2, y2 = scale_bb(x1, y1, x2, y2, MASK_SCALE)
        y1, y2 = max(0, y1), min(frame.shape[0] - 1, y2)
        x1, x2 = max(0, x1), min(frame.shape[1] - 1, x2)
        if x2 > x1 and y2 > y1:
            regions.append([int(x1), int(y1), int(x2), int(y2)])
    print(json.dumps({"regions": regions, "seconds": time.perf_counter() - start}), flush=True)
"""


class Peer:
    """deface in its own virtual environment, answering one image at a time."""

    def __init__(self, venv: Path):
        python = venv / "bin" / "python"
        if not python.is_file():
            raise SystemExit(f"deface's venv not found at {venv}; see DESIGN.md, Benchmarks")
        self.proc = subprocess.Popen([str(python), "-c", PEER_SCRIPT], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        while json.loads(self._line()) != "ready":
            pass

    def _line(self) -> str:
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit("deface stopped answering")
        return line if line.lstrip().startswith(("{", '"')) else self._line()  # skip its own prints

    def __call__(self, path: str) -> dict:
        self.proc.stdin.write(json.dumps(path) + "\n")
        self.proc.stdin.flush()
        return json.loads(self._line())

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def load_faces(dataset: Path) -> dict[str, list[tuple[list[int], bool]]]:
    """Image path -> [(box as x0, y0, x1, y1, valid)] from WIDER's annotations with attributes."""
    raw = json.loads((dataset / "annotations_with_attributes.json").read_text())
    faces = {}
    for rel, boxes in sorted(raw.items()):
        faces[str(dataset / rel)] = [([b["box"][0], b["box"][1], b["box"][0] + b["box"][2], b["box"][1] + b["box"][3]],
                                      not b["invalid"]) for b in boxes]
    return faces


def run_all(paths: list[str], profile_name: str, peer: Peer | None) -> dict[str, dict[str, dict]]:
    """Regions and seconds per image for Veil (and deface), taking turns image by image after a warm-up."""
    from deid.api import face_regions
    from deid.formats import sniff_file
    from deid.image import decode
    from deid.profile import load_profile

    def detect_file(path: str, profile) -> list:
        """The face regions `python -m deid detect` gives (its text regions are benchmarks/text.py's)."""
        return face_regions(decode(Path(path).read_bytes(), sniff_file(Path(path))).rgb, profile)

    profile = load_profile(profile_name)
    detect_file(paths[0], profile)  # load the models before timing
    if peer:
        peer(paths[0])
    out: dict[str, dict[str, dict]] = {"veil": {}, **({"deface": {}} if peer else {})}
    for i, path in enumerate(paths):
        start = time.perf_counter()
        regions = detect_file(path, profile)
        out["veil"][path] = {"regions": regions, "seconds": time.perf_counter() - start}
        if peer:
            out["deface"][path] = peer(path)
        if (i + 1) % 50 == 0:
            print(f"  {i + 1}/{len(paths)} images", file=sys.stderr)
    return out


def image_size(path: str) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as img:
        return img.size


def score_image(path: str, faces: list[tuple[list[int], bool]], regions: list[list[int]]) -> dict:
    """Per-image figures: protected flags per valid face (with its bucket), stray regions, excess area."""
    width, height = image_size(path)
    redacted = np.zeros((height, width), dtype=bool)
    for x0, y0, x1, y1 in regions:
        redacted[max(0, y0):max(0, y1), max(0, x0):max(0, x1)] = True
    annotated = np.zeros_like(redacted)
    for (x0, y0, x1, y1), _valid in faces:
        annotated[max(0, y0):max(0, y1), max(0, x0):max(0, x1)] = True
    protected = []
    for (x0, y0, x1, y1), valid in faces:
        if not valid:
            continue
        cx0, cy0, cx1, cy1 = max(0, x0), max(0, y0), min(width, x1), min(height, y1)
        area = (x1 - x0) * (y1 - y0)
        covered = redacted[cy0:cy1, cx0:cx1].sum() if cx1 > cx0 and cy1 > cy0 else 0
        protected.append((max(x1 - x0, y1 - y0), area > 0 and covered / area >= PROTECTED_SHARE))
    stray = sum(1 for r in regions if not any(_touches(r, box) for box, _valid in faces))
    excess = float((redacted & ~annotated).mean())
    return {"protected": protected, "stray": stray, "excess": excess}


def _touches(a: list[int], b: list[int]) -> bool:
    return min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1])


def summarise(scores: list[dict], seconds: list[float]) -> dict:
    row = {}
    for low, high, name in BUCKETS:
        flags = [ok for s in scores for size, ok in s["protected"] if low <= size < high]
        row[name] = (sum(flags) / len(flags) if flags else float("nan"), len(flags))
    pooled = [ok for s in scores for size, ok in s["protected"] if size >= 32]
    row[">=32"] = (sum(pooled) / len(pooled) if pooled else float("nan"), len(pooled))
    row["stray"] = float(np.mean([s["stray"] for s in scores]))
    row["excess"] = float(np.mean([s["excess"] for s in scores]))
    row["seconds"] = float(np.mean(seconds))
    return row


def print_table(title: str, rows: dict[str, dict]) -> None:
    names = [b[2] for b in BUCKETS] + [">=32"]
    any_row = next(iter(rows.values()))
    counts = " ".join(f"{n}:{any_row[n][1]}" for n in names)
    print(f"\n{title} (valid faces per bucket {counts})")
    header = f"{'':8}" + "".join(f"{n:>8}" for n in names) + f"{'stray/img':>10}{'excess':>8}{'s/img':>8}"
    print(header)
    for who, row in rows.items():
        print(f"{who:8}" + "".join(f"{row[n][0]:8.3f}" for n in names)
              + f"{row['stray']:10.2f}{row['excess']:8.3f}{row['seconds']:8.3f}")
    if "veil" in rows and "deface" in rows:
        v, d = rows["veil"], rows["deface"]
        print(f"{'ratio':8}" + " " * 8 * len(names)
              + f"{'':10}{v['excess'] / max(d['excess'], 1e-9):7.2f}x{v['seconds'] / max(d['seconds'], 1e-9):7.2f}x")


def residual_figures(paths: list[str], faces: dict, profile_name: str) -> None:
    """Residual check on images whose annotated faces are all redacted, and on the untouched images."""
    from PIL import Image

    from deid.boxes import iou
    from deid.detect import residual_detector
    from deid.profile import load_profile
    from deid.redact import face_region, redact

    profile = load_profile(profile_name)
    if profile.residual_threshold is None:
        raise SystemExit(f"profile {profile_name} runs no residual-face check to measure")
    check = residual_detector(profile.residual_threshold)
    blocked, seconds, found = 0, [], {name: [0, 0] for _lo, _hi, name in BUCKETS}
    for path in paths:
        with Image.open(path) as img:
            rgb = np.asarray(img.convert("RGB"))
        height, width = rgb.shape[:2]
        regions = [r for r in (face_region(box, profile.padding, profile.extend_up, width, height)
                               for box, _valid in faces[path]) if r]
        start = time.perf_counter()
        blocked += bool(check(redact(rgb, regions, profile.method, profile.strength), redacted=regions))
        seconds.append(time.perf_counter() - start)
        left = check(rgb)
        for box, valid in faces[path]:
            if valid:
                name = next(n for lo, hi, n in BUCKETS if lo <= max(box[2] - box[0], box[3] - box[1]) < hi)
                found[name][1] += 1
                found[name][0] += any(iou(d.box, tuple(box)) >= 0.3 for d in left)
    print(f"\nresidual check: blocks {blocked}/{len(paths)} images whose annotated faces are all redacted; "
          f"{np.mean(seconds):.3f} s per image")
    print("share of unredacted faces it finds: "
          + "  ".join(f"{name} {hit / n:.2f}" for name, (hit, n) in found.items() if n))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--profile", default="default", help="profile name or path to a .toml")
    parser.add_argument("--quick", action="store_true", help="every 5th image only (71 images, both parities)")
    parser.add_argument("--every", type=int, default=1, help="keep every Nth image")
    parser.add_argument("--no-peer", action="store_true", help="skip deface")
    parser.add_argument("--peer-venv", type=Path, default=PEER_VENV)
    parser.add_argument("--residual", action="store_true", help="also measure the residual check")
    parser.add_argument("--save", type=Path, help="write every image's regions and seconds to this JSON file")
    args = parser.parse_args()
    faces = load_faces(args.dataset)
    every = 5 if args.quick and args.every == 1 else args.every
    paths = list(faces)[::every]
    index = {p: i for i, p in enumerate(faces)}  # parity from the position in the whole set
    print(f"{len(paths)} images", file=sys.stderr)
    peer = None if args.no_peer else Peer(args.peer_venv)
    try:
        results = run_all(paths, args.profile, peer)
    finally:
        if peer:
            peer.close()
    if args.save:
        args.save.write_text(json.dumps(results))
    scored = {who: {p: score_image(p, faces[p], res[p]["regions"]) for p in paths} for who, res in results.items()}
    for title, keep in (("even-numbered images", lambda p: index[p] % 2 == 0),
                        ("odd-numbered images", lambda p: index[p] % 2 == 1), ("all images", lambda p: True)):
        chosen = [p for p in paths if keep(p)]
        if chosen:
            print_table(f"{title}, {len(chosen)}", {who: summarise([scored[who][p] for p in chosen],
                                                                   [results[who][p]["seconds"] for p in chosen])
                                                    for who in results})
    if args.residual:
        residual_figures(paths, faces, args.profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
