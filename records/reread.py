"""Reading a stored output again for the patient's identifiers, in a process of its own through the isolation
seam: the decoder and Tesseract run on a file, so a crash or a hang there costs this reading, never the app.

Only this module and what it imports are loaded in that process (the fork server has the engine already):
the identifiers arrive there in memory, as an argument, and only a count comes back.
"""
from __future__ import annotations

import io

import numpy as np
from PIL import Image

import isolation
from deid.profile import ProfileError, load_profile
from deid.text import identifiers_readable

REREAD_MEMORY_BYTES = 8 << 30   # as a de-identification: an output may be 80 megapixels
REREAD_SECONDS = 300            # the whole reading (it reports no progress): as a rendering's longest silence


def count_readable(picture: bytes, identifiers: list[str], profile_id: str | None) -> int:
    """How many of `identifiers` can be read on the encoded photo `picture`, with the text settings of the
    profile it was rendered with (the defaults where that profile is gone)."""
    try:
        settings = load_profile(profile_id or "default").section("text")
    except ProfileError:
        settings = None
    with Image.open(io.BytesIO(picture)) as written:
        rgb = np.asarray(written.convert("RGB"))
    return identifiers_readable(rgb, identifiers, settings)


def count_readable_isolated(picture: bytes, identifiers: list[str], profile_id: str | None) -> int:
    """count_readable in a process of its own; raises isolation.Failed when that process gave no answer."""
    return isolation.run(count_readable, (picture, identifiers, profile_id), memory_bytes=REREAD_MEMORY_BYTES,
                         total_seconds=REREAD_SECONDS)
