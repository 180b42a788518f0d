"""Record-keeping commands of `python -m records`:

    users add NAME --role ROLE [--password-stdin]     users list
    audit verify [--json]                             audit log [--limit N] [--json]
    lookup FILE... [--json] [--max-distance D]        takedowns [--json]
    housekeeping [--json]                             migrate

Settings come from VEIL_DATA_DIR, VEIL_DATABASE_URL, VEIL_KEY_FILE (or .streamlit/secrets.toml). Whoever
runs these holds the key file and the database, so the command line acts as the installation's admin
(recorded in the audit log as `cli:<login name>`).
"""
from __future__ import annotations

import argparse
import getpass
import json
import sys
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

from records.models import ROLES


def register(subparsers) -> None:
    users = subparsers.add_parser("users", help="manage the people who may use Veil")
    users_sub = users.add_subparsers(dest="users_command", required=True)
    add = users_sub.add_parser("add", help="add a user (the first user must be an admin)")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.set_defaults(func=_guarded(users_add))
    listing = users_sub.add_parser("list", help="list users and their roles")
    listing.set_defaults(func=_guarded(users_list))

    audit = subparsers.add_parser("audit", help="the hash-chained audit log")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_sub.add_parser("verify", help="check the chain; exit 1 and name the first broken link if not intact")
    verify.add_argument("--json", action="store_true")
    verify.set_defaults(func=_guarded(audit_verify))
    log = audit_sub.add_parser("log", help="print events, newest first")
    log.add_argument("--limit", type=int, default=50)
    log.add_argument("--json", action="store_true")
    log.set_defaults(func=_guarded(audit_log))

    lookup = subparsers.add_parser("lookup", help="find the output, release and consent a file came from")
    lookup.add_argument("files", nargs="+", metavar="FILE")
    lookup.add_argument("--json", action="store_true")
    lookup.add_argument("--max-distance", type=float, default=None,
                        help="largest perceptual-hash distance (of 64 bits) still listed")
    lookup.set_defaults(func=_guarded(lookup_files))

    takedowns = subparsers.add_parser("takedowns", help="releases to take down (their consent was revoked or expired)")
    takedowns.add_argument("--json", action="store_true")
    takedowns.set_defaults(func=_guarded(list_takedowns))

    house = subparsers.add_parser("housekeeping", help="apply retention, expire consents, remove crash leftovers")
    house.add_argument("--json", action="store_true")
    house.set_defaults(func=_guarded(run_housekeeping))

    migrate = subparsers.add_parser("migrate", help="create or upgrade the database schema")
    migrate.set_defaults(func=_guarded(run_migrate))


def cli_actor():
    """The installation's administrator, as whoever runs the command line (audited as `cli:<login name>`)."""
    from records.audit import Actor

    return Actor(None, f"cli:{getpass.getuser()}"[:80], "admin")


class CliError(Exception):
    """Veil cannot open its records; the message says which setting to look at."""


@contextmanager
def _records():
    """The installation's records, opened from the settings (no housekeeping on open) and closed after."""
    records = _open()
    try:
        yield records
    finally:
        records.close()


def _open():
    from sqlalchemy.exc import SQLAlchemyError

    from records.config import ConfigError
    from records.crypto import KeyFileError
    from records.services import open_records

    try:
        return open_records(housekeep=False)
    except (ConfigError, KeyFileError) as exc:
        raise CliError(str(exc)) from None
    except SQLAlchemyError as exc:
        raise CliError(f"cannot open the database (VEIL_DATABASE_URL): {type(exc).__name__}: "
                       f"{str(exc).splitlines()[0][:200]}") from None
    except OSError as exc:
        raise CliError(f"cannot open the data folder (VEIL_DATA_DIR): {exc.strerror} ({exc.filename})") from None


def _guarded(command):
    """Turn a records that cannot be opened into one clear line and exit status 1, not a traceback."""
    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except CliError as exc:
            return fail(f"{args.command}: {exc}")
    run.__name__ = command.__name__
    return run


def fail(message: str, code: int = 1) -> int:
    """Say why on stderr, one line; the exit code."""
    print(message, file=sys.stderr)
    return code


