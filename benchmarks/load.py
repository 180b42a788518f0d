"""Several people working at once on one SQLite database: throughput and latency.

    python benchmarks/load.py [--workers 1 2 4 8] [--items 3] [--threads 1] [--keep DIR]

Each worker is an OS process (multiprocessing, spawn) with its own open records, as each Streamlit server
process has; inside it, `--threads` writer threads each act as their own staff and marketing user and walk
`--items` photos from consent to release (register and confirm a consent, upload, confirm the patient,
process, confirm the review, request and approve the release), while one reader thread per process acts as
an auditor (audit log pages, release and output lists, a file look-up, now and then a chain verification).
Afterwards `check_records` proves every expected row exists exactly once and the audit chain holds the
right number of events. Prints items per second and latency percentiles per action for each worker count.

The same scenario, untimed and smaller, is the load test (tests/test_load.py).
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import queue
import shutil
import statistics
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

PASSWORD = "load-scenario-password"
# the audit events one item leaves behind, from consent to release
ITEM_EVENTS = ("consent.registered", "consent.confirmed", "media.uploaded", "media.patient_confirmed",
               "output.created", "output.reviewed", "release.requested", "release.allowed",
               "media.original_deleted")
JOIN_LIMIT = 600   # seconds a worker may take before it counts as hung
WRITE_ACTIONS = ("register consent", "confirm scope", "upload", "confirm patient", "process", "confirm review",
                 "request release", "approve release")
READ_ACTIONS = ("audit page", "list releases", "list outputs", "look up", "verify chain")


@dataclass(frozen=True)
class Plan:
    base: str                 # the folder holding data/, keys/ and each worker's scratch folder
    processes: int
    threads: int
    items: int
    timed: bool = False       # the benchmark measures latencies; the test does not

    def settings(self):
        from records.config import load_settings

        base = Path(self.base)
        return load_settings(env={"VEIL_DATA_DIR": str(base / "data"), "VEIL_KEY_FILE": str(base / "keys" / "k.json")},
                             secrets_file=base / "no-secrets.toml")


def staff_name(p: int, t: int) -> str:
    return f"staff-{p}-{t}"


def marketing_name(p: int, t: int) -> str:
    return f"marketing-{p}-{t}"


def auditor_name(p: int) -> str:
    return f"auditor-{p}"


@dataclass
class WorkerResult:
    process: int
    items: list[dict] = field(default_factory=list)     # ids of the rows each finished item created
    errors: list[str] = field(default_factory=list)     # every exception a caller saw, with its traceback
    events: Counter = field(default_factory=Counter)    # audit events this worker's calls should have left
    latencies: dict[str, list[float]] = field(default_factory=dict)
    started: float = 0.0
    finished: float = 0.0


# -- set-up (parent) ---------------------------------------------------------------------------------------
def prepare(plan: Plan) -> int:
    """Create the records and the people; returns the number of audit events already in the chain."""
    from records import services as sv
    from records.audit import SYSTEM

    records = sv.open_records(plan.settings())
    try:
        admin = sv.add_user(records, SYSTEM, "admin", PASSWORD, "admin")
        for p in range(plan.processes):
            sv.add_user(records, admin, auditor_name(p), PASSWORD, "auditor")
            for t in range(plan.threads):
                sv.add_user(records, admin, staff_name(p, t), PASSWORD, "staff")
                sv.add_user(records, admin, marketing_name(p, t), PASSWORD, "marketing")
        return sv.verify_audit(records, admin).events
    finally:
        records.close()


def consent_pdf(label: str) -> bytes:
    """A one-page consent that grants social-media use, shows the face, and is signed."""
    from fpdf import FPDF

    pdf = FPDF(unit="pt", format="letter")
    pdf.set_font("Helvetica", size=12)
    pdf.add_page()
    for line in ("Photo and video consent", f"Patient reference: {label}",
                 "I authorize the clinic to post my before-and-after photographs on social media.",
                 "The photographs may show my face.", "This authorization expires on 2030-12-31.",
                 f"Signature: Patient {label}     Date: 2025-01-02"):
        pdf.multi_cell(0, 15, line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def photo(path: Path, seed: int, size=(320, 240)) -> Path:
    """A faceless photo in smooth colours, different for each seed."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size[1], 0:size[0]]
    channels = [127 + 120 * np.sin(xx / size[0] * rng.uniform(1, 4) * 6.28 + rng.uniform(0, 6.28))
                * np.cos(yy / size[1] * rng.uniform(1, 4) * 6.28) for _ in range(3)]
    Image.fromarray(np.stack(channels, -1).astype(np.uint8)).save(path, "JPEG", quality=92)
    return path


