"""Video de-identification figures: speed against a plain transcode and deface, memory, recall, file survey.

    python benchmarks/video.py speed   [--seconds 20] [--no-deface] [--size 720p] [--against P]  # fps: Veil, floor, deface
    python benchmarks/video.py memory  [--minutes 5] [--profile P]    # Veil's peak memory on a 1080p clip
    python benchmarks/video.py stages  [--seconds 10] [--size 720p]   # CPU ms per frame of each stage
    python benchmarks/video.py presets [--size 720p] [--preset superfast ...] [--crf 20 ...]  # x264 quality/CPU
    python benchmarks/video.py recall  [--set video.keyframe_every=12 ...]
    python benchmarks/video.py survey                                  # every file of the shared video folders

Run by hand on the 2-core workstation; the figures go into issue notes. `--threads N` sets VEIL_THREADS
(onnxruntime's intra-op threads) for Veil; the default 1 suits video, whose pipeline already runs its
stages in parallel threads (with 2 intra-op threads, onnxruntime's spin-waiting burns the second core).
The clips are synthesised at run time from ../shared/data/face-videos (looped, scaled to 720p or 1080p, renumbered at 30 fps) under
benchmarks/out/ (git-ignored) and never committed. `recall` takes the image engine's full ensemble on every
frame of each face video as the reference and reports the share of those faces Veil's video regions
cover (a face counts as protected when at least 90 % of its box is inside the redacted regions).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tomllib
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Python puts this script's folder first on the path, where benchmarks/queue.py would shadow the standard
# library's queue (the video pipeline's channels): the project root takes its place.
sys.path[0] = str(ROOT)
os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import av  # noqa: E402
import numpy as np  # noqa: E402

import deid.api as deid_api  # noqa: E402
from deid.api import redact_file  # noqa: E402
from deid.detect import ensemble  # noqa: E402
from deid.profile import load_profile  # noqa: E402
from deid.redact import union_area_share  # noqa: E402
from deid.report import DeidReport  # noqa: E402
from deid.video import VideoSettings  # noqa: E402
from deid.video.frames import orientation, upright  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
FACE_VIDEOS = DATA / "face-videos"
OUT = ROOT / "benchmarks" / "out"
DEFACE = ROOT / "benchmarks" / ".peer-venv" / "bin" / "deface"
SIZES = {"720p": (1280, 720), "1080p": (1920, 1080)}


# ---------------------------------------------------------------- clips

def synth_clip(size: tuple[int, int], seconds: float, path: Path) -> Path:
    """The face videos back to back, looped to `seconds`, scaled to `size`, 30 fps, plain H.264."""
    if path.exists():
        return path
    sources = sorted(FACE_VIDEOS.glob("*.mp4"))
    if not sources:
        raise SystemExit(f"no face videos under {FACE_VIDEOS}")
    frames_needed = int(seconds * 30)
    tmp = path.with_suffix(".part.mp4")
    with av.open(str(tmp), "w") as out:
        stream = out.add_stream("libx264", rate=30, options={"preset": "veryfast", "crf": "20"})
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        written = 0
        while written < frames_needed:
            for source in sources:
                with av.open(str(source)) as src:
                    for frame in src.decode(video=0):
                        if written >= frames_needed:
                            break
                        scaled = frame.reformat(width=size[0], height=size[1], format="yuv420p",
                                                interpolation="BICUBIC")
                        scaled.pts, scaled.time_base = written, Fraction(1, 30)
                        out.mux(stream.encode(scaled))
                        written += 1
        out.mux(stream.encode(None))
    tmp.rename(path)
    return path


def frame_count(path: Path) -> int:
    with av.open(str(path)) as c:
        return sum(1 for _ in c.demux(c.streams.video[0]) if _.size)


# ---------------------------------------------------------------- speed

def floor_fps(path: Path, settings: VideoSettings) -> float:
    """Plain PyAV decode + encode with Veil's encoder settings: no detection, no redaction."""
    out_path = OUT / "floor.mp4"
    start, frames = time.perf_counter(), 0
    with av.open(str(path)) as src, av.open(str(out_path), "w", format="mp4",
                                            options={"movflags": "+faststart", "fflags": "+bitexact"}) as out:
        source = src.streams.video[0]
        source.thread_type = "AUTO"
        stream = out.add_stream("libx264", rate=source.average_rate,
                                options={"preset": settings.preset, "crf": str(settings.crf), "bf": "0"})
        stream.width, stream.height, stream.pix_fmt = source.width, source.height, "yuv420p"
        stream.time_base = stream.codec_context.time_base = source.time_base
        for frame in src.decode(source):
            frame.pict_type = av.video.frame.PictureType.NONE
            out.mux(stream.encode(frame))
            frames += 1
        out.mux(stream.encode(None))
    out_path.unlink()
    return frames / (time.perf_counter() - start)


