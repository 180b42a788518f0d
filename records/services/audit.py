"""The audit log as auditors use it: verify the chain, page through events, and look a file up."""
from __future__ import annotations

from pathlib import Path

from records.audit import Actor, Verdict, action_names, count_events, events, verify
from records.lookup import MAX_DISTANCE, LookupResult, fingerprint, match
from records.services.core import Records, WorkflowError, authorize, log_event


def verify_audit(records: Records, actor: Actor) -> Verdict:
    authorize(records, actor, "verify_audit")
    with records.db.reading() as session:
        return verify(session, records.keys)


def audit_events(records: Records, actor: Actor, *, limit: int | None = None, offset: int = 0,
                 **filters) -> list[dict]:
    """One page of events: `limit` of them (all when None) after skipping `offset`; filters are `action`,
    `actions` (any of them), `subject_id`, `subject_prefix` and `newest_first` (default True)."""
    authorize(records, actor, "read_audit")
    if (limit is not None and limit < 0) or offset < 0:
        raise WorkflowError("a page of the audit log needs a limit and an offset of zero or more")
    with records.db.reading() as session:
        return events(session, limit=limit, offset=offset, **filters)


def audit_summary(records: Records, actor: Actor, **filters) -> tuple[int, list[str]]:
    """How many events match `filters` (those of audit_events), and every action the log holds."""
    authorize(records, actor, "read_audit")
    with records.db.reading() as session:
        return count_events(session, **filters), action_names(session)


def find_file(records: Records, actor: Actor, path: Path, max_distance: float | None = None) -> LookupResult:
    """Look a file up (exact, then perceptual); the search itself is audited by its SHA-256."""
    authorize(records, actor, "look_up_files")
    query = fingerprint(Path(path))   # the slow part (decoding), outside the transaction
    with records.transaction() as session:
        result = match(session, query, MAX_DISTANCE if max_distance is None else max_distance)
        log_event(records, session, actor, "lookup", None, None, sha256=result.sha256,
                  matches=[{"what": m.what, "how": m.how, "distance": m.distance, "output_id": m.output_id}
                           for m in result.matches])
        return result
