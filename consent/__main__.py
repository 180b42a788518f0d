"""`python -m consent check PDF... [--json]`: read and judge consent documents (contract in DESIGN.md).
The record-keeping commands live in `python -m records`."""
from __future__ import annotations

import argparse
import sys

from consent import cli_check


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m consent", description="Veil consent documents")
    cli_check.register(parser.add_subparsers(dest="command", required=True))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
