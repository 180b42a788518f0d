"""What de-identifying one file found and did: the report of `redact`, the same for the CLI, the services
and the UI. `to_json` gives the object of DESIGN.md's `redact` contract; nothing else builds it."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from deid.naming import filename_warnings
from deid.profile import ProfileStamp

KINDS = ("image", "video", "unknown")
# Keys of the contract that only a video's report carries.
VIDEO_KEYS = ("frames", "frames_with_regions", "width", "height")


@dataclass
class Verified:
    """What re-reading the written output showed."""
    metadata_clean: bool = False
    faces_left: int | None = None           # faces the residual check found; None where it does not apply
    frames_checked: int | None = None       # videos: frames the residual check read
    identifiers_readable: int | None = None  # patient identifiers still readable; None where none were given

    def to_json(self) -> dict:
        found = {"metadata_clean": self.metadata_clean, "faces_left": self.faces_left}
        for key in ("frames_checked", "identifiers_readable"):
            if getattr(self, key) is not None:
                found[key] = getattr(self, key)
        return found


@dataclass
class DeidReport:
    input: str                               # absolute path of the input
    profile: ProfileStamp | None             # None only when the profile itself could not be loaded
    filename_warnings: list[str]             # identifiers in the name the person uploaded
    output: str | None = None                # absolute path of the verified output; None on any error
    error: str | None = None                 # the reason for the person who uploaded it (never a path)
    kind: str = "unknown"                    # one of KINDS
    # images: [x0, y0, x1, y1] of the upright image; videos: runs [first_frame, last_frame, [x0, y0, x1, y1]]
    regions: list = field(default_factory=list)
    # images: what each region covers, in the order of `regions`: "face", "text", "code" or "manual" (drawn)
    region_kinds: list[str] = field(default_factory=list)
    flagged_regions: list | None = None     # images under a profile whose text action is "flag": found, kept
    removed: list[str] = field(default_factory=list)   # "GROUP:Tag" names of the input's identifying tags
    verified: Verified = field(default_factory=Verified)
    frames: int | None = None                # videos: frames written
    frames_with_regions: int | None = None   # videos: frames with at least one region
    width: int | None = None                 # videos: upright frame size written
    height: int | None = None

    @classmethod
    def new(cls, path: str | Path, profile: ProfileStamp | None, original_name: str | None = None) -> "DeidReport":
        """An empty report; file-name warnings judge the name the person uploaded, not a temporary one."""
        return cls(input=str(Path(path).absolute()), profile=profile,
                   filename_warnings=filename_warnings(original_name or Path(path).name))

    def failed(self, message: str) -> "DeidReport":
        """The report of a file that was not de-identified: no output, and why."""
        self.output, self.error = None, message
        return self

    def start_video(self) -> None:
        self.kind, self.frames, self.frames_with_regions, self.regions = "video", 0, 0, []

    def to_json(self) -> dict:
        """The JSON object of DESIGN.md's `redact` contract (the video keys only for videos)."""
        found = {"input": self.input, "output": self.output, "error": self.error, "kind": self.kind,
                 "profile": asdict(self.profile) if self.profile else None, "regions": self.regions,
                 "removed": self.removed, "filename_warnings": self.filename_warnings,
                 "verified": self.verified.to_json()}
        if self.kind == "video":
            found.update({key: getattr(self, key) for key in VIDEO_KEYS})
        else:
            found["region_kinds"] = self.region_kinds
        if self.flagged_regions is not None:
            found["flagged_regions"] = self.flagged_regions
        return found
