"""Real media made on the fly for the extraction tests: a voiced signal with a known F0,
a video of a real face (scikit-image's astronaut photograph, moved and scaled over the
frames) or of no face, muxed with PyAV into an .mp4 with an AAC audio track."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np


def voiced(f0: float, seconds: float, sr: int = 16000, *, harmonics: int = 8, vibrato: float = 0.0,
           seed: int = 0) -> np.ndarray:
    """A speech-like voiced signal: a harmonic series at ``f0`` Hz with a 1/k spectrum, a
    syllable-rate (4 Hz) amplitude envelope and a little noise; float32 in [-1, 1]."""
    t = np.arange(int(seconds * sr)) / sr
    inst = f0 * (1 + vibrato * np.sin(2 * np.pi * 5 * t))
    phase = 2 * np.pi * np.cumsum(inst) / sr
    y = sum(np.sin(k * phase) / k for k in range(1, harmonics + 1))
    env = 0.55 + 0.45 * np.sin(2 * np.pi * 4 * t) ** 2
    rng = np.random.default_rng(seed)
    y = env * y / np.abs(y).max() * 0.5 + 0.003 * rng.standard_normal(len(t))
    return y.astype(np.float32)


def face_frames(n: int, size: tuple[int, int] = (240, 320), *, face: bool = True, seed: int = 0) -> Iterable[np.ndarray]:
    """``n`` RGB frames (H, W, 3) uint8: the astronaut's face drifting and zooming slowly over
    a textured background, or (face=False) the background alone."""
    from skimage import data, transform

    h, w = size
    rng = np.random.default_rng(seed)
    bg = (rng.random((h // 8 + 1, w // 8 + 1, 3)) * 90 + 60)
    bg = np.kron(bg, np.ones((8, 8, 1)))[:h, :w].astype(np.uint8)
    crop = data.astronaut()[20:230, 150:330]  # head and shoulders, 210 x 180
    for i in range(n):
        img = bg.copy()
        if face:
            scale = 0.85 + 0.15 * np.sin(2 * np.pi * i / max(n, 1))
            ch, cw = int(crop.shape[0] * scale), int(crop.shape[1] * scale)
            patch = (transform.resize(crop, (ch, cw), anti_aliasing=True) * 255).astype(np.uint8)
            y0 = max(0, (h - ch) // 2 + int(8 * np.sin(2 * np.pi * i / 40)))
            x0 = max(0, (w - cw) // 2 + int(20 * np.sin(2 * np.pi * i / 60)))
            patch = patch[: h - y0, : w - x0]
            img[y0:y0 + patch.shape[0], x0:x0 + patch.shape[1]] = patch
        yield img


def write_clip(path: str | Path, *, audio: np.ndarray | None = None, sr: int = 16000,
               frames: Iterable[np.ndarray] | None = None, fps: int = 25) -> Path:
    """Mux RGB frames (H.264, yuv420p) and/or a mono float signal (AAC) into ``path``
    (.mp4 for video, .wav / .m4a for audio only)."""
    import av

    path = Path(path)
    frames = list(frames) if frames is not None else []
    with av.open(str(path), "w") as c:
        v = None
        if frames:
            v = c.add_stream("libx264", rate=fps)
            v.height, v.width = frames[0].shape[:2]
            v.pix_fmt = "yuv420p"
            v.options = {"crf": "18"}
        a = None
        if audio is not None:
            a = c.add_stream("pcm_s16le" if path.suffix == ".wav" else "aac", rate=sr)
            a.layout = "mono"
        for img in frames:
            for pk in v.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")):
                c.mux(pk)
        if v is not None:
            for pk in v.encode():
                c.mux(pk)
        if a is not None:
            fmt = "s16" if path.suffix == ".wav" else "fltp"
            block = 1024
            for i in range(0, len(audio), block):
                chunk = audio[i:i + block]
                arr = (np.clip(chunk, -1, 1) * 32767).astype(np.int16)[None] if fmt == "s16" \
                    else chunk.astype(np.float32)[None]
                fr = av.AudioFrame.from_ndarray(arr, format=fmt, layout="mono")
                fr.sample_rate = sr
                fr.pts = i
                for pk in a.encode(fr):
                    c.mux(pk)
            for pk in a.encode():
                c.mux(pk)
    return path


def spoken(text: str, *, speed: int = 150, pad: float = 0.25, voice: str = "en") -> tuple[np.ndarray, int]:
    """``text`` read by Debian's espeak-ng (a formant synthesiser, no model files): (float32
    mono samples with ``pad`` seconds of silence at both ends, sample rate). Raises a clear
    error when espeak-ng is missing (CI's .ci/run installs it)."""
    import io
    import shutil
    import subprocess
    import wave

    exe = shutil.which("espeak-ng")
    if exe is None:
        raise RuntimeError("the speech tests need Debian's espeak-ng to speak their sentences: "
                           "apt-get install espeak-ng (.ci/run installs it)")
    wav = subprocess.run([exe, "--stdout", "-v", voice, "-s", str(speed), text], capture_output=True,
                         check=True).stdout
    with wave.open(io.BytesIO(wav)) as w:
        sr = w.getframerate()
        y = np.frombuffer(w.readframes(w.getnframes()), np.int16).astype(np.float32) / 32768
    z = np.zeros(int(pad * sr), np.float32)
    return np.concatenate([z, y, z]), sr
