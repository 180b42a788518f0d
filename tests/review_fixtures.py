"""Photos for the review tests: grace_hopper with one line of text printed on a light label across her
chest (a T-shirt slogan, or the patient's name), and how to find the text region that covers it."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from conftest import grace_hopper_path
from text_fixtures import Planted, covered_share, plant

SLOGAN = "SURF CLUB MALIBU"          # nothing identifying: a reviewer may leave it visible


def labelled_photo(path: Path, text: str = SLOGAN) -> tuple[Path, Planted]:
    """A PNG of grace_hopper with `text` on a label below her face; returns its path and the planted line."""
    rgb = np.asarray(Image.open(grace_hopper_path()).convert("RGB")).copy()
    line = plant(rgb, text, (256, 560), letter_px=20, label=(250, 250, 246))
    Image.fromarray(rgb).save(path)
    return path, line


def region_over(output, line: Planted, shape=(600, 512)) -> int:
    """The number (1-based, as the review page shows it) of the output's text region over the planted line."""
    found = [n for n, (region, kind) in enumerate(zip(output.regions, output.region_kinds), start=1)
             if kind == "text" and covered_share(line, [region], shape) > 0.5]
    assert len(found) == 1, f"one text region over the line, not {found}"
    return found[0]
