"""The profile's [video] section, read once per video; each default is stated here only."""
from __future__ import annotations

from dataclasses import dataclass

from deid.profile import Profile

# The ensemble's costliest views (mirrored and turned copies, enlarged windows) are left to the image
# engine: on video the per-frame detector and the tracker cover what they add (benchmarks/video.py recall).
KEYFRAME_DETECTOR = {"mirror": [], "turns": False, "upscale": 0}
# Text on keyframes: one upright look at up to 1280 px (no quarter-turned copy), every TEXT_EVERY frames;
# the tracker carries each line between looks (benchmarks/text.py measures what it adds).
TEXT_DETECTOR = {"max_side": 1280, "turn": False}
# libx264's superfast at CRF 20 gives a higher PSNR and SSIM than veryfast at CRF 20 for about 70 % of its
# CPU time, in files about 1.6 times larger (benchmarks/video.py presets, 720p and 1080p).
PRESET = "superfast"


@dataclass(frozen=True)
class VideoSettings:
    keyframe_every: int      # frames between runs of the full ensemble
    hold: int                # frames a face stays covered before its first and after its last sighting
    fast_side: int           # longest side of the frame the light detectors see
    blazeface_threshold: float   # BlazeFace full-range on every frame at fast_side (0 turns it off)
    centerface_every: int        # CenterFace at fast_side on every n-th frame (0 turns it off)
    centerface_threshold: float
    # small faces looked at again at full resolution every n-th frame (0: never). Off: on the face videos it
    # let the ensemble run every 20 frames at the same recall only with the per-frame CenterFace at 0.15,
    # whose extra regions doubled the redacted area (benchmarks/video.py recall --set video.window_every=1)
    window_every: int
    window_threshold: float  # CenterFace's score that counts as seeing a watched face again
    keyframe_detector: dict  # overrides of the profile's [detector] settings for the keyframe ensemble
    cut_threshold: float     # mean grey-level change of a 32x18 thumbnail that marks a scene cut
    preset: str              # libx264's
    crf: int
    audio: str               # "drop" or "keep" (re-encoded AAC)
    verify_every: int        # the residual check reads every n-th frame of the output (1: all)
    text_every: int          # frames between looks for text and codes (also at every scene's ends)
    text_detector: dict      # overrides of the profile's [text] settings for those looks

    @classmethod
    def of(cls, prof: Profile) -> "VideoSettings":
        video = prof.section("video")
        keyframe_every = max(1, int(video.get("keyframe_every", 16)))
        return cls(keyframe_every=keyframe_every,
                   hold=max(keyframe_every, int(video.get("hold", keyframe_every + 8))),
                   fast_side=int(video.get("fast_side", 192)),
                   blazeface_threshold=float(video.get("blazeface_threshold", 0.0)),
                   centerface_every=int(video.get("centerface_every", 1)),
                   centerface_threshold=float(video.get("centerface_threshold", 0.3)),
                   window_every=max(0, int(video.get("window_every", 0))),
                   window_threshold=float(video.get("window_threshold", 0.15)),
                   keyframe_detector=dict(video.get("keyframe_detector", KEYFRAME_DETECTOR)),
                   cut_threshold=float(video.get("cut_threshold", 20.0)),
                   preset=str(video.get("preset", PRESET)), crf=int(video.get("crf", 20)),
                   audio="keep" if video.get("audio", "drop") == "keep" else "drop",
                   verify_every=max(1, int(video.get("verify_every", 3))),
                   text_every=max(1, int(video.get("text_every", 2 * keyframe_every))),
                   text_detector=dict(video.get("text_detector", TEXT_DETECTOR)))
