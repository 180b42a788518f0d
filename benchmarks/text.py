"""Text and codes in the picture: lines covered, false regions on real photos, and the time it adds.

    python benchmarks/text.py [--data ../shared/data] [--lines 240] [--draw benchmarks/out/text-regions]
                              [--tesseract] [--baseline GIT_REF] [--only coverage,false,photo,video]

1. Coverage: a generated set of scenes (real photos that ship in wheels, flat and noisy backgrounds)
   carrying text lines of varied fonts, letter heights (12 to 90 px), angles, contrasts, on labels or
   straight on the picture. A line is covered when at least 97 % of its ink rectangle lies inside the
   text regions `deid.text.text_regions` returns. With --tesseract, the same figure for Tesseract's
   layout analysis (`--psm 11`, boxes of the words it finds at confidence >= 0, grown like Veil's).
2. False regions: text regions on 50 real photos (WIDER FACE subset and metadata-photos), counted per
   image and drawn into --draw for a person to look at: banners, signs and shirts are real text there.
3. Time: seconds text lines, codes and the identifier check (verify's re-read of an output) add to a
   12 MP photo (a generated one with text all over it, and a real camera photo scaled to 12 MP), and CPU
   seconds per camera photo as taken; with --baseline, the same for deid/text.py and deid/codes.py at a
   git ref, interleaved in the same run; and one second of 1080p video (redact_file with and without text).
Run by hand; figures go into issue notes.
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from text_fixtures import FONTS, Planted, covered_share, plant  # noqa: E402

COVERED = 0.97
WORDS = ["DOE", "JANE", "SMITH", "JOHN", "MRN", "DOB", "ROOM", "BED", "Dr.", "Patient", "Ward", "Allergies",
         "Penicillin", "Garcia", "Nguyen", "O'Brien", "Müller", "Zoë", "Clinic", "Exam", "Name:", "ID"]


def _backgrounds() -> list[np.ndarray]:
    import matplotlib.cbook
    from skimage import data

    with Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)) as img:
        photos = [np.asarray(img.convert("RGB"))]
    photos += [data.astronaut(), data.coffee(), data.chelsea(), data.rocket(), np.asarray(
        Image.fromarray(data.camera()).convert("RGB"))]
    rng = np.random.default_rng(0)
    flat = [np.full((480, 640, 3), colour, np.uint8) for colour in [(245, 245, 240), (30, 30, 35), (90, 140, 200)]]
    # a textured surface (plaster, fabric): noise smoothed over a few pixels, as a camera renders it
    noise = np.asarray(Image.fromarray(np.clip(rng.normal(128, 60, (480, 640, 3)), 0, 255).astype(np.uint8))
                       .filter(ImageFilter.GaussianBlur(1.5)))
    noise = [np.clip((noise.astype(np.float32) - 128) * 2.5 + 128, 0, 255).astype(np.uint8)]
    return photos + flat + noise


def _phrase(rng: random.Random) -> str:
    kind = rng.randrange(4)
    if kind == 0:
        return f"{rng.choice(WORDS)} {rng.choice(WORDS)}"
    if kind == 1:
        return f"MRN {rng.randrange(10**6, 10**8)}"
    if kind == 2:
        return f"{rng.randrange(1, 13):02d}/{rng.randrange(1, 29):02d}/{rng.randrange(1930, 2024)}"
    return " ".join(rng.choice(WORDS) for _ in range(rng.randrange(1, 4)))


def _colours(rng: random.Random, patch: np.ndarray) -> tuple[tuple, tuple | None]:
    """Ink and label colours: dark or light ink chosen against the background, sometimes weak contrast."""
    mean = float(patch.mean())
    if rng.random() < 0.4:   # on a label
        label = tuple(rng.choice([(250, 250, 245), (255, 240, 120), (30, 30, 30), (200, 230, 255)]))
        dark = sum(label) > 380
        return ((20, 20, 20) if dark else (245, 245, 245)), label
    contrast = rng.choice([160, 110, 70])   # grey levels between ink and background
    level = mean - contrast if mean > 128 else mean + contrast
    level = int(np.clip(level, 0, 255))
    return (level, level, level), None


def scenes(total_lines: int, seed: int = 1):
    """(picture, planted lines) pairs until `total_lines` lines are planted, five lines per scene."""
    rng = random.Random(seed)
    backgrounds = _backgrounds()
    planted = 0
    while planted < total_lines:
        base = backgrounds[rng.randrange(len(backgrounds))]
        scale = rng.choice([1.0, 1.5, 2.0])
        rgb = np.array(np.asarray(Image.fromarray(base).resize(
            (int(base.shape[1] * scale), int(base.shape[0] * scale)), Image.BILINEAR)))
        height, width = rgb.shape[:2]
        lines: list[Planted] = []
        cells = [(c, r) for r in range(3) for c in range(2)]
        rng.shuffle(cells)
        for col, row in cells[:5]:
            letter = rng.choice([12, 14, 16, 20, 24, 32, 48, 64, 90])
            angle = rng.choice([0, 0, 0, 5, -10, 20, -35, 45, 90, -90, 180, 60])
            centre = ((col + 0.5) * width / 2 + rng.uniform(-20, 20), (row + 0.5) * height / 3 + rng.uniform(-10, 10))
            cx, cy = int(centre[0]), int(centre[1])
            ink, label = _colours(rng, rgb[max(0, cy - 20):cy + 20, max(0, cx - 40):cx + 40])
            text = _phrase(rng)
            # keep each line inside its cell: shrink the letters until it fits
            while letter > 12 and _too_long(text, letter, angle, width / 2.2, height / 3.3):
                letter = max(12, int(letter * 0.8))
            if _too_long(text, letter, angle, width / 2.2, height / 3.3):
                text = text.split(" ")[0]
            lines.append(plant(rgb, text, centre, letter_px=letter, angle=angle, ink=ink, label=label,
                               font_name=rng.choice(FONTS)))
        planted += len(lines)
        yield rgb, lines


def _too_long(text: str, letter: float, angle: float, cell_w: float, cell_h: float) -> bool:
    from text_fixtures import font

    left, top, right, bottom = font("DejaVuSans.ttf", letter).getbbox(text)
    w, h = right - left, bottom - top
    theta = np.deg2rad(angle)
    extent_w = abs(w * np.cos(theta)) + abs(h * np.sin(theta))
    extent_h = abs(w * np.sin(theta)) + abs(h * np.cos(theta))
    return extent_w > cell_w or extent_h > cell_h


def _ink_height(line: Planted) -> int:
    return round(float(np.linalg.norm(line.quad[3] - line.quad[0])))


def coverage(total_lines: int, finders: dict) -> None:
    results = {name: [] for name in finders}
    seconds = {name: 0.0 for name in finders}
    failures = {name: [] for name in finders}
    for rgb, lines in scenes(total_lines):
        for name, find in finders.items():
            start = time.perf_counter()
            regions = find(rgb)
            seconds[name] += time.perf_counter() - start
            for line in lines:
                share = covered_share(line, regions, rgb.shape)
                results[name].append(share >= COVERED)
                if share < COVERED:
                    failures[name].append((line.text, round(line.angle), round(share, 2), _ink_height(line), rgb.shape[:2]))
    for name in finders:
        hits = results[name]
        print(f"coverage {name}: {sum(hits)}/{len(hits)} lines covered = {np.mean(hits):.3f} "
              f"({seconds[name]:.1f} s in all)")
        for text, angle, share, ink, shape in failures[name][:25]:
            print(f"    missed: {text!r} at {angle} deg, ink {ink} px high in {shape}, {share:.2f} covered")


def real_photos(data: Path, count: int = 50) -> list[Path]:
    """40 WIDER FACE images spread over the subset's sorted list, and 10 camera photos of metadata-photos."""
    wider = sorted((data / "faces-wider-subset" / "images").rglob("*.jpg"))
    cameras = sorted(p for p in (data / "metadata-photos").rglob("*") if p.suffix.lower() in (".jpg", ".jpeg"))
    step = max(1, len(wider) // 40)
    chosen = wider[::step][:40]
    chosen += cameras[::max(1, len(cameras) // 10)][:count - len(chosen)]
    return chosen


def false_regions(data: Path, draw: Path, find) -> None:
    """Text regions on real photos, drawn for a person to judge; a count per image is printed."""
    import cv2

    from deid.api import decode_upright

    draw.mkdir(parents=True, exist_ok=True)
    counts = []
    for index, path in enumerate(real_photos(data)):
        try:
            rgb = decode_upright(path.read_bytes())
        except Exception as exc:  # noqa: BLE001 - a file the engine refuses is skipped, and said so
            print(f"  skipped {path.name}: {type(exc).__name__}")
            continue
        try:
            regions = find(rgb)
        except Exception as exc:  # noqa: BLE001 - a version that fails on a picture is reported, not fatal
            print(f"  {index:02d} failed: {type(exc).__name__}")
            continue
        counts.append(len(regions))
        print(f"  {index:02d}-{len(regions)}.jpg  {path.relative_to(data)}: {len(regions)} region(s)")
        shown = np.ascontiguousarray(rgb[..., ::-1])
        for x0, y0, x1, y1 in regions:
            cv2.rectangle(shown, (x0, y0), (x1 - 1, y1 - 1), (0, 0, 255), max(2, max(rgb.shape) // 400))
        cv2.imwrite(str(draw / f"{index:02d}-{len(regions)}.png"), _fit(shown, 1024))
        if regions:
            cv2.imwrite(str(draw / f"{index:02d}-{len(regions)}-regions.png"), _close_ups(rgb, regions))
    print(f"text regions on {len(counts)} real photos: {sum(counts)} in all, {np.mean(counts):.2f} per image; "
          f"drawn into {draw} (file name: index-count; -regions: close-ups)")


def _fit(bgr: np.ndarray, side: int) -> np.ndarray:
    import cv2

    factor = min(1.0, side / max(bgr.shape[:2]))
    return cv2.resize(bgr, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA) if factor < 1 else bgr


def _close_ups(rgb: np.ndarray, regions: list, height: int = 200, across: int = 3) -> np.ndarray:
    """Each region with some of its surroundings, numbered in drawing order and scaled to one height, in
    rows of `across`: what a person judges a region by (writing or not) is often too small in the whole."""
    import cv2

    tiles = []
    for number, (x0, y0, x1, y1) in enumerate(regions):
        grow = max(8, (y1 - y0) // 2)
        crop = np.ascontiguousarray(rgb[max(0, y0 - grow):y1 + grow, max(0, x0 - grow):x1 + grow, ::-1])
        cv2.rectangle(crop, (min(grow, x0), min(grow, y0)), (min(grow, x0) + x1 - x0, min(grow, y0) + y1 - y0),
                      (0, 0, 255), 2)
        width = max(1, min(600, round(crop.shape[1] * height / crop.shape[0])))
        tile = np.full((height + 24, 600, 3), 255, np.uint8)
        tile[24:, :width] = cv2.resize(crop, (width, height))
        cv2.putText(tile, str(number), (4, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 2)
        tiles.append(tile)
    tiles += [np.full_like(tiles[0], 255)] * (-len(tiles) % across)
    return np.vstack([np.hstack(tiles[i:i + across]) for i in range(0, len(tiles), across)])


def tesseract_regions(rgb: np.ndarray, padding: float = 0.3) -> list[list[int]]:
    """Tesseract's layout analysis as a text finder: the boxes of the words its sparse-text mode (--psm 11)
    finds, at any confidence, grown like Veil's lines by `padding` of their height."""
    import io
    import subprocess

    from deid.redact import pad_and_clip

    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "PNG")
    tsv = subprocess.run(["tesseract", "stdin", "stdout", "--psm", "11", "tsv"], input=buffer.getvalue(),
                         capture_output=True, timeout=300, check=True).stdout.decode("utf-8", "replace")
    regions = []
    for row in tsv.splitlines()[1:]:
        cells = row.split("\t")
        if len(cells) < 12 or cells[0] != "5" or not cells[11].strip() or float(cells[10]) < 0:
            continue
        left, top, width, height = map(int, cells[6:10])
        grow = padding * height
        region = pad_and_clip((left - grow, top - grow, left + width + grow, top + height + grow), 0.0,
                              rgb.shape[1], rgb.shape[0])
        if region:
            regions.append(region)
    return regions


def baseline_modules(ref: str):
    """deid/text.py and deid/codes.py as they are at git `ref`, loaded beside today's (for timing both in
    one run, interleaved)."""
    import importlib.util
    import subprocess
    import tempfile

    modules = []
    folder = Path(tempfile.mkdtemp(prefix="veil-baseline-"))
    for name in ("text", "codes"):
        source = subprocess.run(["git", "show", f"{ref}:deid/{name}.py"], cwd=ROOT, capture_output=True,
                                check=True).stdout
        path = folder / f"baseline_{name}.py"
        path.write_bytes(source)
        spec = importlib.util.spec_from_file_location(f"baseline_{name}", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module   # dataclasses look their module up there
        spec.loader.exec_module(module)
        modules.append(module)
    return modules


def twelve_mp_photo() -> tuple[np.ndarray, list[Planted]]:
    """A 12 MP photo (4000 x 3000) carrying small lines: 12 to 24 px letters at four angles, every other one
    on a label, the others dark ink straight on the picture (harder: no label's edges to go by)."""
    rgb, _ = next(scenes(5, seed=7))
    big = np.array(Image.fromarray(rgb).resize((4000, 3000), Image.BILINEAR))
    small = []
    for i, (letter, angle) in enumerate(_sizes_angles()):
        centre = (500 + 1000 * (i % 4), 400 + 700 * (i // 4))
        around = big[centre[1] - 40:centre[1] + 40, centre[0] - 150:centre[0] + 150].mean()
        ink = (30, 30, 30) if i % 2 or around > 110 else (235, 235, 235)
        small.append(plant(big, f"MRN {4471100 + i}", centre, letter_px=letter, angle=angle,
                           label=(245, 245, 240) if i % 2 else None, ink=ink))
    return big, small


def camera_photo(data: Path) -> np.ndarray | None:
    """The largest camera photo of metadata-photos among the false-region set, scaled to 4000 x 3000."""
    from deid.api import decode_upright

    best = None
    for path in real_photos(data)[40:]:
        try:
            rgb = decode_upright(path.read_bytes())
        except Exception:  # noqa: BLE001 - one the engine refuses is passed over
            continue
        if best is None or rgb.size > best.size:
            best = rgb
    if best is None:
        return None
    size = (4000, 3000) if best.shape[1] >= best.shape[0] else (3000, 4000)
    return np.asarray(Image.fromarray(best).resize(size, Image.BILINEAR))


def camera_seconds(versions: dict, data: Path, repeats: int = 3) -> None:
    """CPU seconds text and codes take on the camera photos of the false-region set as taken (8 to 12 MP),
    per version, interleaved, median of `repeats`."""
    import os

    from deid.api import decode_upright

    photos = []
    for path in real_photos(data)[40:]:
        try:
            rgb = decode_upright(path.read_bytes())
        except Exception:  # noqa: BLE001 - one the engine refuses is passed over
            continue
        if rgb.shape[0] * rgb.shape[1] >= 2_000_000:
            photos.append(rgb)
    from deid.redact import redact

    identifiers = ["QUENNELL", "ROSALIND", "4471999"]
    text, codes = versions["today"]
    outputs = [redact(rgb, text.text_regions(rgb) + codes.code_regions(rgb), "solid", 2) for rgb in photos]
    seconds = {(name, stage): [] for name in versions for stage in ("find", "check")}
    for _ in range(repeats):
        for name, (text, codes) in versions.items():
            seconds[name, "find"].append(sum(
                _timed(lambda rgb=rgb: text.text_regions(rgb) + codes.code_regions(rgb))[1] for rgb in photos))
            seconds[name, "check"].append(sum(
                _timed(lambda out=out: text.identifiers_readable(out, identifiers))[1] for out in outputs))
    count = max(1, len(photos))
    print(f"{len(photos)} camera photos as taken, CPU s per photo (median of {repeats}; load average "
          f"{os.getloadavg()[0]:.1f}): " + "; ".join(
              f"{name}: text and codes {np.median(seconds[name, 'find']) / count:.2f}, identifier check on the "
              f"redacted output {np.median(seconds[name, 'check']) / count:.2f}" for name in versions))


def _timed(call) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    call()
    return time.perf_counter() - wall, time.process_time() - cpu


def photo_seconds(versions: dict, camera: np.ndarray | None, repeats: int = 3) -> None:
    """Seconds each stage adds to a 12 MP photo, per version of deid/text.py and deid/codes.py (interleaved,
    median of `repeats` after a warm-up): text lines, codes, and the identifier check on a redacted output
    (verify's re-read: the planted lines covered, identifiers that appear nowhere else); and the share of
    small lines (12 to 24 px letters, four angles) covered."""
    big, small = twelve_mp_photo()
    photos = {"dense": big}
    if camera is not None:
        photos["camera"] = camera
    identifiers = ["QUENNELL", "ROSALIND", "4471999"]
    for kind, picture in photos.items():
        print(f"12 MP photo ({kind}: " + ("the generated one, text all over it" if kind == "dense" else
                                         "a real camera photo scaled to 4000 x 3000") + ")")
        _photo_stages(versions, picture, small if kind == "dense" else [], identifiers, repeats)


def _photo_stages(versions: dict, big: np.ndarray, small: list, identifiers: list[str], repeats: int) -> None:
    import os

    from deid.redact import redact

    outputs, stages = {}, {}
    for name, (text, codes) in versions.items():
        regions = text.text_regions(big) + codes.code_regions(big)
        if small:
            covered = [covered_share(line, regions, big.shape) >= COVERED for line in small]
            missed = [(l, a, "label" if i % 2 else "no label") for i, ((l, a), c)
                      in enumerate(zip(_sizes_angles(), covered)) if not c]
            print(f"  {name}: small lines on the 12 MP photo covered {sum(covered)}/{len(covered)}"
                  + (f" (missed letter sizes and angles: {missed})" if missed else ""))
        outputs[name] = redact(big.copy(), regions, "solid", 2)
        stages[name] = {
            "text": lambda text=text: text.text_regions(big),
            "codes": lambda codes=codes: codes.code_regions(big),
            "identifier check": lambda text=text, out=outputs[name]: text.identifiers_readable(out, identifiers),
        }
    timings = {(name, stage): [] for name in stages for stage in stages[name]}
    for _ in range(repeats):
        for name in stages:
            for stage, call in stages[name].items():
                timings[name, stage].append(_timed(call))
    print(f"  seconds added (median of {repeats}; wall / CPU on both cores; load average "
          f"{os.getloadavg()[0]:.1f}):")
    for name in stages:
        parts = []
        for stage in stages[name]:
            wall, cpu = np.median(np.array(timings[name, stage]), axis=0)
            parts.append(f"{stage} {wall:.2f} / {cpu:.2f}")
        total = sum(np.median(np.array(timings[name, s]), axis=0)[0] for s in ("text", "codes"))
        print(f"    {name}: {'; '.join(parts)}; text and codes {total:.2f} s wall")


def _sizes_angles() -> list[tuple[int, int]]:
    return [(letter, angle) for letter in (12, 16, 20, 24) for angle in (0, 30, 90, 180)]


def video_seconds(folder: Path, seconds: int = 2) -> None:
    """Seconds per second of 1080p video, redact_file with the default profile against the same profile
    with text kept (no text pass)."""
    from deid.api import redact_file
    from deid.profile import load_profile
    from video_fixtures import plain_clip, profile_variant

    folder.mkdir(parents=True, exist_ok=True)
    rate = 30
    base = np.asarray(Image.fromarray(next(scenes(5, seed=11))[0]).resize((1920, 1080), Image.BILINEAR))
    frames = [np.roll(base, 6 * i, axis=1) for i in range(rate * seconds)]
    clip = plain_clip(folder / "clip1080.mp4", frames, rate=rate)
    no_text = load_profile(str(profile_variant(folder, "no-text", {"text": {"action": "keep"}})))
    timings = {}
    for name, profile in (("without text", no_text), ("with text", load_profile("default"))):
        start = time.perf_counter()
        report = redact_file(clip, folder / name.replace(" ", "-"), profile)
        timings[name] = (time.perf_counter() - start) / seconds
        assert report.error is None, report.error
    added = timings["with text"] / timings["without text"] - 1
    print(f"1080p video: {timings['without text']:.2f} s per second without the text pass, "
          f"{timings['with text']:.2f} s with it (+{100 * added:.0f} %)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data",
                        help="the shared evaluation data (faces-wider-subset, metadata-photos)")
    parser.add_argument("--lines", type=int, default=240)
    parser.add_argument("--draw", type=Path, default=ROOT / "benchmarks" / "out" / "text-regions")
    parser.add_argument("--tesseract", action="store_true", help="also measure Tesseract's --psm 11 boxes")
    parser.add_argument("--baseline", metavar="GIT_REF",
                        help="also measure deid/text.py and deid/codes.py as they are at GIT_REF, interleaved")
    parser.add_argument("--only", default="coverage,false,photo,video",
                        help="comma-separated parts to run: coverage, false, photo, video")
    parser.add_argument("--skip-video", action="store_true")
    args = parser.parse_args()
    parts = set(args.only.split(",")) - ({"video"} if args.skip_video else set())

    from deid import codes, text

    versions = {"today": (text, codes)}
    if args.baseline:
        versions[args.baseline] = baseline_modules(args.baseline)
    for name, (text_module, codes_module) in versions.items():
        def find(rgb, text_module=text_module, codes_module=codes_module):
            return text_module.text_regions(rgb) + codes_module.code_regions(rgb)

        finders = {f"veil {name}": find}
        if args.tesseract and name == "today":
            finders["tesseract --psm 11"] = tesseract_regions
        if "coverage" in parts:
            coverage(args.lines, finders)
        if "false" in parts and args.data.is_dir():
            false_regions(args.data, args.draw / name.replace("/", "-"), find)
        elif "false" in parts:
            print(f"false regions: skipped, no evaluation data at {args.data} (give --data)")
    if "photo" in parts:
        photo_seconds(versions, camera_photo(args.data) if args.data.is_dir() else None)
        if args.data.is_dir():
            camera_seconds(versions, args.data)
    if "video" in parts:
        video_seconds(Path("/tmp/veil-text-video"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
