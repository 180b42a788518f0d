"""Videos: decode, turn upright, find and follow every face, redact, encode a brand-new browser-playable MP4.

Rooms: pipeline.py (the pass and its threads), reader.py (input), frames.py (one frame: orientation, YUV
planes, redaction), detection.py (keyframes, scene cuts, tracking: the regions of each frame), writer.py
(H.264 yuv420p MP4, audio policy), settings.py (the profile's [video] section), stages.py (threads and
channels), errors.py. Verification of the written file is in deid/verify.py.

Report (filled in place): `frames`, `frames_with_regions`, and `regions` as runs
`[[first_frame, last_frame, [x0, y0, x1, y1]], ...]`: the region covers frames first..last inclusive
(0-based, in output order), in integer pixels of the upright output, x1/y1 exclusive.
"""
from deid.video.errors import VideoCancelled, VideoReadError
from deid.video.pipeline import redact_video
from deid.video.settings import VideoSettings

__all__ = ["VideoCancelled", "VideoReadError", "VideoSettings", "redact_video"]
