"""Photo de-identification speed: per stage, per extra photo and per six-photo batch, against deface 1.5.0
and against the bare floor (decode + encode with the same settings, no detection), in one run.

    python benchmarks/images.py [--repeats 3] [--no-deface] [--engine DIR] [--compare DIR]
                                [--only stages,encode,marginal,batch]

It builds six 12 MP JPEG photos at run time into benchmarks/out/photos/ (git-ignored) from pictures that ship
in pip wheels (scikit-image's astronaut, matplotlib's grace_hopper), upscaled, with faces of several sizes,
rendered text lines and camera EXIF tags (one stored sideways, with an Orientation tag). Nothing of
../shared is read or written.

Sections:
- stages: one photo through the engine's public functions, one stage at a time (median of --repeats);
- marginal: seconds per extra 12 MP photo with the tool warm: Veil in one process (redact_file, photo after
  photo), the floor, and deface on a folder of 1 and of 6 photos ((T6 - T1) / 5);
- batch: `python -m deid redact` on the six photos against `deface` on the same six, taking turns;
- encode: JPEG (and PNG) encoder settings, size against seconds on the redacted photo.

--engine DIR times another checkout's deid (e.g. an export of main: `git archive main | tar -x -C DIR`, with
DIR/models linked to this one's) with this script; --compare DIR adds that checkout's command line to the
batch, taking turns with --engine's, for a before/after comparison in the same conditions.
The machine's load average is printed with the figures: on shared cores, compare ratios, not seconds.
"""
from __future__ import annotations

import argparse
import io
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

os.environ.setdefault("GLOG_minloglevel", "2")   # MediaPipe's and TensorFlow Lite's chatter
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
PHOTOS = OUT / "photos"
DEFACE = HERE / ".peer-venv" / "bin" / "deface"
SIZE = (4000, 3000)   # 12 MP, a phone's main camera
PHOTO_COUNT = 6
# rendered on the photos; the identifier check looks for the first two (they are redacted as text, so
# none can be read on an output)
TEXT_LINES = ("EXAMPLE CLINIC 4417", "ROOM B12 SAMPLE", "Before treatment 2026-03-14", "REF 00031-TEST")
IDENTIFIERS = ["EXAMPLE", "SAMPLE"]


# ---------------------------------------------------------------- test photos

def _sources() -> tuple[Image.Image, Image.Image]:
    import matplotlib.cbook
    import skimage.data

    astronaut = Image.fromarray(skimage.data.astronaut())
    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as fh:
        hopper = Image.open(fh).convert("RGB")
    return astronaut, hopper


def build_photo(index: int, astronaut: Image.Image, hopper: Image.Image) -> Image.Image:
    """A 12 MP scene: the astronaut filling the frame, Grace Hopper pasted at three sizes, text lines, noise."""
    rng = np.random.default_rng(index)
    canvas = astronaut.resize(SIZE, Image.BICUBIC)
    for height in (900, 320, 110):   # a close face, a mid face, a small one in the background
        face = hopper.resize((int(height * hopper.width / hopper.height), height), Image.BICUBIC)
        x = int(rng.integers(0, SIZE[0] - face.width))
        y = int(rng.integers(0, SIZE[1] - face.height))
        canvas.paste(face, (x, y))
    draw = ImageDraw.Draw(canvas)
    for line_no, text in enumerate(TEXT_LINES):
        font = ImageFont.load_default(size=int(rng.integers(48, 110)))
        x, y = int(rng.integers(40, 1800)), 200 + line_no * 650 + int(rng.integers(0, 200))
        box = draw.textbbox((x, y), text, font=font)
        draw.rectangle(box, fill=(245, 245, 235))
        draw.text((x, y), text, fill=(15, 15, 20), font=font)
    pixels = np.asarray(canvas, dtype=np.int16) + rng.normal(0, 3, (SIZE[1], SIZE[0], 3)).astype(np.int16)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def camera_exif(index: int, sideways: bool) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "ExampleCam"                 # Make
    exif[0x0110] = f"Model {index}"             # Model
    exif[0x0132] = "2026:03:14 10:15:00"        # DateTime
    exif[0x013B] = "Example Photographer"       # Artist
    exif[0x0131] = "Example firmware 1.0"       # Software
    if sideways:
        exif[0x0112] = 6                        # stored turned; a viewer rotates it 90 degrees clockwise
    return exif