def _explained(exc: BaseException) -> str:
    """The API's message for a failed file, with the traceback printed too (the clips here are synthetic)."""
    import traceback
    traceback.print_exception(exc, limit=-4)
    return _error_message(exc)


_error_message = deid_api.error_message
deid_api.error_message = _explained


def veil_fps(path: Path, profile) -> tuple[float, float, DeidReport]:
    """End to end (decode, detect, track, redact, encode, verify): frames per second, seconds, the report."""
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        report = redact_file(path, out, profile)
        total = time.perf_counter() - start
    if report.error:
        print(f"  Veil error: {report.error}")
    frames = report.frames or 1
    return frames / total, total, report


def deface_fps(path: Path, frames: int) -> float | None:
    if not DEFACE.exists():
        print("  deface not installed at benchmarks/.peer-venv; skipped")
        return None
    out_path = OUT / "deface-out.mp4"
    start = time.perf_counter()
    done = subprocess.run([str(DEFACE), str(path), "-o", str(out_path)], capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    out_path.unlink(missing_ok=True)
    if done.returncode != 0:
        print(f"  deface failed: {done.stderr[-300:]}")
        return None
    return frames / elapsed


def run_speed(args) -> None:
    profile = load_profile(args.profile)
    against = load_profile(args.against) if args.against else None
    settings = VideoSettings.of(profile)
    redact_file(synth_clip((320, 180), 1, OUT / "warmup.mp4"), tempfile.mkdtemp(), profile)  # load models
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; encoder libx264 {settings.preset} "
          f"crf {settings.crf}; profile {profile.id}; VEIL_THREADS={os.environ.get('VEIL_THREADS')}")
    print(f"{'clip':8} {'frames':>6} {'Veil fps':>9} {'floor fps':>10} {'deface fps':>11} {'Veil/deface':>12}")
    for name, size in SIZES.items():
        if args.size and name not in args.size:
            continue
        clip = synth_clip(size, args.seconds, OUT / f"clip-{name}-{args.seconds:g}s.mp4")
        frames = frame_count(clip)
        floor = floor_fps(clip, settings)
        before = os.times()
        veil, _, report = veil_fps(clip, profile)
        after = os.times()
        if args.against:
            old, _, _ = veil_fps(clip, against)
            print(f"  {name}: Veil with profile {args.against}: {old:.1f} fps (this one {veil:.1f})")
        cpu_ms = (after.user + after.system - before.user - before.system) / max(1, report.frames or 1) * 1000
        peer = None if args.no_deface else deface_fps(clip, frames)
        ratio = f"{veil / peer:.1f}x" if peer else "-"
        print(f"{name:8} {frames:6d} {veil:9.1f} {floor:10.1f} {peer or float('nan'):11.1f} {ratio:>12}"
              f"   (Veil CPU {cpu_ms:.0f} ms/frame; {report.frames_with_regions} frames with regions; "
              f"load {os.getloadavg()[0]:.1f})")


# ---------------------------------------------------------------- memory

