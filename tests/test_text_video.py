"""Names in the picture, in videos: text found on keyframes is carried through every frame by the tracker,
so a name badge moving across a clip is covered in each frame, and Tesseract reads its name in none."""
from __future__ import annotations

import av
import numpy as np
from PIL import Image
from skimage import data

from deid.api import redact_file
from deid.text import near_substring, squeezed
from text_fixtures import Planted, covered_share, plant, tesseract_reading
from video_fixtures import plain_clip

FRAMES, RATE = 30, 15          # two seconds
SIZE = (640, 360)


def badge_frames() -> tuple[list[np.ndarray], list[Planted]]:
    """A name badge sliding across the picture from left to right, a little further every frame."""
    background = np.array(Image.fromarray(data.astronaut()).resize((SIZE[0], SIZE[0])))[100:100 + SIZE[1]]
    frames, badges = [], []
    for index in range(FRAMES):
        rgb = background.copy()
        x = 130 + index * (SIZE[0] - 260) / (FRAMES - 1)
        badges.append(plant(rgb, "Dr. KOWALSKI", (x, 260), letter_px=16, angle=-6, label=(250, 250, 245)))
        frames.append(rgb)
    return frames, badges


def decoded(path: str) -> list[np.ndarray]:
    with av.open(path) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def test_a_name_badge_moving_across_a_clip_is_covered_in_every_frame(tmp_path):
    frames, badges = badge_frames()
    clip = plain_clip(tmp_path / "walk.mp4", frames, rate=RATE)
    assert squeezed("KOWALSKI") in squeezed(tesseract_reading(frames[15], badges[15])), "readable in the input"

    report = redact_file(clip, tmp_path / "out", "identifiable")   # faces kept: only text is redacted

    assert report.error is None, report.error
    assert report.frames == FRAMES and report.frames_with_regions == FRAMES
    written = decoded(report.output)
    for index, (badge, frame) in enumerate(zip(badges, written)):
        regions = [region for first, last, region in report.regions if first <= index <= last]
        assert covered_share(badge, regions, frame.shape) >= 0.97, f"frame {index}: badge not covered"
        x0, y0, x1, y1 = badge.box
        assert frame[y0:y1, x0:x1].std() < 6, f"frame {index}: the badge is not a solid fill"
    for index in (0, FRAMES // 2, FRAMES - 1):
        reading = squeezed(tesseract_reading(written[index], badges[index]))
        assert not near_substring(squeezed("KOWALSKI"), reading, 2), f"frame {index} readable"
