"""Media decoding with PyAV (its wheels bundle FFmpeg: no system binary needed).

``read_audio`` gives a mono float32 signal at a chosen sample rate; ``read_frames`` gives
grey-scale (or BGR) video frames resampled to a chosen frame rate with their times. Both
take an optional ``start`` / ``end`` in seconds and raise :class:`ClipError` with a reason
for files they cannot use (missing, unreadable container, no audio / video track).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Iterator

import numpy as np

from .errors import ClipError


def _open(path: Path):
    try:
        import av
    except ImportError:
        raise ImportError("decoding media needs PyAV: install mmib[extract] (pip install 'mmib[extract]')") from None
    if not Path(path).is_file():
        raise ClipError(f"{path}: file not found")
    if Path(path).stat().st_size == 0:
        raise ClipError(f"{path}: empty file (0 bytes)")
    try:
        return av.open(str(path))
    except Exception as e:  # noqa: BLE001 - PyAV raises FFmpeg's many error types
        raise ClipError(f"{path}: not a readable audio/video container ({type(e).__name__}: {e})") from None


def duration(path: Path) -> float | None:
    """The container's duration in seconds (None when it does not say)."""
    with _open(path) as c:
        return None if c.duration is None else c.duration / 1_000_000


def read_audio(path: Path, sample_rate: int = 16000, start: float | None = None,
               end: float | None = None) -> np.ndarray:
    """The first audio track, mixed to mono and resampled: float32 (n,) in [-1, 1] (read-only;
    the last clip decoded is kept, so the transcriber and an audio extractor of one clip share
    one decode)."""
    try:
        st = Path(path).stat()
    except OSError:
        return _decode_audio(path, sample_rate, start, end)
    return _last_audio(str(Path(path).resolve()), st.st_size, st.st_mtime_ns, sample_rate, start, end)


@lru_cache(maxsize=1)
def _last_audio(path: str, size: int, mtime_ns: int, sample_rate: int, start: float | None,
                end: float | None) -> np.ndarray:
    """Keyed by the file's size and time too: a file rewritten in place is decoded again."""
    y = _decode_audio(Path(path), sample_rate, start, end)
    y.flags.writeable = False
    return y


def _decode_audio(path: Path, sample_rate: int, start: float | None, end: float | None) -> np.ndarray:
    import av

    with _open(path) as c:
        if not c.streams.audio:
            raise ClipError(f"{path}: no audio track")
        stream = c.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        parts = []
        try:
            for frame in c.decode(stream):
                for out in resampler.resample(frame):
                    parts.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):
                parts.append(out.to_ndarray().reshape(-1))
        except Exception as e:  # noqa: BLE001
            raise ClipError(f"{path}: the audio track cannot be decoded ({type(e).__name__}: {e})") from None
    y = np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, np.float32)
    a = 0 if start is None else max(0, int(round(start * sample_rate)))
    b = len(y) if end is None else min(len(y), int(round(end * sample_rate)))
    y = y[a:b]
    if len(y) == 0:
        raise ClipError(f"{path}: the audio track is empty" + ("" if start is None and end is None
                                                              else f" between {start}s and {end}s"))
    return y


# planar YUV layouts whose first plane is the luma (Y) picture: a grey frame without a conversion
_LUMA_FIRST = {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12", "nv21", "gray"}
# limited-range (MPEG) luma 16..235 -> full-range grey 0..255, as FFmpeg's own conversion rounds it
_EXPAND = np.clip(np.round((np.arange(256) - 16) * 255 / 219), 0, 255).astype(np.uint8)


def _gray(frame) -> np.ndarray:
    """The frame's grey picture: its luma plane read in place when it has one (no colour
    conversion; limited-range luma expanded to 0..255 by a lookup), else FFmpeg's conversion."""
    name = frame.format.name
    if name not in _LUMA_FIRST:
        return frame.to_ndarray(format="gray")
    plane = frame.planes[0]
    y = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)[:, :plane.width]
    full = name.startswith("yuvj") or name == "gray" or frame.color_range == 2  # 2: JPEG (full) range
    return np.ascontiguousarray(y) if full else _EXPAND[y]


def has_video(path: Path) -> bool:
    """Whether the file has a video track with moving pictures (an audio file's cover art,
    a single attached picture, does not count)."""
    with _open(path) as c:
        for s in c.streams.video:
            if not (getattr(s, "disposition", 0) & 0x400):  # AV_DISPOSITION_ATTACHED_PIC
                return True
    return False


def read_frames(path: Path, fps: float, start: float | None = None, end: float | None = None,
                gray: bool = True) -> Iterator[tuple[float, np.ndarray]]:
    """(time from the clip's start in s, frame) at ``fps``: for each output time the latest
    decoded frame at or before it (a constant-rate resampling of a variable-rate video).
    Frames are uint8 (H, W) grey, or (H, W, 3) BGR with ``gray=False``. Frames are decoded
    and yielded one at a time: a long clip is streamed, never held in memory whole."""
    with _open(path) as c:
        if not c.streams.video:
            raise ClipError(f"{path}: no video track")
        stream = c.streams.video[0]
        t0 = 0.0 if start is None else float(start)
        rate = float(stream.average_rate or fps)
        step, nxt, last, last_t = 1.0 / fps, 0.0, None, 0.0
        fmt = "gray" if gray else "bgr24"
        try:
            if t0 > 0 and stream.time_base:  # jump to the key frame before start, not decode from 0
                c.seek(int(t0 / stream.time_base), stream=stream, backward=True, any_frame=False)
            for frame in c.decode(stream):
                if frame.time is None:
                    continue
                if end is not None and frame.time >= end - 1e-9:
                    break
                t = float(frame.time) - t0
                while last is not None and nxt < t - 1e-9:
                    yield nxt, last
                    nxt += step
                last, last_t = (_gray(frame) if gray else frame.to_ndarray(format=fmt)), t
        except Exception as e:  # noqa: BLE001 - FFmpeg's decoding errors
            raise ClipError(f"{path}: the video track cannot be decoded ({type(e).__name__}: {e})") from None
        stop = last_t + 1.0 / rate
        if end is not None:
            stop = min(stop, end - t0)
        while last is not None and nxt < stop - 1e-9:
            yield nxt, last
            nxt += step

__all__ = ["duration", "has_video", "read_audio", "read_frames"]
