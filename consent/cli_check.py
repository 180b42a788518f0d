"""`python -m consent check PDF... [--json]`: judge consent PDFs (contract in DESIGN.md).

Each PDF is read in a child process of its own, under a memory limit and a time limit: the readers
are C code (pdfium, Tesseract), so a hostile file may crash one, or make it allocate gigabytes, and
that must cost only that file's entry, never the other PDFs of the batch.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import select
import signal
import sys
import time
from pathlib import Path

from consent.verdict import Verdict

MEMORY_BYTES = 2 * 1024 ** 3  # address space of one reading (a normal one peaks near 250 MB)
GRACE_SECONDS = 60  # beyond the reader's own time budget, before the child is killed


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
    from consent.check import check_pdf
    from consent.signatures import load_trust_roots

    roots = None
    if args.trust_roots is not None:
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


def check_isolated(path: str, *, trust_roots: list | None = None, use_ocr: bool = True,
                   memory_bytes: int = MEMORY_BYTES, read_seconds: float | None = None,
                   kill_seconds: float | None = None) -> Verdict:
    """check_pdf in a forked child limited to `memory_bytes` of address space. The reader stops
    itself after `read_seconds` (default: its own budget); the child is killed after `kill_seconds`
    (default: that plus a grace period). A child that crashes or is killed gets an error entry.

    Fork (not spawn) keeps the imports already done; the CLI runs no threads, so forking is safe.
    Not for multi-threaded hosts such as the Streamlit server.
    """
    from consent.check import check_pdf, unreadable

    read_seconds, kill_seconds = time_limits(read_seconds, kill_seconds)
    name = Path(path).name
    sys.stdout.flush()
    sys.stderr.flush()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: read, write the verdict as JSON, exit without running the parent's handlers
        code = 70
        try:
            os.close(read_end)
            os.setpgid(0, 0)  # a group of its own, so that its Tesseract runs die with it
            resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
            result = check_pdf(path, trust_roots=trust_roots, use_ocr=use_ocr, seconds=read_seconds)
            with os.fdopen(write_end, "wb") as out:
                out.write(json.dumps(result.to_json()).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    finished = False
    try:
        answer, finished = _read_until(read_end, time.monotonic() + kill_seconds)
    finally:
        os.close(read_end)
        if not finished:  # overran, or the parent was interrupted: end the reading and its Tesseract
            _kill_group(pid)
        _, status, _ = os.wait4(pid, 0)
    if not finished:
        return unreadable(path, f"{name}: reading took longer than {kill_seconds:.0f} s and was stopped; "
                                f"a person must look at it")
    if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
        return Verdict.from_json(json.loads(answer))
    _kill_group(pid)  # a crashed reader may leave a Tesseract run behind
    return unreadable(path, f"{name}: the PDF reader stopped on this file (it crashed, or needed more than "
                            f"{memory_bytes >> 20} MB of memory); a person must look at it")


def time_limits(read_seconds: float | None = None, kill_seconds: float | None = None) -> tuple[float, float]:
    """(read_seconds, kill_seconds) as check_isolated applies them, defaults filled in: for a caller
    that waits on it and must wait at least that long."""
    from consent.pdf import READ_SECONDS

    read_seconds = READ_SECONDS if read_seconds is None else read_seconds
    return read_seconds, (read_seconds + GRACE_SECONDS if kill_seconds is None else kill_seconds)


def _read_until(fd: int, deadline: float) -> tuple[bytes, bool]:
    """Everything written to fd until it closes: (bytes, True), or (bytes so far, False) at the deadline."""
    chunks = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return b"".join(chunks), False
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return b"".join(chunks), True
        chunks.append(chunk)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


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
