"""The audit ledger: append-only events, each holding the hash of the one before it.

An event's `hash` is the SHA-256 of its canonical form (sequence number, time, actor, action, subject,
details, previous hash), so changing any column, removing an event or swapping two breaks the chain at
that point. Each hash is also sealed with the installation's MAC key: someone who edits the database and
recomputes the plain hashes still cannot forge the seals. The head row records where the chain ends,
sealed too, so events cut off the end show. `verify` names the first broken link.

Events hold ids, hashes, verdicts and reasons, never PHI (no patient name, no original file name).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from records.crypto import Keys
from records.models import AuditEvent, AuditHead, utcnow

GENESIS = "0" * 64
HEAD_ID = 1


@dataclass(frozen=True)
class Actor:
    """Who acts: a signed-in user, or the command line / housekeeping acting for the installation."""

    id: str | None
    username: str
    role: str


SYSTEM = Actor(None, "system", "admin")


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)


def event_hash(seq: int, at: str, actor: str, actor_id: str | None, action: str, subject_kind: str | None,
               subject_id: str | None, details: str, prev_hash: str) -> str:
    body = canonical([seq, at, actor, actor_id, action, subject_kind, subject_id, details, prev_hash])
    return hashlib.sha256(body.encode("ascii")).hexdigest()


def _row_seal_input(seq: int, digest: str) -> bytes:
    return f"veil/audit/event\0{seq}\0{digest}".encode()


def _head_seal_input(seq: int, digest: str) -> bytes:
    return f"veil/audit/head\0{seq}\0{digest}".encode()


def ensure_head(session: Session, keys: Keys) -> None:
    """Create the sealed head of an empty chain (once, at first start)."""
    if session.get(AuditHead, HEAD_ID) is None:
        session.add(AuditHead(id=HEAD_ID, seq=0, hash=GENESIS, seal=keys.seal(_head_seal_input(0, GENESIS))))
        session.flush()


def append(session: Session, keys: Keys, actor: Actor, action: str, subject_kind: str | None = None,
           subject_id: str | None = None, /, **details: Any) -> AuditEvent:
    """Add one event in the caller's transaction: it commits with the change it describes, or not at all."""
    head = session.get(AuditHead, HEAD_ID, with_for_update=True)   # PostgreSQL: one writer extends the chain
    if head is None:
        ensure_head(session, keys)
        head = session.get(AuditHead, HEAD_ID, with_for_update=True)
    seq = head.seq + 1
    at = utcnow().isoformat(timespec="microseconds")
    text = canonical(details)
    digest = event_hash(seq, at, actor.username, actor.id, action, subject_kind, subject_id, text, head.hash)
    event = AuditEvent(seq=seq, at=at, actor=actor.username, actor_id=actor.id, action=action,
                       subject_kind=subject_kind, subject_id=subject_id, details=text, prev_hash=head.hash,
                       hash=digest, seal=keys.seal(_row_seal_input(seq, digest)))
    session.add(event)
    head.seq, head.hash, head.seal = seq, digest, keys.seal(_head_seal_input(seq, digest))
    session.flush()
    return event


@dataclass(frozen=True)
class Verdict:
    ok: bool
    events: int
    broken_at: int | None = None     # sequence number of the first broken link
    reason: str | None = None

    def __str__(self) -> str:
        if self.ok:
            return f"audit chain intact: {self.events} events"
        return f"audit chain BROKEN at event {self.broken_at}: {self.reason}"


def verify(session: Session, keys: Keys) -> Verdict:
    """Walk the chain in sequence order; stop at the first event that does not hold."""
    previous, expected, count = GENESIS, 1, 0
    for event in session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).yield_per(1000):
        if event.seq != expected:
            return Verdict(False, count, expected, f"event {expected} is missing (the next one is {event.seq}): "
                                                   "events were deleted")
        if event.prev_hash != previous:
            return Verdict(False, count, event.seq, "it does not link to the event before it: an event before it "
                                                    "was removed, replaced or moved")
        digest = event_hash(event.seq, event.at, event.actor, event.actor_id, event.action, event.subject_kind,
                            event.subject_id, event.details, event.prev_hash)
        if digest != event.hash:
            return Verdict(False, count, event.seq, "its contents do not match its hash: it was edited or moved")
        if not keys.seal_holds(event.seal, _row_seal_input(event.seq, event.hash)):
            return Verdict(False, count, event.seq, "its seal does not hold: it was rewritten by someone without "
                                                    "the installation key")
        previous, expected, count = event.hash, expected + 1, count + 1
    head = session.get(AuditHead, HEAD_ID)
    if head is None:
        return Verdict(count == 0, count, None if count == 0 else count, None if count == 0 else "the head is missing")
    if not keys.seal_holds(head.seal, _head_seal_input(head.seq, head.hash)):
        return Verdict(False, count, head.seq, "the chain's head seal does not hold: the head was rewritten")
    if head.seq != count or head.hash != previous:
        return Verdict(False, count, count + 1, f"the chain ends at event {count} but its head says {head.seq}: "
                                                "events were cut off the end")
    return Verdict(True, count)


def _matching(query, *, subject_id: str | None = None, subject_prefix: str | None = None,
              action: str | None = None, actions: list[str] | None = None):
    """The query narrowed to one subject (or the subjects whose id starts so) and to one or several actions."""
    if subject_id is not None:
        query = query.where(AuditEvent.subject_id == subject_id)
    if subject_prefix:
        query = query.where(AuditEvent.subject_id.startswith(subject_prefix, autoescape=True))
    if action is not None:
        query = query.where(AuditEvent.action == action)
    if actions:
        query = query.where(AuditEvent.action.in_(actions))
    return query


def events(session: Session, *, limit: int | None = None, offset: int = 0, newest_first: bool = True,
           **filters) -> list[dict]:
    """Events in sequence order (newest first by default); `limit` and `offset` page through them; `filters`
    are those of `_matching`."""
    query = _matching(select(AuditEvent), **filters)
    query = query.order_by(AuditEvent.seq.desc() if newest_first else AuditEvent.seq)
    if limit:
        query = query.limit(limit)
    if offset:
        query = query.offset(offset)
    return [{"seq": e.seq, "at": e.at, "actor": e.actor, "action": e.action, "subject_kind": e.subject_kind,
             "subject_id": e.subject_id, "details": json.loads(e.details), "hash": e.hash}
            for e in session.scalars(query)]


def count_events(session: Session, **filters) -> int:
    """How many events match `filters` (those of `_matching`)."""
    return session.scalar(_matching(select(func.count()).select_from(AuditEvent), **filters))


def action_names(session: Session) -> list[str]:
    """Every action the log holds, sorted."""
    return list(session.scalars(select(AuditEvent.action).distinct().order_by(AuditEvent.action)))
