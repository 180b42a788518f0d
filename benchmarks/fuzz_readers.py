"""Fuzz the readers (images, videos, PDFs) with mutated seed files for a fixed budget.

    python benchmarks/fuzz_readers.py [--cases 300] [--seed 1] [--formats jpg,png,...] [--keep DIR]

The seed corpus is built here from images that ship in wheels. Hypothesis draws the mutation plans (bit
flips, truncation, splices, duplicated chunks, inflated size fields). Cases run in worker subprocesses
under an address-space limit, one case at a time with a time limit of its own, because the decoders are C
code. A failure is one of:
  crash        the worker died (a signal, or an exit without finishing the case)
  hang         no answer within the per-case time limit
  memory       MemoryError, or the address-space limit reached inside C code
  uncaught     an exception escaped the reader (a traceback)
  unexplained  the reader returned "unexpected error (...)": a bad file it could not explain
  quoted       an error message quoting the file's bytes
  leftover     a file left in the output folder by a failed case
A clean error report is the expected answer to a broken file. Before the budget starts, every seed must go
through cleanly (a harness whose readers fail on valid files would find nothing).
Prints inputs tried per format, failures per kind, wall time and cases per second; the failing inputs
are kept under --keep.
"""
from __future__ import annotations

import argparse
import collections
import io
import json
import os
import re
import resource
import selectors
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
MEMORY_LIMIT = 3 * 1024 ** 3      # address space; one photo runs within 1.5 GiB (the models reserve most)
CASE_TIMEOUT = 60                 # seconds for one case (a PDF may go through OCR)
START_TIMEOUT = 120               # seconds for a worker to load its models
QUOTED_BYTES = re.compile(r"b'[^']*'|b\"[^\"]*\"")


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
    seeds["mov"] = _phone_mov(np.asarray(face))
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


def _phone_mov(rgb) -> bytes:
    """A MOV as phones write them: index first (fast start), turned by a display matrix, AAC sound."""
    import av
    import numpy as np

    with tempfile.TemporaryDirectory() as folder:
        with av.open(f"{folder}/seed.mov", "w", format="mov", options={"movflags": "+faststart"}) as out:
            out.metadata["location"] = "+40.7128-074.0060/"
            video = out.add_stream("libx264", rate=10, options={"preset": "ultrafast"})
            video.width, video.height, video.pix_fmt = 300, 256, "yuv420p"
            video.set_display_rotation(90)
            sound = out.add_stream("aac", rate=16000)
            sound.layout = "mono"
            for i in range(6):
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(np.rot90(rgb)), format="rgb24")
                frame.pts = i
                out.mux(video.encode(frame))
            out.mux(video.encode(None))
            for i in range(10):
                chunk = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
                chunk.sample_rate, chunk.pts = 16000, i * 1024
                out.mux(sound.encode(chunk))
            out.mux(sound.encode(None))
        return Path(f"{folder}/seed.mov").read_bytes()


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


def fix_png_crcs(data: bytes) -> bytes:
    """Recompute the checksum of every whole PNG chunk, so a mutation reaches the decoder instead of
    being refused at the first CRC check (Pillow checks them all)."""
    import zlib

    buf, at = bytearray(data), 8
    while at + 12 <= len(buf):
        length = int.from_bytes(buf[at:at + 4], "big")
        end = at + 8 + length
        if end + 4 > len(buf):
            break
        buf[end:end + 4] = zlib.crc32(bytes(buf[at + 4:end])).to_bytes(4, "big")
        at = end + 4
    return bytes(buf)


def plans(count: int, seed: int) -> list[list[tuple[str, int, int]]]:
    """Mutation plans drawn by Hypothesis (reproducible: seeded, no example database)."""
    drawn: list = []
    rounds = 0
    while len(drawn) < count:   # Hypothesis may stop a run early; draw again under the next seed
        drawn += _draw(count - len(drawn), seed + 7919 * rounds)
        rounds += 1
    return drawn[:count]


def _draw(count: int, seed: int) -> list:
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
    return drawn


# ---------------------------------------------------------------- worker

def worker() -> None:
    """Read the file paths given on stdin one by one, answering READY, then one JSON line per case."""
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    os.environ.setdefault("GLOG_minloglevel", "3")
    from consent.check import check_pdf
    from deid.api import redact_file

    print("READY", flush=True)
    for line in sys.stdin:
        path = line.strip()
        out = Path(tempfile.mkdtemp(prefix="fuzz-out-"))
        try:
            error = check_pdf(path).error if path.endswith(".pdf") else redact_file(path, out).error
            left = [p.name for p in out.iterdir() if error or p.name.startswith(".partial")]
            answer = {"error": error, "left": sorted(left)}
            left = [p.name for p in out.iterdir() if error or p.name.startswith(".partial")]
            answer = {"error": error, "left": sorted(left)}
        except MemoryError:
            answer = {"kind": "memory", "detail": "MemoryError"}
        except Exception as exc:  # noqa: BLE001 - the readers must never raise; report what escaped
            answer = {"kind": "uncaught", "detail": f"{type(exc).__name__}: {str(exc)[:200]}"}
        shutil.rmtree(out, ignore_errors=True)
        print(json.dumps(answer), flush=True)


