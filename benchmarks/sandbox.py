"""What reading each upload in a process of its own (the isolation seam) costs, against reading it in process.

    python benchmarks/sandbox.py [--runs 10] [--cli-runs 3]

Photos: matplotlib's grace_hopper.jpg (512x600) and a 12 MP upscale of it; a consent PDF built here.
Prints the median wall time per file both ways in the app's process and the difference (the fork and the
model loading), then the median wall time of each command line on a batch of three files, which isolates
every file too (its fork server's start, and for `deid` the models loaded once per file, included).
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

os.environ.setdefault("GLOG_minloglevel", "2")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def median_seconds(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--cli-runs", type=int, default=3)
    options = parser.parse_args()
    runs = options.runs

    import matplotlib.cbook
    from PIL import Image

    from consent.check import check_pdf
    from records.sandbox import check_in_sandbox, redact_in_sandbox
    from deid.api import redact_file
    from ui_fixtures import covered_consent_pdf

    work = Path(tempfile.mkdtemp(prefix="veil-bench-"))
    small = Path(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    large = work / "large.jpg"
    Image.open(small).resize((3000, 4000)).save(large, quality=90)
    pdf = work / "consent.pdf"
    pdf.write_bytes(covered_consent_pdf())
    cases = [
        ("photo 0.3 MP", lambda: redact_file(small, work / "a"), lambda: redact_in_sandbox(small, work / "b", "default")),
        ("photo 12 MP", lambda: redact_file(large, work / "a"), lambda: redact_in_sandbox(large, work / "b", "default")),
        ("consent PDF", lambda: check_pdf(pdf), lambda: check_in_sandbox(pdf)),
    ]
    print(f"median of {runs} runs, {os.cpu_count()} CPUs")
    print(f"{'file':<14} {'in process s':>12} {'sandboxed s':>12} {'added s':>8}")
    for name, direct, isolated in cases:
        direct()      # warm: models loaded, modules imported, fork server started
        isolated()
        a, b = median_seconds(direct, runs), median_seconds(isolated, runs)
        print(f"{name:<14} {a:>12.3f} {b:>12.3f} {b - a:>8.3f}")
    time_command_lines(work, [small] * 3, [pdf] * 3, options.cli_runs)


def time_command_lines(work: Path, photos: list[Path], pdfs: list[Path], runs: int) -> None:
    out = work / "cli-out"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    commands = [("deid redact", ["-m", "deid", "redact", *map(str, photos), "--out", str(out), "--json"]),
                ("consent check", ["-m", "consent", "check", "--json", *map(str, pdfs)])]
    print(f"\ncommand line, {len(photos)} files, median of {runs} runs: wall s")
    for name, args in commands:
        print(f"{name:<14} {median_seconds(partial(run_command, args, env, out), runs):>12.3f}")


def run_command(args: list[str], env: dict, out: Path) -> None:
    subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, check=True)
    shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
