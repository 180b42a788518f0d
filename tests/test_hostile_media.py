"""Hostile media through the real command line: `python -m deid redact HOSTILE GOOD --out DIR --json`.

Every case is built here (broken, truncated, mislabelled, random, decompression bombs, absurd EXIF, videos
without a picture or an index) and goes through the CLI in a subprocess of its own, in the same batch as
one good photo, under an address-space limit and a hang timeout. Each must end with a JSON error entry that
names the file and says why in plain words (or, for a mislabelled but valid file, a clean output), exit
code 1 (0 when everything succeeded), no traceback, nothing but the good photo's output in the folder,
the good photo de-identified, and the child's peak memory within a bound.
"""
from __future__ import annotations

import io
import json
import os
import re
import struct
import sys
import tempfile
import zlib
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable

import av
import numpy as np
import pytest
from PIL import Image

from conftest import ROOT, grace_hopper_path
from limited_run import run_limited

ADDRESS_SPACE = 3 * 1024 ** 3     # one photo runs within 1.5 GiB of address space (the models reserve most)
PEAK_RSS_MB = 1200                # a normal run of one photo peaks at ~300 MB resident
HANG_SECONDS = 180


# ---------------------------------------------------------------- running the CLI

@dataclass
class Run:
    code: int
    stdout: str
    stderr: str
    peak_rss_mb: float
    hung: bool

    def reports(self) -> list[dict]:
        return json.loads(self.stdout)


def run_cli(folder: Path, *args: str) -> Run:
    """Run `python -m deid ARGS` under the memory limit; its exit code, output and peak resident memory."""
    env = dict(os.environ, GLOG_minloglevel="2", TF_CPP_MIN_LOG_LEVEL="3")
    done = run_limited([sys.executable, "-m", "deid", *args], address_space=ADDRESS_SPACE,
                       hang_seconds=HANG_SECONDS, cwd=ROOT, env=env)
    return Run(done.returncode, done.stdout, done.stderr, done.peak_bytes / 2 ** 20, done.hung)


# ---------------------------------------------------------------- valid seeds

def small_face() -> Image.Image:
    with Image.open(grace_hopper_path()) as img:
        return img.convert("RGB").resize((256, 300))


@pytest.fixture(scope="session")
def face() -> Image.Image:
    return small_face()


def encoded(img: Image.Image, fmt: str, **kwargs) -> bytes:
    if fmt == "HEIF":
        import pillow_heif

        pillow_heif.register_heif_opener()
    buffer = io.BytesIO()
    img.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


def clip(frames: int = 8, size=(128, 160), faststart: bool = False, audio: bool = False,
         video: bool = True, fmt: str = "mp4") -> bytes:
    """A small H.264 clip (with AAC sound when asked), made with PyAV (a real file: fast start re-reads it)."""
    options = {"movflags": "+faststart"} if faststart else {}
    with tempfile.TemporaryDirectory() as folder, av.open(f"{folder}/clip", "w", format=fmt, options=options) as out:
        streams = []
        if video:
            picture = out.add_stream("libx264", rate=10, options={"preset": "ultrafast"})
            picture.width, picture.height, picture.pix_fmt = *size, "yuv420p"
            yy, xx = np.mgrid[0:size[1], 0:size[0]]
            rgbs = [np.stack([xx * 2 + i, yy, np.full_like(xx, 90)], -1).astype(np.uint8) for i in range(frames)]
            streams.append((picture, [av.VideoFrame.from_ndarray(rgb, format="rgb24") for rgb in rgbs], 1, 10))
        if audio:
            sound = out.add_stream("aac", rate=16000)
            sound.layout = "mono"
            silence = np.zeros((1, 1024), np.float32)
            streams.append((sound, [av.AudioFrame.from_ndarray(silence, format="fltp", layout="mono")
                                    for _ in range(16)], 1024, 16000))
        out.start_encoding()   # writes the header even when no frame follows
        for stream, chunks, step, rate in streams:
            for i, chunk in enumerate(chunks):
                chunk.pts, chunk.time_base = i * step, Fraction(1, rate)
                if stream.type == "audio":
                    chunk.sample_rate = rate
                out.mux(stream.encode(chunk))
            out.mux(stream.encode(None))
        out.close()
        return Path(f"{folder}/clip").read_bytes()


