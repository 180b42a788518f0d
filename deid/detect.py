"""Face detectors and their fusion.

Each detector is a callable `rgb uint8 HxWx3 array -> list[Detection]` in pixel coordinates of that array.

The ensemble looks at one image through several *views*: CenterFace (onnxruntime) at half, native and
double scale (the cheap half-scale one also mirrored), CenterFace on copies turned a quarter either way
(people lying down), and BlazeFace full-range (MediaPipe Tasks). A face is kept when the views that can
see a face of its size agree on it: the mean, over those views, of the best score each gives to a box
overlapping it reaches the profile's threshold for that size. Agreement between views, rather than one
view's score, is what lets low thresholds find hard faces without scattering regions over skin and
fabric. The double-scale view, the costly one, runs only on windows of the image where the native view
sees a hint of a small face.

The residual checker is built differently: BlazeFace short-range proposes faces on the whole output and
on ever smaller tiles, and each proposal is looked at again on a crop framed around it; only a confirmed
face counts. A redacted head keeps a head's outline, which the proposer alone often mistakes for a face.
"""
from __future__ import annotations

import atexit
import os
import threading
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from PIL import Image

from deid.models import model_path

# onnxruntime's telemetry is on by default on Linux: it writes a session file into TMPDIR, keeps a device id
# under ~/.cache/Microsoft and may send events. Read once, when onnxruntime is imported, so it is set here.
os.environ["ORT_DISABLE_TELEMETRY"] = "1"

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
    return resize_by(rgb, factor), longest / max_side


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
            # Idle workers sleep instead of spinning: spinning cost 155 ms of CPU per 720p run against 98 ms
            # without, CPU that video decoding and encoding on the same two cores need.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            options.log_severity_level = 3
            _centerface_session = ort.InferenceSession(model.SerializeToString(), options,
                                                       providers=["CPUExecutionProvider"])
    return _centerface_session


@dataclass
class _Maps:
    """CenterFace outputs at stride 4, and the factors from network-input pixels back to the array given."""
    heat: np.ndarray     # (h, w) face-centre probability
    size: np.ndarray     # (2, h, w) log box height, width
    offset: np.ndarray   # (2, h, w) sub-cell centre offset
    fx: float
    fy: float


def _centerface_maps(rgb: np.ndarray) -> _Maps:
    """Run the network once; the input is stretched to multiples of 32 as the network needs."""
    h, w = rgb.shape[:2]
    in_h, in_w = max(32, int(np.ceil(h / 32) * 32)), max(32, int(np.ceil(w / 32) * 32))
    resized = rgb if (in_h, in_w) == (h, w) else np.asarray(Image.fromarray(rgb).resize((in_w, in_h), Image.BILINEAR))
    blob = resized.astype(np.float32).transpose(2, 0, 1)[None]
    session = _centerface()
    heat, size, offset, _landmarks = session.run(None, {session.get_inputs()[0].name: blob})
    return _Maps(heat[0, 0], size[0], offset[0], w / in_w, h / in_h)


def _decode(maps: _Maps, threshold: float) -> tuple[np.ndarray, np.ndarray]:
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
    boxes, scores = _decode(_centerface_maps(rgb), threshold)
    keep = _nms_indices(boxes, scores, 0.4)
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


# ---------------------------------------------------------------- geometry and fusion

def iou(a: tuple, b: tuple) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ix = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    iy = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = ix * iy
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def _nms_indices(boxes: np.ndarray, scores: np.ndarray, overlap: float) -> list[int]:
    """Greedy non-maximum suppression: indices of the best box of each cluster, best first."""
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        best = int(order[0])
        keep.append(best)
        rest = order[1:]
        if rest.size:
            rest = rest[_iou_matrix(boxes[best:best + 1], boxes[rest])[0] < overlap]
        order = rest
    return keep


def nms(detections: list[Detection], overlap: float = 0.4) -> list[Detection]:
    """Keep the best-scoring box of each cluster of overlapping boxes."""
    if not detections:
        return []
    boxes = np.array([d.box for d in detections], dtype=np.float64)
    scores = np.array([d.score for d in detections], dtype=np.float64)
    return [detections[i] for i in _nms_indices(boxes, scores, overlap)]


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


def tiles(width: int, height: int, size: int, overlap: float = 0.25) -> list[tuple[int, int, int, int]]:
    """Square-ish tiles of about `size` px covering the image, neighbours overlapping by `overlap` of a tile."""
    def starts(length: int) -> list[int]:
        if length <= size:
            return [0]
        count = int(np.ceil((length - size) / (size * (1 - overlap)))) + 1
        return [round(i * (length - size) / (count - 1)) for i in range(count)]

    tw, th = min(size, width), min(size, height)
    return [(x, y, x + tw, y + th) for y in starts(height) for x in starts(width)]


