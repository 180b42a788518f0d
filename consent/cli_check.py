"""`python -m consent check PDF... [--json]`: judge consent PDFs (contract in DESIGN.md).

Each PDF is read in a process of its own (the isolation seam), under a memory limit and a time limit:
the readers are C code (pdfium, Tesseract), so a hostile file may crash one, or make it allocate
gigabytes, and that must cost only that file's entry, never the other PDFs of the batch.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import isolation
from consent.limits import READ_SECONDS
from consent.verdict import Verdict

MEMORY_BYTES = 2 * 1024 ** 3  # address space of one reading (a normal one peaks near 250 MB)
GRACE_SECONDS = 60  # beyond the reader's own time budget, before the reading is killed
# imported once by the fork server the readings are forked from, not by each reading
isolation.preload("consent.check", "consent.cli_check")


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "check", help="read consent PDFs and judge whether each explicitly covers social media",
        description="Read consent PDFs and judge, with quoted evidence, whether each explicitly covers "
                    "social-media use. Exit 0 when every PDF was read, 1 when any could not be.")
    parser.add_argument("pdfs", nargs="+", metavar="PDF", help="consent PDF files")
    parser.add_argument("--json", action="store_true", help="print one JSON array, one object per PDF")
    parser.add_argument("--trust-roots", metavar="PEM", type=Path,
                        help="certificates (PEM bundle) trusted as signers; without it no signer is trusted")
    parser.add_argument("--no-ocr", action="store_true", help="do not OCR image-only pages")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    isolation.start_server()   # it imports the reader while this process imports what it needs
    try:
        return _check_all(args)
    finally:
        isolation.shut_down()


def _check_all(args: argparse.Namespace) -> int:
    roots = None
    if args.trust_roots is not None:
        # imported only here: pyHanko's import is the fork server's, this process needs only the certificates
        from consent.signatures import load_trust_roots

        try:
            roots = load_trust_roots(args.trust_roots.read_bytes())
        except (OSError, ValueError) as exc:
            print(f"--trust-roots {args.trust_roots}: cannot load certificates ({exc})", file=sys.stderr)
            return 2
    results = [check_isolated(path, trust_roots=roots, use_ocr=not args.no_ocr) for path in args.pdfs]
    if args.json:
        json.dump([result.to_json() for result in results], sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        for result in results:
            print(summary_line(result))
    return 1 if any(r.error for r in results) else 0


def check_isolated(path: str | Path, *, trust_roots: list[bytes] | None = None, use_ocr: bool = True,
                   memory_bytes: int = MEMORY_BYTES, read_seconds: float | None = None,
                   kill_seconds: float | None = None) -> Verdict:
    """check_pdf in a process of its own (the isolation seam) limited to `memory_bytes` of address space.
    The reader stops itself after `read_seconds` (default: its own budget); the process is killed after
    `kill_seconds` (default: that plus a grace period). A process that crashes, runs out of memory or is
    killed gets an error entry naming the file and the reason. `trust_roots`: DER certificates (as
    consent.signatures.load_trust_roots gives them). Safe from a multi-threaded host (the app)."""
    read_seconds = READ_SECONDS if read_seconds is None else read_seconds
    kill_seconds = read_seconds + GRACE_SECONDS if kill_seconds is None else kill_seconds
    options = {"trust_roots": list(trust_roots or []), "use_ocr": use_ocr, "seconds": read_seconds}
    try:
        return isolation.run(_check_pdf, (str(path),), options, memory_bytes=memory_bytes, total_seconds=kill_seconds)
    except isolation.Overran:
        return _unreadable(path, f"reading took longer than {kill_seconds:.0f} s and was stopped")
    except isolation.Failed as failure:
        return _unreadable(path, f"the PDF reader stopped on this file ({failure.reason})")


def _unreadable(path: str | Path, why: str) -> Verdict:
    # imported here: the judge's modules are the fork server's to load; this process needs them only for this
    from consent.check import unreadable

    return unreadable(path, f"{Path(path).name}: {why}; a person must look at it")


def _check_pdf(path: str, **options) -> Verdict:
    """check_pdf in the reading process (imported there: the fork server has it loaded already)."""
    from consent.check import check_pdf

    return check_pdf(path, **options)


def summary_line(result: Verdict) -> str:
    if result.error:
        return f"{result.path}: ERROR {result.error} -> social media unclear"
    scope = result.social_media
    if scope == "covered":
        scope += f" ({', '.join(result.platforms) or 'any platform'})"
    if result.excluded_platforms:
        scope += f" except {', '.join(result.excluded_platforms)}"
    parts = [scope, f"identifiable {result.identifiable}"]
    if result.expires or result.expires_event:
        parts.append(f"expires {result.expires or result.expires_event}")
    parts.append({True: "signed", False: "NOT signed", None: "signature: check by eye"}[result.signed])
    if result.signature_valid is not None:
        parts.append("signature intact" if result.signature_valid else "SIGNATURE NOT INTACT")
    parts.append(f"text from {result.text_source}")
    return f"{result.path}: " + "; ".join(parts)