# -- one worker process ------------------------------------------------------------------------------------
class _Calls:
    """Calls services, noting each failure (with traceback) and, when timed, each call's latency."""

    def __init__(self, result: WorkerResult, timed: bool):
        self.result, self.timed, self.lock = result, timed, threading.Lock()

    def __call__(self, action: str, fn, *args, **kwargs):
        begun = time.perf_counter() if self.timed else 0.0
        try:
            value = fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - every failure a caller would see is the finding
            with self.lock:
                self.result.errors.append(f"{action}: {type(exc).__name__}: {exc}\n{traceback.format_exc()}")
            exc.noted = True
            raise
        if self.timed:
            with self.lock:
                self.result.latencies.setdefault(action, []).append(time.perf_counter() - begun)
        return value

    def count(self, *actions: str) -> None:
        with self.lock:
            self.result.events.update(actions)


def _walk_items(records, plan: Plan, p: int, t: int, scratch: Path, call: _Calls) -> None:
    from records import services as sv

    staff = call("sign in", sv.authenticate, records, staff_name(p, t), PASSWORD)
    marketing = call("sign in", sv.authenticate, records, marketing_name(p, t), PASSWORD)
    call.count("user.login", "user.login")
    for i in range(plan.items):
        label = f"LOAD-{p}-{t}-{i}"
        begun = time.perf_counter() if plan.timed else 0.0
        consent = call("register consent", sv.register_consent, records, staff, consent_pdf(label),
                       f"Patient {label}", label)
        call("confirm scope", sv.confirm_scope, records, marketing, consent.id, covers_social_media=True,
             identifiable="allowed", signature_attested=True)
        source = photo(scratch / f"{label}.jpg", seed=(p * 100 + t) * 100 + i)
        asset = call("upload", sv.upload_media, records, staff, source, f"{label}.jpg", consent.id)
        call("confirm patient", sv.confirm_patient, records, staff, asset.id)
        output = call("process", sv.process, records, staff, asset.id)
        if output.error:
            raise RuntimeError(f"processing {label} failed: {output.error}")
        call("confirm review", sv.mark_reviewed, records, staff, output.id)
        release = call("request release", sv.request_release, records, staff, output.id, "instagram")
        decision = call("approve release", sv.approve_release, records, marketing, release.id)
        if not decision.allowed:
            raise RuntimeError(f"release of {label} refused: {decision.as_dict()}")
        call.count(*ITEM_EVENTS)
        if plan.timed:
            call.result.latencies.setdefault("whole item", []).append(time.perf_counter() - begun)
        with call.lock:
            call.result.items.append({"label": label, "consent": consent.id, "asset": asset.id,
                                      "output": output.id, "release": release.id})


def _read_while(records, p: int, query: Path, writing: threading.Event, call: _Calls) -> None:
    """An auditor reading while the others write; at least three rounds, then until the writers finish."""
    from records import services as sv

    auditor = call("sign in", sv.authenticate, records, auditor_name(p), PASSWORD)
    call.count("user.login")
    rounds = 0
    while rounds < 3 or writing.is_set():
        call("audit page", sv.audit_events, records, auditor, limit=25)
        call("list releases", sv.list_releases, records, auditor)
        call("list outputs", sv.list_outputs, records, auditor)
        call("look up", sv.find_file, records, auditor, query)
        call.count("lookup")
        if rounds % 4 == 2:   # the third round at least (readers do three rounds or more)
            call("verify chain", sv.verify_audit, records, auditor)
        rounds += 1