def run_memory(args) -> None:
    clip = synth_clip(SIZES["1080p"], args.minutes * 60, OUT / f"clip-1080p-{args.minutes:g}min.mp4")
    code = ("import sys, tempfile; from deid.api import redact_file; "
            "r = redact_file(sys.argv[1], tempfile.mkdtemp(), sys.argv[2]); "
            "print(r.error or 'ok', r.frames, r.frames_with_regions)")
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code, str(clip), args.profile], cwd=ROOT, capture_output=True,
                          text=True)
    elapsed = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"1080p, {args.minutes:g} min: {done.stdout.strip()}; {elapsed:.0f} s; peak memory {peak_mb:.0f} MB "
          f"(maximum resident set of the process)")


# ---------------------------------------------------------------- recall

def profile_with(overrides: list[str]):
    """The default profile with `section.key=value` overrides (TOML values), as a temporary profile file."""
    if not overrides:
        return load_profile("default")
    base = tomllib.loads((ROOT / "assets" / "profiles" / "default.toml").read_text())
    for item in overrides:
        key, _, value = item.partition("=")
        section, _, name = key.partition(".")
        base.setdefault(section, {})[name] = tomllib.loads(f"v = {value}")["v"]
    lines = [f"{k} = {toml_value(v)}" for k, v in base.items() if not isinstance(v, dict)]
    for section, values in base.items():
        if isinstance(values, dict):
            lines += [f"[{section}]"] + [f"{k} = {toml_value(v)}" for k, v in values.items()]
    path = Path(tempfile.mkdtemp()) / "bench.toml"
    path.write_text("\n".join(lines) + "\n")
    return load_profile(str(path))


def toml_value(value) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + "}"
    return json.dumps(value)


def reference(source: Path, profile, fresh: bool = False) -> list[list[list[float]]]:
    """The full ensemble's face boxes on every frame of a video, cached per detector settings; `fresh`
    recomputes them (do so once deid/detect.py has changed)."""
    key = hashlib.sha256(json.dumps(profile.section("detector"), sort_keys=True).encode()).hexdigest()[:12]
    cache = OUT / f"reference-{source.stem}-{key}.json"
    if cache.exists() and not fresh:
        return json.loads(cache.read_text())
    full = ensemble(profile.section("detector"))
    boxes = []
    with av.open(str(source)) as c:
        orient = None
        for frame in c.decode(video=0):
            orient = orient or orientation(frame)
            rgb = upright(frame, orient).to_ndarray(format="rgb24")
            boxes.append([list(d.box) for d in full(rgb)])
    cache.write_text(json.dumps(boxes))
    return boxes


class RunIndex:
    """The regions of each frame, read back from a video report's runs in frame order."""

    def __init__(self, runs: list[list]):
        self.runs = sorted(runs, key=lambda run: run[0])
        self.next, self.active = 0, []

    def at(self, index: int) -> list[list[int]]:
        while self.next < len(self.runs) and self.runs[self.next][0] <= index:
            self.active.append(self.runs[self.next])
            self.next += 1
        self.active = [run for run in self.active if run[1] >= index]
        return [run[2] for run in self.active]


def run_recall(args) -> None:
    profile = profile_with(args.set)
    print(f"video settings: {VideoSettings.of(profile)}")
    grand = [0, 0]
    for source in sorted(FACE_VIDEOS.glob("*.mp4")):
        ref = reference(source, profile, args.fresh)
        _, elapsed, report = veil_fps(source, profile)
        runs = RunIndex(report.regions)
        faces = protected = 0
        misses = []
        for index, boxes in enumerate(ref):
            regions = runs.at(index)
            for box in boxes:
                target = [int(np.floor(box[0])), int(np.floor(box[1])), int(np.ceil(box[2])), int(np.ceil(box[3]))]
                # boxes may reach past the picture's edge; only the part inside can be protected
                target = [max(0, target[0]), max(0, target[1]), min(report.width, target[2]),
                          min(report.height, target[3])]
                faces += 1
                if union_area_share(target, regions) >= 0.9:
                    protected += 1
                else:
                    misses.append(index)
        grand[0] += faces
        grand[1] += protected
        outcome = report.error or "ok"
        print(f"{source.name}: {protected}/{faces} reference faces protected ({100 * protected / max(1, faces):.2f} %) "
              f"over {len(ref)} frames; {report.frames_with_regions} frames with regions; "
              f"{elapsed:.1f} s; output: {outcome}")
        if misses:
            print(f"  frames with a miss: {sorted(set(misses))[:40]}")
    print(f"all: {grand[1]}/{grand[0]} ({100 * grand[1] / max(1, grand[0]):.2f} %)")