def build_photos() -> list[Path]:
    """Six 12 MP JPEGs, built once and kept under benchmarks/out/photos/."""
    PHOTOS.mkdir(parents=True, exist_ok=True)
    paths = [PHOTOS / f"photo-{i}.jpg" for i in range(PHOTO_COUNT)]
    if all(p.exists() for p in paths):
        return paths
    astronaut, hopper = _sources()
    for index, path in enumerate(paths):
        photo = build_photo(index, astronaut, hopper)
        sideways = index == 1
        if sideways:   # the stored pixels lie on their side; the Orientation tag turns them upright
            photo = photo.transpose(Image.Transpose.ROTATE_90)
        photo.save(path, "JPEG", quality=90, exif=camera_exif(index, sideways))
    return paths


# ---------------------------------------------------------------- timing helpers

def timed(call):
    start = time.perf_counter()
    value = call()
    return time.perf_counter() - start, value


def median_time(call, repeats: int, cpu: list | None = None):
    """Median seconds of `repeats` calls, and the last call's value; the median CPU seconds of this process
    (all its threads) go into `cpu` when given (on loaded cores they vary less than wall seconds)."""
    seconds, used, value = [], [], None
    for _ in range(repeats):
        start = time.process_time()
        elapsed, value = timed(call)
        used.append(time.process_time() - start)
        seconds.append(elapsed)
    if cpu is not None:
        cpu.append(statistics.median(used))
    return statistics.median(seconds), value