def worker(plan: Plan, p: int, barrier, results) -> None:
    """One OS process: its writer threads and its reader thread share one open records, as a Streamlit
    server's sessions do."""
    from records import services as sv
    from records.sandbox import redact_in_sandbox

    result = WorkerResult(p)
    call = _Calls(result, plan.timed)
    scratch = Path(plan.base) / f"scratch-{p}"
    scratch.mkdir()
    try:
        records = sv.open_records(plan.settings())
    except Exception:  # noqa: BLE001
        result.errors.append(f"open records: {traceback.format_exc()}")
        barrier.abort()
        results.put(result)
        return
    try:
        query = photo(scratch / "query.jpg", seed=10_000 + p)
        redact_in_sandbox(query, scratch / "warm-up", "default")   # start the fork server before the clock
        barrier.wait()
        result.started = time.time()
        writing = threading.Event()
        writing.set()
        writers = [threading.Thread(target=_swallow, args=(_walk_items, records, plan, p, t, scratch, call))
                   for t in range(plan.threads)]
        reader = threading.Thread(target=_swallow, args=(_read_while, records, p, query, writing, call))
        for thread in [*writers, reader]:
            thread.start()
        for thread in writers:
            thread.join()
        writing.clear()
        reader.join()
        result.finished = time.time()
    except Exception:  # noqa: BLE001
        result.errors.append(f"worker {p}: {traceback.format_exc()}")
    finally:
        records.close()
        results.put(result)


def _swallow(fn, *args) -> None:
    """Run a thread's part; its failures are already in the result (a thread must not die noisily)."""
    call = args[-1]
    try:
        fn(*args)
    except Exception as exc:  # noqa: BLE001
        with call.lock:
            if not getattr(exc, "noted", False):
                call.result.errors.append(f"{fn.__name__}: {type(exc).__name__}: {exc}\n{traceback.format_exc()}")


def run(plan: Plan) -> list[WorkerResult]:
    """Start the worker processes together; returns their results (a hung worker is killed and reported)."""
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(plan.processes), ctx.Queue()
    procs = [ctx.Process(target=worker, args=(plan, p, barrier, results)) for p in range(plan.processes)]
    for proc in procs:
        proc.start()
    collected: list[WorkerResult] = []
    deadline = time.monotonic() + JOIN_LIMIT
    while len(collected) < plan.processes:
        try:
            collected.append(results.get(timeout=max(1.0, deadline - time.monotonic())))
        except queue.Empty:
            break
    for proc in procs:
        proc.join(timeout=max(1.0, deadline - time.monotonic()))
        if proc.is_alive():
            proc.kill()
            proc.join()
    done = {r.process for r in collected}
    collected += [WorkerResult(p, errors=[f"worker {p} hung or died (exit code {procs[p].exitcode})"])
                  for p in range(plan.processes) if p not in done]
    return sorted(collected, key=lambda r: r.process)


# -- what must hold afterwards -----------------------------------------------------------------------------
def check_records(plan: Plan, results: list[WorkerResult], events_before: int) -> list[str]:
    """Every item's rows exist exactly once and are complete; the chain verifies and holds exactly the
    events the calls made. Returns the problems found (none is the goal)."""
    from sqlalchemy import func, select

    from records import services as sv
    from records.audit import SYSTEM
    from records.models import Asset, AuditEvent, Consent, Output, Release

    items = [item for r in results for item in r.items]
    expected = Counter()
    for r in results:
        expected.update(r.events)
    problems = []
    records = sv.open_records(plan.settings(), housekeep=False)
    try:
        with records.db.reading() as session:
            for model, key in ((Consent, "consent"), (Asset, "asset"), (Output, "output"), (Release, "release")):
                ids = list(session.scalars(select(model.id)))
                wanted = [item[key] for item in items]
                if sorted(ids) != sorted(wanted):
                    problems.append(f"{model.__tablename__}: {len(ids)} rows for {len(wanted)} items (missing "
                                    f"{set(wanted) - set(ids) or 'none'}, extra {set(ids) - set(wanted) or 'none'})")
            for item in items:
                release = session.get(Release, item["release"])
                asset = session.get(Asset, item["asset"])
                output = session.get(Output, item["output"])
                if release is None or asset is None or output is None:
                    continue   # reported above
                if (release.status, release.output_id, release.consent_id) != ("released", output.id, item["consent"]) \
                        or release.decided_by is None or release.decided_at is None:
                    problems.append(f"{item['label']}: release row incomplete or wrong")
                if output.asset_id != asset.id or output.blob is None or not records.store.exists(output.blob):
                    problems.append(f"{item['label']}: output row without its blob")
                if asset.original_blob is not None or asset.original_deleted_at is None:
                    problems.append(f"{item['label']}: the released original was not deleted")
            counted = Counter(dict(session.execute(select(AuditEvent.action, func.count())
                                                   .group_by(AuditEvent.action)).all()))
        for action in sorted((set(expected) | set(counted)) - {"user.added"}):   # users were added in prepare
            if counted[action] != expected[action]:
                problems.append(f"audit: {counted[action]} {action} events, expected {expected[action]}")
        with records.db.reading() as session:
            referenced = sv.referenced_blobs(session)
        stored = set(records.store.addresses())
        if stored != referenced:
            problems.append(f"blobs: {len(referenced - stored)} referenced but missing, "
                            f"{len(stored - referenced)} stored but referenced by nothing")
        leftovers = list(records.store.root.glob("*/.tmp-*")) + list(records.settings.work_dir.iterdir())
        if leftovers:
            problems.append(f"{len(leftovers)} temporary files or work folders left behind")
        verdict = sv.verify_audit(records, SYSTEM)
        if not verdict.ok:
            problems.append(f"audit: {verdict}")
        if verdict.events != events_before + sum(expected.values()):
            problems.append(f"audit: {verdict.events} events, expected {events_before} + {sum(expected.values())}")
    finally:
        records.close()
    return problems