# ---------------------------------------------------------------- stages

class StageClock:
    """CPU seconds (of the calling thread) and wall seconds spent in each wrapped function, by stage name."""

    def __init__(self):
        import threading
        self.lock = threading.Lock()
        self.cpu: dict[str, float] = {}
        self.wall: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    def wrap(self, stage: str, fn):
        def timed(*args, **kwargs):
            c0, w0 = time.thread_time(), time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                c1, w1 = time.thread_time(), time.perf_counter()
                with self.lock:
                    self.cpu[stage] = self.cpu.get(stage, 0.0) + c1 - c0
                    self.wall[stage] = self.wall.get(stage, 0.0) + w1 - w0
                    self.calls[stage] = self.calls.get(stage, 0) + 1
        return timed


def instrumented(clock: StageClock):
    """Patch the video pipeline's stages with timed wrappers; returns a function that undoes it."""
    import deid.tracking as tracking
    import deid.video.detection as detection
    import deid.video.pipeline as pipeline
    import deid.video.reader as reader
    import deid.video.writer as writer

    patches = []

    def patch(owner, name, stage, wrap_result=None):
        original = getattr(owner, name)
        replacement = clock.wrap(stage, original) if wrap_result is None else wrap_result(original)
        patches.append((owner, name, original))
        setattr(owner, name, replacement)

    patch(reader, "upright", "decode: upright copy")
    patch(reader, "small_rgb", "decode: reduced RGB")
    patch(pipeline, "read", "decode thread (all, Python side)")
    patch(pipeline, "encode", "encoder thread (all, Python side)")
    for name in ("centerface", "blazeface"):
        if hasattr(detection, name):
            patch(detection, name, "per-frame detector")
    patch(detection, "tiled", None, lambda original: lambda *a, **k: clock.wrap("keyframe ensemble", original(*a, **k)))
    patch(detection, "text_regions", "text on keyframes")
    patch(detection, "code_regions", "codes on keyframes")
    for name in ("observe", "boxes_at", "forget_before", "cut"):
        patch(tracking.Tracker, name, "tracking")
    patch(writer, "redact_frame", "redaction")
    patch(writer.Writer, "write_video", "encode (calling thread)")
    patch(pipeline, "residual_detector", None,
          lambda original: lambda *a, **k: clock.wrap("residual check", original(*a, **k)))
    patch(pipeline, "verify_video", "verify (read back)")

    def undo():
        for owner, name, original in reversed(patches):
            setattr(owner, name, original)
    return undo


def codec_seconds(path: Path, settings: VideoSettings) -> tuple[float, float]:
    """Process CPU seconds of decoding the clip alone, and of decoding and encoding it (Veil's settings)."""
    t0 = os.times()
    with av.open(str(path)) as src:
        src.streams.video[0].thread_type = "AUTO"
        for _ in src.decode(video=0):
            pass
    t1 = os.times()
    floor_fps(path, settings)
    t2 = os.times()
    cpu = lambda a, b: b.user + b.system - a.user - a.system  # noqa: E731
    return cpu(t0, t1), cpu(t1, t2)