# ---------------------------------------------------------------- the ensemble

@dataclass(frozen=True)
class View:
    """One way of looking at the working image: a model, a scale, mirrored or not, turned or not."""
    name: str
    model: str          # "centerface" or "blazeface"
    scale: float = 1.0
    mirror: bool = False
    turn: int = 0       # quarter turns counter-clockwise (np.rot90)
    min_face: float = 0.0   # sizes (longest side, working-image px) of faces this view can see
    max_face: float = 1e9


@dataclass
class _Found:
    boxes: np.ndarray   # (N, 4) working-image px
    scores: np.ndarray  # (N,)
    view: np.ndarray    # (N,) index of the view


def _turn_back(boxes: np.ndarray, turn: int, width: int, height: int) -> np.ndarray:
    """Boxes found on np.rot90(image, turn) mapped back to the image (width x height)."""
    x0, y0, x1, y1 = boxes.T
    if turn % 4 == 1:
        return np.stack([width - y1, x0, width - y0, x1], axis=1)
    if turn % 4 == 2:
        return np.stack([width - x1, height - y1, width - x0, height - y0], axis=1)
    if turn % 4 == 3:
        return np.stack([y0, height - x1, y1, height - x0], axis=1)
    return boxes


def _mirror_back(boxes: np.ndarray, width: int) -> np.ndarray:
    return np.stack([width - boxes[:, 2], boxes[:, 1], width - boxes[:, 0], boxes[:, 3]], axis=1)


