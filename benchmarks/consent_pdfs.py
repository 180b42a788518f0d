"""Run the consent checker over ../shared/data/pdfs/ and print a table of its answers.

    .venv/bin/python -m benchmarks.consent_pdfs [FOLDER] [--markdown]

One row per PDF: folder/file, social_media, text_source, signed, signature_valid, error, seconds;
then the count of "covered" verdicts (the bar for these blank or unrelated real forms: zero) and
the total time. Figures go into the issue note; tests never time anything.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from consent.check import check_pdf

DEFAULT = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "pdfs"
COLUMNS = ("file", "social_media", "text_source", "signed", "signature_valid", "error", "s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args(argv)
    pdfs = sorted(args.folder.rglob("*.pdf"))
    if not pdfs:
        print(f"no PDFs under {args.folder}", file=sys.stderr)
        return 2
    rows, started = [], time.perf_counter()
    for pdf in pdfs:
        t0 = time.perf_counter()
        result = check_pdf(pdf)
        rows.append({
            "file": str(pdf.relative_to(args.folder)),
            "social_media": result.social_media,
            "text_source": result.text_source,
            "signed": _show(result.signed),
            "signature_valid": _show(result.signature_valid),
            "error": result.error or "",
            "s": f"{time.perf_counter() - t0:.2f}",
        })
    total = time.perf_counter() - started
    _print(rows, args.markdown)
    covered = sum(r["social_media"] == "covered" for r in rows)
    print(f"\n{len(rows)} PDFs, {covered} judged covered, {total:.1f} s in all")
    return 0


def _show(value) -> str:
    return "null" if value is None else str(value).lower()


def _print(rows: list[dict], markdown: bool) -> None:
    if markdown:
        print("| " + " | ".join(COLUMNS) + " |")
        print("|" + "|".join("---" for _ in COLUMNS) + "|")
        for row in rows:
            print("| " + " | ".join(row[c] for c in COLUMNS) + " |")
        return
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in COLUMNS}
    print("  ".join(c.ljust(widths[c]) for c in COLUMNS))
    for row in rows:
        print("  ".join(row[c].ljust(widths[c]) for c in COLUMNS))


if __name__ == "__main__":
    sys.exit(main())