def users_add(args: argparse.Namespace) -> int:
    from records.services import WorkflowError, add_user
    from records.users import UserError

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"Password for {args.username}: ")
        if password != getpass.getpass("Again: "):
            return fail("the passwords differ; nothing was changed")
    with _records() as records:
        try:
            user = add_user(records, cli_actor(), args.username, password, args.role)
        except (UserError, WorkflowError, PermissionError) as exc:
            return fail(f"users add: {exc}")
    print(f"added {user.username} ({user.role})")
    return 0


def users_list(args: argparse.Namespace) -> int:
    from records.services import list_users

    with _records() as records:
        users = list_users(records, cli_actor())
    for user in users:
        print(f"{user['username']}\t{user['role']}\t{'active' if user['active'] else 'disabled'}")
    return 0


def audit_verify(args: argparse.Namespace) -> int:
    from records.services import verify_audit

    with _records() as records:
        verdict = verify_audit(records, cli_actor())
    if args.json:
        print(json.dumps(asdict(verdict)))
    else:
        print(verdict)
    return 0 if verdict.ok else 1


def audit_log(args: argparse.Namespace) -> int:
    from records.services import audit_events

    with _records() as records:
        events = audit_events(records, cli_actor(), limit=args.limit)
    if args.json:
        print(json.dumps(events, indent=2))
    else:
        for e in events:
            print(f"{e['seq']:>6} {e['at']} {e['actor']:<16} {e['action']:<24} {e['subject_id'] or ''}")
    return 0


def lookup_files(args: argparse.Namespace) -> int:
    from records.lookup import MAX_DISTANCE, LookupFailed
    from records.services import find_file

    results, failed = [], False
    with _records() as records:
        for name in args.files:
            path = Path(name)
            try:
                if not path.is_file():
                    raise LookupFailed("file not found")
                found = find_file(records, cli_actor(), path, args.max_distance)
                results.append({"path": found.path, "sha256": found.sha256, "kind": found.kind, "error": None,
                                "exact": found.exact, "matches": [asdict(m) for m in found.matches]})
            except (LookupFailed, OSError) as exc:
                failed = True
                results.append({"path": str(path.absolute()), "error": f"{name}: {exc}", "matches": []})
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for result in results:
            print(_lookup_line(result, MAX_DISTANCE if args.max_distance is None else args.max_distance))
    return 1 if failed else 0


def _lookup_line(result: dict, max_distance: float) -> str:
    if result["error"]:
        return f"ERROR {result['error']}"
    if not result["matches"]:
        return f"{result['path']}: no match (nothing within distance {max_distance:g})"
    lines = [f"{result['path']}:"]
    for m in result["matches"]:
        what = f"{m['what']} {m['output_id'] or m['asset_id'] or m['consent_id']}"
        how = "same file" if m["how"] == "sha256" else f"perceptual distance {m['distance']:g}"
        consent = m["consent"]
        scope = (f"consent {consent['id']} ({consent['status']}, expires {consent['expires'] or 'never'})"
                 if consent else "no consent")
        released = ", ".join(f"{r['platform']} {r['status']}" + (f" takedown {r['takedown']}" if r["takedown"] else "")
                             for r in m["releases"]) or "never released"
        lines.append(f"  {what}: {how}; {scope}; {released}")
    return "\n".join(lines)


def list_takedowns(args: argparse.Namespace) -> int:
    from records.services import takedown_tasks

    with _records() as records:
        tasks = takedown_tasks(records, cli_actor())
    if args.json:
        print(json.dumps([asdict(t) for t in tasks], indent=2))
    else:
        for t in tasks:
            print(f"{t.id}\t{t.platform}\t{t.post_url or '(post address not recorded)'}")
        if not tasks:
            print("no takedowns pending")
    return 0


def run_housekeeping(args: argparse.Namespace) -> int:
    from records.services import housekeeping

    with _records() as records:
        report = housekeeping(records, cli_actor())
    print(json.dumps(report) if args.json else ", ".join(f"{k}: {v}" for k, v in report.items()))
    return 0


def run_migrate(args: argparse.Namespace) -> int:
    from records.models import current_revision

    with _records() as records:
        print(f"database at revision {current_revision(records.db.engine)}")
    return 0
