"""An experiment as a first-class object: everything a config builds, built once.

:meth:`Experiment.build` checks the config (:func:`~mmib.engine.check_config`), seeds, loads
the text encoder's tokenizer once, builds the data once and the model and objective on the
configured device; :meth:`Experiment.load` does the same from a run directory or checkpoint
(no download: the text encoder's architecture and tokenizer come from the run's
``text_encoder/``) and loads the saved weights. Training (:func:`~mmib.engine.fit`),
evaluation and prediction all work on an Experiment.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import config as config_mod
from ..config import ExperimentConfig
from ..data import DatasetSplits, build_dataset
from ..data.types import Example
from ..encoders import text_encoder_spec
from ..metrics import MetricWarning, compute
from ..models import build_model
from ..objectives import MIBObjective, build_objective, output_dim
from .cache import TextCache, cache_applies
from .checkpoint import read_weights
from . import distributed
from .checks import check_config
from .distributed import World
from .loop import Predictions, predict
from .seed import resolve_device, seed_everything
from .speed import adam_options, choose_precision, configure_threads, maybe_compile, retain_freed_memory


OBJECTIVE_PREFIX = "objective."
"""Checkpoint keys of the objective's own state (a trainable constraint's estimators)."""


def trainable_state(model: torch.nn.Module, objective: torch.nn.Module) -> dict[str, torch.Tensor]:
    """What a checkpoint saves: the model's state, and the objective's under ``objective.``."""
    return {**model.state_dict(), **{OBJECTIVE_PREFIX + k: v for k, v in objective.state_dict().items()}}


def split_state(state: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """A checkpoint's state -> (the model's, the objective's)."""
    n = len(OBJECTIVE_PREFIX)
    model = {k: v for k, v in state.items() if not k.startswith(OBJECTIVE_PREFIX)}
    return model, {k[n:]: v for k, v in state.items() if k.startswith(OBJECTIVE_PREFIX)}


def checkpoint_path(path: str | Path) -> Path:
    """A run directory, an exported folder (``mmib export``) or a .safetensors file -> the checkpoint file."""
    path = Path(path)
    if path.is_dir():
        exported = path / "model.safetensors"
        path = exported if exported.exists() and not (path / "best.safetensors").exists() else path / "best.safetensors"
    if not path.exists():
        raise FileNotFoundError(f"{path}: no checkpoint (a finished run has best.safetensors, an exported "
                                "folder model.safetensors)")
    return path


