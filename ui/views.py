"""Presentation helpers: badges, highlighted evidence, the region editor chart, exports. No business rules:
what is expiring, allowed or covered is decided in consent/; here it is only shown."""
from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd
from PIL import Image

from records.services import upload_limit_mb

EXPIRY_WARNING_DAYS = 30
# What the media uploaders offer. The browser's check is a convenience: the content decides (a PNG named .jpg
# is read as a PNG) and the services refuse whatever is not a photo or video, or is over its size limit.
MEDIA_TYPES = ["jpg", "jpeg", "jfif", "png", "webp", "heic", "heif", "avif", "tif", "tiff",
               "mp4", "m4v", "mov", "webm", "mkv", "avi", "3gp"]
# Each item says who looks for it: Veil covers the faces, print, barcodes and QR codes it finds (and withholds an
# output on which the patient's name or reference can still be read); what it does not look for is left to the eye.
CHECKLIST = ("Faces, small and turned ones too (Veil covers the faces it finds)",
             "Names, dates and numbers on badges, wristbands, screens and documents (Veil covers the print, "
             "barcodes and QR codes it finds: look for handwriting and small print)",
             "Tattoos, birthmarks and other distinctive marks (Veil does not look for them)",
             "Jewellery and distinctive clothing (Veil does not look for them)",
             "Reflections in mirrors, glasses, windows and screens (Veil does not look for them)",
             "People in the background")
BADGES = {  # label and Streamlit colour of each consent state shown to people
    "active": ("Active", "green"),
    "expiring": ("Expiring within 30 days", "orange"),
    "expired": ("Expired", "gray"),
    "revoked": ("Revoked", "red"),
    "superseded": ("Superseded", "gray"),
}


def short(record_id: str | None) -> str:
    return record_id[:8] if record_id else "—"


def days_left(consent, today: dt.date) -> int | None:
    """Days until the consent's effective end (as the service computed it), or None for no end date."""
    ends = getattr(consent, "effective_expiry", None)
    return None if ends is None else (dt.date.fromisoformat(ends) - today).days


def consent_state(consent, today: dt.date) -> str:
    """active, expiring (within 30 days), expired, revoked or superseded: the badge a person sees."""
    if consent.status != "active":
        return consent.status if consent.status in BADGES else "expired"
    left = days_left(consent, today)
    if left is not None and left <= 0:
        return "expired"
    if left is not None and left <= EXPIRY_WARNING_DAYS:
        return "expiring"
    return "active"


def badge(state: str) -> str:
    label, colour = BADGES[state]
    return f":{colour}-badge[{label}]"


def expiring_soon(consents, today: dt.date, days: int = EXPIRY_WARNING_DAYS) -> list:
    return sorted((c for c in consents if c.status == "active" and (left := days_left(c, today)) is not None
                   and 0 < left <= days), key=lambda c: c.effective_expiry)


def consent_label(consent, today: dt.date) -> str:
    label, _ = BADGES[consent_state(consent, today)]
    return f"Consent {short(consent.id)} · {label} · registered {consent.registered_at[:10]} · " \
           f"social media: {SOCIAL_MEDIA_SHORT[consent.social_media]}"


# -- the checker's findings and a person's confirmation, in words people read (never the stored values) --------
SOCIAL_MEDIA_SHORT = {"covered": "granted", "not_covered": "not granted", "unclear": "not clear"}
SOCIAL_MEDIA_WORDS = {"covered": "granted in writing", "not_covered": "not granted",
                      "unclear": "not clear: a person must read the evidence"}
IDENTIFIABLE_WORDS = {"allowed": "Identifiable images allowed (faces may be shown)",
                      "deidentified_only": "De-identified images only (faces hidden)",
                      "unclear": "not stated: a person must read the evidence"}
TEXT_SOURCE_WORDS = {"text": "the PDF's own text", "ocr": "text recognised in scanned pages",
                     "mixed": "the PDF's own text and scanned pages", "none": "no text could be read"}
PLATFORM_NAMES = {"instagram": "Instagram", "facebook": "Facebook", "tiktok": "TikTok", "youtube": "YouTube",
                  "x": "X (Twitter)", "linkedin": "LinkedIn", "pinterest": "Pinterest", "snapchat": "Snapchat",
                  "threads": "Threads"}
