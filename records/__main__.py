"""`python -m records ...`: users, audit, look-up, takedowns, housekeeping, migrations, backup and restore,
workers and jobs."""
from __future__ import annotations

import argparse
import sys

from records import cli, cli_backup, cli_worker


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m records", description="Veil's system of record")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module in (cli, cli_backup, cli_worker):   # each sets `func` on its parsers, returning an exit code
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
