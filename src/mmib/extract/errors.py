"""The error of a clip that cannot be used, shared by the media readers and the extractors."""

from __future__ import annotations


class ClipError(ValueError):
    """A clip that cannot be used (unreadable file, no audio track, no face in any frame, ...):
    the message is the reason, reported with the manifest row; the other clips go on."""


__all__ = ["ClipError"]
