"""What an export says about a clip's media, shared by the three readers: one record, one set of
still-image extensions, one mapping onto the canonical ``Clip`` fields."""

from __future__ import annotations

import os
from fractions import Fraction
from typing import Any, NamedTuple
from urllib.parse import unquote

# Files these readers and the xmeml writer treat as still images (a movie is anything else).
STILL_EXTENSIONS = frozenset((".png", ".jpg", ".jpeg", ".tif", ".tiff", ".psd", ".bmp", ".gif", ".webp", ".svg"))


class SourceInfo(NamedTuple):
    """A clip's media as the file describes it; None = the file does not say (never a made-up 0).
    A NamedTuple: immutable (one record serves every clip of a file) and four times cheaper to build
    than a frozen dataclass (FCP7 xmeml files define one per clipitem)."""

    width: int | None = None
    height: int | None = None
    pixel_aspect: float | None = None
    rate: Fraction | None = None
    channels: int | None = None
    ext: str | None = None
    ident: str | None = None
    kind: str = ""  # xmeml: "generator" (Premiere slug/graphic), "still" (an image) or ""
    speed: float = 1.0  # MLT: a timewarp producer's speed
    remap: bool = False  # MLT: a variable-speed time remap
    streams: tuple[int, ...] = ()  # xmeml: the channel counts of the media's audio streams (its <audio> elements)

    def clip_fields(self) -> dict[str, Any]:
        """The canonical ``Clip`` keyword arguments this record fills."""
        return {
            "source_width": self.width,
            "source_height": self.height,
            "source_pixel_aspect": self.pixel_aspect,
            "source_rate": self.rate,
            "audio_channels": self.channels,
            "file_ext": self.ext,
            "source_id": self.ident,
        }


NO_SOURCE = SourceInfo()


def display_aspect(width: int | None, height: int | None, pixel_aspect: float | None) -> float | None:
    """A picture's width / height as shown (its pixels times their aspect), None where its size is not known."""
    if not width or not height:
        return None
    return width * (pixel_aspect or 1.0) / height


def file_extension(path: str) -> str | None:
    """Lower-case extension (with the dot) of a path, file URL or Windows path, None without one."""
    ext = os.path.splitext(unquote(path.replace("\\", "/").rsplit("/", 1)[-1]))[1].lower()
    return ext if 1 < len(ext) <= 6 and ext[1:].isalnum() else None


def is_still_path(path: str) -> bool:
    """Whether a media path names a still image (by its extension)."""
    return os.path.splitext(path.lower())[1] in STILL_EXTENSIONS
