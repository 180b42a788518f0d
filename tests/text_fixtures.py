"""Text planted in real photos for the tests and for benchmarks/text.py: lines drawn with matplotlib's
fonts at a chosen size, angle and colour, each returned with the corners of its ink, and a Tesseract
reading that undoes the known angle so the test can show a line is readable before redaction."""
from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import numpy as np
from PIL import Image, ImageDraw, ImageFont

FONT_DIR = Path(matplotlib.__file__).parent / "mpl-data" / "fonts" / "ttf"
FONTS = ["DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSerif.ttf", "DejaVuSansMono.ttf",
         "DejaVuSans-Oblique.ttf", "DejaVuSerif-Bold.ttf", "STIXGeneral.ttf", "cmss10.ttf"]
CAP_SHARE = 0.73   # capital height of these fonts as a share of the font size


@dataclass
class Planted:
    text: str
    quad: np.ndarray      # (4, 2) corners of the ink in image px: top-left, top-right, bottom-right, bottom-left
    angle: float          # degrees, counter-clockwise, as drawn

    @property
    def box(self) -> list[int]:
        return [int(np.floor(self.quad[:, 0].min())), int(np.floor(self.quad[:, 1].min())),
                int(np.ceil(self.quad[:, 0].max())), int(np.ceil(self.quad[:, 1].max()))]


def font(name: str, letter_px: float) -> ImageFont.FreeTypeFont:
    """A font whose capital letters are about `letter_px` tall."""
    return ImageFont.truetype(str(FONT_DIR / name), max(6, round(letter_px / CAP_SHARE)))


def plant(rgb: np.ndarray, text: str, centre: tuple[float, float], *, letter_px: float = 24, angle: float = 0,
          ink=(20, 20, 20), label=None, font_name: str = "DejaVuSans.ttf", margin: float = 0.5) -> Planted:
    """Draw one line of text into `rgb` (in place), on a label of colour `label` (None: straight on the
    picture), turned `angle` degrees counter-clockwise about `centre`."""
    face = font(font_name, letter_px)
    left, top, right, bottom = face.getbbox(text)
    pad = int(letter_px * margin) + 2
    width, height = right - left + 2 * pad, bottom - top + 2 * pad
    layer = Image.new("RGBA", (width, height), (*label, 255) if label else (0, 0, 0, 0))
    ImageDraw.Draw(layer).text((pad - left, pad - top), text, font=face, fill=(*ink, 255))
    turned = layer.rotate(angle, resample=Image.BICUBIC, expand=True)
    x = round(centre[0] - turned.width / 2)
    y = round(centre[1] - turned.height / 2)
    base = Image.fromarray(rgb)
    base.paste(turned, (x, y), turned)
    rgb[:] = np.asarray(base)
    ink_corners = np.array([[pad, pad], [width - pad, pad], [width - pad, height - pad], [pad, height - pad]], float)
    return Planted(text, _turn_points(ink_corners, angle, width, height) + [x, y], angle)


def _turn_points(points: np.ndarray, angle: float, width: int, height: int) -> np.ndarray:
    """Where points of a width x height layer land after PIL's rotate(angle, expand=True)."""
    theta = np.deg2rad(angle)
    cos, sin = np.cos(theta), np.sin(theta)
    new_w = abs(width * cos) + abs(height * sin)
    new_h = abs(width * sin) + abs(height * cos)
    centred = points - [width / 2, height / 2]
    turned = np.stack([centred[:, 0] * cos + centred[:, 1] * sin, -centred[:, 0] * sin + centred[:, 1] * cos], 1)
    return turned + [new_w / 2, new_h / 2]


