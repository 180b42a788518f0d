"""Intake: keep an uploaded photo or video encrypted, tie it to its patient's consent, and run the image
engine on it.

The engine runs in a sandbox process and outside any transaction, so it never holds the database's write
lock; its output is stored before the transaction that records it (see records.services.blobs).
"""
from __future__ import annotations

import datetime as dt
import re
import unicodedata
import uuid
from contextlib import ExitStack
from dataclasses import asdict, replace
from pathlib import Path
from typing import Callable

from sqlalchemy import select

from deid.formats import sniff, sniff_file
from deid.image import MAX_FILE_BYTES
from deid.naming import filename_warnings, possible_names
from deid.profile import ProfileError, load_profile
from deid.report import DeidReport
from records import sandbox
from records.audit import Actor
from records.config import Settings
from records.lookup import image_hash_of, video_hashes
from records.models import Asset, Consent, Output, field_context, utcnow
from records.services.blobs import delete_unreferenced
from records.services.core import (Records, RecordNotFound, WorkflowError, authorize, get_row, log_event,
                                   one_at_a_time, original_to_process, patient_of, refuse_oversized, upload_size,
                                   username_of)
from records.services.views import AssetView, OutputView, asset_view, output_view
from records.store import WorkDir

NAME_WORD = re.compile(r"[^\W\d_]+")   # a word of a patient's name
NUMBER = re.compile(r"\d+")             # a number in a patient's reference


def upload_media(records: Records, actor: Actor, source: Path | bytes, original_name: str,
                 consent_id: str | None = None, *, other_names_confirmed: bool = False,
                 patient: tuple[str, str] | None = None) -> AssetView:
    """Keep an original encrypted. Its name is stored encrypted; only descriptions of what in the name
    could identify the patient are kept in clear.

    A name that names someone other than the consent's patient (`others_named`) is refused unless a person
    has looked and confirmed the file is this patient's (`other_names_confirmed`; audited, without the name).
    Without a consent yet (its PDF waits to be read), `patient` (their name and reference, as typed; compared
    in memory, never stored here) is the patient the name is checked against.
    Safe to call twice: the same content (its sha256) under the same consent, while its original is kept,
    returns the asset kept before, marked `existing`."""
    authorize(records, actor, "upload_media")
    if consent_id:
        others = len(_others_named(records, consent_id, original_name))
    else:
        others = len(others_named(original_name, *patient)) if patient else 0
    if others and not other_names_confirmed:
        raise WorkflowError(f"the file name names someone other than this consent's patient ({others} word(s) or "
                            "number(s) match neither their name nor their reference): check that the file shows "
                            "this patient, then confirm to go on")
    with records.store.keeping():   # until the commit: nobody deletes this content
        fmt, size, blob = _keep_upload(records, source)
        return _add_asset(records, actor, fmt, size, blob, original_name, consent_id, others)


def others_named(file_name: str, patient_name: str, patient_ref: str) -> list[str]:
    """What in a file's name may name a person (deid.naming.possible_names) and is neither a word of the
    patient's name nor a number of their reference. Compared in memory; the caller never stores it."""
    own_words = {_plain(w) for w in NAME_WORD.findall(patient_name)}
    own_numbers = {n.lstrip("0") for n in NUMBER.findall(patient_ref)}
    found = []
    for token in possible_names(file_name):
        own = token.lstrip("0") in own_numbers if token.isdigit() else _plain(token) in own_words
        if not own and token not in found:
            found.append(token)
    return found


