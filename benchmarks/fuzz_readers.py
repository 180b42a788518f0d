"""Fuzz the readers (images, videos, PDFs) with mutated seed files for a fixed budget.

    python benchmarks/fuzz_readers.py [--cases 300] [--seed 1] [--keep DIR]

The seed corpus is built here from images that ship in wheels. Hypothesis draws the mutation plans (bit
flips, truncation, splices, duplicated chunks, inflated size fields). Each case runs in a worker subprocess
with a memory limit and a time limit, because the decoders are C code: a crash, a hang, a memory blow-up
or an uncaught exception is a failure. A clean error report is the expected answer to a broken file.
Prints the number of inputs tried and every failure (the failing inputs are kept under --keep).
"""
from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
MEMORY_LIMIT = 2 * 1024 ** 3
CASE_TIMEOUT = 60


# ---------------------------------------------------------------- seeds

def seed_corpus() -> dict[str, bytes]:
    import matplotlib.cbook
    import numpy as np
    from PIL import Image

    face = Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)).convert("RGB")
    face = face.resize((256, 300))
    exif = Image.Exif()
    exif[0x010F], exif[0x0112] = "FuzzMake", 6
    seeds = {}
    for fmt, ext, kwargs in [("JPEG", "jpg", {"exif": exif}), ("PNG", "png", {"exif": exif}),
                             ("WEBP", "webp", {}), ("TIFF", "tif", {}), ("AVIF", "avif", {})]:
        buffer = io.BytesIO()
        face.save(buffer, fmt, **kwargs)
        seeds[ext] = buffer.getvalue()
    import pillow_heif

    pillow_heif.register_heif_opener()
    buffer = io.BytesIO()
    face.save(buffer, "HEIF")
    seeds["heic"] = buffer.getvalue()
    seeds["mp4"] = _tiny_mp4(np.asarray(face))
    seeds["pdf"] = _tiny_pdf()
    return seeds


def _tiny_mp4(rgb) -> bytes:
    import av

    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 256, 300, "yuv420p"
        for _ in range(5):
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


def _tiny_pdf() -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.multi_cell(0, 8, "I authorize the clinic to publish my photographs on social media (Instagram).")
    return bytes(pdf.output())


# ---------------------------------------------------------------- mutations

def mutate(data: bytes, plan: list[tuple[str, int, int]]) -> bytes:
    buf = bytearray(data)
    for op, a, b in plan:
        if not buf:
            break
        i = a % len(buf)
        if op == "flip":
            buf[i] ^= 1 << (b % 8)
        elif op == "byte":
            buf[i] = b % 256
        elif op == "truncate":
            del buf[max(1, i):]
        elif op == "splice":
            j = b % len(buf)
            buf[i:i] = buf[j:j + 64]
        elif op == "inflate":  # a 32-bit field set to a huge value: declared sizes, lengths, counts
            buf[i:i + 4] = (0x7FFFFF00 + b % 255).to_bytes(4, "big")
        elif op == "zero":
            buf[i:i + 16] = bytes(min(16, len(buf) - i))
    return bytes(buf)


def plans(count: int, seed: int) -> list[list[tuple[str, int, int]]]:
    """Mutation plans drawn by Hypothesis (reproducible: derandomized, seeded)."""
    from hypothesis import HealthCheck, given, seed as hypothesis_seed, settings
    from hypothesis import strategies as st

    op = st.tuples(st.sampled_from(["flip", "byte", "truncate", "splice", "inflate", "zero"]),
                   st.integers(0, 2 ** 31), st.integers(0, 2 ** 31))
    drawn: list = []

    @hypothesis_seed(seed)
    @settings(max_examples=count, database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(op, min_size=1, max_size=6))
    def collect(plan):
        drawn.append(plan)

    collect()
    return drawn[:count]


# ---------------------------------------------------------------- worker

def worker(paths: list[str]) -> None:
    """Read each file with the engine, printing START and DONE lines so the parent knows where it died."""
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    os.environ.setdefault("GLOG_minloglevel", "3")
    from deid.api import redact_file

    out = tempfile.mkdtemp()
    for path in paths:
        print(f"START {path}", flush=True)
        if path.endswith(".pdf"):
            from consent.check import check_pdf

            result = check_pdf(path)
        else:
            result = redact_file(path, out)
        print(f"DONE {path} {json.dumps(bool(result.get('error')))}", flush=True)


def run_batch(paths: list[str]) -> list[tuple[str, str]]:
    """Run paths through workers; a worker that dies is restarted after the case it died on."""
    failures, remaining = [], list(paths)
    while remaining:
        proc = subprocess.Popen([sys.executable, __file__, "--worker", *remaining], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        current, finished = None, set()
        deadline = time.monotonic() + CASE_TIMEOUT * len(remaining)
        try:
            stdout, stderr = proc.communicate(timeout=max(CASE_TIMEOUT, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            stdout, stderr = proc.communicate()
        for line in stdout.splitlines():
            if line.startswith("START "):
                current = line[6:]
            elif line.startswith("DONE "):
                finished.add(line[5:].rsplit(" ", 1)[0])
                current = None
        if proc.returncode == 0:
            break
        if current is None:
            failures.append(("<worker>", f"exit {proc.returncode}: {stderr.strip()[-300:]}"))
            break
        failures.append((current, f"exit {proc.returncode}: {stderr.strip().splitlines()[-1:] or ['killed']}"))
        remaining = remaining[remaining.index(current) + 1:]
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, default=ROOT / "benchmarks" / "out" / "fuzz-failures")
    parser.add_argument("--worker", nargs="*")
    args = parser.parse_args()
    if args.worker is not None:
        worker(args.worker)
        return 0
    seeds = seed_corpus()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for n, plan in enumerate(plans(args.cases, args.seed)):
            ext = list(seeds)[n % len(seeds)]
            path = Path(tmp) / f"case{n:05d}.{ext}"
            path.write_bytes(mutate(seeds[ext], plan))
            paths.append(str(path))
        failures = run_batch(paths)
        for path, _reason in failures:
            if path != "<worker>":
                args.keep.mkdir(parents=True, exist_ok=True)
                Path(args.keep, Path(path).name).write_bytes(Path(path).read_bytes())
    elapsed = time.perf_counter() - started
    by_kind = {ext: sum(1 for p in paths if p.endswith("." + ext)) for ext in seeds}
    print(f"inputs tried: {len(paths)} ({', '.join(f'{k} {v}' for k, v in by_kind.items())}) in {elapsed:.0f} s")
    print(f"failures (crash, hang, memory, uncaught exception): {len(failures)}")
    for path, reason in failures:
        print(f"  {Path(path).name}: {reason}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
