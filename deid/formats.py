"""Identify an upload by its content (magic bytes), never by its extension."""
from __future__ import annotations

from dataclasses import dataclass

HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
AVIF_BRANDS = {b"avif", b"avis"}
VIDEO_BRANDS = {b"isom", b"iso2", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1", b"qt  ", b"M4V ",
                b"M4VH", b"M4VP", b"3gp4", b"3gp5", b"3gp6", b"3g2a", b"3gg6", b"dash", b"MSNV", b"XAVC", b"f4v "}


@dataclass(frozen=True)
class Format:
    name: str      # jpeg, png, webp, tiff, heif, avif, gif, bmp, mp4, mov, webm, avi, pdf, ...
    kind: str      # "image", "video", "document" or "unknown"


UNKNOWN = Format("unknown", "unknown")


def sniff(head: bytes) -> Format:
    """The format of a file from its first bytes (64 are enough)."""
    if head.startswith(b"\xff\xd8\xff"):
        return Format("jpeg", "image")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return Format("png", "image")
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return Format("webp", "image")
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return Format("avi", "video")
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return Format("tiff", "image")
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return Format("gif", "image")
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return Format("webm", "video")
    if head.startswith(b"%PDF-"):
        return Format("pdf", "document")
    if head[4:8] == b"ftyp":
        return _iso_media(head)
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip"):
        return Format("mov", "video")
    return UNKNOWN


def _iso_media(head: bytes) -> Format:
    size = int.from_bytes(head[:4], "big")
    brands = {head[8:12]} | {head[i:i + 4] for i in range(16, min(size, len(head)) - 3, 4)}
    major = head[8:12]
    if major in AVIF_BRANDS or (major not in HEIF_BRANDS and brands & AVIF_BRANDS and not brands & VIDEO_BRANDS):
        return Format("avif", "image")
    if major in HEIF_BRANDS or (brands & HEIF_BRANDS and not brands & VIDEO_BRANDS):
        return Format("heif", "image")
    if major == b"qt  ":
        return Format("mov", "video")
    if major.startswith(b"3g"):
        return Format("3gp", "video")
    return Format("mp4", "video")


def sniff_file(path) -> Format:
    with open(path, "rb") as fh:
        return sniff(fh.read(64))
