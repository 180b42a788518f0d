"""`python -m deid redact|detect|inspect`: the stable command-line contract of DESIGN.md.

`redact` de-identifies the files in worker processes, one per core (VEIL_WORKERS to change), each loading the
models and starting ExifTool once (`deid.isolated.redact_batch`); reports come in the files' order. A decoder
that crashes, runs out of memory or hangs on one file costs that file its output, never the rest of the batch
(a fresh worker takes the files after it).
"""
from __future__ import annotations

import argparse
import json
import sys

import isolation
from deid.isolated import batch_workers, redact_batch
from deid.profile import ProfileError, available_profiles, load_profile
from deid.report import DeidReport
from deid.runtime import share_cores


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
    share_cores(batch_workers(len(args.files)))   # before the workers' server starts: they inherit it
    isolation.start_server()   # the worker's server imports the engine meanwhile; this process never needs it
    names = iter(args.files)

    def said(report: DeidReport) -> None:
        if not args.json:
            print(f"{next(names)}: {_summary(report)}", flush=True)

    try:
        reports = redact_batch(args.files, args.out, profile, on_report=said)
    finally:
        isolation.shut_down()
    if args.json:
        json.dump([report.to_json() for report in reports], sys.stdout, indent=2)
        print()
    return 1 if any(report.error for report in reports) else 0


def _summary(report: DeidReport) -> str:
    if report.error:
        return f"ERROR {report.error}"
    if report.kind == "video":
        return f"ok -> {report.output} ({report.frames_with_regions}/{report.frames} frames redacted)"
    kinds = report.region_kinds
    return (f"ok -> {report.output} ({len(report.regions)} regions: {kinds.count('face')} face, "
            f"{len(kinds) - kinds.count('face')} text, code or drawn)")


def run_detect(args) -> int:
    from deid.api import detect_file, error_message

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
    from deid.api import inspect_file

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
