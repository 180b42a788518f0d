"""Text in the picture: where every line is, and what it says.

Lines are found by the PP-OCR text detector (a DB network: a per-pixel text probability map), run on
onnxruntime; the map is thresholded, each blob becomes a rotated rectangle grown back to the whole line
(the network marks a shrunk core of each line), and rectangles are mapped to the image's pixels. The
picture is looked at once upright, at a size that keeps 12 px letters findable, and once turned a quarter
(vertical labels) in bands around what the upright look saw, or whole when that is most of it. Text is
read only when something depends on it: the profile's allow-list, the identifier check of outputs, and
huge "lines" (which must read as text to count, see _without_shapeless_blobs).
Reading crops each line straight, scales it to the recogniser's height and decodes its per-column
character probabilities (CTC: best class per column, repeats and blanks dropped).

Fail closed: every line found is redacted unless it reads, confidently and whole, as an allow-listed
phrase. Nothing here decides that a line is harmless because of what it says.
"""
from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass

import cv2
import numpy as np

from deid import runtime
from deid.boxes import iou
from deid.models import ModelError, model_path
from deid.redact import Region, pad_and_clip

DEFAULTS = {
    "max_side": 1024,        # the picture is looked at with this longest side at most, unless
    "small_print": 12,       # letters this tall (px of the picture) would then shrink below
    "smallest": 4.6,         # the letter height (px of the looked-at picture) the detector surely finds
    "max_pixels": 1_800_000, # but the looked-at picture never holds more (the detector's memory: 380 MB)
    "turn": True,            # and, turned a quarter, once more where the upright look saw anything
    "turn_hint": 0.9,        # the probability a blob must reach somewhere to draw the turned look
    "turn_min_area": 12,     # and the px it must cover
    "turn_grow": 4.0,        # times a blob's shorter side (a letter) added around it for the turned look
    "turn_band": 192,        # px of the looked-at picture: the turned look goes band by band
    "turn_margin": 16,       # and px of the looked-at picture
    "turn_whole": 0.6,       # share of the picture above which the turned look takes all of it
    "threshold": 0.3,        # probability above which a pixel belongs to a line
    "box_threshold": 0.6,    # mean probability a line needs to count
    "unclip": 1.8,           # how far the shrunk core is grown back (DB's ratio of area to perimeter)
    "padding": 0.3,          # share of the line's height added on every side of its region
    "ends": 0.4,             # and this much more at both ends of the line
    "min_height": 4,         # lines thinner than this (px of the looked-at image) are noise
    "large": 0.1,            # lines thicker than this share of the picture's shorter side must read as text
}
READ_HEIGHT = 48             # the recogniser's input height
READ_MAX_WIDTH = 2400        # longer lines are squeezed to this width
READ_BATCH = 8


@dataclass(frozen=True)
class TextLine:
    """A line of text: its rotated rectangle's corners in image px, and the detector's mean probability."""
    quad: np.ndarray
    score: float

    @property
    def height(self) -> float:
        """The line's thickness: the rectangle's shorter side."""
        sides = np.linalg.norm(self.quad - np.roll(self.quad, -1, axis=0), axis=1)
        return float(min(sides[0], sides[1]))

    def region(self, padding: float, width: int, height: int, ends: float = 0.0) -> Region | None:
        """The upright box around the line, grown by `padding` of the line's height on every side, and by
        `ends` more at both ends of the line (where the detector's rectangle tends to stop short: the
        last letter's outer stroke, a trailing dot or apostrophe)."""
        quad = self.quad
        if ends > 0:
            sides = quad - np.roll(quad, -1, axis=0)            # edge i runs from corner i+1 to corner i
            lengths = np.linalg.norm(sides, axis=1)
            along = 0 if lengths[0] >= lengths[1] else 1        # index of an edge along the line
            unit = sides[along] / max(lengths[along], 1e-6)
            stretch = ends * self.height * unit
            # corners i and i+1 are the two ends of edge i: push each away from the other
            quad = quad.copy()
            for first in (along, along + 2):
                quad[first % 4] += stretch if first == along else -stretch
                quad[(first + 1) % 4] -= stretch if first == along else -stretch
        grow = padding * self.height
        x0, y0 = quad.min(axis=0) - grow
        x1, y1 = quad.max(axis=0) + grow
        return pad_and_clip((x0, y0, x1, y1), 0.0, width, height)


@dataclass(frozen=True)
class Reading:
    text: str
    confidence: float   # mean probability of the characters read; 0 when nothing was read


# ---------------------------------------------------------------- sessions

_lock = threading.Lock()
_sessions: dict[str, object] = {}
_alphabet: list[str] = []


