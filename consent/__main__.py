"""`python -m consent ...`: one sub-command module per concern, each registering itself here."""
from __future__ import annotations

import argparse
import importlib
import sys

# Each module exposes `register(subparsers)`; it sets `func` on its parsers, returning an exit code.
COMMAND_MODULES = ("consent.cli_check", "consent.cli_records", "consent.cli_backup")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m consent", description="Veil consent documents and records")
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