def boxes(data: bytes) -> list[tuple[bytes, int, int]]:
    """Top-level ISO-BMFF boxes: (type, start, end)."""
    found, at = [], 0
    while at + 8 <= len(data):
        size = int.from_bytes(data[at:at + 4], "big")
        found.append((data[at + 4:at + 8], at, at + size))
        at += size
    return found


def without_box(data: bytes, kind: bytes) -> bytes:
    return b"".join(data[s:e] for k, s, e in boxes(data) if k != kind)


def only_box(data: bytes, kind: bytes) -> bytes:
    return b"".join(data[s:e] for k, s, e in boxes(data) if k == kind)


def cut_inside_box(data: bytes, kind: bytes) -> bytes:
    _, start, end = next(b for b in boxes(data) if b[0] == kind)
    return data[:(start + end) // 2]


# ---------------------------------------------------------------- hostile builders

def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_declaring(width: int, height: int) -> bytes:
    """A PNG of a few dozen bytes whose header declares width x height pixels."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + png_chunk(b"IEND", b""))


def jpeg_declaring(jpeg: bytes, width: int, height: int) -> bytes:
    """A real JPEG whose frame header (SOF0) is patched to declare width x height."""
    at = jpeg.index(b"\xff\xc0")
    return jpeg[:at + 5] + struct.pack(">HH", height, width) + jpeg[at + 9:]


def webp_declaring(lossless_webp: bytes) -> bytes:
    """A lossless WebP whose bitstream header declares the largest size WebP allows (16384 x 16384)."""
    at = lossless_webp.index(b"VP8L") + 8
    assert lossless_webp[at] == 0x2F
    bits = int.from_bytes(lossless_webp[at + 1:at + 5], "little")
    bits = (bits & ~0x0FFFFFFF) | 0x3FFF | (0x3FFF << 14)   # width-1 and height-1, 14 bits each
    return lossless_webp[:at + 1] + bits.to_bytes(4, "little") + lossless_webp[at + 5:]


def tiff_declaring(width: int, height: int) -> bytes:
    """A baseline TIFF of one tiny strip whose tags declare width x height grey pixels."""
    entries = [(256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1),
               (273, 4, 1, 8 + 2 + 12 * 9 + 4), (277, 3, 1, 1), (278, 4, 1, height), (279, 4, 1, 64)]
    ifd = struct.pack("<H", len(entries)) + b"".join(struct.pack("<HHII", *e) for e in entries) + b"\0\0\0\0"
    return b"II*\x00" + struct.pack("<I", 8) + ifd + bytes(64)


def heif_declaring(heif: bytes, width: int, height: int) -> bytes:
    """A HEIC/AVIF whose image-spatial-extents property ('ispe') declares width x height."""
    at = heif.index(b"ispe") + 8
    return heif[:at] + struct.pack(">II", width, height) + heif[at + 8:]


def noise_payload(heif: bytes) -> bytes:
    """A HEIC/AVIF whose coded picture (the media-data box) is replaced by noise of the same length."""
    _, start, end = next(b for b in boxes(heif) if b[0] == b"mdat")
    return heif[:start + 8] + np.random.default_rng(4).bytes(end - start - 8) + heif[end:]


def missing_primary_item(heif: bytes) -> bytes:
    """A HEIC/AVIF whose primary-item box ('pitm') names an item that does not exist."""
    at = heif.index(b"pitm") + 8
    return heif[:at] + b"\x00\x63" + heif[at + 2:]


def garbled_chunk_name(png: bytes) -> bytes:
    """A PNG with a chunk named b'Ros\xe1' (not a valid chunk name) before its image data."""
    return png[:33] + png_chunk(b"Ros\xe1", b"patient") + png[33:]


def png_with_inflating_chunk(png: bytes, kind: bytes, header: bytes) -> bytes:
    """The PNG with a compressed text or ICC-profile chunk of ~100 KB that inflates to 100 MB."""
    return png[:33] + png_chunk(kind, header + zlib.compress(bytes(100_000_000), 9)) + png[33:]


def gif_declaring(width: int, height: int) -> bytes:
    return (b"GIF89a" + struct.pack("<HHBBB", width, height, 0, 0, 0)
            + b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0) + b"\x02\x02\x44\x01\x00\x3b")


def tiff_ifd(entries: list[tuple[int, int, int, bytes | int]], start: int, next_ifd: int = 0) -> tuple[bytes, bytes]:
    """One little-endian IFD placed at offset `start`: its bytes and the out-of-line values after it."""
    table, extra = [], b""
    data_at = start + 2 + 12 * len(entries) + 4
    for tag, kind, count, value in entries:
        if isinstance(value, bytes) and len(value) > 4:
            table.append(struct.pack("<HHII", tag, kind, count, data_at + len(extra)))
            extra += value + b"\0" * (len(value) % 2)
        elif isinstance(value, bytes):
            table.append(struct.pack("<HHI", tag, kind, count) + value.ljust(4, b"\0"))
        else:
            table.append(struct.pack("<HHII", tag, kind, count, value))
    return struct.pack("<H", len(entries)) + b"".join(table) + struct.pack("<I", next_ifd), extra


def exif_blob(entries, first_ifd: int = 8, next_ifd: int = 0, trailer: bytes = b"") -> bytes:
    ifd, extra = tiff_ifd(entries, 8, next_ifd)
    return b"II*\x00" + struct.pack("<I", first_ifd) + ifd + extra + trailer


def jpeg_with_exif(jpeg: bytes, tiff: bytes) -> bytes:
    """The JPEG with an APP1 Exif segment holding `tiff` inserted right after its start marker."""
    body = b"Exif\0\0" + tiff
    assert len(body) + 2 <= 0xFFFF
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body + jpeg[2:]


def png_with_exif(png: bytes, tiff: bytes) -> bytes:
    """The PNG with an eXIf chunk (no 64 KB ceiling there) after its header chunk."""
    return png[:33] + png_chunk(b"eXIf", tiff) + png[33:]


def many_tags(count: int) -> bytes:
    return exif_blob([(0x1000 + i, 3, 1, struct.pack("<H", i)) for i in range(count)])


def looping_ifds() -> bytes:
    """IFD0 points to itself as the next IFD, and its Exif sub-IFD pointer points back to IFD0."""
    return exif_blob([(0x010F, 2, 4, b"Cam\0"), (0x8769, 4, 1, 8)], next_ifd=8)


def thumbnail_exif(thumbnail: bytes, declared_length: int | None = None) -> bytes:
    """IFD0, then IFD1 describing an embedded JPEG thumbnail stored right after it."""
    ifd0, _ = tiff_ifd([(0x0112, 3, 1, struct.pack("<H", 1))], 8, next_ifd=8 + 18)
    ifd1_at = 8 + len(ifd0)
    thumb_at = ifd1_at + 2 + 12 * 3 + 4
    ifd1, _ = tiff_ifd([(0x0103, 3, 1, struct.pack("<H", 6)), (0x0201, 4, 1, thumb_at),
                        (0x0202, 4, 1, declared_length if declared_length is not None else len(thumbnail))], ifd1_at)
    return b"II*\x00" + struct.pack("<I", 8) + ifd0 + ifd1 + thumbnail


def noisy_jpeg(side: int) -> bytes:
    """A JPEG of noise, so it does not compress: about side*side bytes."""
    rng = np.random.default_rng(8)
    return encoded(Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)), "JPEG", quality=95)


def huge_video() -> bytes:
    """One black 8192 x 6144 H.264 frame (50 megapixels) in a few hundred kilobytes."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=1, options={"preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = 8192, 6144, "yuv420p"
        frame = av.VideoFrame(8192, 6144, "yuv420p")
        for plane in frame.planes:
            np.frombuffer(plane, dtype=np.uint8)[:] = 16 if plane is frame.planes[0] else 128
        frame.pts = 0
        out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return buffer.getvalue()


def many_tracks(mp4_with_sound: bytes, copies: int) -> bytes:
    """The clip with its sound track (trak box) repeated `copies` times in its index."""
    _, start, end = next(b for b in boxes(mp4_with_sound) if b[0] == b"moov")
    inside = mp4_with_sound[start + 8:end]
    sound = [inside[s:e] for k, s, e in boxes(inside) if k == b"trak"][-1]
    body = inside + sound * copies
    return mp4_with_sound[:start] + struct.pack(">I", len(body) + 8) + b"moov" + body + mp4_with_sound[end:]


# ---------------------------------------------------------------- the corpus

@dataclass(frozen=True)
class Case:
    says: str                          # the sentence the case proves
    name: str                          # the name the file is uploaded under
    build: Callable[[dict], bytes]     # seeds -> bytes
    reason: str | None                 # regex the error must match; None: the file must be processed
    may_succeed: bool = False          # processed, or refused for `reason`: either is right
    peak_mb: int = PEAK_RSS_MB         # bound on the CLI's peak resident memory


def cut(kind: str, fraction: float) -> Callable[[dict], bytes]:
    return lambda seeds: seeds[kind][:max(1, int(len(seeds[kind]) * fraction))]


TRUNCATED = "damaged or truncated|cannot be decoded|no decodable frames|container cannot be read"
BOMB = "megapixel limit"
CASES = [
    Case("a zero-byte photo is refused as empty", "empty.jpg", lambda s: b"", "empty"),
    Case("a zero-byte video is refused as empty", "empty.mp4", lambda s: b"", "empty"),
    *[Case(f"a {kind.upper()} cut at {int(f * 100)} percent is refused as damaged", f"cut{int(f * 100)}.{kind}",
           cut(kind, f), TRUNCATED)
      for kind in ("jpg", "png", "heic", "webp") for f in (0.02, 0.5, 0.97)],
    *[Case(f"an MP4 ({layout}) cut at {int(f * 100)} percent is refused as damaged", f"cut{int(f * 100)}-{layout}.mp4",
           cut(f"mp4-{layout}", f), TRUNCATED)
      for layout in ("faststart", "index-last") for f in (0.05, 0.5, 0.97)],
    Case("a PNG named .jpg is read by its content and de-identified", "really-png.jpg", lambda s: s["png"], None),
    Case("a JPEG named .png is read by its content and de-identified", "really-jpeg.png", lambda s: s["jpg"], None),
    Case("a HEIC named .mp4 is read as the photo it is", "really-heic.mp4", lambda s: s["heic"], None),
    Case("a PDF named .jpg is refused as a document", "consent.jpg",
         lambda s: b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n",
         "PDF document, not a photo or video"),
    Case("a text file named .jpg is refused as not a photo", "notes.jpg",
         lambda s: b"Patient Rosa Planted, MRN 998877, seen today.\n" * 20, "not a photo or video format"),
    Case("a text file named .mp4 is refused as not a video", "notes.mp4",
         lambda s: b"Patient Rosa Planted, MRN 998877, seen today.\n" * 20, "not a photo or video format"),
    Case("random bytes named .jpg are refused as not a photo", "random.jpg",
         lambda s: np.random.default_rng(1).bytes(50_000), "not a photo or video format"),
    Case("random bytes behind a JPEG signature are refused as damaged", "random-sig.jpg",
         lambda s: b"\xff\xd8\xff\xe0" + np.random.default_rng(2).bytes(50_000), TRUNCATED),
    Case("random bytes behind an MP4 signature are refused as damaged", "random-sig.mp4",
         lambda s: b"\0\0\0\x18ftypisom\0\0\0\0isommp41" + np.random.default_rng(3).bytes(50_000), TRUNCATED),
    Case("a PNG declaring 60000x60000 pixels is refused as a bomb", "bomb.png",
         lambda s: png_declaring(60000, 60000), BOMB),
    Case("a PNG declaring 2^31-1 pixels a side is refused as a bomb", "bomb-max.png",
         lambda s: png_declaring(2 ** 31 - 1, 2 ** 31 - 1), BOMB),
    Case("a JPEG declaring 65000x65000 pixels is refused as a bomb", "bomb.jpg",
         lambda s: jpeg_declaring(s["jpg"], 65000, 65000), BOMB),
    Case("a WebP declaring 16384x16384 pixels is refused as a bomb", "bomb.webp",
         lambda s: webp_declaring(s["webp-lossless"]), BOMB),
    Case("a TIFF declaring 100000x100000 pixels is refused as a bomb", "bomb.tif",
         lambda s: tiff_declaring(100000, 100000), BOMB),
    Case("a HEIC declaring 60000x60000 pixels is refused as a bomb", "bomb.heic",
         lambda s: heif_declaring(s["heic"], 60000, 60000), BOMB),
    Case("an AVIF declaring 60000x60000 pixels is refused unread", "bomb.avif",   # libavif refuses to parse it
         lambda s: heif_declaring(s["avif"], 60000, 60000), f"{BOMB}|cannot be decoded"),
    Case("an AVIF whose coded picture is noise is refused as damaged", "noise.avif",
         lambda s: noise_payload(s["avif"]), TRUNCATED),
    Case("an AVIF naming a primary image that does not exist is refused as damaged", "no-item.avif",
         lambda s: missing_primary_item(s["avif"]), TRUNCATED),
    Case("a HEIC whose coded picture is noise is refused as damaged", "noise.heic",
         lambda s: noise_payload(s["heic"]), TRUNCATED),
    Case("a PNG with a garbled chunk name is refused without quoting it", "garbled.png",
         lambda s: garbled_chunk_name(s["png"]), TRUNCATED),
    Case("a 250 KB PNG of 79 megapixels, just under the limit, is done or refused for memory, never a crash",
         "flat79mp.png", lambda s: encoded(Image.new("RGB", (9000, 8800), (120, 110, 100)), "PNG"),
         "not enough memory", may_succeed=True, peak_mb=2600),   # 2.36 GB when done without a limit
    Case("a PNG text chunk inflating to 100 MB is refused as a bomb", "ztxt-bomb.png",
         lambda s: png_with_inflating_chunk(s["png"], b"zTXt", b"Comment\0\0"), "decompression bomb"),
    Case("a PNG colour profile inflating to 100 MB is refused as a bomb", "iccp-bomb.png",
         lambda s: png_with_inflating_chunk(s["png"], b"iCCP", b"icc\0\0"), "decompression bomb"),
    Case("a GIF declaring 65535x65535 pixels is refused unread", "bomb.gif",
         lambda s: gif_declaring(65535, 65535), "unsupported image format"),
    Case("EXIF orientation 99 is ignored and the photo de-identified", "orient99.jpg",
         lambda s: jpeg_with_exif(s["jpg"], exif_blob([(0x0112, 3, 1, struct.pack("<H", 99))])), None),
    Case("an EXIF IFD offset beyond the file is ignored", "ifd-outside.jpg",
         lambda s: jpeg_with_exif(s["jpg"], exif_blob([], first_ifd=0x7FFFFF00)), None),
    Case("EXIF IFDs that loop are ignored", "ifd-loop.jpg", lambda s: jpeg_with_exif(s["jpg"], looping_ifds()), None),
    Case("an EXIF tag claiming 2 billion values is ignored", "huge-count.jpg",
         lambda s: jpeg_with_exif(s["jpg"], exif_blob([(0x010F, 2, 0x7FFFFFFF, 26), (0x0110, 4, 0x40000000, 26)])),
         None),
    Case("a 64 KB EXIF string is dropped", "long-string.jpg",
         lambda s: jpeg_with_exif(s["jpg"], exif_blob([(0x010E, 2, 60001, b"A" * 60000 + b"\0")])), None),
    Case("a 4 MB EXIF string in a PNG is dropped", "long-string.png",
         lambda s: png_with_exif(s["png"], exif_blob([(0x010E, 2, 4_000_001, b"A" * 4_000_000 + b"\0")])), None),
    Case("five thousand EXIF tags are dropped", "many-tags.jpg", lambda s: jpeg_with_exif(s["jpg"], many_tags(5000)),
         None),
    Case("a 60 KB EXIF thumbnail is dropped", "big-thumb.jpg",
         lambda s: jpeg_with_exif(s["jpg"], thumbnail_exif(noisy_jpeg(120))), None),
    Case("a 3 MB EXIF thumbnail in a PNG is dropped", "big-thumb.png",
         lambda s: png_with_exif(s["png"], thumbnail_exif(noisy_jpeg(1200))), None),
    Case("an EXIF thumbnail claiming 2 GB is ignored", "thumb-2gb.jpg",
         lambda s: jpeg_with_exif(s["jpg"], thumbnail_exif(noisy_jpeg(16), 0x7FFFFFFF)), None),
    Case("an audio-only MP4 is refused for having no picture", "voice.mp4", lambda s: s["audio-only"],
         "no video stream"),
    Case("an M4A sound file is refused for having no picture", "voice.m4a", lambda s: s["m4a"], "no video stream"),
    Case("an MP4 without its index (moov) is refused as damaged", "no-moov.mp4",
         lambda s: without_box(s["mp4-index-last"], b"moov"), TRUNCATED),
    Case("an MP4 with its index cut short is refused as damaged", "cut-moov.mp4",
         lambda s: cut_inside_box(s["mp4-faststart"], b"moov") + only_box(s["mp4-faststart"], b"mdat"), TRUNCATED),
    Case("a bare media-data box is refused as damaged", "mdat-only.mp4",
         lambda s: only_box(s["mp4-index-last"], b"mdat"), TRUNCATED),
    Case("an MP4 whose video track has no frames is refused", "no-frames.mp4", lambda s: s["zero-frames"],
         "no video stream|no decodable frames"),
    Case("an MP4 of 8192x6144 frames is refused over the frame limit", "huge.mp4", lambda s: s["huge-video"],
         BOMB),
    Case("an MP4 with 1500 sound tracks is refused", "tracks.mp4",
         lambda s: many_tracks(s["mp4-with-sound"], 1500), "too many streams"),
]


@pytest.fixture(scope="session")
def seeds(face) -> dict[str, bytes]:
    return valid_seeds(face)


def valid_seeds(face: Image.Image) -> dict[str, bytes]:
    """Valid files of every kind, to cut, patch and relabel."""
    return {
        "jpg": encoded(face, "JPEG", quality=90), "png": encoded(face, "PNG"), "heic": encoded(face, "HEIF"),
        "avif": encoded(face, "AVIF"), "webp": encoded(face, "WEBP"),
        "webp-lossless": encoded(face.resize((32, 32)), "WEBP", lossless=True),
        "mp4-faststart": clip(faststart=True), "mp4-index-last": clip(),
        "audio-only": clip(video=False, audio=True), "m4a": clip(video=False, audio=True, fmt="ipod"),
        "zero-frames": clip(frames=0), "huge-video": huge_video(), "mp4-with-sound": clip(audio=True),
    }


@pytest.fixture(scope="session")
def good_photo(face, tmp_path_factory) -> Path:
    """Grace Hopper's portrait, the good file of every batch."""
    folder = tmp_path_factory.mktemp("good")
    path = folder / "grace_hopper.jpg"
    path.write_bytes(grace_hopper_path().read_bytes())
    return path


def assert_good_photo_done(report: dict, good_photo: Path, out: Path) -> None:
    assert report["input"] == str(good_photo), report
    assert report["error"] is None, report["error"]
    assert report["verified"] == {"metadata_clean": True, "faces_left": 0}
    assert report["regions"], "Grace Hopper's face was not found"
    assert Path(report["output"]).parent == out.absolute()


@pytest.mark.parametrize("case", CASES, ids=[c.says for c in CASES])
def test_a_hostile_file_is_explained_and_the_good_photo_in_its_batch_is_still_done(case, seeds, good_photo, tmp_path):
    hostile = tmp_path / case.name
    hostile.write_bytes(case.build(seeds))
    out = tmp_path / "out"

    run = run_cli(tmp_path, "redact", str(hostile), str(good_photo), "--out", str(out), "--json")

    assert not run.hung, f"no answer within {HANG_SECONDS} s"
    assert "Traceback" not in run.stderr, run.stderr[-2000:]
    assert run.peak_rss_mb < case.peak_mb, f"peak memory {run.peak_rss_mb:.0f} MB"
    bad, good = run.reports()
    assert bad["input"] == str(hostile)
    assert_good_photo_done(good, good_photo, out)
    outputs = {Path(good["output"]).name}
    if case.reason is None or (case.may_succeed and bad["error"] is None):
        assert run.code == 0, bad["error"]
        assert bad["error"] is None and bad["verified"]["metadata_clean"] is True
        outputs.add(Path(bad["output"]).name)
    else:
        assert run.code == 1
        assert bad["output"] is None
        assert re.search(case.reason, bad["error"]), bad["error"]
        assert str(tmp_path) not in bad["error"] and case.name not in bad["error"]
        for quoted in ("Rosa", "Ros"):   # never quotes the file's content
            assert quoted not in bad["error"] and quoted not in run.stderr
    assert {p.name for p in out.iterdir()} == outputs   # no .partial-* file, nothing else


def test_detect_and_inspect_answer_every_hostile_photo_without_a_traceback(seeds, good_photo, tmp_path):
    photos = [c for c in CASES if not c.name.endswith((".mp4", ".mov", ".m4a")) and not c.may_succeed]
    paths = []
    for case in photos:
        paths.append(tmp_path / case.name)
        paths[-1].write_bytes(case.build(seeds))
    paths.append(good_photo)

    detect = run_cli(tmp_path, "detect", *map(str, paths), "--json")
    inspect = run_cli(tmp_path, "inspect", *map(str, paths), "--json")

    for run in (detect, inspect):
        assert not run.hung and run.code == 1
        assert "Traceback" not in run.stderr, run.stderr[-2000:]
        assert run.peak_rss_mb < PEAK_RSS_MB
    found = json.loads(detect.stdout)
    assert found[str(good_photo)], "Grace Hopper's face was not found"
    for case, path in zip(photos, paths):
        assert (found[str(path)] is None) == (case.reason is not None), case.says
    entries = {e["path"]: e for e in json.loads(inspect.stdout)}
    assert entries[str(good_photo)]["error"] is None
    for case, path in zip(photos, paths):
        if case.reason == "empty":
            assert entries[str(path)]["error"] == "file is empty (0 bytes)"


def test_exiftool_that_does_not_finish_is_a_reason_not_an_unexpected_error(monkeypatch, tmp_path):
    from deid import metadata
    from deid.api import redact_file

    monkeypatch.setattr(metadata, "EXIFTOOL_SECONDS", 0.001)   # the real ExifTool, stopped at once
    report = redact_file(grace_hopper_path(), tmp_path / "out", original_name="photo.jpg")
    assert report.error == "ExifTool did not finish reading the file in 0.001 s"
    assert report.output is None and not list((tmp_path / "out").glob("*"))
