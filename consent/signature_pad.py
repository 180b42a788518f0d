"""A signature drawn with a finger or a stylus: its strokes, whether it is a signature at all, its picture.

Strokes are lists of (x, y) points in the pad's pixels, as the drawing pad reported them. A signature of
fewer than two strokes, or whose ink spans less than a fifth of the pad's width, is refused: a dot, a tap
or a short line is not a signature, and a form signed with one would be worth nothing.
"""
from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageDraw

MIN_STROKES = 2
MIN_WIDTH_SHARE = 0.20
INK = (16, 32, 96, 255)   # dark blue, as a pen on paper


@dataclass(frozen=True)
class Signature:
    strokes: tuple[tuple[tuple[float, float], ...], ...]
    pad_width: int
    pad_height: int

    @classmethod
    def of(cls, strokes, pad_width: int, pad_height: int) -> "Signature":
        points = tuple(tuple((float(x), float(y)) for x, y in stroke) for stroke in strokes)
        return cls(tuple(s for s in points if s), int(pad_width), int(pad_height))

    @property
    def ink_span(self) -> float:
        """How wide the ink is, in pad pixels (0 without ink)."""
        xs = [x for stroke in self.strokes for x, _ in stroke]
        return max(xs) - min(xs) if xs else 0.0


def signature_problem(signature: Signature) -> str | None:
    """Why this drawing cannot stand as a signature, in words for the patient; None when it can."""
    if not signature.strokes:
        return "the signature pad is empty: sign with your finger or the stylus"
    if len(signature.strokes) < MIN_STROKES:
        return "the signature has a single stroke: sign as you would on paper"
    if signature.pad_width <= 0 or signature.ink_span < MIN_WIDTH_SHARE * signature.pad_width:
        return (f"the signature is too small: it must span at least {MIN_WIDTH_SHARE:.0%} of the pad's width; "
                "clear the pad and sign larger")
    return None


def signature_png(signature: Signature, *, scale: float = 3.0, pen: float = 2.5) -> bytes:
    """The strokes as a PNG on a transparent background, cropped to the ink (with a margin), drawn at
    `scale` times the pad's resolution so it prints sharply."""
    if not signature.strokes:
        raise ValueError("no strokes to draw")
    xs = [x for stroke in signature.strokes for x, _ in stroke]
    ys = [y for stroke in signature.strokes for _, y in stroke]
    margin = pen * 2
    left, top = min(xs) - margin, min(ys) - margin
    size = (max(1, round((max(xs) + margin - left) * scale)), max(1, round((max(ys) + margin - top) * scale)))
    image = Image.new("RGBA", size, (255, 255, 255, 0))
    draw = ImageDraw.Draw(image)
    width = max(1, round(pen * scale))
    for stroke in signature.strokes:
        points = [((x - left) * scale, (y - top) * scale) for x, y in stroke]
        if len(points) == 1:
            (x, y), r = points[0], width / 2
            draw.ellipse((x - r, y - r, x + r, y + r), fill=INK)
        else:
            draw.line(points, fill=INK, width=width, joint="curve")
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


def strokes_from_fabric(drawing: dict | None) -> list[list[tuple[float, float]]]:
    """The strokes of a Fabric.js drawing (the JSON the streamlit-drawable-canvas pad returns): each free-
    hand path's points, in canvas pixels. Curves are followed through their control points, which is close
    enough for a signature's picture and exact for its extent."""
    strokes = []
    for obj in (drawing or {}).get("objects", []):
        if obj.get("type", "").lower() != "path":
            continue
        points = []
        for command in obj.get("path") or []:
            numbers = [float(v) for v in command[1:] if isinstance(v, (int, float))]
            points += list(zip(numbers[0::2], numbers[1::2]))
        if points:
            strokes.append(_placed(points, obj))
    return strokes


def _placed(points: list[tuple[float, float]], obj: dict) -> list[tuple[float, float]]:
    """Fabric keeps a path's own coordinates and places the path by left/top (its centre, or its top-left
    corner, per originX/originY) and scale. A freshly drawn path sits where it was drawn, so this moves the
    points only when the patient moved or scaled the stroke with the pad's edit tool."""
    if obj.get("left") is None or obj.get("top") is None:
        return points
    xs, ys = [x for x, _ in points], [y for _, y in points]
    own_x, own_y = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
    sx, sy = float(obj.get("scaleX") or 1), float(obj.get("scaleY") or 1)
    width, height = float(obj.get("width") or 0) * sx, float(obj.get("height") or 0) * sy
    centre_x = float(obj["left"]) + {"left": width / 2, "right": -width / 2}.get(obj.get("originX"), 0.0)
    centre_y = float(obj["top"]) + {"top": height / 2, "bottom": -height / 2}.get(obj.get("originY"), 0.0)
    if abs(centre_x - own_x) < 1.5 and abs(centre_y - own_y) < 1.5 and sx == sy == 1:
        return points   # where it was drawn (the curve's extent and its control points differ by a hair)
    return [(centre_x + (x - own_x) * sx, centre_y + (y - own_y) * sy) for x, y in points]