EVIDENCE_ABOUT = {"grant": "grant", "denial": "refusal", "option_not_ticked": "option not ticked",
                  "needs_review": "a person must read this", "mention_without_grant": "mentioned, not granted",
                  "vague_channel": "a vague channel", "other_use": "another use", "identifiable": "faces shown",
                  "deidentified_only": "faces hidden", "expiry": "end date", "no_expiry": "no end date",
                  "revocation": "how to revoke", "guardian": "guardian"}


def platform_names(platforms) -> str:
    return ", ".join(PLATFORM_NAMES.get(p, p) for p in platforms)


def platforms_found(consent, quoted: list[str]) -> str:
    """What the checker found about platforms; "not read" when the evidence names platforms its list lacks,
    never "any" then."""
    if missing := [p for p in quoted if p not in consent.platforms]:
        return (f"not read: the quoted evidence names {platform_names(missing)}, which the checker did not list. "
                "Read the document and name the platforms granted below")
    if consent.platforms:
        return f"{platform_names(consent.platforms)} only"
    return "any (social media in general)" if consent.social_media == "covered" else "none named"


def signature_found(consent) -> str:
    if consent.signature_valid is False:
        return "a digital signature that is not intact: the PDF was changed after signing"
    if consent.signed is False:
        return "not signed: a signature place is empty"
    if consent.signature_valid:
        return "signed digitally; the signature is intact"
    if consent.signature_attested:
        return "signed by hand; a person attested the signature"
    if consent.signed:
        return "signed by hand or typed: a person must attest it"
    return "only a person can tell (no digital signature, and the signature could not be read)"


def ends_words(ends: str | None, event: str | None = None) -> str:
    return ends or (f"at an event: {event}" if event else "no end date written")


def confirmed_words(consent) -> list[str]:
    """What a person confirmed, one line each."""
    if not consent.confirmed:
        return ["No person has confirmed the scope yet."]
    granted = consent.confirmed_platforms or []
    return [f"Social media: {'granted' if consent.confirmed_social_media else 'not granted'}",
            f"Platforms: {platform_names(granted) + ' only' if granted else 'any that is not excluded'}",
            f"Platforms excluded: {platform_names(consent.confirmed_excluded or []) or 'none'}",
            f"Images: {IDENTIFIABLE_WORDS.get(consent.confirmed_identifiable or '', 'not stated')}",
            f"Ends: {ends_words(consent.effective_expiry)}",
            "Handwritten signature attested: " + ("yes" if consent.signature_attested else
                                                  "not needed" if consent.signature_valid else "no")]


_MD_SPECIAL = re.compile(r"([\\`*_\[\]#|<>~$])")   # inline Markdown and Streamlit directives
_KEYWORDS = re.compile(r"\b(social[- ]media|instagram|facebook|tiktok|youtube|twitter|linkedin|pinterest|snapchat|"
                       r"threads|authori[sz]e\w*|consent\w*|agree\w*|not|never|no|expires?\w*|until|"
                       r"identifiable|de-?identified|redes sociales|autorizo|no autorizo)\b", re.IGNORECASE)


def escape_md(text: str) -> str:
    return _MD_SPECIAL.sub(r"\\\1", text)


def highlight(quote: str) -> str:
    """Markdown of a quoted passage with the words the verdict rests on highlighted."""
    parts, last = [], 0
    for match in _KEYWORDS.finditer(quote):
        parts.append(escape_md(quote[last:match.start()]))
        parts.append(f":orange-background[**{escape_md(match.group(0))}**]")
        last = match.end()
    parts.append(escape_md(quote[last:]))
    return "".join(parts)


def yes_no(value: bool | None, unknown: str = "a person must check") -> str:
    return {True: "yes", False: "no", None: unknown}[value]


# -- the region editor -------------------------------------------------------------------------------------
DISPLAY_SIDE = 440
# what each region drawn on the review picture is, and its colour (the page names each in words as well)
REGION_COLOURS = {"face": "#f97316", "text": "#c026d3", "drawn": "#2563eb", "to remove": "#9ca3af",
                  "pending": "#06b6d4"}


@dataclass(frozen=True)
class Picture:
    """An upright original made ready for the region editor: its size in image pixels (the regions' unit)
    and a reduced JPEG as a data URL. Held for the session instead of the full-resolution pixels."""
    width: int
    height: int
    url: str
    crops: tuple = ()   # a JPEG of each region asked for, cut from the full-resolution original


def picture_of(rgb: np.ndarray, regions=()) -> Picture:
    height, width = rgb.shape[:2]
    return Picture(width, height, _data_url(rgb), tuple(region_crop(rgb, r) for r in regions))