def _session(name: str):
    with _lock:
        if name not in _sessions:
            _sessions[name] = runtime.new_session(str(model_path(name)))
    return _sessions[name]


def _characters() -> list[str]:
    """The recogniser's classes: CTC blank, the pinned dictionary's characters in order, then a space."""
    classes = _session("text_recogniser").get_outputs()[0].shape[-1]
    with _lock:
        if not _alphabet:
            entries = model_path("text_dictionary").read_text(encoding="utf-8").split("\n")
            _alphabet.extend(["", *(e for e in entries if e), " "])
    if len(_alphabet) != classes:
        raise ModelError(f"the text dictionary has {len(_alphabet) - 2} characters for a recogniser of "
                         f"{classes - 2}; run `make models`")
    return _alphabet


# ---------------------------------------------------------------- finding lines

def looked_at(rgb: np.ndarray, scale: float) -> tuple[np.ndarray, float, float]:
    """`rgb` scaled by `scale`, sides rounded to multiples of 32 (as the detector needs), and the factors from
    its pixels back to `rgb`'s."""
    height, width = rgb.shape[:2]
    in_h = max(32, int(round(height * scale / 32)) * 32)
    in_w = max(32, int(round(width * scale / 32)) * 32)
    shrink = in_w * in_h < width * height
    resized = cv2.resize(rgb, (in_w, in_h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return resized, width / in_w, height / in_h


def probability_map(small: np.ndarray) -> np.ndarray:
    """The detector's text probability per pixel of `small` (sides multiples of 32, see `looked_at`)."""
    blob = (small[..., ::-1].astype(np.float32) / 127.5 - 1.0).transpose(2, 0, 1)[None]   # BGR, -1..1
    return runtime.run(_session("text_detector"), blob)[0][0, 0]


def lines_in_map(prob: np.ndarray, fx: float, fy: float, settings: dict) -> list[TextLine]:
    """Rotated rectangles around the blobs of a probability map, grown back to whole lines."""
    mask = (prob > settings["threshold"]).astype(np.uint8)
    mask = cv2.dilate(mask, np.ones((2, 2), np.uint8))
    contours, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    lines = []
    for contour in contours:
        (cx, cy), (w, h), angle = cv2.minAreaRect(contour)
        if min(w, h) < 2:
            continue
        score = _mean_inside(prob, contour)
        if score < settings["box_threshold"]:
            continue
        grow = w * h * settings["unclip"] / (2 * (w + h))   # DB's offset: area x ratio / perimeter
        if min(w, h) + 2 * grow < settings["min_height"]:
            continue
        quad = cv2.boxPoints(((cx, cy), (w + 2 * grow, h + 2 * grow), angle)).astype(np.float64)
        lines.append(TextLine(quad * [fx, fy], score))
    return lines


def _mean_inside(prob: np.ndarray, contour: np.ndarray) -> float:
    x, y, w, h = cv2.boundingRect(contour)
    mask = np.zeros((h, w), np.uint8)
    cv2.fillPoly(mask, [contour - [x, y]], 1)
    return float(cv2.mean(prob[y:y + h, x:x + w], mask)[0])


def find_lines(rgb: np.ndarray, settings: dict | None = None) -> list[TextLine]:
    """Every text line in an upright RGB picture (see DEFAULTS for the settings)."""
    settings = {**DEFAULTS, **(settings or {})}
    height, width = rgb.shape[:2]
    return _without_shapeless_blobs(rgb, _candidate_lines(rgb, settings), settings["large"] * min(height, width))


def working_scale(height: int, width: int, settings: dict) -> float:
    """The scale the picture is looked at: its longest side brought to max_side, but never so small that
    small print (letters of small_print px) shrinks below what the detector surely finds (measured on 12 px
    letters of a 12 MP photo: all found at 1536 px, 4.6 px letters; at 1024 px those on a label still,
    those straight on the picture mostly not), nor so large that it holds more than max_pixels (pictures
    over 12 MP: their small print is then looked at smaller, as before)."""
    scale = max(settings["max_side"] / max(height, width), settings["smallest"] / settings["small_print"])
    return min(1.0, scale, (settings["max_pixels"] / (height * width)) ** 0.5)


def _candidate_lines(rgb: np.ndarray, settings: dict) -> list[TextLine]:
    """The detector's lines, upright and (around what the upright look saw) turned a quarter."""
    small, fx, fy = looked_at(rgb, working_scale(*rgb.shape[:2], settings))
    prob = probability_map(small)
    lines = lines_in_map(prob, fx, fy, settings)
    if settings["turn"]:
        for x0, y0, x1, y1 in turn_windows(prob, settings):
            lines += _turned_lines(small[y0:y1, x0:x1], (x0, y0), fx, fy, settings)
    return lines


def turn_windows(prob: np.ndarray, settings: dict) -> list[tuple[int, int, int, int]]:
    """Where the quarter-turned look goes, in the map's pixels: around the strong blobs of the upright map,
    text or not (the detector learnt mostly level lines, but it still marks the letters of a vertical line,
    if only in pieces). Each blob's box is grown by turn_grow times its shorter side (a letter's size; at
    most half a band) and a margin on every side; the grown boxes are cut into bands turn_band px tall (overlapping by the margin,
    so a letter cut by one band is whole in the next), each band looked at where any box crosses it. When
    the bands would cover most of the picture, the whole picture is turned instead (one run costs less)."""
    height, width = prob.shape
    mask = (prob > settings["threshold"]).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    peaks = np.zeros(count, np.float32)
    np.maximum.at(peaks, labels.ravel(), prob.ravel())
    margin = settings["turn_margin"]
    wanted = np.zeros((height, width), bool)
    for (x, y, w, h, area), peak in zip(stats[1:count], peaks[1:count]):
        if peak < settings["turn_hint"] or area < settings["turn_min_area"]:
            continue   # a faint or tiny blob (foliage, fabric): letters, even of a vertical line, are more
        grow = int(min(settings["turn_grow"] * min(w, h), settings["turn_band"] / 2)) + margin
        wanted[max(0, y - grow):y + h + grow, max(0, x - grow):x + w + grow] = True
    windows = []
    band = settings["turn_band"]
    for top in range(0, height, band):
        y0, y1 = max(0, top - margin), min(height, top + band + margin)
        columns = np.flatnonzero(wanted[top:top + band].any(axis=0))
        if columns.size:
            breaks = np.flatnonzero(np.diff(columns) > 2 * margin)
            for first, last in zip(np.r_[columns[0], columns[breaks + 1]], np.r_[columns[breaks], columns[-1]]):
                windows.append((max(0, int(first) - margin), y0, min(width, int(last) + 1 + margin), y1))
    if sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in windows) > settings["turn_whole"] * width * height:
        return [(0, 0, width, height)]
    return windows


def _turned_lines(window: np.ndarray, origin: tuple[int, int], fx: float, fy: float,
                  settings: dict) -> list[TextLine]:
    """Lines of a window of the reduced picture looked at turned a quarter (vertical labels then lie
    level), in the picture's pixels. The turned window is padded to the detector's multiples of 32."""
    turned = np.rot90(window)
    rows, cols = turned.shape[:2]
    padded = np.zeros((-(-rows // 32) * 32, -(-cols // 32) * 32, 3), np.uint8)
    padded[:rows, :cols] = turned
    found = lines_in_map(probability_map(padded)[:rows, :cols], 1.0, 1.0, settings)
    # a point (u, v) of the turned window lies at (window width - v, u) in the window
    x0, y0 = origin
    return [TextLine(np.stack([window.shape[1] - line.quad[:, 1] + x0, line.quad[:, 0] + y0], axis=1) * [fx, fy],
                     line.score) for line in found]


def _without_shapeless_blobs(rgb: np.ndarray, lines: list[TextLine], large: float) -> list[TextLine]:
    """Drop the detector's one known blunder: on some portraits it marks the whole person, or a cup, as one
    huge "line". A line thicker than `large` px stays only if the recogniser, reading it either way up,
    finds text in it (see _reads_as_text). Print that large is the easiest of all to read; smaller lines
    are never read for this."""
    big = [line for line in lines if line.height > large]
    if not big:
        return lines
    readings = dict(zip(map(id, big), read_lines(rgb, big, both_ways=True)))
    return [line for line in lines if id(line) not in readings or any(map(_reads_as_text, readings[id(line)]))]


def _reads_as_text(reading: Reading) -> bool:
    """Three or more letters or digits (any script) read with a mean probability of 0.6, or two with 0.85
    (a short word such as "ID"). What the blobs read as, measured: one or two characters, or CJK strings
    under 0.45."""
    count = sum(c.isalnum() for c in reading.text)
    return count >= 3 and reading.confidence >= 0.6 or count == 2 and reading.confidence >= 0.85


# ---------------------------------------------------------------- reading lines

def straightened(rgb: np.ndarray, quad: np.ndarray) -> np.ndarray:
    """The line's rectangle cut out and turned so the line runs left to right, READ_HEIGHT px tall.
    Lines taller than wide (vertical labels) are turned a quarter."""
    corners = _reading_order(quad)
    width = float(np.linalg.norm(corners[1] - corners[0]))
    height = float(np.linalg.norm(corners[3] - corners[0]))
    out_w = int(min(READ_MAX_WIDTH, max(READ_HEIGHT // 2, round(width * READ_HEIGHT / max(height, 1.0)))))
    target = np.array([[0, 0], [out_w, 0], [out_w, READ_HEIGHT], [0, READ_HEIGHT]], np.float32)
    matrix = cv2.getPerspectiveTransform(corners.astype(np.float32), target)
    return cv2.warpPerspective(rgb, matrix, (out_w, READ_HEIGHT), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)


def _reading_order(quad: np.ndarray) -> np.ndarray:
    """Corners as top-left, top-right, bottom-right, bottom-left of the line: clockwise on screen, the first
    edge along the line's long side, walking left to right (a vertical line: downwards)."""
    along, across = quad[1] - quad[0], quad[3] - quad[0]
    if along[0] * across[1] - along[1] * across[0] < 0:   # counter-clockwise on screen (2-D cross product)
        quad = quad[::-1]
    sides = np.linalg.norm(quad - np.roll(quad, -1, axis=0), axis=1)
    long_edges = [i for i in range(4) if sides[i] >= sides[(i + 1) % 4]][:2] or [0]
    start = max(long_edges, key=lambda i: (quad[(i + 1) % 4, 0] - quad[i, 0], quad[(i + 1) % 4, 1] - quad[i, 1]))
    return np.roll(quad, -start, axis=0)


def read_lines(rgb: np.ndarray, lines: list[TextLine], both_ways: bool = False) -> list[list[Reading]]:
    """What each line says; with both_ways also read turned half a turn (upside-down text), so that each
    line gets two readings."""
    crops = []
    for line in lines:
        crop = straightened(rgb, line.quad)
        crops.append([crop, crop[::-1, ::-1]] if both_ways else [crop])
    flat = [c for pair in crops for c in pair]
    readings = _recognise(flat)
    per_line = len(crops[0]) if crops else 1
    return [readings[i:i + per_line] for i in range(0, len(readings), per_line)]


def _recognise(crops: list[np.ndarray]) -> list[Reading]:
    """CTC-decoded readings of straightened crops, batched by similar width."""
    readings: list[Reading | None] = [None] * len(crops)
    order = sorted(range(len(crops)), key=lambda i: crops[i].shape[1])
    session, characters = _session("text_recogniser"), _characters()
    for start in range(0, len(order), READ_BATCH):
        batch = order[start:start + READ_BATCH]
        width = max(crops[i].shape[1] for i in batch)
        blob = np.zeros((len(batch), 3, READ_HEIGHT, width), np.float32)
        for row, index in enumerate(batch):
            crop = crops[index][..., ::-1].astype(np.float32) / 127.5 - 1.0
            blob[row, :, :, :crop.shape[1]] = crop.transpose(2, 0, 1)
        probs = runtime.run(session, blob)[0]
        for row, index in enumerate(batch):
            readings[index] = _ctc_decode(probs[row], characters)
    return readings


def _ctc_decode(probs: np.ndarray, characters: list[str]) -> Reading:
    """Best class per column; repeats merged and blanks dropped (CTC)."""
    best = probs.argmax(axis=1)
    keep = best != 0
    keep[1:] &= best[1:] != best[:-1]
    text = "".join(characters[i] if i < len(characters) else "" for i in best[keep])
    confidence = float(probs.max(axis=1)[keep].mean()) if keep.any() else 0.0
    return Reading(text, confidence)


# ---------------------------------------------------------------- regions to redact

def text_regions(rgb: np.ndarray, settings: dict | None = None) -> list[Region]:
    """The regions to redact for the text lines of a picture: each line's upright box, grown by the
    profile's padding of the line's height. A line is left out only when it reads, whole and with the
    profile's confidence, as one of its allow-listed phrases (compared as letters and digits only: the
    recogniser often drops the spaces between words); a line read uncertainly stays in."""
    settings = {**DEFAULTS, **(settings or {})}
    lines = find_lines(rgb, settings)
    allowed = {squeezed(phrase) for phrase in settings.get("allow", [])} - {""}
    if allowed and lines:
        confidence = float(settings.get("allow_confidence", 0.9))
        readings = read_lines(rgb, lines)
        kept = [line for line, (reading,) in zip(lines, readings)
                if not (reading.confidence >= confidence and squeezed(reading.text) in allowed)]
        kept_ids = {id(line) for line in kept}
        lines = _without_pieces_of(kept, [line for line in lines if id(line) not in kept_ids], rgb.shape, settings)
    return line_regions(rgb, lines, float(settings["padding"]), float(settings["ends"]))


def _without_pieces_of(lines: list[TextLine], allowed: list[TextLine], shape, settings: dict) -> list[TextLine]:
    """`lines` less those lying within an allowed line's region: the same ink seen again in pieces (the
    turned look may see a level line word by word), already read whole as an allowed phrase."""
    height, width = shape[:2]
    regions = [line.region(float(settings["padding"]), width, height) for line in allowed]
    return [line for line in lines
            if not any(_inside_share(_bare_box(line), region) >= 0.97 for region in regions if region)]


def _bare_box(line: TextLine) -> list[float]:
    return [*line.quad.min(axis=0), *line.quad.max(axis=0)]


def line_regions(rgb: np.ndarray, lines: list[TextLine], padding: float, ends: float = 0.0) -> list[Region]:
    """Each line's region; regions of one line seen twice (upright and turned) or of overlapping pieces
    become the box around both, so nothing either covered is lost."""
    height, width = rgb.shape[:2]
    regions = [line.region(padding, width, height, ends) for line in lines]
    return merged([r for r in regions if r is not None])


def merged(regions: list[Region], overlap: float = 0.5, inside: float = 0.97) -> list[Region]:
    """Regions of one line seen twice (upright and turned) become one: two regions overlapping by `overlap`
    (intersection over union) or more are replaced by the box around both, and a region lying `inside`
    another is dropped. Boxes that merely touch are left apart, so the union never snowballs."""
    boxes: list[Region] = []
    for region in sorted(regions, key=lambda r: -(r[2] - r[0]) * (r[3] - r[1])):
        for index, kept in enumerate(boxes):
            if _inside_share(region, kept) >= inside:
                break
            if iou(tuple(region), tuple(kept)) >= overlap:
                boxes[index] = [min(region[0], kept[0]), min(region[1], kept[1]), max(region[2], kept[2]),
                                max(region[3], kept[3])]
                break
        else:
            boxes.append(list(region))
    return boxes


def _inside_share(inner: Region, outer: Region) -> float:
    width = min(inner[2], outer[2]) - max(inner[0], outer[0])
    height = min(inner[3], outer[3]) - max(inner[1], outer[1])
    area = (inner[2] - inner[0]) * (inner[3] - inner[1])
    return max(0, width) * max(0, height) / area if area > 0 else 1.0


# ---------------------------------------------------------------- the identifier check

MIN_IDENTIFIER = 3    # shorter identifiers (initials) would match almost any text
# letters and digits OCR confuses, mapped to one form before comparing
_CONFUSABLE = str.maketrans({"0": "O", "Q": "O", "D": "O", "1": "I", "L": "I", "J": "I", "5": "S", "8": "B",
                             "2": "Z", "6": "G"})


def identifiers_readable(rgb: np.ndarray, identifiers: list[str], settings: dict | None = None) -> int:
    """How many of `identifiers` (name parts, references, file-name tokens) can be read anywhere in the
    picture, each line read both ways up and compared with a tolerance for OCR errors (about one wrong
    character in four). Returns a count only: what matched is never returned, logged or kept."""
    wanted = {squeezed(i) for i in identifiers}
    wanted = {w for w in wanted if len(w) >= MIN_IDENTIFIER}
    if not wanted:
        return 0
    # every line is read here anyway, so the detector's shapeless blobs need no reading of their own
    lines = _candidate_lines(rgb, {**DEFAULTS, **(settings or {})})
    if not lines:
        return 0
    texts = [squeezed(reading.text) for pair in read_lines(rgb, lines, both_ways=True) for reading in pair]
    return sum(1 for w in wanted if any(near_substring(w, text, len(w) // 4) for text in texts))


def squeezed(text: str) -> str:
    """Letters and digits only, without accents, upper case, OCR look-alikes merged (0/O, 1/I/L, 5/S...)."""
    plain = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    return re.sub(r"[^0-9A-Z]", "", plain.upper()).translate(_CONFUSABLE)


def near_substring(needle: str, text: str, allowed: int) -> bool:
    """Whether some stretch of `text` is within `allowed` edits (insertions, deletions, substitutions) of
    `needle` (approximate substring matching: the edit distance may start anywhere in the text)."""
    if len(text) < len(needle) - allowed:
        return False
    previous = list(range(len(needle) + 1))
    for char in text:
        current = [0]
        for i, wanted in enumerate(needle, 1):
            current.append(min(previous[i] + 1, current[i - 1] + 1, previous[i - 1] + (wanted != char)))
        if current[-1] <= allowed:
            return True
        previous = current
    return False
