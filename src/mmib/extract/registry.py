"""The extractor registry: each entry turns one clip into a per-frame feature stream.

An :class:`ExtractorSpec` declares what it produces (modality, output dim, frame rate,
feature names), its default settings and the Python packages it needs (so a missing
optional extra is one clear "install mmib[extract]" line). Each extractor registers itself
in its own file of this package, so adding one is one new file (docs/own_data.md).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal

import numpy as np

from ..registry import Registry
from .errors import ClipError

Modality = Literal["audio", "visual"]


@dataclass
class Clip:
    """One manifest row's media, resolved.

    media: the file with the sound (a video with audio, or an audio file); video: the file
    with the pictures (``media`` itself when it is a video; None for audio-only rows);
    start / end: seconds within the files (None: from the beginning / to the end);
    openface: an OpenFace 2 CSV for the clip (None when the row has none).

    :meth:`audio` decodes the sound once per clip object, however many extractors (and the
    transcriber) read it; :meth:`tick` reports how far into the clip an extractor is
    (``progress``, set by the pipeline, receives seconds from the clip's start).
    """

    id: str
    media: Path
    video: Path | None = None
    start: float | None = None
    end: float | None = None
    openface: Path | None = None
    row: int = 0
    progress: Callable[[float], None] | None = field(default=None, repr=False, compare=False)
    _audio: dict[int, np.ndarray] = field(default_factory=dict, init=False, repr=False, compare=False)

    def audio(self, sample_rate: int) -> np.ndarray:
        """The clip's sound between start and end, mono float32 at ``sample_rate``, decoded on
        first use and kept for the other readers of this clip (a 5-minute clip is 19 MB at 16 kHz)."""
        if sample_rate not in self._audio:
            from .media import read_audio

            self._audio[sample_rate] = read_audio(self.media, sample_rate, self.start, self.end)
        return self._audio[sample_rate]

    def tick(self, seconds: float) -> None:
        """Tell the pipeline's progress display that this clip is done up to ``seconds``."""
        if self.progress is not None:
            self.progress(seconds)

    def __getstate__(self) -> dict[str, Any]:  # to a worker process: no decoded audio, no callback
        return {**self.__dict__, "progress": None, "_audio": {}}


@dataclass
class Stream:
    """One modality of one clip: values (T, D) float32, times (T,) float64 (each frame's
    centre in seconds from the clip's start) and mask (T,) bool (True where the frame is
    valid, e.g. a face was found; None: all valid)."""

    values: np.ndarray
    times: np.ndarray
    mask: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.values = np.ascontiguousarray(self.values, dtype=np.float32)
        self.times = np.asarray(self.times, dtype=np.float64)
        if self.values.ndim != 2 or len(self.times) != len(self.values):
            raise ValueError(f"a stream needs values (T, D) and times (T,); got {self.values.shape} and "
                             f"{self.times.shape}")
        if self.mask is not None:
            self.mask = np.asarray(self.mask, dtype=bool)
            if self.mask.shape != self.times.shape:
                raise ValueError(f"mask {self.mask.shape} does not match the {len(self.times)} frames")


@dataclass(frozen=True)
class ExtractorSpec:
    """One extractor.

    extract: ``fn(clip, settings) -> Stream``; raises :class:`ClipError` for a clip it cannot use.
    settings: the defaults; a run records the settings used, so ``mmib predict`` on a new
    clip extracts it the same way. packages: distribution names whose versions are recorded.
    requires: importable modules it needs; extra: the optional extra that installs them.
    """

    modality: Modality
    description: str
    dim: int
    frame_rate: float
    feature_names: tuple[str, ...]
    extract: Callable[[Clip, dict[str, Any]], Stream]
    settings: dict[str, Any] = field(default_factory=dict)
    packages: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    extra: str = "extract"

    def __post_init__(self) -> None:
        if len(self.feature_names) != self.dim:
            raise ValueError(f"{len(self.feature_names)} feature names for dim {self.dim}")

    def missing(self) -> list[str]:
        return [m for m in self.requires if importlib.util.find_spec(m) is None]

    def check_installed(self, name: str) -> None:
        miss = self.missing()
        if miss:
            raise ImportError(f"the {name!r} extractor needs {', '.join(miss)}: install mmib[{self.extra}] "
                              f"(pip install 'mmib[{self.extra}]')")

    def versions(self) -> dict[str, str]:
        out = {}
        for pkg in self.packages:
            try:
                out[pkg] = importlib.metadata.version(pkg)
            except importlib.metadata.PackageNotFoundError:
                out[pkg] = "not installed"
        return out

    def describe(self, name: str, settings: dict[str, Any] | None = None) -> dict[str, Any]:
        """What a dataset file and a run record about this extractor."""
        return {"extractor": name, "modality": self.modality, "dim": self.dim, "frame_rate": self.frame_rate,
                "feature_names": list(self.feature_names), "settings": {**self.settings, **(settings or {})},
                "versions": self.versions()}


EXTRACTORS: Registry[ExtractorSpec] = Registry("extractor", key="--audio / --visual")

__all__ = ["EXTRACTORS", "Clip", "ClipError", "ExtractorSpec", "Modality", "Stream"]
