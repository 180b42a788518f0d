"""What the services hand back: plain, frozen views of the records, without PHI.

A page or the CLI shows these; it never holds a database row (whose session is closed by then).
"""
from __future__ import annotations

from dataclasses import dataclass

from records.models import Asset, Consent, Output, Release
from records.release_gate import effective_expiry
from records.services.core import as_iso


@dataclass(frozen=True)
class ConsentView:
    id: str
    status: str
    pdf_sha256: str
    check_error: str | None
    text_source: str
    social_media: str
    platforms: list
    excluded_platforms: list
    identifiable: str
    expires: str | None
    has_expiry_event: bool
    signed: bool | None
    signature_valid: bool | None
    confirmed: bool
    confirmed_social_media: bool | None
    confirmed_platforms: list | None
    confirmed_excluded: list | None
    confirmed_identifiable: str | None
    effective_expiry: str | None
    signature_attested: bool
    registered_at: str
    pdf_kept: bool
    form_version: str | None = None   # signed in Veil: the model form's version and its text's SHA-256
    form_sha256: str | None = None
    signed_on: str | None = None
    # the patient revoked an earlier consent and nothing shows this one was signed after: until a person
    # confirms it is a new authorization, its scope cannot be confirmed (so nothing under it is released)
    awaits_new_authorization: bool = False
    existing: bool = False          # registering it again found it registered already; nothing new was made
    notice: str | None = None       # what the person registering it must know (a revocation before it)


@dataclass(frozen=True)
class AssetView:
    id: str
    kind: str
    format: str
    original_sha256: str
    original_kept: bool
    filename_warnings: list
    uploaded_by: str
    consent_id: str | None
    patient_confirmed: bool
    existing: bool = False          # the same file was uploaded under this consent before; nothing new was kept


@dataclass(frozen=True)
class OutputView:
    id: str
    asset_id: str
    kind: str
    name: str | None
    sha256: str | None
    error: str | None
    profile: dict
    keeps_faces: bool
    regions: list
    region_kinds: list | None       # photos: what each region covers ("face", "text", "code", "manual")
    regions_added: list
    regions_removed: list
    frames: int | None
    frames_with_regions: int | None
    removed_tags: list
    metadata_clean: bool
    faces_left: int | None
    reviewed: bool
    superseded: bool
    parent_id: str | None
    existing: bool = False          # the file was de-identified with this profile before; nothing new was made


@dataclass(frozen=True)
class ReleaseView:
    id: str
    output_id: str
    consent_id: str | None
    platform: str
    status: str
    reasons: list
    post_url: str | None
    takedown: str | None
    decided_at: str | None


def consent_view(c: Consent) -> ConsentView:
    return ConsentView(
        id=c.id, status=c.status, pdf_sha256=c.pdf_sha256, check_error=c.check_error, text_source=c.text_source,
        social_media=c.social_media, platforms=list(c.platforms or []),
        excluded_platforms=list(c.excluded_platforms or []), identifiable=c.identifiable, expires=as_iso(c.expires),
        has_expiry_event=c.has_expiry_event, signed=c.signed, signature_valid=c.signature_valid,
        confirmed=c.confirmed_by is not None, confirmed_social_media=c.confirmed_social_media,
        confirmed_platforms=c.confirmed_platforms, confirmed_excluded=c.confirmed_excluded,
        confirmed_identifiable=c.confirmed_identifiable, effective_expiry=as_iso(effective_expiry(c)),
        signature_attested=c.signature_attested, registered_at=as_iso(c.registered_at),
        pdf_kept=c.pdf_blob is not None, signed_on=as_iso(c.signed_on), form_version=c.form_version,
        form_sha256=c.form_sha256,
        awaits_new_authorization=c.after_revocation_of is not None and c.new_authorization_by is None)


def asset_view(a: Asset, uploader: str) -> AssetView:
    return AssetView(id=a.id, kind=a.kind, format=a.format, original_sha256=a.original_sha256,
                     original_kept=a.original_blob is not None, filename_warnings=list(a.filename_warnings or []),
                     uploaded_by=uploader, consent_id=a.consent_id,
                     patient_confirmed=a.patient_confirmed_by is not None)


def output_view(o: Output) -> OutputView:
    return OutputView(
        id=o.id, asset_id=o.asset_id, kind=o.kind, name=o.name, sha256=o.sha256, error=o.error,
        profile={"id": o.profile_id, "sha256": o.profile_sha256}, keeps_faces=o.keeps_faces,
        regions=list(o.regions or []), region_kinds=o.region_kinds, regions_added=list(o.regions_added or []),
        regions_removed=list(o.regions_removed or []), frames=o.frames, frames_with_regions=o.frames_with_regions,
        removed_tags=list(o.removed_tags or []), metadata_clean=o.metadata_clean, faces_left=o.faces_left,
        reviewed=o.reviewed_by is not None, superseded=o.superseded, parent_id=o.parent_id)


def release_view(r: Release) -> ReleaseView:
    return ReleaseView(id=r.id, output_id=r.output_id, consent_id=r.consent_id, platform=r.platform, status=r.status,
                       reasons=list(r.reasons or []), post_url=r.post_url, takedown=r.takedown,
                       decided_at=as_iso(r.decided_at))