def run_child(cmd: list[str], **options):
    """Wall seconds, CPU seconds (its whole process tree, as far as it was waited for) and the result."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    elapsed, done = timed(lambda: subprocess.run(cmd, capture_output=True, **options))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu, done


def load() -> str:
    return "load average %.2f %.2f %.2f" % os.getloadavg()


# ---------------------------------------------------------------- stages

def stage_table(photo: Path, repeats: int) -> None:
    """One photo, stage by stage, through the engine's public functions."""
    from deid import image as image_io
    from deid.api import face_regions, redact_file, redact_labelled
    from deid.codes import code_regions
    from deid.detect import residual_detector
    from deid.formats import sniff
    from deid.metadata import removed_tags
    from deid.profile import load_profile
    from deid.text import identifiers_readable, text_regions
    from deid.verify import IMAGE_ALLOWED, is_clean

    prof = load_profile("default")
    work = Path(tempfile.mkdtemp(dir=OUT))
    redact_file(photo, work, prof)   # models loaded, ExifTool started (where it stays open)
    data = photo.read_bytes()
    fmt = sniff(data[:64])
    rows: list[tuple[str, float, float]] = []

    def stage(name: str, call):
        cpu = []
        seconds, value = median_time(call, repeats, cpu)
        rows.append((name, seconds, cpu[0]))
        return value

    def pillow_load():
        with Image.open(io.BytesIO(data)) as img:
            img.load()

    stage("read file + JPEG decode (Pillow load)", pillow_load)
    decoded = stage("  + orientation, sRGB (deid.image.decode)", lambda: image_io.decode(data, fmt))
    rows[-1] = (rows[-1][0], rows[-1][1] - rows[-2][1], rows[-1][2] - rows[-2][2])   # what decode adds to the load
    rgb = decoded.rgb
    faces = stage("face ensemble (api.face_regions)", lambda: face_regions(rgb, prof))
    text = stage("text detection (text.text_regions)", lambda: text_regions(rgb, prof.section("text")))
    codes = stage("codes (codes.code_regions)", lambda: code_regions(rgb))
    labelled = [(r, "face") for r in faces] + [(r, "text") for r in text] + [(r, "code") for r in codes]
    pixels = stage("redaction (api.redact_labelled)", lambda: redact_labelled(rgb, labelled, prof))
    encoded, ext = stage("JPEG encode (deid.image.encode)",
                         lambda: image_io.encode(pixels, None, decoded.source_format, prof.jpeg_quality))
    written = work / f"stage{ext}"
    stage("write + fsync", lambda: _write_durably(written, encoded))
    stage("ExifTool: tags removed (metadata.removed_tags)", lambda: removed_tags(photo, IMAGE_ALLOWED))
    stage("verify: ExifTool allow-list (verify.is_clean)", lambda: is_clean(written, IMAGE_ALLOWED))
    one_off = ["exiftool", "-j", "-G1", "-a", "-u", "-s", "-ee", "-api", "LargeFileSupport=1", "--", str(written)]
    stage("(for comparison: one new ExifTool process per read)", lambda: subprocess.run(one_off, capture_output=True))
    compared = rows.pop()
    out_rgb = stage("verify: read output back (Pillow load)", lambda: _read_back(written))
    residual = residual_detector(prof.residual_threshold)
    left = stage("verify: residual face check", lambda: residual(out_rgb))
    readable = stage("verify: identifier check (text.identifiers_readable)",
                     lambda: identifiers_readable(out_rgb, IDENTIFIERS, prof.section("text")))
    whole_cpu = []
    whole, report = median_time(lambda: redact_file(photo, work, prof, identifiers=IDENTIFIERS), repeats, whole_cpu)

    print(f"\n## Stages, one 12 MP photo ({rgb.shape[1]}x{rgb.shape[0]}), median of {repeats}; {load()}")
    print(f"{'stage':56} {'seconds':>8} {'CPU s':>7}")
    for name, seconds, cpu in rows:
        print(f"{name:56} {seconds:8.3f} {cpu:7.3f}")
    print(f"{'sum of stages':56} {sum(r[1] for r in rows):8.3f} {sum(r[2] for r in rows):7.3f}")
    print(f"{compared[0]:56} {compared[1]:8.3f} {'(child)':>7}")
    print(f"{'whole redact_file (identifiers given)':56} {whole:8.3f} {whole_cpu[0]:7.3f}")
    print(f"found: {len(faces)} face, {len(text)} text, {len(codes)} code regions; residual faces left "
          f"{len(left)}, identifiers readable {readable}; report: {len(report.regions)} regions, "
          f"error {report.error!r}")
    shutil.rmtree(work, ignore_errors=True)


