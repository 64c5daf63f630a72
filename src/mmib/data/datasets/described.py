"""``data.dataset = "auto"``: the dataset a data file describes itself as.

Files written by ``mmib extract`` (and the ``.csd`` reader) carry ``Corpus.dataset`` =
``{"name", "labels", "sentiment_range", "emotion_names"}``. With ``auto`` (the default):
no ``data.path`` means the built-in ``synth``; otherwise the file's own description decides:
a registered dataset when the file names one (a conversion of MOSI says ``mosi``), else a
:class:`DatasetSpec` built from the description - its label kind, sentiment range (labels
outside it are refused with file, split and row) or emotion names, scored with the
``sentiment`` metric family or the multi-label ``emotion_acc_f1`` one (unless the description
has ``metrics``: label kind -> family). A file without a
description (the field's pickles) needs ``--dataset``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ...config import DataConfig
from ..validate import DataError
from .spec import DATASETS, DatasetSpec

AUTO = "auto"


def file_description(path: str | Path) -> dict[str, Any]:
    """The ``dataset`` record a converted file carries about itself ({} when none, or when
    ``path`` is not a converted file)."""
    from ..readers import converted, textlabels

    p = Path(path).expanduser()
    if p.is_file() and textlabels.is_records(p):
        desc = dict(textlabels.read(p).dataset)  # a records file describes itself by its labels
        if desc["name"] in DATASETS:  # named after its labels, not a registered dataset's spec
            desc["name"] = f"{desc['name']}-records"
        return desc
    if not p.is_file() or not converted.is_converted(p):
        return {}
    return dict(converted._metadata(p).get("dataset") or {})


def file_dims(path: str | Path) -> dict[str, int]:
    """Feature dims of a converted file's audio / visual fields, read from its header only
    (a records file: from its rows)."""
    from safetensors import safe_open

    from ..readers import textlabels

    if textlabels.is_records(Path(path)):
        return {m: d for m, d in textlabels.read(Path(path).expanduser()).dims.items() if m in ("audio", "visual")}
    out = {}
    with safe_open(str(Path(path).expanduser()), framework="np") as f:
        keys = set(f.keys())
        for m in ("audio", "visual"):
            if f"train.{m}.values" in keys:
                shape = f.get_slice(f"train.{m}.values").get_shape()
                if len(shape) == 2:
                    out[m] = int(shape[1])
    return out


def spec_from_description(desc: dict[str, Any], path: str | Path) -> DatasetSpec:
    """A :class:`DatasetSpec` from a file's own description (raises DataError naming the
    file and the entry when the description is unusable); its usual dims are the file's."""
    labels = desc.get("labels")
    dims = file_dims(path) if Path(path).expanduser().is_file() else {}
    chosen = desc.get("metrics") or {}  # optional: label kind -> metric family, overriding the defaults
    if not isinstance(chosen, dict) or not all(isinstance(v, str) for v in chosen.values()):
        raise DataError(f"{path}: dataset description: expected metrics a mapping of label kind to a metric "
                        f"family name, got {chosen!r}")
    name = desc.get("name") or Path(path).stem
    if labels == "sentiment":
        bound = desc.get("sentiment_range")
        if bound is not None and (not isinstance(bound, (int, float)) or not bound > 0):
            raise DataError(f"{path}: dataset description: expected sentiment_range a positive number or null, "
                            f"got {bound!r}")
        return DatasetSpec(f"{name}: sentiment described by its file {path}",
                           sentiment_range=math.inf if bound is None else float(bound),
                           metrics={"sentiment": chosen.get("sentiment", "sentiment")}, dims=dims)
    if labels == "emotions":
        names = tuple(str(n) for n in desc.get("emotion_names") or ())
        if not names:
            raise DataError(f"{path}: dataset description: labels 'emotions' needs emotion_names, got none")
        return DatasetSpec(f"{name}: emotions {', '.join(names)} described by its file {path}",
                           sentiment_range=None, emotions=names, fixed_emotions=True, default_labels="emotions",
                           metrics={"emotions": chosen.get("emotions", "emotion_acc_f1")}, dims=dims)
    if labels == "classes":
        names = tuple(str(n) for n in desc.get("emotion_names") or ())
        if len(names) < 2:
            raise DataError(f"{path}: dataset description: labels 'classes' needs at least 2 class names, "
                            f"got {list(names)}")
        return DatasetSpec(f"{name}: single-label classes {', '.join(names)} described by its file {path}",
                           sentiment_range=None, emotions=names, fixed_emotions=True, default_labels="classes",
                           metrics={"classes": chosen.get("classes", "emotion_wa_ua")}, dims=dims)
    raise DataError(f"{path}: dataset description: expected labels 'sentiment', 'emotions' or 'classes', "
                    f"got {labels!r}")


def resolve(cfg: DataConfig) -> tuple[str, DatasetSpec]:
    """(name, spec) of the dataset ``cfg`` trains on, resolving ``auto`` (module docstring)."""
    if cfg.dataset != AUTO:
        if cfg.dataset not in DATASETS and cfg.path:  # --dataset NAME as the file calls itself
            desc = file_description(cfg.path)
            if desc and desc.get("name") == cfg.dataset:
                return cfg.dataset, spec_from_description(desc, cfg.path)
        return cfg.dataset, DATASETS.get(cfg.dataset)
    if not cfg.path:
        return "synth", DATASETS.get("synth")
    path = Path(cfg.path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"data.path: {cfg.path}: data file not found")
    desc = file_description(path)
    if not desc:
        raise DataError(f"{cfg.path}: data.dataset = 'auto' but the file does not say which dataset it is "
                        "(only files from `mmib extract` do); pass --dataset NAME (one of "
                        f"{', '.join(n for n in DATASETS.names() if n != 'synth')})")
    name = str(desc.get("name") or path.stem)
    if name in DATASETS and DATASETS.get(name).reads_file:
        return name, DATASETS.get(name)
    return name, spec_from_description(desc, cfg.path)


__all__ = ["AUTO", "file_description", "file_dims", "resolve", "spec_from_description"]