def _look(rgb: np.ndarray, view: View, floor: float, window: tuple[int, int, int, int] | None = None,
          maps_out: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Run one view on the working image (or a window of it); boxes in working-image px, NMS within the view."""
    x_off, y_off = 0, 0
    if window is not None:
        x_off, y_off, x1, y1 = window
        rgb = rgb[y_off:y1, x_off:x1]
    height, width = rgb.shape[:2]
    img = np.rot90(rgb, view.turn) if view.turn % 4 else rgb
    if view.mirror:
        img = img[:, ::-1]
    img = resize_by(np.ascontiguousarray(img), view.scale)
    if view.model == "centerface":
        maps = _centerface_maps(img)
        if maps_out is not None:
            maps_out[view.name] = maps
        boxes, scores = _decode(maps, floor)
    else:
        found = blazeface(img, max(floor, 0.1), "blazeface_full")
        boxes = np.array([d.box for d in found], dtype=np.float64).reshape(-1, 4)
        scores = np.array([d.score for d in found], dtype=np.float64)
    boxes = boxes / view.scale
    turned_w = height if view.turn % 2 else width
    if view.mirror:
        boxes = _mirror_back(boxes, turned_w)
    boxes = _turn_back(boxes, view.turn, width, height)
    keep = _nms_indices(boxes, scores, 0.3)
    return boxes[keep] + [x_off, y_off, x_off, y_off], scores[keep]


def _small_face_windows(maps: _Maps, probe: float, small: float, cell: int, width: int,
                        height: int) -> list[tuple[int, int, int, int]]:
    """Windows of the working image where the native view sees a hint (heat >= probe) of a face under
    `small` px: cells holding such hints and their neighbours, joined along each row of cells."""
    ys, xs = np.nonzero(maps.heat >= probe)
    sizes = np.maximum(np.exp(maps.size[0, ys, xs]) * maps.fy, np.exp(maps.size[1, ys, xs]) * maps.fx) * 4
    ys, xs = ys[sizes < small], xs[sizes < small]
    rows, cols = int(np.ceil(height / cell)), int(np.ceil(width / cell))
    marked = np.zeros((rows + 2, cols + 2), dtype=bool)
    cy = np.minimum(((ys + 0.5) * 4 * maps.fy / cell).astype(int), rows - 1)
    cx = np.minimum(((xs + 0.5) * 4 * maps.fx / cell).astype(int), cols - 1)
    marked[cy + 1, cx + 1] = True
    grown = marked.copy()  # a hint's neighbours too: faces in a crowd sit side by side
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            grown[1:-1, 1:-1] |= marked[1 + dy:rows + 1 + dy, 1 + dx:cols + 1 + dx]
    grown = grown[1:-1, 1:-1]
    windows = []
    for r in range(rows):
        c = 0
        while c < cols:
            if not grown[r, c]:
                c += 1
                continue
            start = c
            while c < cols and grown[r, c]:
                c += 1
            windows.append((start * cell, r * cell, min(width, c * cell), min(height, (r + 1) * cell)))
    return _join_vertically(windows, cell, width, height)


def _join_vertically(windows: list[tuple[int, int, int, int]], margin: int, width: int,
                     height: int) -> list[tuple[int, int, int, int]]:
    """Merge row windows with identical columns into taller ones, then add a margin so that faces on a
    window's edge are seen whole."""
    merged: list[list[int]] = []
    for x0, y0, x1, y1 in windows:
        for m in merged:
            if m[0] == x0 and m[2] == x1 and m[3] == y0:
                m[3] = y1
                break
        else:
            merged.append([x0, y0, x1, y1])
    half = margin // 2
    return [(max(0, x0 - half), max(0, y0 - half), min(width, x1 + half), min(height, y1 + half))
            for x0, y0, x1, y1 in merged]


DEFAULTS = {
    "max_side": 2048,          # the working image: larger images are scaled down to this longest side
    "floor": 0.05,             # lowest score a view reports
    "link": 0.4,               # overlap (IoU) at which boxes of two views are the same face
    "threshold_tiny": 0.2,     # mean agreement of the upright views needed for faces under 16 px ...
    "threshold_small": 0.2,    # ... 16 to 32 px ...
    "threshold": 0.1,          # ... and larger (working-image px)
    "threshold_turned": 0.6,   # agreement needed from the views of a quarter-turned copy
    "mirror": [0.5],           # scales of the upright CenterFace views that also look at the mirrored image
    "turns": True,             # CenterFace on copies turned a quarter either way, at half scale
    "blazeface": True,         # BlazeFace full-range on the whole working image
    "upscale": 2.0,            # CenterFace on enlarged windows where small faces may be (0 turns it off)
    "probe": 0.05,             # heat that marks a window for the enlarged views
    "margin": 6.0,             # working-image px added on every side of a kept box (localisation slack)
}


def _views(settings: dict) -> list[View]:
    """The views of a profile. Face-size ranges are where each view finds faces at all (measured on WIDER)."""
    mirror = settings["mirror"]
    mirrored = {0.5, 1.0, float(settings["upscale"])} if mirror is True else {float(m) for m in mirror or []}
    views = [View("cf_half", "centerface", 0.5, min_face=24), View("cf", "centerface", 1.0, min_face=8)]
    if 0.5 in mirrored:
        views.append(View("cf_half_m", "centerface", 0.5, True, min_face=24))
    if 1.0 in mirrored:
        views.append(View("cf_m", "centerface", 1.0, True, min_face=8))
    if settings["blazeface"]:
        views.append(View("bf", "blazeface", 1.0, min_face=40))
    up = float(settings["upscale"])
    if up > 1:
        views.append(View("cf_up", "centerface", up, max_face=768 / up))
        if up in mirrored:
            views.append(View("cf_up_m", "centerface", up, True, max_face=768 / up))
    if settings["turns"]:
        views += [View("cf_left", "centerface", 0.5, turn=1, min_face=24),
                  View("cf_right", "centerface", 0.5, turn=3, min_face=24)]
    return views


def ensemble(detector_settings: dict) -> Detector:
    """The full detector of a profile (see the module's docstring); keys as in DEFAULTS."""
    settings = {**DEFAULTS, **{k: v for k, v in detector_settings.items() if k in DEFAULTS}}
    views = _views(settings)
    floor, link = float(settings["floor"]), float(settings["link"])
    thresholds = (float(settings["threshold_tiny"]), float(settings["threshold_small"]), float(settings["threshold"]))
    margin = float(settings["margin"])

    def detect(rgb: np.ndarray) -> list[Detection]:
        work, back = resize_longest(rgb, int(settings["max_side"]))
        height, width = work.shape[:2]
        found, maps = _Found(np.zeros((0, 4)), np.zeros(0), np.zeros(0, int)), {}
        for index, view in enumerate(views):
            if view.scale > 1:
                if "cf" not in maps:
                    continue
                windows = _small_face_windows(maps["cf"], float(settings["probe"]), 32.0, 128, width, height)
                parts = [_look(work, view, floor, w) for w in windows]
            else:
                parts = [_look(work, view, floor, maps_out=maps)]
            for boxes, scores in parts:
                found = _Found(np.vstack([found.boxes, boxes]), np.concatenate([found.scores, scores]),
                               np.concatenate([found.view, np.full(len(scores), index)]))
        boxes, agreement = _agree(found, views, link, thresholds, float(settings["threshold_turned"]))
        boxes = boxes + [-margin, -margin, margin, margin]
        return [Detection(*(float(v) * back for v in b), float(s), "ensemble") for b, s in zip(boxes, agreement)]

    return detect


def _agree(found: _Found, views: list[View], link: float, thresholds: tuple[float, float, float],
           turned: float) -> tuple[np.ndarray, np.ndarray]:
    """Keep boxes on which the views able to see a face of that size agree enough; one box per face.

    A box's support from a view is the best score that view gives to a box overlapping it; agreement is
    the mean support over the views whose size range holds the box. The upright views vote together with
    a threshold by face size; each quarter-turned copy votes on its own, for faces of people lying down."""
    if not len(found.scores):
        return np.zeros((0, 4)), np.zeros(0)
    overlaps = _iou_matrix(found.boxes, found.boxes) >= link
    support = np.zeros((len(found.scores), len(views)))
    for index in range(len(views)):
        mine = found.view == index
        if mine.any():
            support[:, index] = (overlaps[:, mine] * found.scores[mine][None, :]).max(axis=1)
    size = np.maximum(found.boxes[:, 2] - found.boxes[:, 0], found.boxes[:, 3] - found.boxes[:, 1])
    lo = np.array([v.min_face for v in views])
    hi = np.array([v.max_face for v in views])
    able = (size[:, None] >= lo[None, :]) & (size[:, None] < hi[None, :])
    turns = np.array([v.turn % 4 for v in views])
    best, keep = np.zeros(len(size)), np.zeros(len(size), dtype=bool)
    for turn in np.unique(turns):
        voters = able & (turns == turn)[None, :]
        mean = (support * voters).sum(axis=1) / np.maximum(voters.sum(axis=1), 1)
        if turn == 0:
            needed = np.where(size < 16, thresholds[0], np.where(size < 32, thresholds[1], thresholds[2]))
        else:
            needed = np.full(len(size), turned)
        keep |= mean >= needed
        best = np.maximum(best, mean)
    kept = np.nonzero(keep)[0]
    order = _nms_indices(found.boxes[kept], best[kept], 0.3)
    return found.boxes[kept][order], best[kept][order]


# ---------------------------------------------------------------- the residual checker

RESIDUAL_SIDE = 1536      # the output is looked at with this longest side at most
RESIDUAL_TILE = 256       # smallest tile the proposer looks at (it sees faces of about a sixth of its input)
RESIDUAL_CONFIRM = 0.7    # CenterFace score on the framed crop that confirms a proposal


def residual_detector(threshold: float = 0.6, confirm: float = RESIDUAL_CONFIRM) -> Detector:
    """Faces left on an output. BlazeFace short-range (a model the ensemble does not use) proposes faces
    on the whole image and on ever smaller tiles; each proposal scoring `threshold` or more is framed in a
    crop three times its size and confirmed when CenterFace scores `confirm` or more on that crop. Blurred
    heads fool the proposer; without eyes, nose and mouth they fail the second look."""

    def detect(rgb: np.ndarray) -> list[Detection]:
        work, back = resize_longest(rgb, RESIDUAL_SIDE)
        height, width = work.shape[:2]
        proposals: list[Detection] = []
        size = max(width, height)
        while True:
            for x0, y0, x1, y1 in tiles(width, height, size):
                tile = np.ascontiguousarray(work[y0:y1, x0:x1])
                proposals += [d.scaled(1.0, x0, y0) for d in blazeface(tile, threshold, "blazeface_short")]
            if size <= RESIDUAL_TILE:
                break
            size = max(RESIDUAL_TILE, int(size / 1.6))
        confirmed = []
        for det in nms(proposals, 0.3):
            score = _second_look(work, det)
            if score >= confirm:
                confirmed.append(Detection(*(v * back for v in det.box), score, "residual"))
        return confirmed

    return detect


def _second_look(rgb: np.ndarray, det: Detection, context: float = 1.0, side: int = 192) -> float:
    """Best CenterFace score on a square crop centred on the detection, `context` of its size around it."""
    x0, y0, x1, y1 = det.box
    half = max(x1 - x0, y1 - y0) * (0.5 + context)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    crop = Image.fromarray(rgb).crop((int(cx - half), int(cy - half), int(cx + half), int(cy + half)))
    boxes, scores = _decode(_centerface_maps(np.asarray(crop.resize((side, side), Image.BILINEAR))), 0.05)
    return float(scores.max()) if len(scores) else 0.0
