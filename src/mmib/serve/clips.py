"""``POST /v1/predict/clip``: an uploaded media file -> examples, extracted by the run's own
recorded extraction plan (through :mod:`mmib.inputs`, as ``mmib predict RUN clip.mp4`` does).

The upload is written to a private temporary folder under a media suffix (only media: a
manifest or any other file type is refused, so a client can never make the server read
paths of its own), read there by the extractors in a worker thread, then deleted."""

from __future__ import annotations

import asyncio
import re
import shutil
import tempfile
from concurrent.futures import Executor
from pathlib import Path
from typing import Any

from ..inputs import MEDIA as _MEDIA
from .limits import ApiError

MEDIA = tuple(sorted(_MEDIA))
# what the browser's MediaRecorder names its recordings, when the upload has no file name suffix
MIME_SUFFIX = {"video/webm": ".webm", "audio/webm": ".webm", "video/mp4": ".mp4", "audio/mp4": ".m4a",
               "audio/ogg": ".ogg", "audio/wav": ".wav", "audio/x-wav": ".wav", "audio/mpeg": ".mp3",
               "video/quicktime": ".mov"}
_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def _suffix(filename: str | None, content_type: str | None) -> str:
    suffix = Path(filename or "").suffix.lower()
    if suffix in MEDIA:
        return suffix
    mime = (content_type or "").split(";")[0].strip().lower()
    if not suffix and mime in MIME_SUFFIX:
        return MIME_SUFFIX[mime]
    raise ApiError(415, f"file: expected a media file ({', '.join(MEDIA)}), got {filename or 'a file without a name'!r}"
                        + (f" ({mime})" if mime else ""), "file")


def _clip_id(filename: str | None) -> str:
    stem = _SAFE.sub("_", Path(filename or "clip").stem).strip("._")[:64]
    return stem or "clip"


def _field_of_reason(reason: str) -> str:
    low = reason.lower()
    if "transcript" in low or "'text'" in low:
        return "text"
    if "word" in low:
        return "words"
    return "file"


class ClipJob:
    """Turns uploads into examples for ``inputs`` (a ModelInputs) on ``pool`` (extraction threads)."""

    def __init__(self, inputs: Any, pool: Executor) -> None:
        self.inputs = inputs
        self.pool = pool

    def _extract(self, path: Path, name: str, text: str | None,
                 words: str | None) -> tuple[list[Any], list[dict[str, Any]]]:
        from ..inputs import clip_rows

        def mine(reason: str) -> str:  # the upload's own name, not the server's temporary path
            return reason.replace(str(path), name).replace(str(path.parent), "")

        try:
            rows, bad, _ = clip_rows(path, text=text, words=words)
        except ValueError as e:
            msg = mine(str(e))
            raise ApiError(422, f"{_field_of_reason(msg)}: {msg}", _field_of_reason(msg)) from None
        if bad:
            reason = mine(bad[0].reason)
            raise ApiError(422, f"{_field_of_reason(reason)}: {reason}", _field_of_reason(reason))
        got = self.inputs.from_clips(rows, skip_bad=True)
        if got.bad or not got.examples:
            reason = mine(got.bad[0].reason) if got.bad else "nothing could be extracted"
            raise ApiError(422, f"file: the clip cannot be used: {reason}", _field_of_reason(reason))
        return list(got.examples), [dict(i) for i in got.info]

    async def examples(self, upload: Any, text: str | None, words: str | None) -> tuple[list[Any], list[dict]]:
        suffix = _suffix(upload.filename, upload.content_type)
        folder = Path(tempfile.mkdtemp(prefix="mmib-serve-"))
        path = folder / (_clip_id(upload.filename) + suffix)
        loop = asyncio.get_running_loop()
        try:
            with open(path, "wb") as out:
                while chunk := await upload.read(1 << 20):
                    await loop.run_in_executor(None, out.write, chunk)
            if path.stat().st_size == 0:
                raise ApiError(422, "file: the upload is empty", "file")
            return await loop.run_in_executor(self.pool, self._extract, path, upload.filename or path.name,
                                              (text or "").strip() or None,
                                              (words or "").strip() or None)
        finally:
            shutil.rmtree(folder, ignore_errors=True)


__all__ = ["MEDIA", "ClipJob"]
