"""Pure region arithmetic and redaction of pixel arrays (no I/O)."""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

Region = list[int]  # [x0, y0, x1, y1], integer pixels, x1/y1 exclusive


def pad_and_clip(box: tuple[float, float, float, float], padding: float, width: int, height: int) -> Region | None:
    """Grow a box by `padding` of its size on every side, round outwards, clip to the image."""
    x0, y0, x1, y1 = box
    dx, dy = (x1 - x0) * padding, (y1 - y0) * padding
    region = [int(np.floor(x0 - dx)), int(np.floor(y0 - dy)), int(np.ceil(x1 + dx)), int(np.ceil(y1 + dy))]
    region = [max(0, region[0]), max(0, region[1]), min(width, region[2]), min(height, region[3])]
    if region[2] <= region[0] or region[3] <= region[1]:
        return None
    return region


def face_region(box: tuple[float, float, float, float], padding: float, extend_up: float, width: int,
                height: int) -> Region | None:
    """The region covering a detected face. Detectors box eyes to chin; hair and forehead above identify too,
    so the box first grows upwards by `extend_up` of its height, then by `padding` on every side."""
    x0, y0, x1, y1 = box
    return pad_and_clip((x0, y0 - extend_up * (y1 - y0), x1, y1), padding, width, height)


def redact(rgb: np.ndarray, regions: list[Region], method: str = "blur", strength: int = 6) -> np.ndarray:
    """A copy of the array with every region made unrecognisable.

    `blur` and `pixelate` first reduce the region to about `strength` cells across its shorter side, so the
    detail is destroyed, not merely smoothed (a plain Gaussian blur can be partly undone by deconvolution).
    """
    out = rgb.copy()
    for x0, y0, x1, y1 in regions:
        patch = out[y0:y1, x0:x1]
        if patch.size == 0:
            continue
        if method == "solid":
            out[y0:y1, x0:x1] = 0
        else:
            out[y0:y1, x0:x1] = _coarsen(patch, strength, smooth=method == "blur")
    return out


def _coarsen(patch: np.ndarray, cells: int, smooth: bool) -> np.ndarray:
    h, w = patch.shape[:2]
    cell = max(1, int(np.ceil(min(h, w) / max(1, cells))))
    small_size = (max(1, int(np.ceil(w / cell))), max(1, int(np.ceil(h / cell))))
    small = Image.fromarray(patch).resize(small_size, Image.BOX)
    if not smooth:
        return np.asarray(small.resize((w, h), Image.NEAREST))
    big = small.resize((w, h), Image.BILINEAR).filter(ImageFilter.GaussianBlur(radius=max(1.0, cell / 2)))
    return np.asarray(big)


def union_area_share(target: Region, regions: list[Region]) -> float:
    """Share of `target` covered by the union of `regions` (used by tests and benchmarks)."""
    x0, y0, x1, y1 = target
    if x1 <= x0 or y1 <= y0:
        return 0.0
    mask = np.zeros((y1 - y0, x1 - x0), dtype=bool)
    for rx0, ry0, rx1, ry1 in regions:
        mask[max(ry0, y0) - y0:max(0, min(ry1, y1) - y0), max(rx0, x0) - x0:max(0, min(rx1, x1) - x0)] = True
    return float(mask.mean())
