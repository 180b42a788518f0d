"""Face detectors and their fusion.

Each detector is a callable `rgb uint8 HxWx3 array -> list[Detection]` in pixel coordinates of that array.
The ensemble runs CenterFace (onnxruntime) and BlazeFace full-range (MediaPipe Tasks) and fuses their boxes;
the residual checker uses BlazeFace short-range, a differently-built model, on redacted output.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np
from PIL import Image

from deid.models import model_path

os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@dataclass(frozen=True)
class Detection:
    x0: float
    y0: float
    x1: float
    y1: float
    score: float
    source: str

    @property
    def box(self) -> tuple[float, float, float, float]:
        return (self.x0, self.y0, self.x1, self.y1)

    def scaled(self, factor: float, dx: float = 0.0, dy: float = 0.0) -> "Detection":
        return Detection(self.x0 * factor + dx, self.y0 * factor + dy, self.x1 * factor + dx,
                         self.y1 * factor + dy, self.score, self.source)


class Detector(Protocol):
    def __call__(self, rgb: np.ndarray) -> list[Detection]: ...


def resize_longest(rgb: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """Scale down so the longest side is at most max_side; returns the image and the factor back to the input."""
    h, w = rgb.shape[:2]
    longest = max(h, w)
    if longest <= max_side:
        return rgb, 1.0
    factor = max_side / longest
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.BILINEAR)), longest / max_side


# ---------------------------------------------------------------- CenterFace (onnxruntime)

_session_lock = threading.Lock()
_centerface_session = None


def _centerface() -> "object":
    """One shared onnxruntime session; the shipped graph has a fixed 32x32 input, made size-free here."""
    global _centerface_session
    with _session_lock:
        if _centerface_session is None:
            import onnx
            import onnxruntime as ort

            model = onnx.load(str(model_path("centerface")))
            initializers = {i.name for i in model.graph.initializer}
            keep = [i for i in model.graph.input if i.name not in initializers]
            del model.graph.input[:]
            model.graph.input.extend(keep)
            for value in list(model.graph.input) + list(model.graph.output):
                dims = value.type.tensor_type.shape.dim
                for index, name in ((0, "batch"), (2, "height"), (3, "width")):
                    dims[index].dim_param = name
            options = ort.SessionOptions()
            options.intra_op_num_threads = int(os.environ.get("VEIL_THREADS", "2"))
            options.log_severity_level = 3
            _centerface_session = ort.InferenceSession(model.SerializeToString(), options,
                                                       providers=["CPUExecutionProvider"])
    return _centerface_session


def centerface(rgb: np.ndarray, threshold: float = 0.3) -> list[Detection]:
    """CenterFace on the whole array; the input is stretched to multiples of 32 as the network needs."""
    h, w = rgb.shape[:2]
    in_h, in_w = max(32, int(np.ceil(h / 32) * 32)), max(32, int(np.ceil(w / 32) * 32))
    resized = rgb if (in_h, in_w) == (h, w) else np.asarray(Image.fromarray(rgb).resize((in_w, in_h), Image.BILINEAR))
    blob = resized.astype(np.float32).transpose(2, 0, 1)[None]
    session = _centerface()
    heatmap, scale, offset, _landmarks = session.run(None, {session.get_inputs()[0].name: blob})
    boxes = [d.scaled_xy(w / in_w, h / in_h) for d in _decode_centerface(heatmap, scale, offset, threshold)]
    return nms(boxes)


def _decode_centerface(heatmap, scale, offset, threshold) -> list["_Box"]:
    ys, xs = np.nonzero(heatmap[0, 0] > threshold)
    boxes = []
    for y, x in zip(ys, xs):
        height, width = np.exp(scale[0, 0, y, x]) * 4, np.exp(scale[0, 1, y, x]) * 4
        cy, cx = (y + offset[0, 0, y, x] + 0.5) * 4, (x + offset[0, 1, y, x] + 0.5) * 4
        boxes.append(_Box(float(cx - width / 2), float(cy - height / 2), float(cx + width / 2),
                          float(cy + height / 2), float(heatmap[0, 0, y, x])))
    return boxes


@dataclass(frozen=True)
class _Box:
    x0: float
    y0: float
    x1: float
    y1: float
    score: float

    def scaled_xy(self, fx: float, fy: float) -> Detection:
        return Detection(self.x0 * fx, self.y0 * fy, self.x1 * fx, self.y1 * fy, self.score, "centerface")


# ---------------------------------------------------------------- BlazeFace (MediaPipe Tasks)

_blazeface_lock = threading.RLock()
_blazeface_detectors: dict[tuple[str, float], object] = {}


def _blazeface(model: str, threshold: float):
    key = (model, threshold)
    with _blazeface_lock:
        if key not in _blazeface_detectors:
            from mediapipe.tasks.python import BaseOptions, vision

            options = vision.FaceDetectorOptions(
                base_options=BaseOptions(model_asset_path=str(model_path(model))),
                min_detection_confidence=threshold, min_suppression_threshold=0.3)
            _blazeface_detectors[key] = vision.FaceDetector.create_from_options(options)
    return _blazeface_detectors[key]


def blazeface(rgb: np.ndarray, threshold: float = 0.5, model: str = "blazeface_full") -> list[Detection]:
    import mediapipe as mp

    image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
    with _blazeface_lock:  # a Tasks detector is not safe to call from two threads at once
        result = _blazeface(model, threshold).detect(image)
    found = []
    for det in result.detections:
        b = det.bounding_box
        found.append(Detection(float(b.origin_x), float(b.origin_y), float(b.origin_x + b.width),
                               float(b.origin_y + b.height),
                               float(det.categories[0].score), model))
    return found


# ---------------------------------------------------------------- fusion

def iou(a: tuple, b: tuple) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def nms(detections: list[Detection], overlap: float = 0.4) -> list[Detection]:
    """Keep the best-scoring box of each cluster of overlapping boxes from one detector."""
    kept: list[Detection] = []
    for det in sorted(detections, key=lambda d: -d.score):
        if all(iou(det.box, k.box) < overlap for k in kept):
            kept.append(det)
    return kept


def fuse(detections: list[Detection], overlap: float = 0.3) -> list[Detection]:
    """Merge boxes of the same face: overlapping boxes become their union (the safe side), best score kept."""
    merged: list[Detection] = []
    for det in sorted(detections, key=lambda d: -d.score):
        for i, kept in enumerate(merged):
            if iou(det.box, kept.box) >= overlap or _contains(kept.box, det.box) or _contains(det.box, kept.box):
                merged[i] = Detection(min(kept.x0, det.x0), min(kept.y0, det.y0), max(kept.x1, det.x1),
                                      max(kept.y1, det.y1), kept.score, kept.source)
                break
        else:
            merged.append(det)
    return merged


def _contains(outer: tuple, inner: tuple, share: float = 0.8) -> bool:
    ix = max(0.0, min(outer[2], inner[2]) - max(outer[0], inner[0]))
    iy = max(0.0, min(outer[3], inner[3]) - max(outer[1], inner[1]))
    area = (inner[2] - inner[0]) * (inner[3] - inner[1])
    return area > 0 and ix * iy / area >= share


def ensemble(detector_settings: dict) -> Detector:
    """The full detector of a profile: CenterFace and BlazeFace full-range, fused."""
    cf_threshold = float(detector_settings.get("centerface_threshold", 0.3))
    bf_threshold = float(detector_settings.get("blazeface_threshold", 0.5))
    max_side = int(detector_settings.get("max_side", 2048))

    def detect(rgb: np.ndarray) -> list[Detection]:
        small, back = resize_longest(rgb, max_side)
        found = centerface(small, cf_threshold) + blazeface(small, bf_threshold)
        return fuse([d.scaled(back) for d in found])

    return detect


def residual_detector(threshold: float = 0.6) -> Callable[[np.ndarray], list[Detection]]:
    """A differently-built model (BlazeFace short-range) that looks for faces left on an output."""

    def detect(rgb: np.ndarray) -> list[Detection]:
        small, back = resize_longest(rgb, 1024)
        return [d.scaled(back) for d in blazeface(small, threshold, model="blazeface_short")]

    return detect