def plant_code(rgb: np.ndarray, kind: str, payload: str, top_left: tuple[int, int], module_px: int = 4,
               angle: float = 0) -> Planted:
    """Draw a QR code or an EAN-13 barcode (OpenCV's QR encoder; the bars computed here) into `rgb` with
    its white quiet zone; returns the corners of the code itself."""
    import cv2

    if kind == "qr":
        code, (top, side) = cv2.QRCodeEncoder.create().encode(payload), (4, 4)
    else:  # EAN-13 bars 40 modules tall, with the quiet zone the standard asks for
        code, (top, side) = np.repeat(_ean13(payload), 40, axis=0), (4, 11)
    inner_h, inner_w = code.shape
    code = np.pad(code, ((top, top), (side, side)), constant_values=255)
    code = cv2.resize(code, None, fx=module_px, fy=module_px, interpolation=cv2.INTER_NEAREST)
    img = Image.fromarray(code).convert("RGBA").rotate(angle, expand=True, fillcolor=(0, 0, 0, 0))
    base = Image.fromarray(rgb)
    base.paste(img, top_left, img)
    rgb[:] = np.asarray(base)
    x0, y0 = side * module_px, top * module_px
    corners = np.array([[x0, y0], [x0 + inner_w * module_px, y0], [x0 + inner_w * module_px, y0 + inner_h * module_px],
                        [x0, y0 + inner_h * module_px]], float)
    return Planted(payload, _turn_points(corners, angle, code.shape[1], code.shape[0]) + top_left, angle)


_EAN_L = ["0001101", "0011001", "0010011", "0111101", "0100011", "0110001", "0101111", "0111011", "0110111",
          "0001011"]
_EAN_PARITY = ["LLLLLL", "LLGLGG", "LLGGLG", "LLGGGL", "LGLLGG", "LGGLLG", "LGGGLL", "LGLGLG", "LGLGGL", "LGGLGL"]


def _ean13(digits12: str) -> np.ndarray:
    """The bars of an EAN-13 code (one row, 0 = bar) for 12 digits; the check digit is computed."""
    digits = [int(d) for d in digits12]
    check = (10 - sum(d * (3 if i % 2 else 1) for i, d in enumerate(digits)) % 10) % 10
    digits.append(check)
    bits = "101"
    for d, parity in zip(digits[1:7], _EAN_PARITY[digits[0]]):
        code = _EAN_L[d]
        bits += code if parity == "L" else "".join("1" if b == "0" else "0" for b in code)[::-1]
    bits += "01010"
    for d in digits[7:]:
        bits += "".join("1" if b == "0" else "0" for b in _EAN_L[d])
    bits += "101"
    return np.array([[0 if b == "1" else 255 for b in bits]], dtype=np.uint8)


def covered_share(planted: Planted, regions: list[list[int]], shape) -> float:
    """Share of the planted ink rectangle (inside the picture) that lies within the regions."""
    import cv2

    ink = np.zeros(shape[:2], np.uint8)
    cv2.fillPoly(ink, [np.round(planted.quad).astype(np.int32)], 1)
    inside = np.zeros_like(ink)
    for x0, y0, x1, y1 in regions:
        inside[y0:y1, x0:x1] = 1
    return float((ink & inside).sum() / max(1, ink.sum()))


def tesseract_reading(rgb: np.ndarray, planted: Planted, zoom: float = 2.0) -> str:
    """What Tesseract reads in the planted line's box once the drawing angle is undone (psm 7: one line)."""
    import cv2

    centre = planted.quad.mean(axis=0)
    width = np.linalg.norm(planted.quad[1] - planted.quad[0])
    height = np.linalg.norm(planted.quad[3] - planted.quad[0])
    matrix = cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), -planted.angle, zoom)
    out_w, out_h = int((width + height) * zoom), int(height * 2.2 * zoom)
    matrix[:, 2] += [out_w / 2 - centre[0], out_h / 2 - centre[1]]
    crop = cv2.warpAffine(rgb, matrix, (out_w, out_h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    if crop.mean() < 110:   # light print on a dark screen: Tesseract reads dark on light
        crop = 255 - crop
    return tesseract_text(crop, "7")


def tesseract_text(rgb: np.ndarray, psm: str = "11") -> str:
    """Tesseract's reading of an RGB array (PNG through stdin, never a file)."""
    import io

    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "PNG")
    done = subprocess.run(["tesseract", "stdin", "stdout", "--psm", psm], input=buffer.getvalue(),
                          capture_output=True, timeout=60, check=True)
    return done.stdout.decode("utf-8", "replace")
