"""Releases: request one, approve it through the gate, see what stands in its way and who may clear it,
record where it was posted, take it down after a revocation, and let a standing release's file leave Veil
(download, export package)."""
from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from records.audit import Actor
from records.models import Asset, Consent, Output, Release, utcnow
from records.release_gate import FIXES, Decision, effective_expiry, evaluate, normalise_platform, standing_reasons
from records.services.blobs import delete_unreferenced, forget_original
from records.services.core import (Records, WorkflowError, as_iso, authorize, get_row, log_event,
                                   username_of)
from records.services.views import ReleaseView, release_view
from records.users import PERMISSIONS

@dataclass(frozen=True)
class Obstacle:
    """One rule that does not hold, the action that clears it (`fix`, a key of release_gate.FIXES; `how`, in
    words), the roles that may take it, and whether the asking person may."""
    code: str
    message: str
    fix: str | None
    how: str
    fix_roles: tuple[str, ...]
    fix_allowed: bool


@dataclass(frozen=True)
class ReleaseObstacles:
    """What stands in the way of a release now, with the records its fixes act on."""
    release_id: str
    output_id: str
    asset_id: str
    consent_id: str | None
    obstacles: list[Obstacle]


def request_release(records: Records, actor: Actor, output_id: str, platform: str) -> ReleaseView:
    """Safe to call twice: a request still open for the same output and platform is returned (issue 13)."""
    authorize(records, actor, "request_release")
    with records.transaction() as session:
        output = get_row(session, Output, output_id, lock=True)
        if (open_request := session.scalars(select(Release).where(
                Release.output_id == output.id, Release.platform == normalise_platform(platform),
                Release.status == "requested")).first()) is not None:
            return release_view(open_request)
        asset = session.get(Asset, output.asset_id)
        release = Release(id=uuid.uuid4().hex, output_id=output.id, consent_id=asset.consent_id,
                          platform=normalise_platform(platform), status="requested", requested_by=actor.id)
        session.add(release)
        session.flush()
        log_event(records, session, actor, "release.requested", "release", release.id, output_id=output.id,
                  platform=release.platform, consent_id=asset.consent_id)
        return release_view(release)


def approve_release(records: Records, actor: Actor, release_id: str, *, today: dt.date | None = None) -> Decision:
    """Run the gate. Allowed or refused, the decision and its reasons go to the audit log. An allowed
    release deletes the original (policy `delete_original_on_release`)."""
    authorize(records, actor, "approve_release")
    today = today or dt.date.today()
    with records.transaction() as session:
        release = get_row(session, Release, release_id, lock=True)
        if release.status not in ("requested", "refused"):
            raise WorkflowError(f"this release is already {release.status}")
        output = get_row(session, Output, release.output_id)
        asset = session.get(Asset, output.asset_id, with_for_update=True)
        consent = session.get(Consent, asset.consent_id) if asset.consent_id else None
        decision = evaluate(output=output, asset=asset, consent=consent, approver_id=actor.id,
                            platform=release.platform, today=today,
                            two_person_rule=records.settings.two_person_rule)
        decision.release_id = release.id
        release.decided_by, release.decided_at = actor.id, utcnow()
        release.consent_id = asset.consent_id
        release.reasons = [r.message for r in decision.reasons]
        release.status = "released" if decision.allowed else "refused"
        log_event(records, session, actor, "release.allowed" if decision.allowed else "release.refused", "release",
                  release.id, output_id=output.id, output_sha256=output.sha256, consent_id=asset.consent_id,
                  platform=release.platform, date=today.isoformat(),
                  reasons=[{"code": r.code, "message": r.message} for r in decision.reasons])
        freed = None
        if decision.allowed and records.settings.delete_original_on_release and asset.original_blob:
            freed = forget_original(records, session, actor, asset, "released")
    delete_unreferenced(records, [freed])
    return decision


def release_obstacles(records: Records, actor: Actor, release_id: str, *,
                      today: dt.date | None = None) -> ReleaseObstacles:
    """The gate's rules that do not hold for this release today, each with its fix, without deciding or
    recording anything (approval decides, and is audited). The two-person rule is checked for the asking
    person when they may approve."""
    authorize(records, actor, "view_records")
    with records.db.reading() as session:
        release = get_row(session, Release, release_id)
        output = get_row(session, Output, release.output_id)
        asset = session.get(Asset, output.asset_id)
        consent = session.get(Consent, asset.consent_id) if asset.consent_id else None
        approver = actor.id if actor.role in PERMISSIONS["approve_release"] else None
        decision = evaluate(output=output, asset=asset, consent=consent, approver_id=approver,
                            platform=release.platform, today=today or dt.date.today(),
                            two_person_rule=records.settings.two_person_rule)
        return ReleaseObstacles(release.id, output.id, asset.id, asset.consent_id,
                                [_obstacle(r, actor) for r in decision.reasons])


def _obstacle(reason, actor: Actor) -> Obstacle:
    fix = FIXES.get(reason.fix)
    roles = tuple(sorted(PERMISSIONS[fix.needs])) if fix else ()
    return Obstacle(reason.code, reason.message, reason.fix, fix.how if fix else "", roles, actor.role in roles)


def record_post(records: Records, actor: Actor, release_id: str, url: str) -> ReleaseView:
    """Where the released file was posted: the address a takedown will need."""
    authorize(records, actor, "record_post")
    url = _post_address(url)
    with records.transaction() as session:
        release = get_row(session, Release, release_id, lock=True)
        if release.status != "released":
            raise WorkflowError("only a released file has a post")
        release.post_url = url
        log_event(records, session, actor, "release.posted", "release", release.id, url=release.post_url)
        return release_view(release)


