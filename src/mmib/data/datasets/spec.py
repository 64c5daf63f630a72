"""What a dataset is: its labels, metrics, usual shapes and how its splits are built."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Literal

from ...config import ConfigError, DataConfig
from ...registry import Registry
from ..types import DatasetSplits

LabelKind = Literal["sentiment", "emotions", "classes"]
Builder = Callable[[DataConfig, Any, "DatasetSpec"], DatasetSplits]


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset.

    build: ``fn(cfg, tokenizer, spec) -> DatasetSplits``; the default reads ``data.path`` with
        the reader ``data.format`` (:func:`mmib.data.real.build`).
    sentiment_range: sentiment labels lie in [-r, r] (None: the dataset has none).
    emotions: the emotion names its files carry, in order (empty: none); ``fixed_emotions``:
        a file with other emotion names is refused (IEMOCAP's four). With the label kind
        ``classes`` they are the classes of a single-label task (one per utterance).
    default_labels: what ``data.labels = "auto"`` learns.
    metrics: the metric family per label kind (docs/metrics.md).
    dims: usual feature dims of its files (audio, visual; text: a vector dim for the glove
        path); text_encoder: the text encoder its paper setup uses (``mmib model summary``).
    """

    description: str
    build: Builder | None = None
    sentiment_range: float | None = 3.0
    emotions: tuple[str, ...] = ()
    fixed_emotions: bool = False
    default_labels: LabelKind = "sentiment"
    metrics: dict[str, str] = field(default_factory=lambda: {"sentiment": "sentiment"})
    dims: dict[str, int] = field(default_factory=dict)
    text_encoder: str | None = None
    reads_file: bool = True

    def __post_init__(self) -> None:
        if self.build is None:
            from ..real import build

            object.__setattr__(self, "build", build)

    def label_kind(self, labels: str, dataset: str) -> LabelKind:
        """The label kind ``data.labels`` selects on this dataset (auto: its default)."""
        kind = self.default_labels if labels == "auto" else labels
        if kind == "sentiment" and self.sentiment_range is None:
            raise ConfigError(f"data.labels = {labels!r}: dataset {dataset!r} has emotion labels only; "
                              "use auto or emotions")
        if kind in ("emotions", "classes") and not self.emotions:
            raise ConfigError(f"data.labels = {labels!r}: dataset {dataset!r} has sentiment labels only; "
                              "use auto or sentiment")
        return kind  # type: ignore[return-value]

    def task(self, kind: str) -> str:
        """The task (objective.task) a label kind is learnt as."""
        return {"emotions": "multilabel", "classes": "multiclass"}.get(kind, "regression")

    def metric_family(self, kind: str) -> str:
        default = {"sentiment": "sentiment", "classes": "emotion_wa_ua"}.get(kind, "emotion_acc_f1")
        return self.metrics.get(kind, default)


DATASETS: Registry[DatasetSpec] = Registry("dataset", key="data.dataset")

__all__ = ["DATASETS", "DatasetSpec", "LabelKind"]
