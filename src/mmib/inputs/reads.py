""":class:`ReadsInputs`: what every trained-model front end (the PyTorch
:class:`~mmib.engine.Predictor`, the onnxruntime :class:`~mmib.runtime.OnnxPredictor`) offers
from its :class:`~mmib.inputs.ModelInputs`, written once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..data import DatasetSplits
from ..data.types import Example
from .model import InputSet, ModelInputs


class ReadsInputs:
    """Mixed into a predictor that has ``inputs`` (a :class:`ModelInputs`)."""

    inputs: ModelInputs

    @property
    def label_names(self) -> list[str]:
        return self.inputs.label_names

    @property
    def dims(self) -> dict[str, int]:
        return self.inputs.dims

    @property
    def modalities(self) -> list[str]:
        return self.inputs.modalities

    @property
    def extraction(self) -> dict[str, Any]:
        """How the run's training features were extracted (``mmib extract``); empty when
        they came from a feature file mmib did not make."""
        return self.inputs.extraction

    def read(self, path: str | Path | None, **kw: Any) -> InputSet:
        """Any input file (a clip, a manifest, JSON lines, a data file): :meth:`ModelInputs.read`."""
        return self.inputs.read(path, **kw)

    def read_jsonl(self, path: str | Path) -> list[Example]:
        """Utterances from a JSON-lines file (schema in :mod:`mmib.data.records`)."""
        return self.inputs.read_jsonl(path)

    def dataset(self, dataset: str | None = None, path: str | None = None, fmt: str | None = None) -> DatasetSplits:
        """Splits of a data file read with the run's data settings (max_len, labels, ...);
        ``dataset``/``path``/``fmt`` replace the run's. Without them: the run's own data."""
        return self.inputs.dataset(dataset, path, fmt)

    def examples_from_records(self, records: list[dict[str, Any]], where: list[str] | None = None) -> list[Example]:
        """JSON-lines style dicts -> :class:`Example` (validated against the model's dims)."""
        return self.inputs.from_records(records, where)

    def examples_from_clips(self, rows: list[Any]) -> list[Example]:
        """Manifest rows (:class:`mmib.extract.manifest.Row`) -> examples, each clip extracted
        with the run's own extractors and settings (the first clip that fails raises)."""
        return self.inputs.from_clips(rows).examples


__all__ = ["ReadsInputs"]