# -- the benchmark ------------------------------------------------------------------------------------------
def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--items", type=int, default=3, help="items per writer thread")
    parser.add_argument("--threads", type=int, default=1, help="writer threads per worker process")
    parser.add_argument("--keep", type=Path, help="keep each run's data folder under this folder")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs; each worker: {args.threads} writer thread(s) x {args.items} items + 1 reader")
    header = (f"{'workers':>7} {'items':>5} {'wall s':>7} {'items/s':>7} {'item p50':>8} {'item p95':>8} "
              f"{'write p50':>9} {'write p95':>9} {'write max':>9} {'read p50':>8} {'read p95':>8} {'errors':>6}")
    rows, per_action = [header], {}
    for n in args.workers:
        base = Path(tempfile.mkdtemp(prefix=f"veil-load-{n}-", dir=args.keep))
        plan = Plan(str(base), processes=n, threads=args.threads, items=args.items, timed=True)
        before = prepare(plan)
        results = run(plan)
        problems = check_records(plan, results, before)
        errors = [e for r in results for e in r.errors]
        wall = max(r.finished for r in results) - min(r.started for r in results) if not errors else float("nan")
        lat = {}
        for r in results:
            for action, values in r.latencies.items():
                lat.setdefault(action, []).extend(values)
        writes = [v for a, vs in lat.items() if a in WRITE_ACTIONS for v in vs]
        reads = [v for a, vs in lat.items() if a in READ_ACTIONS for v in vs]
        count = sum(len(r.items) for r in results)
        items_ = lat.get("whole item", [float("nan")])
        rows.append(f"{n:>7} {count:>5} {wall:>7.1f} {count / wall:>7.2f} {statistics.median(items_):>8.2f} "
                    f"{_pct(items_, .95):>8.2f} {statistics.median(writes):>9.3f} {_pct(writes, .95):>9.3f} "
                    f"{max(writes):>9.3f} {statistics.median(reads):>8.3f} {_pct(reads, .95):>8.3f} "
                    f"{len(errors) + len(problems):>6}")
        per_action[n] = lat
        for line in errors + problems:
            print(f"  workers={n}: {line}", file=sys.stderr)
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    print("\n".join(rows))
    print("\nper action, p50 / p95 seconds:")
    actions = sorted({a for lat in per_action.values() for a in lat})
    print(f"{'action':<18}" + "".join(f"{f'{n} workers':>18}" for n in per_action))
    for action in actions:
        cells = []
        for lat in per_action.values():
            values = lat.get(action)
            cells.append(f"{statistics.median(values):>8.3f} / {_pct(values, .95):<7.3f}" if values else f"{'-':>18}")
        print(f"{action:<18}" + "".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
