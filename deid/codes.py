"""Barcodes and QR codes in the picture, found by OpenCV's detectors (the opencv-contrib wheel MediaPipe
brings; no second OpenCV). A code is redacted whether or not it can be decoded: an unreadable code in the
output may still be readable to a better reader. Nothing decoded is kept or returned."""
from __future__ import annotations

import cv2
import numpy as np

from deid.redact import Region, pad_and_clip

WORK_SIDE = 1536      # codes are looked for on a copy with at most this longest side
# Share of a code's size added on every side: the QR detectors box a code a module or two short, and the
# barcode detector often boxes only the stretch of bars it could follow (measured: 60 to 100 % of them).
QR_PADDING = 0.2
BAR_PADDING = 0.35


def code_quads(rgb: np.ndarray) -> list[tuple[np.ndarray, float]]:
    """Corners (4, 2) of every barcode and QR code found, in the picture's pixels, each with its padding."""
    height, width = rgb.shape[:2]
    factor = min(1.0, WORK_SIDE / max(height, width))
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    if factor < 1.0:
        gray = cv2.resize(gray, (max(1, round(width * factor)), max(1, round(height * factor))),
                          interpolation=cv2.INTER_AREA)
    found = [(quad, BAR_PADDING) for quad in _barcodes(gray)] + [(quad, QR_PADDING) for quad in _qr_codes(gray)]
    return [(np.asarray(quad, np.float64).reshape(4, 2) / factor, padding) for quad, padding in found]


def _barcodes(gray: np.ndarray) -> list:
    detector = cv2.barcode.BarcodeDetector()
    # the working copy is already small enough; OpenCV refuses thresholds under 64 px (a thumbnail)
    detector.setDownsamplingThreshold(float(max(64, *gray.shape)))
    # The detector measures gradients: perfectly sharp bars (a screenshot, a rendered label) defeat it while
    # a camera's slight softness does not, so every picture is softened alike (sigma 1.5 px) first.
    ok, points = detector.detectMulti(cv2.GaussianBlur(gray, (0, 0), 1.5))
    return list(points) if ok and points is not None else []


def _qr_codes(gray: np.ndarray) -> list:
    quads = []
    for detector in (cv2.QRCodeDetectorAruco(), cv2.QRCodeDetector()):
        ok, points = detector.detectMulti(gray)
        if ok and points is not None:
            quads += list(points)
    return quads


def code_regions(rgb: np.ndarray) -> list[Region]:
    """Upright boxes around each code, grown on every side by a share of the code's size."""
    height, width = rgb.shape[:2]
    regions = []
    for quad, padding in code_quads(rgb):
        box = (*quad.min(axis=0), *quad.max(axis=0))
        region = pad_and_clip(box, padding, width, height)
        if region is not None and region not in regions:
            regions.append(region)
    return regions
