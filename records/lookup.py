"""Look-up: given any file, find the output, release and consent it came from.

First by SHA-256 (the exact file, or an original, or a consent PDF). Social networks re-encode and resize
what they publish, so then by perceptual hash (imagehash's DCT `phash`, 64 bits): ranked candidates with
their Hamming distances, because a before and an after shot in the same pose hash alike and a person must
pick. Videos are always re-encoded: they are matched by the hashes of frames sampled through time, each
query frame against its nearest stored frame, scored by the median distance.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path

import av
import imagehash
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from deid.api import decode_upright
from deid.formats import sniff_file
from deid.image import ImageReadError
from deid.models import sha256_file
from records.models import Asset, Consent, Output, Release
from records.release_gate import effective_expiry

MAX_DISTANCE = 12          # of 64 bits; a resized, re-compressed copy lands well under this
SAMPLES = 24               # frames sampled from a video, spread over its length


class LookupFailed(ValueError):
    """The query file cannot be read as an image or a video."""


def hamming(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def image_phash(rgb_image: Image.Image) -> str:
    return str(imagehash.phash(rgb_image))


def file_kind(path: Path) -> str:
    return sniff_file(path).kind


def image_hash_of(path: Path) -> str:
    """phash of the upright picture (EXIF orientation applied, HEIC read) as the engine decodes it."""
    try:
        rgb = decode_upright(Path(path).read_bytes())
    except (ImageReadError, OSError) as exc:
        raise LookupFailed(f"cannot read the image: {exc}") from exc
    return image_phash(Image.fromarray(rgb))


def video_hashes(path: Path, samples: int = SAMPLES) -> list[str]:
    """phash of frames spread evenly over the first video stream's duration (decoded in order: seeking
    lands on key frames, which differ between encoders)."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            duration = _duration(container, stream)
            step = duration / samples if duration > 0 else 0.0
            every = max(1, (stream.frames or samples) // samples)   # when timestamps cannot be trusted
            hashes, next_time = [], step / 2
            for index, frame in enumerate(container.decode(stream)):
                if step and frame.time is not None:
                    due = frame.time + 1e-6 >= next_time
                else:
                    due = index % every == 0
                if due:
                    hashes.append(image_phash(frame.to_image()))
                    next_time = (frame.time or 0.0) + step
                    if len(hashes) >= samples:
                        break
    except (av.FFmpegError, IndexError, OSError) as exc:
        raise LookupFailed("cannot read the video (no video stream or a damaged file)") from exc
    if not hashes:
        raise LookupFailed("the video has no frames")
    return hashes


def _duration(container, stream) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000
    return 0.0


def video_distance(query: list[str], stored: list[str]) -> float:
    return statistics.median(min(hamming(q, s) for s in stored) for q in query)


@dataclass
class Match:
    what: str                        # output | original | consent_pdf
    how: str                         # sha256 | perceptual
    distance: float | None
    output_id: str | None = None
    asset_id: str | None = None
    consent_id: str | None = None
    consent: dict | None = None
    releases: list[dict] = field(default_factory=list)


@dataclass
class LookupResult:
    path: str
    sha256: str
    kind: str
    matches: list[Match]

    @property
    def exact(self) -> bool:
        return any(m.how == "sha256" for m in self.matches)


@dataclass(frozen=True)
class Fingerprint:
    """What a query file is matched by: computed before the database is touched, since decoding a video
    takes seconds and must not hold the records' write lock."""

    path: str
    sha256: str
    kind: str
    image_hash: str | None = None
    frame_hashes: list[str] | None = None


def fingerprint(path: Path) -> Fingerprint:
    path = Path(path)
    kind = file_kind(path)
    return Fingerprint(str(path.absolute()), sha256_file(path), kind,
                       image_hash=image_hash_of(path) if kind == "image" else None,
                       frame_hashes=video_hashes(path) if kind == "video" else None)


def match(session: Session, query: Fingerprint, max_distance: float = MAX_DISTANCE, limit: int = 10) -> LookupResult:
    matches = _exact(session, query.sha256)
    if query.image_hash:
        matches += _similar_images(session, query.image_hash, max_distance, exclude=query.sha256)
    elif query.frame_hashes:
        matches += _similar_videos(session, query.frame_hashes, max_distance, exclude=query.sha256)
    for found in matches:
        _describe(session, found)
    exact = [m for m in matches if m.how == "sha256"]
    similar = sorted((m for m in matches if m.how != "sha256"), key=lambda m: m.distance)[:limit]
    return LookupResult(query.path, query.sha256, query.kind, exact + similar)


def _exact(session: Session, digest: str) -> list[Match]:
    found = [Match("output", "sha256", 0, output_id=o.id, asset_id=o.asset_id)
             for o in session.scalars(select(Output).where(Output.sha256 == digest))]
    found += [Match("original", "sha256", 0, asset_id=a.id)
              for a in session.scalars(select(Asset).where(Asset.original_sha256 == digest))]
    found += [Match("consent_pdf", "sha256", 0, consent_id=c.id)
              for c in session.scalars(select(Consent).where(Consent.pdf_sha256 == digest))]
    return found


def _similar_images(session: Session, query: str, max_distance: float, exclude: str) -> list[Match]:
    found = []
    rows = session.execute(select(Output.id, Output.asset_id, Output.phash, Output.frame_hashes, Output.sha256)
                           .where(Output.blob.is_not(None)))
    for output_id, asset_id, phash, frames, sha in rows:
        if sha == exclude:
            continue
        # a still taken from a published video is matched against that video's frames too
        candidates = [phash] if phash else (frames or [])
        if not candidates:
            continue
        distance = min(hamming(query, c) for c in candidates)
        if distance <= max_distance:
            found.append(Match("output", "perceptual", distance, output_id=output_id, asset_id=asset_id))
    return found


def _similar_videos(session: Session, query: list[str], max_distance: float, exclude: str) -> list[Match]:
    found = []
    rows = session.execute(select(Output.id, Output.asset_id, Output.frame_hashes, Output.sha256)
                           .where(Output.frame_hashes.is_not(None), Output.blob.is_not(None)))
    for output_id, asset_id, frames, sha in rows:
        if sha == exclude or not frames:
            continue
        distance = video_distance(query, frames)
        if distance <= max_distance:
            found.append(Match("output", "perceptual", distance, output_id=output_id, asset_id=asset_id))
    return found


def _describe(session: Session, match: Match) -> None:
    """Attach the consent (id, status, scope, expiry: no PHI) and the releases of the matched output."""
    if match.asset_id and not match.consent_id:
        match.consent_id = session.scalar(select(Asset.consent_id).where(Asset.id == match.asset_id))
    if match.consent_id:
        consent = session.get(Consent, match.consent_id)
        match.consent = {"id": consent.id, "status": consent.status, "social_media": consent.social_media,
                         "platforms": consent.confirmed_platforms if consent.confirmed_by else consent.platforms,
                         "excluded_platforms": sorted(set(consent.excluded_platforms or [])
                                                      | set(consent.confirmed_excluded or [])),
                         "identifiable": consent.confirmed_identifiable or consent.identifiable,
                         "expires": (e.isoformat() if (e := effective_expiry(consent)) else None),
                         "confirmed": consent.confirmed_by is not None}
    if match.output_id:
        releases = session.scalars(select(Release).where(Release.output_id == match.output_id)
                                   .order_by(Release.requested_at))
        match.releases = [{"id": r.id, "platform": r.platform, "status": r.status, "consent_id": r.consent_id,
                           "released_at": r.decided_at.isoformat() if r.status == "released" else None,
                           "post_url": r.post_url, "takedown": r.takedown} for r in releases]