def _write_durably(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _read_back(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        img.load()
        return np.asarray(img.convert("RGB") if img.mode != "RGB" else img)


# ---------------------------------------------------------------- marginal seconds per photo

def floor_once(photo: Path, out: Path, quality: int) -> None:
    """The bare floor: read, decode (upright, sRGB), encode with Veil's settings, write. No detection."""
    from deid import image as image_io
    from deid.formats import sniff

    data = photo.read_bytes()
    decoded = image_io.decode(data, sniff(data[:64]))
    encoded, ext = image_io.encode(decoded.rgb, decoded.alpha, decoded.source_format, quality)
    _write_durably(out / f"floor{ext}", encoded)


def deface_run(photos: list[Path]) -> tuple[float, float]:
    """Wall and CPU seconds for deface (a fresh process, its defaults) on a folder holding `photos`."""
    with tempfile.TemporaryDirectory(dir=OUT) as folder:
        for photo in photos:
            shutil.copy(photo, folder)
        elapsed, cpu, done = run_child([str(DEFACE), folder])
        if done.returncode != 0:
            raise SystemExit(f"deface failed: {done.stderr.decode()[-400:]}")
        made = [p for p in Path(folder).iterdir() if "_anonymized" in p.name]
        if len(made) != len(photos):
            raise SystemExit(f"deface wrote {len(made)} outputs for {len(photos)} photos")
    return elapsed, cpu


def cli_run(photos: list[Path], engine: Path) -> tuple[float, float]:
    """Wall and CPU seconds for `python -m deid redact` (a fresh command, run in the `engine` checkout) on
    `photos`; every output must be verified."""
    with tempfile.TemporaryDirectory(dir=OUT) as out:
        cmd = [sys.executable, "-m", "deid", "redact", *map(str, photos), "--out", out, "--json"]
        env = {**os.environ, "PYTHONPATH": str(engine)}
        elapsed, cpu, done = run_child(cmd, cwd=engine, env=env)
        if done.returncode != 0:
            raise SystemExit(f"deid redact failed ({done.returncode}): {done.stdout.decode()[-600:]}"
                             f"{done.stderr.decode()[-600:]}")
    return elapsed, cpu


def marginal(photos: list[Path], repeats: int, with_deface: bool) -> None:
    """Seconds per extra photo, each tool warm."""
    from deid.api import redact_file
    from deid.profile import load_profile

    prof = load_profile("default")
    veil, veil_cpu, floor, defaced, defaced_cpu = [], [], [], [], []
    with tempfile.TemporaryDirectory(dir=OUT) as out:
        redact_file(photos[0], out, prof)   # warm: models loaded, ExifTool started
        for _ in range(repeats):   # taking turns, so both see the same load
            for photo in photos:
                cpu = time.process_time()
                veil.append(timed(lambda: redact_file(photo, out, prof))[0])
                veil_cpu.append(time.process_time() - cpu)
                floor.append(timed(lambda: floor_once(photo, Path(out), prof.jpeg_quality))[0])
            if with_deface:
                (one, one_cpu), (six, six_cpu) = deface_run(photos[:1]), deface_run(photos)
                defaced.append((six - one) / (len(photos) - 1))
                defaced_cpu.append((six_cpu - one_cpu) / (len(photos) - 1))
    veil_s, floor_s = statistics.median(veil), statistics.median(floor)
    print(f"\n## Marginal seconds per 12 MP photo, warm (median over {repeats} x {len(photos)}); {load()}")
    print(f"Veil, in one process (redact_file, verification included): {veil_s:.3f} s "
          f"(CPU {statistics.median(veil_cpu):.2f} s)")
    print(f"floor (decode + encode, same settings, no detection):       {floor_s:.3f} s"
          f"   Veil = {veil_s / floor_s:.1f}x floor")
    if defaced:
        deface_s = statistics.median(defaced)
        print(f"deface 1.5.0 ((T6 - T1) / 5 on a folder):                   {deface_s:.3f} s "
              f"(CPU {statistics.median(defaced_cpu):.2f} s)   deface/Veil = {deface_s / veil_s:.1f}x")


# ---------------------------------------------------------------- the six-photo batch

def batch(photos: list[Path], repeats: int, with_deface: bool, engines: list[Path]) -> None:
    """The command a new user would run, on six photos, against deface on the same six, taking turns (and
    each --compare checkout's command too); each one's marginal per photo from a one-photo run."""
    tools = [(f"python -m deid redact ({engine.name})", lambda n, e=engine: cli_run(photos[:n], e))
             for engine in engines]
    if with_deface:
        tools.append(("deface 1.5.0 (defaults)", lambda n: deface_run(photos[:n])))
    runs = {name: {1: [], len(photos): []} for name, _ in tools}
    for _ in range(repeats):
        for count in (1, len(photos)):
            for name, run in tools:
                runs[name][count].append(run(count))
    print(f"\n## Six 12 MP photos through the command line, median of {repeats} (wall s, CPU s); {load()}")
    print(f"{'tool':44} {'1 photo':>13} {'6 photos':>13} {'per extra photo':>16}")
    walls = {}
    for name, _ in tools:
        one = [statistics.median(v) for v in zip(*runs[name][1])]
        six = [statistics.median(v) for v in zip(*runs[name][len(photos)])]
        walls[name] = six[0]
        extra = (six[0] - one[0]) / (len(photos) - 1)
        print(f"{name:44} {one[0]:6.2f} {one[1]:6.2f} {six[0]:6.2f} {six[1]:6.2f} {extra:16.3f}")
    if with_deface:
        deface6 = walls[tools[-1][0]]
        for name, _ in tools[:-1]:
            print(f"six-photo batch: {name} is {deface6 / walls[name]:.2f}x faster than deface (goal: 5x)")


# ---------------------------------------------------------------- encoder settings

def encode_choices(photo: Path, repeats: int) -> None:
    """Size against seconds for the encoder settings worth considering, on a redacted 12 MP photo."""
    from deid import image as image_io
    from deid.api import find_regions, redact_labelled
    from deid.formats import sniff
    from deid.profile import load_profile

    prof = load_profile("default")
    data = photo.read_bytes()
    rgb = image_io.decode(data, sniff(data[:64])).rgb
    pixels = redact_labelled(rgb, find_regions(rgb, prof), prof)
    img = Image.fromarray(pixels)
    quality = prof.jpeg_quality
    choices = [
        ("JPEG", f"quality={quality}, optimize=True", dict(quality=quality, optimize=True)),
        ("JPEG", f"quality={quality}", dict(quality=quality)),
        ("JPEG", f"quality={quality}, progressive=True", dict(quality=quality, progressive=True)),
        ("JPEG", f"quality={quality}, subsampling=4:4:4", dict(quality=quality, subsampling=0)),
        ("PNG", "optimize=True", dict(optimize=True)),
        ("PNG", "compress_level=6 (default)", dict(compress_level=6)),
        ("PNG", "compress_level=1", dict(compress_level=1)),
        ("WEBP", f"quality={quality}, method=4", dict(quality=quality, method=4)),
        ("WEBP", f"quality={quality}, method=2", dict(quality=quality, method=2)),
    ]
    print(f"\n## Encoder settings on the redacted 12 MP photo, median of {repeats}; {load()}")
    print(f"{'format':6} {'settings':38} {'seconds':>8} {'MB':>7}")
    for fmt, words, options in choices:
        runs = 1 if fmt == "PNG" else repeats   # PNG optimize takes many seconds at 12 MP
        seconds, size = median_time(lambda: _encoded_size(img, fmt, options), runs)
        print(f"{fmt:6} {words:38} {seconds:8.3f} {size / 1e6:7.2f}")


def _encoded_size(img: Image.Image, fmt: str, options: dict) -> int:
    buffer = io.BytesIO()
    img.save(buffer, fmt, **options)
    return buffer.tell()


# ----------------------------------------------------------------

SECTIONS = ("stages", "marginal", "batch", "encode")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-deface", action="store_true", help="skip deface")
    parser.add_argument("--engine", type=Path, default=ROOT, help="checkout whose deid is timed")
    parser.add_argument("--compare", type=Path, action="append", default=[],
                        help="another checkout whose command line takes turns with --engine's in the batch")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated of: {', '.join(SECTIONS)}")
    args = parser.parse_args()
    engine = args.engine.resolve()
    # benchmarks/ itself is not a package folder to import from (its queue.py would hide the standard one)
    sys.path[:] = [str(engine)] + [p for p in sys.path if Path(p or ".").resolve() != HERE]
    with_deface = not args.no_deface
    if with_deface and not DEFACE.exists():
        print(f"deface not found at {DEFACE}; skipped (see DESIGN.md, Benchmarks)")
        with_deface = False
    sections = args.only.split(",")
    photos = build_photos()
    import deid

    print(f"engine: {Path(deid.__file__).parent.parent}; {len(photos)} photos of {SIZE[0]}x{SIZE[1]} in {PHOTOS}; "
          f"{os.cpu_count()} CPUs")
    if "stages" in sections:
        stage_table(photos[0], args.repeats)
    if "encode" in sections:
        encode_choices(photos[0], args.repeats)
    if "marginal" in sections:
        marginal(photos, args.repeats, with_deface)
    if "batch" in sections:
        batch(photos, args.repeats, with_deface, [engine, *(c.resolve() for c in args.compare)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