def _plain(word: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", word.casefold()) if not unicodedata.combining(c))


def _keep_upload(records: Records, source: Path | bytes):
    """Check what the upload is and its size, then store it encrypted: (format, size, blob address)."""
    in_memory = isinstance(source, (bytes, bytearray))
    try:
        fmt = sniff(bytes(source[:64])) if in_memory else sniff_file(source)
        if fmt.kind not in ("image", "video"):
            raise WorkflowError("this is not a photo or video Veil can read" if fmt.kind == "unknown"
                                else f"this is a {fmt.name.upper()} document, not a photo or video")
        size = upload_size(source)
        refuse_oversized(size, upload_limit_mb(records.settings, fmt.kind), "photo" if fmt.kind == "image" else "video")
        blob = records.store.put_bytes(bytes(source)) if in_memory else records.store.put_file(Path(source))
    except OSError as exc:   # the message must not carry the path: it may hold the patient's name
        raise WorkflowError(f"the upload could not be read ({exc.strerror or type(exc).__name__})") from None
    return fmt, size, blob


def _add_asset(records: Records, actor: Actor, fmt, size: int, blob: str, original_name: str,
               consent_id: str | None, others: int) -> AssetView:
    """`others`: how many words of the name a person confirmed are not the patient's (audited, as a count)."""
    now = utcnow()
    with records.transaction() as session:
        one_at_a_time(session)
        if consent_id:
            get_row(session, Consent, consent_id)
        if (same := _kept_before(session, blob, consent_id)) is not None:
            return replace(asset_view(same, username_of(session, same.uploaded_by)), existing=True)
        asset = Asset(id=uuid.uuid4().hex, kind=fmt.kind, format=fmt.name, original_sha256=blob, original_blob=blob,
                      original_size=size, filename_warnings=filename_warnings(original_name), uploaded_by=actor.id,
                      uploaded_at=now, consent_id=consent_id,
                      delete_original_after=now + dt.timedelta(days=records.settings.original_retention_days))
        asset.original_name_enc = records.keys.encrypt_text(original_name,
                                                            field_context("assets", "original_name", asset.id))
        session.add(asset)
        session.flush()
        log_event(records, session, actor, "media.uploaded", "asset", asset.id, sha256=blob, kind=fmt.kind,
                  consent_id=consent_id)
        if others:
            log_event(records, session, actor, "media.other_name_confirmed", "asset", asset.id, consent_id=consent_id,
                      words=others)
        return asset_view(asset, actor.username)


def _others_named(records: Records, consent_id: str, file_name: str) -> list[str]:
    with records.db.reading() as session:
        name, ref = patient_of(records, get_row(session, Consent, consent_id))
    return others_named(file_name, name, ref)


def _kept_before(session, sha256: str, consent_id: str | None) -> Asset | None:
    linked = Asset.consent_id == consent_id if consent_id else Asset.consent_id.is_(None)
    return session.scalars(select(Asset).where(Asset.original_sha256 == sha256, linked,
                                               Asset.original_blob.is_not(None))
                           .order_by(Asset.uploaded_at)).first()


def upload_limit_mb(settings: Settings, kind: str) -> int:
    """The largest upload of this kind ("image" or "video") kept, in MB: photos have the engine's own limit."""
    return MAX_FILE_BYTES // 2 ** 20 if kind == "image" else settings.max_video_mb


def link_consent(records: Records, actor: Actor, asset_id: str, consent_id: str | None, *,
                 reread: Callable | None = None) -> AssetView:
    """Tie media to a consent; a person must then confirm again that it is this patient's consent, and the
    media's photos already rendered are read again for this patient's name and reference (the gate refuses
    them until they are). `reread` reads a photo for them (by default in a process of its own; a worker,
    itself the isolation unit, reads in process). Safe to call twice: linking it to the consent it has
    changes nothing."""
    authorize(records, actor, "link_consent")
    return _link(records, actor, asset_id, consent_id, reread)


def link_read_media(records: Records, actor: Actor, asset_ids: list[str], consent_id: str, *,
                    reread: Callable | None = None) -> list[str]:
    """A consent PDF queued with media (Intake) was read and registered: link each of them that still has no
    consent, as `link_consent` does (their photos already rendered are read again for the patient's
    identifiers). Media a person linked meanwhile, or that are gone, are left as they are. Returns the ids of
    the media now linked to the consent."""
    authorize(records, actor, "link_consent")
    linked = []
    for asset_id in asset_ids:
        try:
            view = _link(records, actor, asset_id, consent_id, reread, only_unlinked=True)
        except RecordNotFound:
            continue
        if view is not None:
            linked.append(asset_id)
    return linked


def _link(records: Records, actor: Actor, asset_id: str, consent_id: str | None, reread: Callable | None,
          only_unlinked: bool = False) -> AssetView | None:
    """`only_unlinked`: media linked to another consent are left as they are (None)."""
    with records.transaction() as session:
        asset = get_row(session, Asset, asset_id, lock=True)
        if asset.consent_id == consent_id:
            return asset_view(asset, username_of(session, asset.uploaded_by))
        if only_unlinked and asset.consent_id is not None:
            return None
        if consent_id:
            get_row(session, Consent, consent_id)
        asset.consent_id = consent_id
        asset.patient_confirmed_by = asset.patient_confirmed_at = None
        log_event(records, session, actor, "media.linked", "asset", asset.id, consent_id=consent_id)
        view = asset_view(asset, username_of(session, asset.uploaded_by))
    if consent_id:
        from records.services.recheck import recheck_outputs_of   # it reads identifiers with this module's help
        recheck_outputs_of(records, actor, asset_id, reread=reread)
    return view


def confirm_patient(records: Records, actor: Actor, asset_id: str) -> AssetView:
    """A person confirms that the linked consent belongs to the patient in the media (gate rule 3). Safe to call
    twice: the first confirmation stands."""
    authorize(records, actor, "review")
    with records.transaction() as session:
        asset = get_row(session, Asset, asset_id, lock=True)
        if asset.consent_id is None:
            raise WorkflowError("link a consent to this media first")
        if asset.patient_confirmed_by is not None:
            return asset_view(asset, username_of(session, asset.uploaded_by))
        asset.patient_confirmed_by, asset.patient_confirmed_at = actor.id, utcnow()
        log_event(records, session, actor, "media.patient_confirmed", "asset", asset.id, consent_id=asset.consent_id)
        return asset_view(asset, username_of(session, asset.uploaded_by))


def list_assets(records: Records, actor: Actor) -> list[AssetView]:
    authorize(records, actor, "view_records")
    with records.db.reading() as session:
        return [asset_view(a, username_of(session, a.uploaded_by))
                for a in session.scalars(select(Asset).order_by(Asset.uploaded_at.desc()))]


def view_original(records: Records, actor: Actor, asset_id: str) -> bytes:
    authorize(records, actor, "view_original")
    with records.transaction() as session:
        asset = get_row(session, Asset, asset_id)
        if asset.original_blob is None:
            raise WorkflowError("the original was deleted (released, or past its retention period)")
        data = records.store.read_bytes(asset.original_blob)
        log_event(records, session, actor, "media.original_viewed", "asset", asset.id)
        return data


def process(records: Records, actor: Actor, asset_id: str, profile: str = "default", *,
            progress: Callable[[float, str], None] | None = None) -> OutputView:
    """Run the image engine on the decrypted original in a private work folder; keep the verified output
    encrypted with its report. A failed verification is recorded too (the gate refuses it).

    Safe to call twice: the asset's current verified output made with this profile (the key: asset and
    profile id) is returned, marked `existing`, instead of a second one; a failed one may be tried again."""
    authorize(records, actor, "process")
    with records.db.reading() as session:
        done = _current_output(session, asset_id, profile)
        if done is not None:
            return replace(output_view(done), existing=True)
    return render_output(records, actor, asset_id, profile, [], [], None, progress)


def _current_output(session, asset_id: str, profile_id: str | None) -> Output | None:
    return session.scalars(select(Output).where(Output.asset_id == asset_id, Output.profile_id == profile_id,
                                                Output.superseded.is_(False), Output.blob.is_not(None),
                                                Output.error.is_(None))   # not one withheld on a second reading
                           .order_by(Output.created_at.desc())).first()


def _newest_child(session, parent_id: str) -> Output | None:
    return session.scalars(select(Output).where(Output.parent_id == parent_id, Output.superseded.is_(False))
                           .order_by(Output.created_at.desc())).first()


def render_output(records: Records, actor: Actor, asset_id: str, profile: str, added: list, removed: list,
                  parent_id: str | None, progress, *, engine: Callable | None = None,
                  on_commit: Callable | None = None) -> OutputView:
    """The engine's output for the asset's original with regions `added` and `removed` (process, and review's
    re-render, which replaces `parent_id`); the caller has checked the actor may do this. `engine` runs
    deid.api.redact_file (by default in a sandbox process; a worker, itself the isolation unit, runs it in
    process); `on_commit(session, output)` may refuse the output inside the transaction that records it."""
    with records.db.reading() as session:
        asset = get_row(session, Asset, asset_id)
        blob, kind = original_to_process(asset), asset.kind
        identifiers = _patient_identifiers(records, session, asset)
        checked_for = asset.consent_id   # whose name and reference the engine reads the output for
    with ExitStack() as held:
        with WorkDir(records.settings.work_dir) as work:
            source = records.store.decrypt_to(blob, work / uuid.uuid4().hex)
            # in a process of its own: a crash there costs this file, not the app
            run = engine or sandbox.redact_in_sandbox
            report = run(source, work / "out", profile, progress=progress, extra_regions=added or None,
                         removed_regions=removed or None, original_name=source.name, identifiers=identifiers)
            stored = _output_hashes(report)   # decoding takes a while: before taking the store's lock
            held.enter_context(records.store.keeping())   # until the commit: nobody deletes this content
            if report.output:
                stored["blob"] = stored["sha256"] = records.store.put_file(Path(report.output))
        # the decrypted original is gone before the commit
        view = _add_output(records, actor, asset_id, kind, report, stored, added, removed, parent_id, on_commit,
                           checked_for)
    if view.existing:   # a second press rendered it too, and finished second: its file is one too many
        delete_unreferenced(records, [stored.get("blob")])
    return view


def _patient_identifiers(records: Records, session, asset: Asset) -> list[str]:
    """What must not be readable on the asset's output (the engine's identifier check): the words of the
    patient's name, their reference and its numbers, and what in the original file name may name a person.
    Decrypted for the engine's run only: it is handed over in memory (an argument of the sandboxed call; a
    worker reads it here itself), never queued, logged or stored."""
    found = possible_names(records.keys.decrypt_text(asset.original_name_enc,
                                                     field_context("assets", "original_name", asset.id)) or "")
    if asset.consent_id:
        name, ref = patient_of(records, get_row(session, Consent, asset.consent_id))
        found += NAME_WORD.findall(name) + [ref] + NUMBER.findall(ref)
    return list(dict.fromkeys(word for word in found if word))


def _add_output(records: Records, actor: Actor, asset_id: str, kind: str, report: DeidReport, stored: dict,
                added: list, removed: list, parent_id: str | None, on_commit: Callable | None,
                checked_for: str | None) -> OutputView:
    """`checked_for`: the consent whose patient's identifiers the engine read a photo for."""
    with records.transaction() as session:
        get_row(session, Asset, asset_id, lock=True)   # one rendering of an asset recorded at a time
        profile = report.profile
        if (twin := _twin(session, asset_id, profile.id if profile else None, parent_id)) is not None:
            return replace(output_view(twin), existing=True)
        output = Output(id=uuid.uuid4().hex, asset_id=asset_id, parent_id=parent_id, kind=report.kind or kind,
                        profile_id=profile.id if profile else None, profile_sha256=profile.sha256 if profile else None,
                        keeps_faces=_keeps_faces(report), regions=report.regions,
                        region_kinds=report.region_kinds if report.kind == "image" else None, regions_added=added,
                        regions_removed=removed, frames=report.frames, frames_with_regions=report.frames_with_regions,
                        removed_tags=report.removed, metadata_clean=report.verified.metadata_clean,
                        faces_left=report.verified.faces_left, error=report.error, created_by=actor.id,
                        identifiers_consent_id=checked_for if (report.kind or kind) == "image" else None, **stored)
        session.add(output)
        if parent_id:
            get_row(session, Output, parent_id, lock=True).superseded = True
        session.flush()
        log_event(records, session, actor, "output.failed" if output.blob is None else "output.created", "output",
                  output.id, asset_id=asset_id, sha256=output.sha256, profile=asdict(profile) if profile else None,
                  regions=len(output.regions), added=len(added), removed=len(removed),
                  verified=report.verified.to_json(), replaces=parent_id)
        if on_commit is not None:
            on_commit(session, output)
        return output_view(output)


def _twin(session, asset_id: str, profile_id: str | None, parent_id: str | None) -> Output | None:
    """The output another call made meanwhile for the same work: the same asset and profile, or the same
    output replaced."""
    if parent_id is None:
        return _current_output(session, asset_id, profile_id)
    return _newest_child(session, parent_id) if get_row(session, Output, parent_id).superseded else None


def _output_hashes(report: DeidReport) -> dict:
    """The verified output's name, size and look-up hashes, computed while it is in clear."""
    if not report.output:
        return {}
    path = Path(report.output)
    stored = {"name": path.name, "size": path.stat().st_size}
    if report.kind == "image":
        stored["phash"] = image_hash_of(path)
    else:
        stored["frame_hashes"] = video_hashes(path)
    return stored


def _keeps_faces(report: DeidReport) -> bool:
    try:
        return load_profile(report.profile.id if report.profile else "default").keeps_faces
    except ProfileError:
        return True   # unknown profile: assume the worst, the gate then demands an identifiable consent
