"""Verification: every output is read back before it gets its final name, and withheld unless clean.

The writer is never trusted. An output passes when
- ExifTool finds no tag outside the allow-list of its kind below (structural facts a decoder needs; none
  can name a person, a place, a device or a time), and
- the residual check, a detector built differently from the one that found the faces, finds no face left
  (not for a profile that keeps faces on purpose), and
- a photo given the patient's identifiers (name parts, reference, file-name tokens): none can be read on it
  by the text recogniser (deid/text.py), and
- for a video: the MP4 starts fast, holds only the streams written, H.264 yuv420p, every frame decodable,
  of the size written, and counted; the residual check ran while the frames were encoded (deid/video/)
  and must have read every n-th frame.
Whatever fails raises `OutputWithheld`, and the output is deleted (deid/output.py).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import av
import numpy as np
from PIL import Image

from deid.detect import residual_detector
from deid.text import identifiers_readable
from deid.image import ImageReadError
from deid.metadata import AllowList, identifying_tags
from deid.profile import Profile
from deid.report import Verified

IMAGE_ALLOWED: AllowList = {
    "ExifTool": frozenset({"ExifToolVersion"}),
    "File": frozenset({"FileType", "FileTypeExtension", "MIMEType", "ImageWidth", "ImageHeight",
                       "EncodingProcess", "BitsPerSample", "ColorComponents", "YCbCrSubSampling"}),
    "JFIF": frozenset({"JFIFVersion", "ResolutionUnit", "XResolution", "YResolution"}),
    "PNG": frozenset({"ImageWidth", "ImageHeight", "BitDepth", "ColorType", "Compression", "Filter",
                      "Interlace"}),
    "RIFF": frozenset({"VP8Version", "ImageWidth", "ImageHeight", "HorizontalScale", "VerticalScale",
                       "WebP_Flags", "AlphaPreprocessing", "AlphaFiltering", "AlphaCompression"}),
    "Composite": frozenset({"ImageSize", "Megapixels"}),
}

# The QuickTime/MP4 boxes Veil's video writer produces, per track (video, then audio when kept).
_TRACK_TAGS = frozenset({
    "TrackHeaderVersion", "ColorProfiles", "TrackCreateDate", "TrackModifyDate", "TrackID", "TrackDuration",
    "TrackLayer", "TrackVolume", "MatrixStructure", "ImageWidth", "ImageHeight", "Unknown_edts", "MediaHeaderVersion",
    "MediaCreateDate", "MediaModifyDate", "MediaTimeScale", "MediaDuration", "MediaLanguageCode",
    "HandlerType", "HandlerDescription", "GraphicsMode", "OpColor", "CompressorID", "SourceImageWidth",
    "SourceImageHeight", "XResolution", "YResolution", "BitDepth", "AVCConfiguration", "BufferSize",
    "MaxBitrate", "AverageBitrate", "VideoFrameRate", "SyncSampleTable", "CompositionTimeToSample",
    "SampleToChunk", "SampleSizes", "ChunkOffset", "TimeToSampleTable", "ColorRepresentation",
    "ColorPrimaries", "TransferCharacteristics", "MatrixCoefficients", "VideoFullRangeFlag",
    "PixelAspectRatio", "Balance", "AudioFormat", "AudioChannels", "AudioBitsPerSample",
    "AudioSampleRate", "SampleGroupDescription", "SampleToGroup", "CompositionToDecodeTimelineMapping",
    "Unknown_esds", "Unknown_btrt",  # the AAC decoder configuration and the bit-rate box
})
VIDEO_ALLOWED: AllowList = {
    **IMAGE_ALLOWED,
    "QuickTime": frozenset({
        "MajorBrand", "MinorVersion", "CompatibleBrands", "MovieHeaderVersion", "CreateDate", "ModifyDate",
        "TimeScale", "Duration", "PreferredRate", "PreferredVolume", "MatrixStructure", "PreviewTime",
        "PreviewDuration", "PosterTime", "SelectionTime", "SelectionDuration", "CurrentTime", "NextTrackID",
        "HandlerType", "HandlerVendorID", "Free", "MediaDataSize", "MediaDataOffset", "MediaData"}),
    "Track1": _TRACK_TAGS,
    "Track2": _TRACK_TAGS,
    "Composite": IMAGE_ALLOWED["Composite"] | {"AvgBitrate", "Rotation"},
}
# Allowed in an output only while zero (the writer leaves them unset): a real date is a date of service.
VIDEO_DATE_TAGS = frozenset({"CreateDate", "ModifyDate", "TrackCreateDate", "TrackModifyDate", "MediaCreateDate",
                             "MediaModifyDate"})
# What an input video may carry without it being reported as removed: its dates are real, so they count.
VIDEO_INPUT_ALLOWED: AllowList = {group: names - VIDEO_DATE_TAGS for group, names in VIDEO_ALLOWED.items()}


class OutputWithheld(ImageReadError):
    """An output failed verification; it is deleted, and the message says why."""


def is_clean(path: Path, allowed: AllowList, zeroed: frozenset[str] = frozenset()) -> tuple[bool, list[str]]:
    """Whether a file carries nothing outside the allow-list; the offending names ("GROUP:Tag") when it does."""
    left = identifying_tags(path, allowed, zeroed)
    return not left, [f"{g}:{t}" for g, t in left]


def _check_metadata(path: Path, allowed: AllowList, verified: Verified, zeroed: frozenset[str] = frozenset()) -> None:
    verified.metadata_clean, leftovers = is_clean(path, allowed, zeroed)
    if not verified.metadata_clean:
        raise OutputWithheld(f"output withheld: metadata left after rewriting ({', '.join(leftovers)})")


# ---------------------------------------------------------------- images

def verify_image(path: Path, prof: Profile, verified: Verified, identifiers: list[str] | None = None,
                 redacted: list | None = None) -> None:
    """Re-read a written image: metadata against the allow-list, the patient's identifiers read for (when
    given), and the residual detector for faces left (it skips faces wholly inside the `redacted` regions,
    the output's pixels that the writer says it redacted, and searches everywhere else)."""
    _check_metadata(path, IMAGE_ALLOWED, verified)
    threshold = prof.residual_threshold
    if threshold is None and not identifiers:
        return  # the identifiable profile keeps faces on purpose
    with Image.open(path) as written:   # one copy of the pixels at a time: an output may be 80 megapixels
        written.load()
        rgb = np.asarray(written if written.mode == "RGB" else written.convert("RGB"))
    if identifiers:
        _check_identifiers(rgb, identifiers, prof, verified)
    if threshold is None:
        return
    left = residual_detector(threshold)(rgb, redacted=redacted)
    verified.faces_left = len(left)
    if left:
        raise OutputWithheld(f"output withheld: {len(left)} face(s) still detectable after redaction; "
                             "add a region by hand in review")


def _check_identifiers(rgb: np.ndarray, identifiers: list[str], prof: Profile, verified: Verified) -> None:
    """None of the patient's identifiers can be read on the output; the reason gives a count, never a name."""
    verified.identifiers_readable = identifiers_readable(rgb, identifiers, prof.section("text"))
    if verified.identifiers_readable:
        raise OutputWithheld(f"output withheld: {verified.identifiers_readable} of the patient's identifiers can "
                             "still be read in the picture; cover them by hand in review")


# ---------------------------------------------------------------- videos

@dataclass
class Written:
    """What the video writer says it wrote; the file is checked against it."""
    frames: int
    width: int
    height: int
    audio: bool
    every: int = 1                                    # the residual check's due frames: every n-th
    checked: int = 0                                  # frames the residual check read
    found: dict = field(default_factory=dict)         # frame -> faces it found there


def verify_video(path: Path, prof: Profile, written: Written, verified: Verified,
                 on_frame: Callable[[int], None] | None = None) -> None:
    """Re-read a written video (see the module's docstring); `on_frame(n)` is told of each frame read back
    (for progress; it may raise to cancel)."""
    check_faces = prof.residual_threshold is not None
    verified.faces_left = sum(len(f) for f in written.found.values()) if check_faces else None
    verified.frames_checked = written.checked
    _check_metadata(path, VIDEO_ALLOWED, verified, VIDEO_DATE_TAGS)
    if not moov_before_mdat(path):
        raise OutputWithheld("output withheld: the MP4 is not fast-start (index after the media data)")
    frames = _frames_read_back(path, written, on_frame)
    if frames != written.frames:
        raise OutputWithheld(f"output withheld: {frames} frames read back, {written.frames} written")
    if check_faces:
        _check_residual(written)


def _frames_read_back(path: Path, written: Written, on_frame: Callable[[int], None] | None) -> int:
    """Decode the whole output, checking its streams and every frame's format and size; the frame count."""
    frames = 0
    with av.open(str(path)) as out:
        kinds = sorted(s.type for s in out.streams)
        if kinds != (["audio", "video"] if written.audio else ["video"]):
            raise OutputWithheld(f"output withheld: unexpected streams {kinds}")
        stream = out.streams.video[0]
        if stream.codec_context.name != "h264":
            raise OutputWithheld("output withheld: the video is not H.264")
        stream.thread_type = "AUTO"
        for frame in out.decode(stream):
            if frame.format.name != "yuv420p":
                raise OutputWithheld(f"output withheld: pixels are {frame.format.name}, not yuv420p")
            if (frame.width, frame.height) != (written.width, written.height):
                raise OutputWithheld(f"output withheld: frames of {frame.width}x{frame.height} read back, "
                                     f"{written.width}x{written.height} written")
            frames += 1
            if on_frame is not None:
                on_frame(frames)
    return frames


def _check_residual(written: Written) -> None:
    """The residual check read every due frame, and found no face on any of them."""
    due = len(range(0, written.frames, written.every))
    if written.checked != due:
        raise OutputWithheld(f"output withheld: the residual-face check read {written.checked} of the {due} "
                             "frames it must read")
    if written.found:
        shown = sorted(written.found)
        listed = ", ".join(str(f) for f in shown[:5]) + (" ..." if len(shown) > 5 else "")
        raise OutputWithheld(f"output withheld: a face is still detectable in {len(shown)} of the "
                             f"{written.checked} frames checked (frames {listed}); review the video")


def moov_before_mdat(path: Path) -> bool:
    """Whether the MP4's index (moov) precedes its media data (mdat): playback can start while loading."""
    order = []
    with open(path, "rb") as fh:
        offset, end = 0, os.fstat(fh.fileno()).st_size
        while offset + 8 <= end:
            fh.seek(offset)
            head = fh.read(16)
            size, kind = int.from_bytes(head[:4], "big"), head[4:8]
            if size == 1:
                size = int.from_bytes(head[8:16], "big")
            elif size == 0:
                size = end - offset
            if size < 8:
                return False
            order.append(kind)
            offset += size
    return b"moov" in order and b"mdat" in order and order.index(b"moov") < order.index(b"mdat")
