"""Inputs of a trained model: one path from what a user gives to :class:`~mmib.data.Example`.

Every front end of a trained model goes through here and nowhere else: ``mmib predict``,
:class:`mmib.engine.Predictor` (``mmib.load``), ``mmib serve`` and the onnxruntime backend.

- :func:`kind_of` - is a path a media clip, a manifest of clips, JSON-lines utterance
  records or a data file;
- :func:`clip_rows` - one clip (with its transcript) or a manifest -> checked rows;
- :class:`ModelInputs` - what a model reads (modalities, dims, labels, task, the extraction
  plan its data recorded, its tokenizer) and ``from_records`` / ``from_clips`` / ``read``;
- :class:`ReadsInputs` - those, offered by every predictor (PyTorch and onnxruntime) alike.

Nothing here imports torch, so a process that serves an ONNX model reads every input kind.
"""

from __future__ import annotations

from .model import ClipExamples, InputSet, ModelInputs
from .reads import ReadsInputs
from .tokenizer import FileTokenizer
from .sources import KINDS, MEDIA, bad_line, clip_rows, is_manifest, is_media, kind_of

__all__ = ["KINDS", "MEDIA", "ClipExamples", "FileTokenizer", "InputSet", "ModelInputs", "ReadsInputs", "bad_line",
           "clip_rows", "is_manifest", "is_media", "kind_of"]
