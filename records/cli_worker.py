"""Work commands of `python -m records`:

    worker [--workers N]      start a pool of warm workers here (default VEIL_WORKERS, else one per core);
                              Ctrl-C or SIGTERM stops them, putting their jobs back in the queue
    jobs [--all] [--json]     the newest jobs and their state (--all: not only the command line's own)

Another machine joins by running `worker` with the same VEIL_DATABASE_URL, VEIL_QUEUE_URL, VEIL_BLOB_URL and
key file (see the README, "Running on several machines").
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import asdict

from records.cli import CliError, _guarded, _records, cli_actor, fail


def register(subparsers) -> None:
    worker = subparsers.add_parser("worker", help="start warm worker processes that do the queued jobs")
    worker.add_argument("--workers", type=int, default=None, help="how many (default: VEIL_WORKERS, else cores)")
    worker.set_defaults(func=_guarded(run_workers))
    jobs = subparsers.add_parser("jobs", help="list the newest jobs and their state")
    jobs.add_argument("--limit", type=int, default=50)
    jobs.add_argument("--json", action="store_true")
    jobs.set_defaults(func=_guarded(list_jobs))


def run_workers(args: argparse.Namespace) -> int:
    from records.config import ConfigError, load_settings
    from deid.runtime import share_cores
    from records.worker import Pool

    if args.workers is not None and args.workers < 1:
        return fail("worker: --workers must be 1 or more", 2)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    try:
        settings = load_settings()
        share_cores(args.workers or settings.worker_count())   # before the workers start: they inherit it
        Pool(settings, args.workers).run()
    except ConfigError as exc:
        raise CliError(str(exc)) from None
    return 0


def list_jobs(args: argparse.Namespace) -> int:
    from records.services.jobs import list_jobs as newest_jobs

    with _records() as records:
        jobs = newest_jobs(records, cli_actor(), everyone=True, limit=args.limit)
    if args.json:
        print(json.dumps([asdict(j) for j in jobs], indent=2))
        return 0
    for j in jobs:
        print(f"{j.id}\t{j.kind}\t{j.state}\t{j.progress:.0%}\t{j.owner or 'system'}\t{j.created_at}\t"
              f"{j.error or j.stage or ''}")
    if not jobs:
        print("no jobs")
    return 0
