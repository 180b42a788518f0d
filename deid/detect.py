"""The detectors Veil runs, built from the networks of deid/detectors.py: the ensemble that finds faces to
redact, the residual checker that looks for faces left on an output, and the tiler that runs a detector on
a large picture piece by piece. Each is a `Detector` (deid/boxes.py).

The ensemble looks at one image through several *views*: CenterFace (onnxruntime) at half, native and
double scale (the cheap half-scale one also mirrored), CenterFace on copies turned a quarter either way
(people lying down), and BlazeFace full-range (MediaPipe Tasks). A face is kept when the views that can
see a face of its size agree on it: the mean, over those views, of the best score each gives to a box
overlapping it reaches the profile's threshold for that size. Agreement between views, rather than one
view's score, is what lets low thresholds find hard faces without scattering regions over skin and
fabric.

Time goes where faces can be. The half-scale view and BlazeFace look at the whole working image first;
the native and mirrored views then look only at windows where the half-scale view's heat hints at a face
(`hint`), the turned copies only where it hints strongly (`turn_hint`) and no upright view has already
found a face, and the double-scale view only where the native view hints at a small face (`probe`).
Windows covering most of the picture become the whole picture. On the WIDER subset no face lost its
protection to these hints (one more was protected; benchmarks/faces.py); on a photo of one person most
of the picture is skipped (benchmarks/face_stages.py).

The residual checker is built differently: BlazeFace short-range proposes faces on the whole output and
on ever smaller tiles, and each proposal is looked at again on a crop framed around it; only a confirmed
face counts. A redacted head keeps a head's outline, which the proposer alone often mistakes for a face.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from deid.boxes import Detection, Detector, covered_share, fuse, iou_matrix, nms, nms_indices
from deid.detectors import (CenterFaceMaps, blazeface, centerface_maps, decode_peaks, resize_by,
                            resize_longest)

# ---------------------------------------------------------------- tiling

Tile = tuple[int, int, int, int]   # x0, y0, x1, y1 in pixels of the picture, x1/y1 exclusive


def grid(width: int, height: int, tile: tuple[int, int], counts: tuple[int, int]) -> list[Tile]:
    """`counts` (across, down) tiles of size `tile` spread evenly from edge to edge, so neighbours overlap."""
    def starts(length: int, size: int, count: int) -> list[int]:
        return [round(i * (length - size) / (count - 1)) for i in range(count)] if count > 1 else [0]

    (tw, th), (cols, rows) = tile, counts
    return [(x, y, x + tw, y + th) for y in starts(height, th, rows) for x in starts(width, tw, cols)]


def tiles(width: int, height: int, size: int, overlap: float = 0.25) -> list[Tile]:
    """Square-ish tiles of about `size` px covering the image, neighbours overlapping by `overlap` of a tile."""
    def count(length: int) -> int:
        return 1 if length <= size else int(np.ceil((length - size) / (size * (1 - overlap)))) + 1

    return grid(width, height, (min(size, width), min(size, height)), (count(width), count(height)))


def bounded_tiles(width: int, height: int, max_pixels: int, overlap: int) -> list[Tile]:
    """The fewest tiles, each at most `max_pixels` in area, covering the image with `overlap` px between
    neighbours; the longer side of a tile is split first."""
    cols = rows = 1
    while True:
        tw = min(width, -(-(width + (cols - 1) * overlap) // cols))
        th = min(height, -(-(height + (rows - 1) * overlap) // rows))
        if tw * th <= max_pixels:
            return grid(width, height, (tw, th), (cols, rows))
        if tw >= th:
            cols += 1
        else:
            rows += 1


def on_tiles(detector: Detector, rgb: np.ndarray, layout: list[Tile]) -> list[Detection]:
    """The detector run on each tile, its detections in the whole picture's pixels."""
    found = []
    for x0, y0, x1, y1 in layout:
        found += [d.scaled(1.0, x0, y0) for d in detector(np.ascontiguousarray(rgb[y0:y1, x0:x1]))]
    return found


def tiled(detector: Detector, max_pixels: int, overlap: int, overview_side: int) -> Detector:
    """The detector at full resolution on overlapping tiles of at most `max_pixels`, plus once on the whole
    picture reduced to `overview_side` for faces larger than the overlap; boxes of one face are fused. Its
    working memory stays that of one tile whatever the picture's size (a 4K frame in one piece needs GBs)."""

    def detect(rgb: np.ndarray) -> list[Detection]:
        height, width = rgb.shape[:2]
        layout = bounded_tiles(width, height, max_pixels, overlap)
        if len(layout) == 1:
            return detector(rgb)
        overview, back = resize_longest(rgb, overview_side)
        return fuse(on_tiles(detector, rgb, layout) + [d.scaled(back) for d in detector(overview)])

    return detect


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
    where: str = "whole"    # the part of the picture it looks at: "whole", "hinted", "turned", "small" (_where)


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