def run_stages(args) -> None:
    """Where Veil's time goes on a 720p and a 1080p clip: CPU ms per frame of each stage."""
    profile = load_profile(args.profile)
    settings = VideoSettings.of(profile)
    redact_file(synth_clip((320, 180), 1, OUT / "warmup.mp4"), tempfile.mkdtemp(), profile)
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; {settings}")
    for name, size in SIZES.items():
        if args.size and name not in args.size:
            continue
        clip = synth_clip(size, args.seconds, OUT / f"clip-{name}-{args.seconds:g}s.mp4")
        decode_cpu, floor_cpu = codec_seconds(clip, settings)
        clock = StageClock()
        undo = instrumented(clock)
        try:
            before = os.times()
            _, total, report = veil_fps(clip, profile)
            after = os.times()
        finally:
            undo()
        frames = report.frames or 1
        process_cpu = after.user + after.system - before.user - before.system
        ms = lambda seconds: 1000 * seconds / frames  # noqa: E731
        print(f"\n{name}: {frames} frames, {frames / total:.1f} fps, wall {ms(total):.1f} ms/frame, "
              f"process CPU {ms(process_cpu):.1f} ms/frame (load {os.getloadavg()[0]:.1f})")
        print(f"  {'stage':36} {'CPU ms/frame':>12} {'wall ms/frame':>13} {'calls':>6}")
        print(f"  {'codec alone: decode':36} {ms(decode_cpu):12.1f}")
        print(f"  {'codec alone: decode + encode':36} {ms(floor_cpu):12.1f}")
        for stage in sorted(clock.cpu, key=lambda s: -clock.cpu[s]):
            print(f"  {stage:36} {ms(clock.cpu[stage]):12.1f} {ms(clock.wall[stage]):13.1f} {clock.calls[stage]:6d}")


# ---------------------------------------------------------------- presets

def encoded(frames: list, preset: str, crf: int, path: Path) -> float:
    """Encode the frames as Veil's writer does (libx264, no B-frames) at `preset`/`crf`: CPU seconds taken."""
    start = os.times()
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=30, options={"preset": preset, "crf": str(crf), "bf": "0"})
        stream.width, stream.height, stream.pix_fmt = frames[0].width, frames[0].height, "yuv420p"
        for index, frame in enumerate(frames):
            frame.pts, frame.time_base = index, Fraction(1, 30)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    end = os.times()
    return end.user + end.system - start.user - start.system


def luma(frame) -> np.ndarray:
    return frame.to_ndarray(format="gray")