@dataclass
class Experiment:
    """Data, task, model, objective, device, the autocast dtype (None = fp32), the tokenizer
    (None for a vector text path) and, for a frozen text encoder, its on-disk cache."""

    cfg: ExperimentConfig
    data: DatasetSplits
    task: str
    model: torch.nn.Module
    objective: MIBObjective
    device: torch.device
    amp: torch.dtype | None = None
    text_cache: TextCache | None = None
    tokenizer: Any = None
    text_source: str | None = None
    """Where the text encoder's architecture and tokenizer were read from (None: the config's name)."""
    meta: dict[str, Any] = field(default_factory=dict)
    """For a loaded checkpoint: its metadata (selected epoch, validation metrics, data info)."""
    precision_note: str = ""
    """Why ``amp`` is what it is (``train.precision = "auto"`` decides per device; recorded in summary.json)."""
    world: World = field(default_factory=World)
    """The ranks of a torchrun job (one process: a world of 1); evaluation is split over them."""
    _examples: dict[str, list[Example]] = field(default_factory=dict, repr=False)
    _warned: set[str] = field(default_factory=set, repr=False)

    # ------------------------------------------------------------------ building

    @classmethod
    def build(cls, cfg: ExperimentConfig, *, pretrained: bool = True, text_source: str | None = None,
              data: DatasetSplits | None = None) -> "Experiment":
        """Check the config, seed, load the data and build model + objective on the device.
        ``data`` given: use it instead of reading the dataset (a loaded checkpoint that only predicts)."""
        check_config(cfg, data=data is None, text_encoder=text_source)
        seed_everything(cfg.train.seed)
        configure_threads(cfg.train.num_threads)
        if cfg.train.retain_memory:
            retain_freed_memory()
        device = resolve_device(distributed.local_device(cfg.train.device, distributed.world()))
        world = distributed.init(device)
        amp, precision_note = choose_precision(cfg.train.precision, device)
        tokenizer = None
        if data is None:
            tokenizer = _tokenizer(cfg, text_source)
            data = build_dataset(cfg.data, tokenizer)
        task = data.task if cfg.objective.task == "auto" else cfg.objective.task
        if task == "multiclass" and data.task != "multiclass":
            _check_single_label(data)
        torch.manual_seed(cfg.train.seed)  # model init does not depend on how data was built
        model = build_model(cfg, data.dims, output_dim(task, len(data.label_names)),
                            pretrained=pretrained, text_source=text_source).to(device)
        maybe_compile(model, cfg.train.compile)
        cache = None
        if cache_applies(cfg, model)[0]:
            cache = TextCache(model.encoders["text"], cfg.train.cache_dir, device=device, dtype=amp,
                              batch_size=cfg.train.eval_batch_size, progress=cfg.train.progress,
                              max_padding=cfg.train.eval_max_padding)
            if cfg.train.precision == "auto" and amp is not None and device.type == "cpu":
                # measured (docs/speed.md): on the cached states the trained layers are small,
                # so bf16's casts cost more than its faster matmuls; the cache is built in bf16
                amp = None
                precision_note += ("; the frozen text encoder's cache is computed in bf16, the layers "
                                   "trained on it run in fp32 (faster there on CPU)")
        objective = build_objective(cfg, task, model.bottlenecks()).to(device)
        return cls(cfg, data, task, model, objective, device, amp, cache, tokenizer, text_source, world=world,
                   precision_note=precision_note)

    @classmethod
    def load(cls, path: str | Path, *, build_data: bool = True, overrides: list[str] | None = None) -> "Experiment":
        """Rebuild a saved run from its checkpoint and load the weights. ``build_data=False``
        reads no dataset (prediction on new inputs); ``overrides`` (``key=value``) change the
        saved config, e.g. ``eval.convention="mmsa"`` to re-score or ``train.device="cpu"``."""
        ckpt = checkpoint_path(path)
        state, toml, meta = read_weights(ckpt)
        try:
            cfg = config_mod.apply_overrides(config_mod.loads(toml), overrides or [])
        except config_mod.ConfigError as e:
            raise config_mod.ConfigError(f"{ckpt}: saved config: {e}") from None
        if cfg.data.truncation == "auto":  # as the run applied it (a data file's recommendation)
            cfg.data.truncation = meta.get("data", {}).get("truncation", "head")
        text_dir = ckpt.parent / "text_encoder"
        text_source = str(text_dir) if text_dir.exists() else None
        data = None
        if not build_data:
            info = meta["data"]
            data = DatasetSplits([], [], [], info["dataset"], info["task"], info["label_names"], info["dims"],
                                 metrics=info.get("metrics", "auto"))
        exp = cls.build(cfg, pretrained=False, text_source=text_source, data=data)
        model_state, objective_state = split_state(state)
        missing, unexpected = exp.model.load_state_dict(model_state, strict=False)
        if missing or unexpected:
            raise ValueError(f"{ckpt}: weights do not match the config's model "
                             f"(missing {missing[:5]}, unexpected {unexpected[:5]})")
        missing, unexpected = exp.objective.load_state_dict(objective_state, strict=False)
        if missing or unexpected:
            raise ValueError(f"{ckpt}: the objective's estimator weights do not match the config's "
                             f"objective.constraint (missing {missing[:5]}, unexpected {unexpected[:5]})")
        exp.meta = meta
        return exp

    def load_weights(self, path: str | Path) -> dict[str, Any]:
        """Load a checkpoint's weights into this experiment's model; returns its metadata."""
        state, _, meta = read_weights(Path(path))
        model_state, objective_state = split_state(state)
        self.model.load_state_dict(model_state)
        self.objective.load_state_dict(objective_state)
        self.meta = meta
        return meta

    def get_tokenizer(self):
        """The text encoder's tokenizer (loaded on first use for a checkpoint built without data)."""
        if self.tokenizer is None:
            self.tokenizer = _tokenizer(self.cfg, self.text_source)
        return self.tokenizer

    # ------------------------------------------------------------------ use

    def examples(self, split: str) -> list[Example]:
        """A split's examples as the model consumes them: with a text cache, the text input
        is the frozen backbone's cached states (built on first use, after any weights are
        loaded); otherwise the dataset's own examples."""
        if self.text_cache is None:
            return self.data.split(split)
        if split not in self._examples:
            self._examples[split] = self.text_cache.apply(self.data.split(split), split)
        return self._examples[split]

    @property
    def pad_to(self) -> int | None:
        return self.cfg.data.max_len if self.cfg.data.padding == "fixed" else None

    def predict(self, split: str | list[Example], **kw) -> Predictions:
        """Predictions for a split by name, or for a list of examples as given (progress:
        ``train.progress`` unless ``progress=`` says otherwise)."""
        c = self.cfg
        kw.setdefault("progress", c.train.progress and self.world.main)
        kw.setdefault("desc", f"evaluate {split}" if isinstance(split, str) else "predict")
        examples = self.examples(split) if isinstance(split, str) else split
        objective = kw.pop("objective", self.objective)
        mine = distributed.split_indices(len(examples), self.world) if self.world.active else None
        p = predict(self.model, examples if mine is None else [examples[i] for i in mine],
                    modalities=c.data.modalities, batch_size=c.train.eval_batch_size, pad_to=self.pad_to,
                    device=self.device, objective=objective,
                    inference=kw.pop("inference", None) or c.model.inference, mc_samples=c.model.mc_samples,
                    amp=kw.pop("amp", self.amp), max_padding=c.train.eval_max_padding, **kw)
        if mine is None:
            return p
        return _merge(distributed.all_gather((mine, p), self.world), len(examples))

    def score(self, p: Predictions) -> dict[str, float]:
        """The metrics of predictions against their labels, under the config's convention.

        Each distinct :class:`~mmib.metrics.MetricWarning` is shown once per experiment, not
        once per epoch."""
        e = self.cfg.eval
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            metrics = self.compute(p.pred, p.labels)
        for w in caught:
            if issubclass(w.category, MetricWarning):
                if str(w.message) in self._warned:
                    continue
                self._warned.add(str(w.message))
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        return metrics

    @property
    def metric_default(self) -> str:
        """The family the dataset names for its labels, unless objective.task changed the task
        (then the task's own family: a softmax's logits are not scored per emotion)."""
        return self.data.metrics if self.task == self.data.task else "auto"

    def compute(self, pred: np.ndarray, labels: np.ndarray) -> dict[str, float]:
        """The metrics of (N, K) outputs against labels under the config's family and convention."""
        e = self.cfg.eval
        return compute(self.task, pred, labels, self.data.label_names, convention=e.convention, family=e.metrics,
                       default=self.metric_default)

    def evaluate(self, split: str | list[Example], **kw) -> tuple[dict[str, float], Predictions]:
        """Loss terms and metrics of a split, and the predictions behind them."""
        p = self.predict(split, **kw)
        return {**p.terms, **self.score(p)}, p

    def make_optimizer(self) -> tuple[torch.optim.Optimizer, Any]:
        """Adam over the model's parameter groups, and the learning-rate schedule (or None)."""
        o = self.cfg.optim
        groups = self.model.param_groups(o.lr, o.text_lr, o.weight_decay)
        estimators = [p for p in self.objective.parameters() if p.requires_grad]
        if estimators:  # a trainable constraint's networks (club, mine): their own learning rate
            groups.append({"params": estimators, "lr": self.cfg.objective.estimator_lr, "weight_decay": 0.0,
                           "name": "estimator"})
        params = [p for g in groups for p in g["params"]]
        opt = torch.optim.Adam(groups, **adam_options(self.cfg.train.fused_optimizer, params))
        sched = None
        if o.scheduler == "cosine":
            steps = self.cfg.train.epochs * math.ceil(len(self.data.train) / self.cfg.train.batch_size)
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(steps, 1))
        return opt, sched

    def data_info(self) -> dict[str, Any]:
        """What a run records about its data (data.json, the checkpoint's meta)."""
        d = self.data
        return {"dataset": d.dataset, "task": self.task, "label_names": d.label_names, "dims": d.dims,
                "sizes": d.sizes, "metrics": self.metric_default, **d.info}


