"""Why a video could not be de-identified, said to the person who uploaded it (never with a path)."""
from __future__ import annotations

from deid.image import ImageReadError


class VideoReadError(ImageReadError):
    """A video that cannot be read or written safely; the message says why."""


class VideoCancelled(VideoReadError):
    """The person cancelled; nothing was written."""


def av_reason(exc: BaseException) -> str:
    """FFmpeg's reason, without the file name its messages carry (it may name the patient)."""
    return str(getattr(exc, "strerror", None) or type(exc).__name__).strip()[:120]
