"""Small video clips built in the tests, with PyAV: a real face moving across a phone-style clip.

The face is Grace Hopper's portrait from matplotlib's wheel. The phone clip is stored sideways with a
display matrix that says "turn 90 degrees", as phones record portrait video, and carries the identifiers
phones write: creation time, an ISO 6709 location (the ©xyz atom), make and model, and a sound track.
"""
from __future__ import annotations

import json
import tomllib
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

PLANTED_VIDEO = {
    "creation_time": "2021-06-05T04:03:02.000000Z",
    "location": "+40.7128-074.0060/",
    "make": "PlantedPhoneMaker",
    "model": "PlantedPhone-77",
}
UPRIGHT_SIZE = (272, 480)        # width, height of the picture as shown
FACE_WIDTH = 150


def face_sprite(grace_hopper: np.ndarray, width: int = FACE_WIDTH) -> np.ndarray:
    """Grace Hopper's head and shoulders, scaled to `width` pixels across."""
    crop = grace_hopper[40:420, 90:430]
    height = round(crop.shape[0] * width / crop.shape[1])
    return np.asarray(Image.fromarray(crop).resize((width, height), Image.LANCZOS))


def face_position(index: int, frames: int, size=UPRIGHT_SIZE, sprite_shape=(168, FACE_WIDTH)) -> tuple[int, int]:
    """Top-left corner of the face in upright frame `index`: it travels diagonally across the picture."""
    width, height = size
    t = index / max(1, frames - 1)
    return round(t * (width - sprite_shape[1])), round(20 + t * (height - sprite_shape[0] - 40))


def upright_frames(grace_hopper: np.ndarray, frames: int, size=UPRIGHT_SIZE):
    """Upright RGB frames: a textured backdrop with the face moving across it."""
    width, height = size
    sprite = face_sprite(grace_hopper, min(FACE_WIDTH, width // 2))
    yy, xx = np.mgrid[0:height, 0:width]
    backdrop = np.stack([(xx * 255 // width), (yy * 255 // height), np.full_like(xx, 90)], -1).astype(np.uint8)
    for i in range(frames):
        frame = backdrop.copy()
        x, y = face_position(i, frames, size, sprite.shape[:2])
        frame[y:y + sprite.shape[0], x:x + sprite.shape[1]] = sprite
        yield frame


def phone_clip(path: Path, grace_hopper: np.ndarray, *, frames: int = 30, rate: int = 15,
               audio: bool = True, metadata: bool = True, rotation: int = 90) -> Path:
    """A MOV stored turned (display rotation 90 by default) with a moving face, phone tags and AAC sound."""
    with av.open(str(path), "w", format="mov") as out:
        if metadata:
            out.metadata.update(PLANTED_VIDEO)
        video = out.add_stream("libx264", rate=rate, options={"preset": "ultrafast", "crf": "18"})
        sideways = rotation % 180 != 0
        video.width, video.height = UPRIGHT_SIZE[::-1] if sideways else UPRIGHT_SIZE
        video.pix_fmt = "yuv420p"
        video.set_display_rotation(rotation)
        sound = None
        if audio:
            sound = out.add_stream("aac", rate=48000)
            sound.layout = "mono"
        for i, upright in enumerate(upright_frames(grace_hopper, frames)):
            # a player turns the stored picture by `rotation` degrees counter-clockwise to show it upright
            stored = np.ascontiguousarray(np.rot90(upright, -rotation // 90))
            frame = av.VideoFrame.from_ndarray(stored, format="rgb24")
            frame.pts, frame.time_base = i, Fraction(1, rate)
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        if sound is not None:
            samples = 48000 * frames // rate
            tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(samples) / 48000)).astype(np.float32)
            for start in range(0, samples, 1024):
                chunk = tone[start:start + 1024][None]
                frame = av.AudioFrame.from_ndarray(chunk, format="flt", layout="mono")
                frame.sample_rate, frame.pts = 48000, start
                out.mux(sound.encode(frame))
            out.mux(sound.encode(None))
    return path


def plain_clip(path: Path, frames_rgb, rate: int | Fraction = 15, pts: list[int] | None = None,
               time_base: Fraction | None = None, container: str = "mp4") -> Path:
    """Any frames as a plain H.264 clip (no tags), optionally with given timestamps (variable frame rate)."""
    with av.open(str(path), "w", format=container) as out:
        video = None
        for i, rgb in enumerate(frames_rgb):
            if video is None:
                video = out.add_stream("libx264", rate=rate, options={"preset": "ultrafast", "crf": "18"})
                video.height, video.width = rgb.shape[:2]
                video.pix_fmt = "yuv420p"
                if time_base is not None:
                    video.time_base = video.codec_context.time_base = time_base
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            frame.pts = pts[i] if pts is not None else i
            frame.time_base = time_base or 1 / Fraction(rate)
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
    return path


def profile_variant(folder: Path, name: str, changes: dict[str, dict]) -> Path:
    """The default profile with some settings changed, written as a profile file of its own."""
    root = Path(__file__).resolve().parent.parent
    settings = tomllib.loads((root / "assets" / "profiles" / "default.toml").read_text())
    settings["id"] = name
    for section, values in changes.items():
        settings.setdefault(section, {}).update(values)
    lines = [f"{k} = {json.dumps(v)}" for k, v in settings.items() if not isinstance(v, dict)]
    for section, values in settings.items():
        if isinstance(values, dict):
            lines += [f"[{section}]"] + [f"{k} = {json.dumps(v)}" for k, v in values.items()]
    path = folder / f"{name}.toml"
    path.write_text("\n".join(lines) + "\n")
    return path