def _check_single_label(data: DatasetSplits) -> None:
    """objective.task = multiclass needs exactly one class per utterance."""
    for split in ("train", "valid", "test"):
        for i, ex in enumerate(data.split(split)):
            n = int((np.asarray(ex.label) > 0.5).sum())
            if n != 1 or len(ex.label) < 2:
                raise config_mod.ConfigError(
                    f"objective.task = 'multiclass': split {split!r}, utterance {i} ({ex.id!r}) has {n} of "
                    f"{len(ex.label)} labels set; expected exactly one class per utterance (use multilabel)")


def _merge(parts: list[tuple[list[int], Predictions]], n: int) -> Predictions:
    """Every rank's predictions (its positions, its outputs) -> one Predictions in file order;
    loss terms are the mean over all utterances (each rank's mean weighted by its count)."""
    order = distributed.merge_in_order(parts, n)
    preds = [p for _, p in parts]

    def cat(get) -> np.ndarray:
        return np.concatenate([get(p) for p in preds])[order]

    counts = [len(p.ids) for p in preds]
    ids = [i for p in preds for i in p.ids]
    terms = {k: sum(p.terms[k] * c for p, c in zip(preds, counts)) / max(n, 1) for k in preds[0].terms}
    fused = cat(lambda p: p.fused) if all(p.fused is not None for p in preds) else None
    return Predictions(ids=[ids[i] for i in order], pred=cat(lambda p: p.pred), labels=cat(lambda p: p.labels),
                       heads={k: cat(lambda p, k=k: p.heads[k]) for k in preds[0].heads},
                       kl={k: cat(lambda p, k=k: p.kl[k]) for k in preds[0].kl}, fused=fused, terms=terms)


def _tokenizer(cfg: ExperimentConfig, text_source: str | None):
    if "text" not in cfg.data.modalities:
        return None
    spec = text_encoder_spec(cfg.model.text_encoder)
    if not spec.reads_tokens:
        return None
    return (text_encoder_spec(text_source) if text_source else spec).tokenizer()


__all__ = ["Experiment", "checkpoint_path"]