Window = tuple[int, int, int, int]   # x0, y0, x1, y1 in working-image px, x1/y1 exclusive


@dataclass
class _Maps:
    """A CenterFace view's heat maps and where they lie: working px = map px * 4 * maps.f / f + origin."""
    maps: CenterFaceMaps
    fx: float
    fy: float
    origin: tuple[int, int]


def _look(images: dict[float, np.ndarray], view: View, floor: float, window: Window | None = None,
          maps_out: list | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Run one view on the working image (images[1.0]) or a window of it; boxes in working-image px, NMS
    within the view. A scale already in `images` (made once per picture) is cropped, not resized again."""
    work = images[1.0]
    x0, y0, x1, y1 = window or (0, 0, work.shape[1], work.shape[0])
    if view.scale in images:
        s = view.scale
        img = images[s][round(y0 * s):round(y1 * s), round(x0 * s):round(x1 * s)]
    else:
        img = resize_by(np.ascontiguousarray(work[y0:y1, x0:x1]), view.scale)
    crop_h, crop_w = img.shape[:2]
    fx, fy = crop_w / (x1 - x0), crop_h / (y1 - y0)
    if view.turn % 4:
        img = np.rot90(img, view.turn)
    if view.mirror:
        img = img[:, ::-1]
    img = np.ascontiguousarray(img)
    if view.model == "centerface":
        maps = centerface_maps(img)
        if maps_out is not None and not view.turn % 4 and not view.mirror:
            maps_out.append(_Maps(maps, fx, fy, (x0, y0)))
        boxes, scores = decode_peaks(maps, floor)
    else:
        found = blazeface(img, max(floor, 0.1), "blazeface_full")
        boxes = np.array([d.box for d in found], dtype=np.float64).reshape(-1, 4)
        scores = np.array([d.score for d in found], dtype=np.float64)
    if view.mirror:
        boxes = _mirror_back(boxes, img.shape[1])
    boxes = _turn_back(boxes, view.turn, crop_w, crop_h) / [fx, fy, fx, fy] + [x0, y0, x0, y0]
    keep = nms_indices(boxes, scores, 0.3)
    return boxes[keep], scores[keep]


def _hints(found: list[_Maps], probe: float, small: float = 1e9) -> np.ndarray:
    """Rows (x, y, size, heat) in working-image px where a view's heat reaches `probe` for a face under
    `small` px."""
    points = [np.zeros((0, 4))]
    for m in found:
        ys, xs = np.nonzero(m.maps.heat >= probe)
        sizes = np.maximum(np.exp(m.maps.size[0, ys, xs]) * m.maps.fy / m.fy,
                           np.exp(m.maps.size[1, ys, xs]) * m.maps.fx / m.fx) * 4
        ys, xs, sizes = ys[sizes < small], xs[sizes < small], sizes[sizes < small]
        points.append(np.stack([(xs + 0.5) * 4 * m.maps.fx / m.fx + m.origin[0],
                                (ys + 0.5) * 4 * m.maps.fy / m.fy + m.origin[1], sizes, m.maps.heat[ys, xs]],
                               axis=1))
    return np.vstack(points)


def _windows(points: np.ndarray, cell: int, width: int, height: int) -> list[Window]:
    """Windows of the working image around hinted faces (rows x, y, size, heat): the cells holding them
    (for a likely face, heat LIKELY or more, all the cells it and as much again around it cover) and their
    neighbours, joined along each row of cells, then rows with the same columns joined, plus half a cell
    on every side."""
    rows, cols = int(np.ceil(height / cell)), int(np.ceil(width / cell))
    marked = np.zeros((rows + 2, cols + 2), dtype=bool)
    cx = np.clip((points[:, 0] / cell).astype(int), 0, cols - 1)
    cy = np.clip((points[:, 1] / cell).astype(int), 0, rows - 1)
    marked[cy + 1, cx + 1] = True
    for x, y, size, _heat in points[(points[:, 2] > cell / 2) & (points[:, 3] >= LIKELY)]:  # a large face
        c0, c1 = (np.clip([(x - size) / cell, (x + size) / cell], 0, cols - 1)).astype(int)
        r0, r1 = (np.clip([(y - size) / cell, (y + size) / cell], 0, rows - 1)).astype(int)
        marked[r0 + 1:r1 + 2, c0 + 1:c1 + 2] = True
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


def _join_vertically(windows: list[Window], margin: int, width: int, height: int) -> list[Window]:
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
    "hint": 0.05,              # heat of the half-scale view that marks the windows the other views look at (0: all)
    "turn_hint": 0.2,          # heat of the half-scale upright view that marks windows for the turned views
    "whole_share": 0.5,        # windows covering more of the picture than this: the view looks at all of it
    "margin": 6.0,             # working-image px added on every side of a kept box (localisation slack)
}
CELL = 128                     # working-image px: the grid on which windows are marked
LIKELY = 0.3                   # heat of a hint that is likely a face: its window holds the whole face
UPRIGHT = 0.8                  # an upright view's score at which a face is found upright: no turned look there


def _views(settings: dict) -> list[View]:
    """The views of a profile, in the order they run. Face-size ranges are where each view finds faces at
    all (measured on WIDER); `where` says which part of the picture a view looks at (see `_where`)."""
    mirror = settings["mirror"]
    mirrored = {0.5, 1.0, float(settings["upscale"])} if mirror is True else {float(m) for m in mirror or []}
    hinted = "hinted" if float(settings["hint"]) > 0 else "whole"
    views = [View("cf_half", "centerface", 0.5, min_face=24), View("cf", "centerface", 1.0, min_face=8, where=hinted)]
    if settings["blazeface"]:
        views.append(View("bf", "blazeface", 1.0, min_face=40))
    if 0.5 in mirrored:
        views.append(View("cf_half_m", "centerface", 0.5, True, min_face=24, where=hinted))
    if 1.0 in mirrored:
        views.append(View("cf_m", "centerface", 1.0, True, min_face=8, where=hinted))
    up = float(settings["upscale"])
    if up > 1:
        views.append(View("cf_up", "centerface", up, max_face=768 / up, where="small"))
        if up in mirrored:
            views.append(View("cf_up_m", "centerface", up, True, max_face=768 / up, where="small"))
    if settings["turns"]:
        turned = "turned" if float(settings["turn_hint"]) > 0 else "whole"
        views += [View("cf_left", "centerface", 0.5, turn=1, min_face=24, where=turned),
                  View("cf_right", "centerface", 0.5, turn=3, min_face=24, where=turned)]
    return views


def _where(view: View, maps: dict[str, list[_Maps]], settings: dict, width: int, height: int,
           upright: np.ndarray) -> list[Window]:
    """The windows a view looks at: the whole picture; where the half-scale view's heat reaches `hint`
    ("hinted") or `turn_hint` ("turned": a face on its side still warms the upright view, but not where the
    `upright` boxes already hold a face found upright); or where the native view hints at a face under 32 px
    ("small", for the enlarged views).
    Windows covering most of the picture become the whole picture (one run costs less than many)."""
    whole = [(0, 0, width, height)]
    if view.where == "whole":
        return whole
    if view.where in ("hinted", "turned"):
        probe = float(settings["hint" if view.where == "hinted" else "turn_hint"])
        points = _hints(maps.get("cf_half", []), probe, view.max_face)
        if view.where == "turned":
            points = points[~_in_boxes(points, upright)]
    else:
        points = _hints(maps.get("cf", []), float(settings["probe"]), 32.0)
    if not len(points):
        return []
    windows = _windows(points, CELL, width, height)
    area = sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in windows)
    if view.where != "small" and area > float(settings["whole_share"]) * width * height:
        return whole
    return windows


def _in_boxes(points: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Which points (rows x, y, ...) lie in one of the boxes."""
    x, y = points[:, :1], points[:, 1:2]
    return ((x >= boxes[:, 0]) & (x < boxes[:, 2]) & (y >= boxes[:, 1]) & (y < boxes[:, 3])).any(axis=1)


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
        images = {1.0: work}
        for scale in {v.scale for v in views if v.scale < 1}:
            images[scale] = resize_by(work, scale)   # one resize per scale, shared by its views
        boxes, scores, index, maps = [np.zeros((0, 4))], [np.zeros(0)], [np.zeros(0, int)], {}
        for i, view in enumerate(views):
            sure = np.vstack(boxes)[np.concatenate(scores) >= UPRIGHT] if view.turn else np.zeros((0, 4))
            for window in _where(view, maps, settings, width, height, sure):
                found, found_scores = _look(images, view, floor, window, maps.setdefault(view.name, []))
                boxes.append(found)
                scores.append(found_scores)
                index.append(np.full(len(found_scores), i))
        found = _Found(np.vstack(boxes), np.concatenate(scores), np.concatenate(index))
        kept, agreement = _agree(found, views, link, thresholds, float(settings["threshold_turned"]))
        kept = kept + [-margin, -margin, margin, margin]
        return [Detection(*(float(v) * back for v in b), float(s), "ensemble") for b, s in zip(kept, agreement)]

    return detect


def _agree(found: _Found, views: list[View], link: float, thresholds: tuple[float, float, float],
           turned: float) -> tuple[np.ndarray, np.ndarray]:
    """Keep boxes on which the views able to see a face of that size agree enough; one box per face.

    A box's support from a view is the best score that view gives to a box overlapping it; agreement is
    the mean support over the views whose size range holds the box. The upright views vote together with
    a threshold by face size; each quarter-turned copy votes on its own, for faces of people lying down."""
    if not len(found.scores):
        return np.zeros((0, 4)), np.zeros(0)
    overlaps = iou_matrix(found.boxes, found.boxes) >= link
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
    order = nms_indices(found.boxes[kept], best[kept], 0.3)
    return found.boxes[kept][order], best[kept][order]


# ---------------------------------------------------------------- the residual checker

RESIDUAL_SIDE = 1536      # the output is looked at with this longest side at most
RESIDUAL_TILE = 256       # smallest tile the proposer looks at (it sees faces of about a sixth of its input)
RESIDUAL_CONFIRM = 0.7    # CenterFace score on the framed crop that confirms a proposal
PROTECTED_SHARE = 0.9     # share of a face inside a redacted region for it to count as redacted (as on WIDER)


def residual_detector(threshold: float = 0.6, confirm: float = RESIDUAL_CONFIRM) -> Detector:
    """Faces left on an output. BlazeFace short-range (a model the ensemble does not use) proposes faces
    on the whole image and on ever smaller tiles; each proposal scoring `threshold` or more is framed in a
    crop three times its size and confirmed when CenterFace scores `confirm` or more on that crop. Blurred
    heads fool the proposer; without eyes, nose and mouth they fail the second look.

    `redacted`, the regions the output was redacted in (its pixels), when given: tiles wholly inside one
    are not looked at, and a proposal lying inside one (as a protected face does, PROTECTED_SHARE) gets no
    second look. Everything else is still searched; the regions only save looking at blurred pixels."""

    def propose(rgb: np.ndarray) -> list[Detection]:
        return blazeface(rgb, threshold, "blazeface_short")

    def detect(rgb: np.ndarray, redacted: list | None = None) -> list[Detection]:
        work, back = resize_longest(rgb, RESIDUAL_SIDE)
        height, width = work.shape[:2]
        covered = [tuple(v / back for v in region) for region in redacted or []]
        proposals: list[Detection] = []
        size = max(width, height)
        while True:
            layout = [t for t in tiles(width, height, size) if not _inside(t, covered, 1.0)]
            proposals += on_tiles(propose, work, layout)
            if size <= RESIDUAL_TILE:
                break
            size = max(RESIDUAL_TILE, int(size / 1.6))
        confirmed = []
        for det in nms(proposals, 0.3):
            if _inside(det.box, covered, PROTECTED_SHARE):
                continue
            score = _second_look(work, det)
            if score >= confirm:
                confirmed.append(Detection(*(v * back for v in det.box), score, "residual"))
        return confirmed

    return detect


def _inside(box: tuple, regions: list[tuple], share: float) -> bool:
    """Whether one of the regions holds at least `share` of the box's area."""
    return any(covered_share(region, box) >= share for region in regions)


def _second_look(rgb: np.ndarray, det: Detection, context: float = 1.0, side: int = 192) -> float:
    """Best CenterFace score on a square crop centred on the detection, `context` of its size around it."""
    x0, y0, x1, y1 = det.box
    half = max(x1 - x0, y1 - y0) * (0.5 + context)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    crop = Image.fromarray(rgb).crop((int(cx - half), int(cy - half), int(cx + half), int(cy + half)))
    boxes, scores = decode_peaks(centerface_maps(np.asarray(crop.resize((side, side), Image.BILINEAR))), 0.05)
    return float(scores.max()) if len(scores) else 0.0
