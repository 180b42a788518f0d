"""`python -m consent check PDF... [--json]`: judge consent PDFs (contract in DESIGN.md)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


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
    results = [check_pdf(path, trust_roots=roots, use_ocr=not args.no_ocr) for path in args.pdfs]
    if args.json:
        json.dump(results, sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        for result in results:
            print(summary_line(result))
    return 1 if any(r["error"] for r in results) else 0


def summary_line(result: dict) -> str:
    if result["error"]:
        return f"{result['path']}: ERROR {result['error']} -> social media unclear"
    scope = result["social_media"]
    if scope == "covered":
        scope += f" ({', '.join(result['platforms']) or 'any platform'})"
    if result["excluded_platforms"]:
        scope += f" except {', '.join(result['excluded_platforms'])}"
    parts = [scope, f"identifiable {result['identifiable']}"]
    if result["expires"] or result["expires_event"]:
        parts.append(f"expires {result['expires'] or result['expires_event']}")
    parts.append({True: "signed", False: "NOT signed", None: "signature: check by eye"}[result["signed"]])
    if result["signature_valid"] is not None:
        parts.append("signature intact" if result["signature_valid"] else "SIGNATURE NOT INTACT")
    parts.append(f"text from {result['text_source']}")
    return f"{result['path']}: " + "; ".join(parts)
