"""`python -m consent check PDF... [--json]`: read and judge consent documents (contract in DESIGN.md).
The record-keeping commands live in `python -m records`."""
import argparse
import sys

from consent import cli_check

if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m consent", description="Veil consent documents")
    cli_check.register(parser.add_subparsers(dest="command", required=True))
    arguments = parser.parse_args()
    sys.exit(arguments.func(arguments))