def quality(source_lumas: list[np.ndarray], path: Path, every: int) -> tuple[float, float]:
    """Mean PSNR (dB) and SSIM of the luma of every `every`-th frame read back, against the source's."""
    from skimage.metrics import structural_similarity
    psnrs, ssims = [], []
    with av.open(str(path)) as c:
        for index, frame in enumerate(c.decode(video=0)):
            if index % every:
                continue
            ref, got = source_lumas[index // every], luma(frame)
            mse = float(np.mean((ref.astype(np.float32) - got.astype(np.float32)) ** 2))
            psnrs.append(10 * np.log10(255 ** 2 / max(mse, 1e-6)))
            ssims.append(structural_similarity(ref, got, data_range=255))
    return float(np.mean(psnrs)), float(np.mean(ssims))


def run_presets(args) -> None:
    """x264 presets and CRFs on the same frames: CPU ms per frame, PSNR and SSIM of the luma, size."""
    clip = synth_clip(SIZES[args.size], args.seconds, OUT / f"clip-{args.size}-{args.seconds:g}s.mp4")
    with av.open(str(clip)) as c:
        frames = [f for f in c.decode(video=0)]
    every = 5
    source_lumas = [luma(f) for f in frames[::every]]
    print(f"{args.size}, {len(frames)} frames; load average {os.getloadavg()[0]:.1f}; CPU ms per frame is the "
          f"median of {args.repeat} encodes")
    print(f"{'preset':10} {'crf':>3} {'CPU ms/frame':>12} {'PSNR dB':>8} {'SSIM':>7} {'kbit/s':>7}")
    target = OUT / "preset.mp4"
    for preset in args.preset:
        for crf in args.crf:
            seconds = sorted(encoded(frames, preset, crf, target) for _ in range(args.repeat))[args.repeat // 2]
            psnr, ssim = quality(source_lumas, target, every)
            kbits = target.stat().st_size * 8 / 1000 / (len(frames) / 30)
            print(f"{preset:10} {crf:3d} {1000 * seconds / len(frames):12.1f} {psnr:8.2f} {ssim:7.4f} {kbits:7.0f}",
                  flush=True)
    target.unlink(missing_ok=True)


# ---------------------------------------------------------------- survey

def ffprobe(path: Path) -> dict:
    done = subprocess.run(["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of", "json", str(path)],
                          capture_output=True, text=True)
    return json.loads(done.stdout or "{}")


def run_survey(args) -> None:
    files = sorted(p for folder in ("metadata-videos", "face-videos") for p in (DATA / folder).rglob("*")
                   if p.is_file())
    with tempfile.TemporaryDirectory() as out:
        done = subprocess.run([sys.executable, "-m", "deid", "redact", *map(str, files), "--out", out, "--json"],
                              cwd=ROOT, capture_output=True, text=True)
        reports = json.loads(done.stdout)
        for report in reports:
            name = Path(report["input"]).relative_to(DATA)
            if report["error"]:
                print(f"ERROR  {name}: {report['error']}")
                continue
            probe = ffprobe(Path(report["output"]))
            streams = probe.get("streams", [])
            v = streams[0] if streams else {}
            print(f"clean  {name}: {report['frames']} frames ({report['frames_with_regions']} with regions), "
                  f"{v.get('width')}x{v.get('height')} {v.get('codec_name')} {v.get('pix_fmt')} "
                  f"{v.get('avg_frame_rate')}, {len(streams)} stream(s), {len(report['removed'])} tags removed")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    speed = sub.add_parser("speed")
    speed.add_argument("--seconds", type=float, default=20)
    speed.add_argument("--no-deface", action="store_true")
    speed.add_argument("--profile", default="default")
    speed.add_argument("--against", help="a second profile file to time Veil with on the same clips (before/after)")
    speed.add_argument("--size", action="append", choices=sorted(SIZES), help="only this clip size (repeatable)")
    memory = sub.add_parser("memory")
    memory.add_argument("--minutes", type=float, default=5)
    memory.add_argument("--profile", default="default")
    recall = sub.add_parser("recall")
    recall.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    recall.add_argument("--fresh", action="store_true", help="recompute the reference detections")
    stages = sub.add_parser("stages")
    stages.add_argument("--seconds", type=float, default=10)
    stages.add_argument("--profile", default="default")
    stages.add_argument("--size", action="append", choices=sorted(SIZES), help="only this clip size (repeatable)")
    presets = sub.add_parser("presets")
    presets.add_argument("--seconds", type=float, default=5)
    presets.add_argument("--size", default="720p", choices=sorted(SIZES))
    presets.add_argument("--preset", action="append", default=None)
    presets.add_argument("--crf", action="append", type=int, default=None)
    presets.add_argument("--repeat", type=int, default=3)
    sub.add_parser("survey")
    parser.add_argument("--threads", default="1", help="VEIL_THREADS for Veil's detectors (default 1)")
    args = parser.parse_args()
    if args.command == "presets":
        args.preset = args.preset or ["ultrafast", "superfast", "veryfast", "faster"]
        args.crf = args.crf or [18, 20, 23]
    os.environ["VEIL_THREADS"] = args.threads   # read when the first detector session is built
    OUT.mkdir(parents=True, exist_ok=True)
    {"speed": run_speed, "stages": run_stages, "presets": run_presets, "memory": run_memory, "recall": run_recall, "survey": run_survey}[args.command](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
