"""The consent judge measured: on the labelled wording corpus, then on ../shared/data/pdfs/.

    .venv/bin/python -m benchmarks.consent_pdfs [FOLDER] [--markdown] [--corpus-only]

First the corpus (tests/consent_wordings.toml, judged as text through consent.scope): the share of
verdicts right on all four labels (social_media, platforms, excluded_platforms, identifiable), the
confusion table of social_media, precision and recall of "covered", the right share per category
and every wrong verdict. Then one row per real PDF: folder/file, social_media, text_source, signed,
signature_valid, error, seconds; the count of "covered" verdicts (the bar for these blank or
unrelated real forms: zero) and the total time. Figures go into the issue note; tests never time
anything.
"""
from __future__ import annotations

import argparse
import sys
import time
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from consent.check import check_pdf
from consent.scope import judge

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT.parent / "shared" / "data" / "pdfs"
CORPUS = ROOT / "tests" / "consent_wordings.toml"
COLUMNS = ("file", "social_media", "text_source", "signed", "signature_valid", "error", "s")
VERDICTS = ("covered", "not_covered", "unclear")
LABELS = ("social_media", "platforms", "excluded_platforms", "identifiable")


@dataclass
class Judged:
    wording: dict  # the corpus entry: id, category, text and the four labels
    got: dict  # the four labels the judge gave

    @property
    def right(self) -> bool:
        return all(self.got[k] == self.wording[k] for k in LABELS)

    @property
    def false_covered(self) -> bool:
        return self.got["social_media"] == "covered" and self.wording["social_media"] != "covered"


def load_wordings(path: Path = CORPUS) -> list[dict]:
    with open(path, "rb") as handle:
        return tomllib.load(handle)["wording"]


def judge_text(text: str) -> dict:
    """The four labels for a wording judged as the text of one page."""
    result = judge([(1, text.strip("\n"), "text")])
    return {"social_media": result.social_media, "platforms": result.platforms,
            "excluded_platforms": result.excluded_platforms, "identifiable": result.identifiable}


def judge_corpus(wordings: list[dict]) -> list[Judged]:
    return [Judged(w, judge_text(w["text"])) for w in wordings]


def confusion(judged: list[Judged]) -> dict[tuple[str, str], int]:
    """(expected, got) social_media -> count."""
    return Counter((j.wording["social_media"], j.got["social_media"]) for j in judged)


def covered_precision_recall(judged: list[Judged]) -> tuple[float, float]:
    said = [j for j in judged if j.got["social_media"] == "covered"]
    truly = [j for j in judged if j.wording["social_media"] == "covered"]
    hits = [j for j in said if j.wording["social_media"] == "covered"]
    return (len(hits) / len(said) if said else 1.0), (len(hits) / len(truly) if truly else 1.0)


def report_corpus(judged: list[Judged]) -> None:
    right = sum(j.right for j in judged)
    print(f"Wording corpus: {len(judged)} wordings, {right} right on all four labels "
          f"({100 * right / len(judged):.1f} %), {sum(j.false_covered for j in judged)} false \"covered\"")
    table = confusion(judged)
    print("\nexpected \\ judged  " + "  ".join(f"{v:>11}" for v in VERDICTS))
    for expected in VERDICTS:
        print(f"{expected:<18} " + "  ".join(f"{table[(expected, got)]:>11}" for got in VERDICTS))
    precision, recall = covered_precision_recall(judged)
    print(f"\n\"covered\": precision {precision:.3f}, recall {recall:.3f}")
    print("\nright per category:")
    for category in sorted({j.wording["category"] for j in judged}):
        group = [j for j in judged if j.wording["category"] == category]
        print(f"  {category:<14} {sum(j.right for j in group):>3} / {len(group)}")
    wrong = [j for j in judged if not j.right]
    if wrong:
        print("\nwrong:")
    for j in wrong:
        diff = ", ".join(f"{k} {j.wording[k]} -> {j.got[k]}" for k in LABELS if j.got[k] != j.wording[k])
        print(f"  {j.wording['id']}: {diff}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument("--corpus-only", action="store_true", help="only the wording corpus")
    args = parser.parse_args(argv)
    report_corpus(judge_corpus(load_wordings()))
    if args.corpus_only:
        return 0
    print()
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
