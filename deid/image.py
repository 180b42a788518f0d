"""Still images: decode safely, turn upright, convert to sRGB, redact faces, write a brand-new file.

Nothing of the original container is carried over: the output is built from a pixel array alone, so
EXIF, XMP, IPTC, ICC profiles, comments, thumbnails, extra MPO frames and trailing bytes cannot survive.
"""
from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from deid.formats import Format

try:  # HEIC/HEIF decoding; AVIF is built into Pillow
    import pillow_heif

    pillow_heif.register_heif_opener()
except ImportError:  # pragma: no cover - it is pinned in requirements.txt
    pillow_heif = None

MAX_PIXELS = 80_000_000          # about 10,000 x 8,000; anything larger is refused before decoding
MAX_FILE_BYTES = 200 * 1024 * 1024
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
READABLE = {"jpeg", "png", "webp", "tiff", "heif", "avif"}
# PNG and WebP stay in their format (they may carry transparency); everything else becomes JPEG.
KEEP_FORMAT = {"png": ("PNG", ".png"), "webp": ("WEBP", ".webp")}


class ImageReadError(ValueError):
    """An image that cannot be read safely; the message says why, for the person who uploaded it."""


@dataclass
class Decoded:
    rgb: np.ndarray            # upright, sRGB, uint8 HxWx3
    alpha: np.ndarray | None   # uint8 HxW when the source had transparency
    source_format: str


def decode(data: bytes, fmt: Format) -> Decoded:
    """Pixels of the first image in the file, upright and in sRGB; raises ImageReadError with a reason."""
    if fmt.name not in READABLE:
        raise ImageReadError(f"unsupported image format ({fmt.name}); Veil reads JPEG, PNG, WebP, TIFF, HEIC/HEIF, AVIF")
    if len(data) > MAX_FILE_BYTES:
        raise ImageReadError(f"file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                _check_dimensions(img.size)
                img.seek(0)  # MPO and multi-page TIFF: only the primary image is ever used
                img.load()
                ImageOps.exif_transpose(img, in_place=True)   # upright; no copy of a photo already upright
                return _to_srgb(img, fmt.name)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageReadError(f"image dimensions exceed the {MAX_PIXELS // 1_000_000} megapixel limit "
                             "(possible decompression bomb)") from None
    except UnidentifiedImageError:
        raise ImageReadError(f"file looks like {fmt.name.upper()} but cannot be decoded") from None
    except ImageReadError:
        raise
    except ValueError as exc:
        if "Decompressed data too large" in str(exc):   # Pillow's cap on compressed text and ICC chunks
            raise ImageReadError("embedded text or colour profile inflates past the safe limit (possible "
                                 "decompression bomb)") from None
        raise ImageReadError(f"damaged or truncated {fmt.name.upper()} image ({_short(exc)})") from None
    except (OSError, SyntaxError, EOFError, RuntimeError) as exc:  # RuntimeError: the AVIF decoder's
        raise ImageReadError(f"damaged or truncated {fmt.name.upper()} image ({_short(exc)})") from None


def _check_dimensions(size: tuple[int, int]) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise ImageReadError("image has no pixels")
    if width * height > MAX_PIXELS:
        raise ImageReadError(f"image is {width}x{height}, over the {MAX_PIXELS // 1_000_000} megapixel limit "
                             "(possible decompression bomb)")


def _to_srgb(img: Image.Image, source_format: str) -> Decoded:
    icc = img.info.get("icc_profile")
    alpha = None
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        alpha = np.asarray(rgba.getchannel("A")).copy()
        img = rgba.convert("RGB") if not icc else rgba
    if icc:
        img = _apply_icc(img, icc)
    if img.mode != "RGB":
        img = _plain_rgb(img)
    return Decoded(np.asarray(img, dtype=np.uint8).copy(), alpha, source_format)


def _apply_icc(img: Image.Image, icc: bytes) -> Image.Image:
    """Convert through the embedded profile to sRGB, so colours survive the profile being dropped."""
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        mode = img.mode if img.mode in ("RGB", "CMYK", "L") else "RGB"
        work = img.convert(mode) if img.mode != mode else img
        return ImageCms.profileToProfile(work, source, ImageCms.createProfile("sRGB"), outputMode="RGB")
    except (ImageCms.PyCMSError, OSError, ValueError):
        return _plain_rgb(img)  # a broken profile is dropped; the pixels are still usable


def _plain_rgb(img: Image.Image) -> Image.Image:
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        full_scale = 65535.0 if arr.max() > 255 else 255.0  # 16-bit samples, or 8-bit values held in a wider mode
        img = Image.fromarray(np.clip(arr * (255.0 / full_scale), 0, 255).astype(np.uint8))
    if img.mode == "F":
        img = Image.fromarray(np.clip(np.asarray(img), 0, 255).astype(np.uint8))
    return img.convert("RGB")


def encode(rgb: np.ndarray, alpha: np.ndarray | None, source_format: str, jpeg_quality: int) -> tuple[bytes, str]:
    """A brand-new file from pixels alone; returns its bytes and extension."""
    fmt, ext = KEEP_FORMAT.get(source_format, ("JPEG", ".jpg"))
    img = Image.fromarray(rgb, "RGB")
    if alpha is not None and fmt != "JPEG":
        img.putalpha(Image.fromarray(alpha, "L"))
    buffer = io.BytesIO()
    # Measured on a redacted 12 MP photo (benchmarks/images.py, encode): JPEG optimize=True took 3x the
    # time (0.24 s against 0.08 s) for a file 3 % smaller; PNG optimize=True 45 s, compress_level=1 2 s
    # for a file 27 % larger (lossless either way); WebP method=4 2.6 s, method=2 1.0 s, the same size.
    # Quality is the profile's, unchanged.
    if fmt == "JPEG":
        img.save(buffer, "JPEG", quality=jpeg_quality)
    elif fmt == "PNG":
        img.save(buffer, "PNG", compress_level=1)
    else:
        img.save(buffer, "WEBP", quality=jpeg_quality, method=2)
    return buffer.getvalue(), ext


def _short(exc: BaseException) -> str:
    """The decoder's reason, first line only, without the file bytes some decoders quote (b'...')."""
    text = _QUOTED_BYTES.sub("...", str(exc).split("\n")[0])
    return text[:120] if text else type(exc).__name__


_QUOTED_BYTES = re.compile(r"b'(?:[^'\\]|\\.)*'|b\"(?:[^\"\\]|\\.)*\"")