def _post_address(url: str) -> str:
    text = (url or "").strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        parts = None
    if (parts is None or parts.scheme.lower() not in ("http", "https") or not parts.hostname
            or any(c.isspace() for c in text) or len(text) > 2000):
        raise WorkflowError("the post address must be the post's full web address, starting with https:// "
                            "(or http://); nothing was recorded")
    return text


def list_releases(records: Records, actor: Actor, status: str | None = None) -> list[ReleaseView]:
    authorize(records, actor, "view_records")
    with records.db.reading() as session:
        query = select(Release).order_by(Release.requested_at)
        if status:
            query = query.where(Release.status == status)
        return [release_view(r) for r in session.scalars(query)]


def takedown_tasks(records: Records, actor: Actor) -> list[ReleaseView]:
    authorize(records, actor, "view_records")
    with records.db.reading() as session:
        return [release_view(r) for r in session.scalars(select(Release).where(Release.takedown == "pending")
                                                         .order_by(Release.decided_at))]


def complete_takedown(records: Records, actor: Actor, release_id: str) -> ReleaseView:
    authorize(records, actor, "complete_takedown")
    with records.transaction() as session:
        release = get_row(session, Release, release_id, lock=True)
        if release.takedown != "pending":
            raise WorkflowError("there is no pending takedown for this release")
        release.takedown, release.takedown_at, release.takedown_by = "done", utcnow(), actor.id
        log_event(records, session, actor, "release.taken_down", "release", release.id, post_url=release.post_url)
        return release_view(release)


def download_output(records: Records, actor: Actor, output_id: str, *,
                    today: dt.date | None = None) -> tuple[str, bytes]:
    """A released output's file (opaque name, bytes), while one of its releases still stands."""
    authorize(records, actor, "download_output")
    today = today or dt.date.today()
    with records.transaction() as session:
        output = get_row(session, Output, output_id)
        releases = session.scalars(select(Release).where(Release.output_id == output.id,
                                                         Release.status == "released")).all()
        if not releases:
            raise WorkflowError("only a released output can be downloaded; request a release first")
        problems = {r.id: _standing_problems(session, r, today) for r in releases}
        standing = [rid for rid, why in problems.items() if not why]
        if not standing:
            why = dict.fromkeys(m for messages in problems.values() for m in messages)
            raise WorkflowError(f"this output can no longer be downloaded: {'; '.join(why)}")
        data = records.store.read_bytes(output.blob)
        log_event(records, session, actor, "output.downloaded", "output", output.id, sha256=output.sha256,
                  release_id=standing[0])
        return output.name, data


def _standing_problems(session: Session, release: Release, today: dt.date) -> list[str]:
    """The one rule for a file leaving Veil after approval, shared by download and export."""
    output = session.get(Output, release.output_id)
    consent = session.get(Consent, release.consent_id) if release.consent_id else None
    return [r.message for r in standing_reasons(release, output, consent, today)]


def export_package(records: Records, actor: Actor, release_ids: list[str], out_dir: Path, *,
                   today: dt.date | None = None) -> Path:
    """A folder with the released outputs and `manifest.json` (sha256, consent id, scope, expiry, profile,
    reviewer, approver); no patient name, no original file name. Built under a temporary name and renamed
    when complete."""
    authorize(records, actor, "export_package")
    if not release_ids:
        raise WorkflowError("choose at least one standing release to export; no package was made")
    today = today or dt.date.today()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
    final = out_dir / f"veil-release-{stamp}-{uuid.uuid4().hex[:8]}"
    partial = out_dir / f".partial-{final.name}"
    partial.mkdir(mode=0o700)
    try:
        with records.transaction() as session:
            entries = [_export_one(records, session, rid, partial, today) for rid in release_ids]
            manifest = {"format": "veil-release-manifest-1", "generated_at": utcnow().isoformat(),
                        "generated_by": actor.username, "files": entries}
            (partial / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
            log_event(records, session, actor, "package.exported", None, None, releases=list(release_ids),
                      files=[{"file": e["file"], "sha256": e["sha256"]} for e in entries])
        os.replace(partial, final)   # after the commit: a package never exists without its audit event
    finally:
        if partial.exists():
            shutil.rmtree(partial, ignore_errors=True)
    return final


def _export_one(records: Records, session: Session, release_id: str, folder: Path, today: dt.date) -> dict:
    release = get_row(session, Release, release_id)
    problems = _standing_problems(session, release, today)
    if problems:
        raise WorkflowError(f"release {release_id} cannot be exported ({'; '.join(problems)}); "
                            "only standing releases can be exported")
    output = session.get(Output, release.output_id)
    consent = session.get(Consent, release.consent_id)
    ends = effective_expiry(consent)
    data = records.store.read_bytes(output.blob)   # checks the content against its address
    (folder / output.name).write_bytes(data)
    return {"file": output.name, "sha256": output.sha256, "release_id": release.id, "output_id": output.id,
            "platform": release.platform, "consent_id": consent.id,
            "scope": {"social_media": consent.confirmed_social_media, "platforms": consent.confirmed_platforms,
                      "excluded_platforms": consent.confirmed_excluded,
                      "identifiable": consent.confirmed_identifiable},
            "expires": as_iso(ends), "profile": {"id": output.profile_id, "sha256": output.profile_sha256},
            "reviewer": username_of(session, output.reviewed_by), "reviewed_at": as_iso(output.reviewed_at),
            "approver": username_of(session, release.decided_by), "approved_at": as_iso(release.decided_at)}
