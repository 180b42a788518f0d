"""`python -m deid redact|detect|inspect`: the stable command-line contract of DESIGN.md.

`redact` de-identifies each file in a process of its own (the isolation seam, `redact_isolated`, which the
app uses too): a decoder that crashes, runs out of memory or hangs on one file costs that file its output,
never the rest of the batch.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Callable

import isolation
from deid.api import detect_file, error_message, inspect_file, redact_file
from deid.profile import Profile, ProfileError, available_profiles, load_profile
from deid.report import DeidReport

REDACT_MEMORY_BYTES = 8 << 30   # address space of one de-identification (the largest video frame is 40 MP)
REDACT_SILENT_SECONDS = 300     # longest pause between two progress reports (a whole 80 MP photo fits)
# imported once by the fork server each file's process is forked from (mediapipe alone takes 0.9 s); no
# model is loaded there, since a loaded model's worker threads would not survive the fork
isolation.preload("deid.api", "deid.video", "deid.detect", "mediapipe", "onnxruntime", "onnx")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m deid", description="Veil media de-identification")
    sub = parser.add_subparsers(dest="command", required=True)
    redact = sub.add_parser("redact", help="write de-identified copies under new random names")
    redact.add_argument("files", nargs="+", metavar="FILE")
    redact.add_argument("--out", required=True, metavar="DIR")
    redact.add_argument("--profile", default="default", help=f"one of: {', '.join(available_profiles())}")
    redact.add_argument("--json", action="store_true")
    detect = sub.add_parser("detect", help="print the regions redact would cover")
    detect.add_argument("files", nargs="+", metavar="IMAGE")
    detect.add_argument("--profile", default="default")
    detect.add_argument("--json", action="store_true")
    inspect = sub.add_parser("inspect", help="list identifying metadata tags (names only)")
    inspect.add_argument("files", nargs="+", metavar="FILE")
    inspect.add_argument("--json", action="store_true")
    return parser


def run_redact(args) -> int:
    profile = load_profile(args.profile)  # an unknown profile is a usage error, before any file is touched
    reports = []
    try:
        for name in args.files:
            reports.append(redact_isolated(name, args.out, profile))
            if not args.json:
                print(f"{name}: {_summary(reports[-1])}")
    finally:
        isolation.shut_down()
    if args.json:
        json.dump([report.to_json() for report in reports], sys.stdout, indent=2)
        print()
    return 1 if any(report.error for report in reports) else 0


def redact_isolated(path: str | Path, out_dir: str | Path, profile: str | Profile = "default", *,
                    progress: Callable[[float, str], None] | None = None, memory_bytes: int = REDACT_MEMORY_BYTES,
                    silent_seconds: float = REDACT_SILENT_SECONDS, **options) -> DeidReport:
    """redact_file in a process of its own, limited to `memory_bytes` and killed after `silent_seconds`
    without progress; same arguments and report. If that process failed, the report says why and has no
    output. It writes into a staging folder inside out_dir, removed afterwards, so a killed one leaves
    nothing behind; a verified output is then moved up into out_dir."""
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=out_dir))
    except OSError as exc:
        return _failed(path, profile, options, error_message(exc))
    try:
        report = isolation.run(redact_file, (str(path), str(staging), profile),
                               {**options, "progress": isolation.progress}, memory_bytes=memory_bytes,
                               silent_seconds=silent_seconds, on_progress=progress)
        if report.output:
            final = out_dir.absolute() / Path(report.output).name
            os.replace(report.output, final)
            report.output = str(final)
        return report
    except isolation.Failed as failure:
        return _failed(path, profile, options,
                       f"de-identification stopped on this file ({failure.reason}); nothing was kept")
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _failed(path: str | Path, profile: str | Profile, options: dict, message: str) -> DeidReport:
    """The report of a file that could not be de-identified: `message` says why, never with a path."""
    try:
        stamp = (profile if isinstance(profile, Profile) else load_profile(profile)).stamp()
    except ProfileError:
        stamp = None
    return DeidReport.new(path, stamp, options.get("original_name")).failed(message)


def _summary(report: DeidReport) -> str:
    if report.error:
        return f"ERROR {report.error}"
    if report.kind == "video":
        return f"ok -> {report.output} ({report.frames_with_regions}/{report.frames} frames redacted)"
    return f"ok -> {report.output} ({len(report.regions)} regions)"


def run_detect(args) -> int:
    profile = load_profile(args.profile)
    found, failed = {}, False
    for name in args.files:
        try:
            found[name] = detect_file(name, profile)
        except Exception as exc:  # noqa: BLE001 - `null` for this file, the others are still done
            found[name], failed = None, True
            print(f"{name}: {error_message(exc)}", file=sys.stderr)
    if args.json:
        json.dump(found, sys.stdout)
        print()
    else:
        for name, regions in found.items():
            print(f"{name}: {'unreadable' if regions is None else f'{len(regions)} regions {regions}'}")
    return 1 if failed else 0


def run_inspect(args) -> int:
    entries = [inspect_file(name) for name in args.files]
    if args.json:
        json.dump(entries, sys.stdout, indent=2)
        print()
    else:
        for e in entries:
            tags = ", ".join(f"{t['group']}:{t['tag']}" for t in e["identifying"])
            print(f"{e['path']}: {'ERROR ' + e['error'] if e['error'] else tags or 'no identifying tags'}")
    return 1 if any(e["error"] for e in entries) else 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return {"redact": run_redact, "detect": run_detect, "inspect": run_inspect}[args.command](args)
    except ProfileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
