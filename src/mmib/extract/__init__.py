"""Own data: raw clips (video with sound, or audio plus video) -> a trainable dataset file.

``mmib extract MANIFEST -o DATASET`` reads a manifest (CSV or JSONL, one row per
utterance), decodes each clip (:mod:`.media`), runs the configured extractors
(:data:`EXTRACTORS`: audio and visual per-frame descriptors, each declaring its dim and
frame rate), aligns the streams on word timings when the row has them, and writes mmib's
converted corpus format with the dataset's own description and the extraction settings,
so ``mmib train --data-path DATASET`` trains on it and ``mmib predict RUN clip.mp4``
extracts a new clip the same way (docs/own_data.md).
"""

from __future__ import annotations

from ..registry import import_parts
from .registry import EXTRACTORS, Clip, ClipError, ExtractorSpec, Stream

import_parts(__name__)

__all__ = ["EXTRACTORS", "Clip", "ClipError", "ExtractorSpec", "Stream"]