def judge(answer: dict) -> tuple[str, str] | None:
    """(kind, detail) of a failure, or None for a clean answer (success or an explained error)."""
    if "kind" in answer:
        return answer["kind"], answer["detail"]
    error = answer["error"] or ""
    if "unexpected error" in error:
        return "unexplained", error
    if "needs more memory" in error or "MemoryError" in error:
        return "memory", error
    if QUOTED_BYTES.search(error):
        return "quoted", error
    if answer["left"]:
        return "leftover", ", ".join(answer["left"])
    return None


class Worker:
    """One worker subprocess; `ask` gives it a case and waits at most CASE_TIMEOUT for the answer."""

    def __init__(self):
        self.proc = subprocess.Popen([sys.executable, __file__, "--worker"], cwd=ROOT, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.proc.stdout, selectors.EVENT_READ)
        if self._line(START_TIMEOUT) != "READY":
            raise RuntimeError(f"worker did not start: {self.stop()}")

    def _line(self, timeout: float) -> str | None:
        if not self.selector.select(timeout):
            return None
        return self.proc.stdout.readline().strip() or None

    def ask(self, path: str) -> dict | None:
        """The worker's answer, or None when it died or hung (then it is stopped)."""
        try:
            self.proc.stdin.write(path + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            return None
        line = self._line(CASE_TIMEOUT)
        return json.loads(line) if line else None

    def stop(self) -> str:
        """Stop the worker; the last line of what it said on stderr, and how it ended."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        tail = (self.proc.stderr.read() or "").strip().splitlines()
        return f"exit {self.proc.returncode}: {tail[-1][:200] if tail else ''}"


def run_cases(paths: list[str], outcomes: collections.Counter) -> list[tuple[str, str, str]]:
    """Every case through a worker; a worker that dies or hangs is replaced. Failures: (path, kind, detail).
    `outcomes` counts the clean answers by (format, "done" or "refused"): read through, or refused with a reason."""
    failures, worker = [], Worker()
    for path in paths:
        started = time.monotonic()
        answer = worker.ask(path)
        if answer is None:
            hung = time.monotonic() - started >= CASE_TIMEOUT
            ended = worker.stop()
            kind = "hang" if hung else ("memory" if "MemoryError" in ended or "bad_alloc" in ended else "crash")
            failures.append((path, kind, ended))
            worker = Worker()
            continue
        failure = judge(answer)
        if failure:
            failures.append((path, *failure))
        else:
            outcomes[Path(path).suffix[1:], "refused" if answer["error"] else "done"] += 1
    worker.stop()
    return failures


def check_seeds(seeds: dict[str, bytes], folder: Path) -> None:
    """Every valid seed must come through without an error, or the run would prove nothing."""
    paths = []
    for ext, data in seeds.items():
        paths.append(str(folder / f"seed.{ext}"))
        Path(paths[-1]).write_bytes(data)
    worker = Worker()
    try:
        for path in paths:
            answer = worker.ask(path)
            if answer is None or answer.get("error") or "kind" in answer:
                raise SystemExit(f"harness is blind: the valid seed {Path(path).name} failed: {answer}")
    finally:
        worker.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--formats", help="comma-separated seed kinds (jpg,png,webp,tif,avif,heic,mp4,mov,pdf)")
    parser.add_argument("--keep", type=Path, default=ROOT / "benchmarks" / "out" / "fuzz-failures")
    parser.add_argument("--worker", action="store_true")
    args = parser.parse_args()
    if args.worker:
        worker()
        return 0
    seeds = seed_corpus()
    if args.formats:
        wanted = args.formats.split(",")
        unknown = set(wanted) - set(seeds)
        if unknown:
            parser.error(f"unknown formats {sorted(unknown)}; choose from {','.join(seeds)}")
        seeds = {k: v for k, v in seeds.items() if k in wanted}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        check_seeds(seeds, Path(tmp))
        paths = []
        for n, plan in enumerate(plans(args.cases, args.seed)):
            ext = list(seeds)[n % len(seeds)]
            path = Path(tmp) / f"case{args.seed:03d}-{n:05d}.{ext}"
            mutated = mutate(seeds[ext], plan)
            path.write_bytes(fix_png_crcs(mutated) if ext == "png" and n % 2 else mutated)  # half with CRCs fixed
            paths.append(str(path))
        outcomes: collections.Counter = collections.Counter()
        failures = run_cases(paths, outcomes)
        for path, _kind, _detail in failures:
            args.keep.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, args.keep / Path(path).name)
    elapsed = time.perf_counter() - started
    tried = collections.Counter(Path(p).suffix[1:] for p in paths)
    failed = collections.Counter(Path(p).suffix[1:] for p, _, _ in failures)
    kinds = collections.Counter(kind for _, kind, _ in failures)
    print(f"inputs tried: {len(paths)} in {elapsed:.0f} s ({len(paths) / elapsed:.2f} cases/s), seed {args.seed}")
    print("per format (tried: read through / refused with a reason / failed):")
    for ext in seeds:
        print(f"  {ext:5} {tried[ext]:5}: {outcomes[ext, 'done']:5} / {outcomes[ext, 'refused']:5} / {failed[ext]:3}")
    print(f"failures: {len(failures)}" + (f" ({', '.join(f'{k} {v}' for k, v in kinds.items())})" if kinds else ""))
    for path, kind, detail in failures:
        print(f"  {Path(path).name}: {kind}: {detail}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
