"""Face detections and the box arithmetic every detector shares: overlap, suppression, fusion (pure numpy)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


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
    """`rgb uint8 HxWx3 array -> detections` in pixel coordinates of that array."""
    def __call__(self, rgb: np.ndarray) -> list[Detection]: ...


def iou(a: tuple, b: tuple) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Overlap (IoU) of every box of `a` (N, 4) with every box of `b` (M, 4): an (N, M) array."""
    ix = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    iy = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = ix * iy
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def nms_indices(boxes: np.ndarray, scores: np.ndarray, overlap: float) -> list[int]:
    """Greedy non-maximum suppression: indices of the best box of each cluster, best first."""
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        best = int(order[0])
        keep.append(best)
        rest = order[1:]
        if rest.size:
            rest = rest[iou_matrix(boxes[best:best + 1], boxes[rest])[0] < overlap]
        order = rest
    return keep


def nms(detections: list[Detection], overlap: float = 0.4) -> list[Detection]:
    """Keep the best-scoring box of each cluster of overlapping boxes."""
    if not detections:
        return []
    boxes = np.array([d.box for d in detections], dtype=np.float64)
    scores = np.array([d.score for d in detections], dtype=np.float64)
    return [detections[i] for i in nms_indices(boxes, scores, overlap)]


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
    return covered_share(outer, inner) >= share


def covered_share(outer: tuple, inner: tuple) -> float:
    """The share of box `inner`'s area that lies inside box `outer` (0 for an empty box)."""
    ix = max(0.0, min(outer[2], inner[2]) - max(outer[0], inner[0]))
    iy = max(0.0, min(outer[3], inner[3]) - max(outer[1], inner[1]))
    area = (inner[2] - inner[0]) * (inner[3] - inner[1])
    return ix * iy / area if area > 0 else 0.0