@dataclass(frozen=True)
class UploadLimits:
    """Per-file limits in MB, as the uploaders show and enforce them in the browser."""
    photo: int
    video: int
    pdf: int
    batch_files: int

    @property
    def media(self) -> int:
        return max(self.photo, self.video)


def upload_limits(settings, ceiling_mb: int) -> UploadLimits:
    """The limits the uploaders offer: the installation's, never above the server's ceiling for one upload."""
    return UploadLimits(min(upload_limit_mb(settings, "image"), ceiling_mb), min(settings.max_video_mb, ceiling_mb),
                        min(settings.max_pdf_mb, ceiling_mb), settings.max_batch_files)


def _data_url(rgb: np.ndarray, max_side: int = 1000) -> str:
    img = Image.fromarray(rgb)
    scale = min(1.0, max_side / max(img.size))
    if scale < 1.0:
        img = img.resize((round(img.width * scale), round(img.height * scale)), Image.BILINEAR)
    buffer = io.BytesIO()
    img.save(buffer, "JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


# what a region covers, in the words the page uses (region_kinds as the engine stored them)
KIND_WORDS = {"face": "face", "text": "text", "code": "code", "manual": "drawn", "found": "found"}
LEGEND = (("face", "Face found"), ("text", "Text or code found"), ("drawn", "Drawn by you"),
          ("to remove", "To remove (dashed)"), ("pending", "Being drawn"))


def region_words(kind: str | None, drawn: bool) -> str:
    """How the page names a region: "face", "text", "code", "drawn" or "drawn text"."""
    words = KIND_WORDS.get(kind or "found", "found")
    return ("drawn text" if kind == "text" else "drawn") if drawn else words


def _colour_of(kind: str | None, drawn: bool) -> str:
    """The legend entry a region is drawn in: faces, text and codes found, or drawn by the reviewer."""
    if drawn:
        return "drawn"
    return "text" if kind in ("text", "code") else "face"


def _boxes(rows: list) -> pd.DataFrame:
    return pd.DataFrame([{"x0": r[0], "y0": r[1], "x1": r[2], "y1": r[3], "colour": colour, "label": label}
                         for r, colour, label in rows], columns=["x0", "y0", "x1", "y1", "colour", "label"])


def region_chart(picture: Picture, regions: list, kinds: list | None, removing: list, adding: list,
                 pending: list | None, drawn_before: list = (), brush_name: str = "draw") -> alt.LayerChart:
    """The upright original with its regions drawn, each in the colour of what it covers (REGION_COLOURS) and
    labelled in words ("#2 text"), so that colour is never the only cue: faces and text found, those drawn by
    the reviewer, those marked for removal (grey, dashed), the one being drawn; and a brush: dragging a
    rectangle on it selects a new region, in image pixels. `adding` and `drawn_before` may carry "text" after
    a region's corners."""
    width, height = picture.width, picture.height
    scale = min(1.0, DISPLAY_SIDE / max(width, height))
    x = alt.X("x0:Q", scale=alt.Scale(domain=[0, width], nice=False, zero=False), axis=None)
    y = alt.Y("y0:Q", scale=alt.Scale(domain=[0, height], nice=False, zero=False, reverse=True), axis=None)
    backdrop = pd.DataFrame({"x0": [0], "y0": [0], "x1": [width], "y1": [height], "url": [picture.url]})
    brush = alt.selection_interval(name=brush_name, encodings=["x", "y"], clear="dblclick")
    layers = [alt.Chart(backdrop).mark_image(aspect=False).encode(x=x, y=y, x2="x1:Q", y2="y1:Q", url="url:N")
              .add_params(brush)]
    drawn = [list(r[:4]) for r in drawn_before]
    kinds = list(kinds or ["found"] * len(regions))
    rows = []
    for n, (region, kind) in enumerate(zip(regions, kinds), start=1):
        by_hand = list(region) in drawn
        colour = "to remove" if region in removing else _colour_of(kind, by_hand)
        rows.append((region, colour, f"#{n} {region_words(kind, by_hand)}"))
    rows += [(box[:4], "drawn", "new " + ("text" if box[4:] == ["text"] else "drawn")) for box in adding]
    rows += [(pending, "pending", "")] if pending else []
    if rows:
        frame = _boxes(rows)
        colours = alt.Scale(domain=list(REGION_COLOURS), range=list(REGION_COLOURS.values()))
        base = alt.Chart(frame).encode(x=x, y=y)
        # clipped to the picture: a label past its edge would grow the chart beyond the picture
        layers.append(base.mark_rect(fill=None, strokeWidth=3, clip=True).encode(
            x2="x1:Q", y2="y1:Q", stroke=alt.Stroke("colour:N", scale=colours, legend=None),
            strokeDash=alt.condition(alt.datum.colour == "to remove", alt.value([6, 4]), alt.value([1, 0]))))
        words = dict(align="left", baseline="top", dx=4, dy=4, fontSize=12, fontWeight="bold", clip=True)
        # a white halo under each label keeps it readable on any part of the photo
        halo = base.mark_text(**words, stroke="white", strokeWidth=3, strokeOpacity=0.85)
        layers.append(halo.encode(text="label:N"))
        layers.append(base.mark_text(**words).encode(text="label:N",
                                                     color=alt.Color("colour:N", scale=colours, legend=None)))
    return alt.layer(*layers).properties(width=round(width * scale), height=round(height * scale)) \
        .configure_view(strokeWidth=0)


def region_legend() -> str:
    """HTML: a swatch in each region colour with its meaning in words (the chart's own legend would change the
    picture's size, which the brush's position depends on). Constant text only: nothing of a record."""
    items = []
    for colour, words in LEGEND:
        line = "dashed" if colour == "to remove" else "solid"
        items.append(f'<span style="white-space:nowrap;margin-right:1.2em"><span aria-hidden="true" '
                     f'style="display:inline-block;width:1.1em;height:0.8em;border:3px {line} '
                     f'{REGION_COLOURS[colour]};vertical-align:middle;margin-right:0.35em"></span>{words}</span>')
    return '<div role="list" aria-label="What the colours on the picture mean">' + "".join(
        f'<span role="listitem">{item}</span>' for item in items) + "</div>"


def region_crop(rgb: np.ndarray, region, fit: tuple[int, int] = (240, 120), margin: int = 8) -> bytes:
    """A JPEG of one region of the original with a little of its surroundings, scaled to fit `fit` (small
    print up to 4 times, so a person can read what they decide on) and centred on a grey card of that size,
    so that the choices beneath a row of them line up."""
    height, width = rgb.shape[:2]
    x0, y0, x1, y1 = (int(v) for v in region[:4])
    crop = Image.fromarray(rgb[max(0, y0 - margin):min(height, y1 + margin),
                               max(0, x0 - margin):min(width, x1 + margin)])
    scale = min(4.0, fit[0] / crop.width, fit[1] / crop.height)
    crop = crop.resize((max(1, round(crop.width * scale)), max(1, round(crop.height * scale))), Image.BILINEAR)
    card = Image.new("RGB", fit, (229, 231, 235))
    card.paste(crop, ((fit[0] - crop.width) // 2, (fit[1] - crop.height) // 2))
    buffer = io.BytesIO()
    card.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def brushed_box(selection, brush_name: str, width: int, height: int) -> list[int] | None:
    """The rectangle dragged on the chart, in whole image pixels clipped to the picture, or None."""
    try:
        box = selection[brush_name]   # keyed by the encoded fields (x0, y0) of the picture layer
        xs, ys = sorted(box["x0"]), sorted(box["y0"])
    except (KeyError, TypeError, ValueError):
        return None
    x0, x1 = max(0, int(xs[0])), min(width, int(round(xs[1])))
    y0, y1 = max(0, int(ys[0])), min(height, int(round(ys[1])))
    return [x0, y0, x1, y1] if x1 > x0 and y1 > y0 else None


# -- exports -----------------------------------------------------------------------------------------------
def zip_folder(folder: Path) -> bytes:
    """The release package folder as a zip, its files at the top level."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(Path(folder).iterdir()):
            if path.is_file():
                archive.write(path, arcname=path.name)
    return buffer.getvalue()


EVENT_COLUMNS = ("seq", "at", "actor", "action", "subject_kind", "subject_id", "details", "hash")


def events_csv(events: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EVENT_COLUMNS)
    writer.writeheader()
    for event in events:
        writer.writerow({**{k: event.get(k) for k in EVENT_COLUMNS},
                         "details": json.dumps(event.get("details"), sort_keys=True)})
    return buffer.getvalue()


def events_json(events: list[dict]) -> str:
    return json.dumps(events, indent=2, sort_keys=True) + "\n"


def events_frame(events: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([{"#": e["seq"], "when (UTC)": e["at"][:19].replace("T", " "), "who": e["actor"],
                          "action": e["action"], "subject": f"{e['subject_kind'] or ''} {short(e['subject_id'])}"
                          .strip(), "details": json.dumps(e["details"], sort_keys=True)} for e in events])
