"""Pictures for people: a downscaled preview with the regions drawn on it."""
from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw


def regions_overlay(rgb: np.ndarray, regions: list[list[int]], max_side: int = 900) -> bytes:
    """PNG bytes of the image, scaled to fit max_side, with each region outlined and numbered."""
    img = Image.fromarray(rgb)
    scale = min(1.0, max_side / max(img.size))
    if scale < 1.0:
        img = img.resize((round(img.width * scale), round(img.height * scale)), Image.BILINEAR)
    draw = ImageDraw.Draw(img)
    width = max(2, round(max(img.size) / 250))
    for number, (x0, y0, x1, y1) in enumerate(regions, start=1):
        box = [x0 * scale, y0 * scale, x1 * scale - 1, y1 * scale - 1]
        draw.rectangle(box, outline=(255, 64, 0), width=width)
        draw.text((box[0] + width + 2, box[1] + width + 1), str(number), fill=(255, 64, 0))
    buffer = io.BytesIO()
    img.save(buffer, "PNG")
    return buffer.getvalue()
