"""fit: train with model selection on the validation split, resume, then test the best epoch.

Run directory ``<out_dir>/<name>/``:
  config.toml        the fully resolved config
  data.json          dataset provenance, task, dims, split sizes
  metrics.jsonl      one JSON line per epoch (train terms, valid terms and metrics)
  best.safetensors   weights of the selected epoch + config + meta (atomic)
  text_encoder/      tokenizer and config of the text encoder (rebuild offline)
  state.pt           everything needed to continue after a crash (atomic, each epoch)
  summary.json       written last: best epoch, test metrics, split sizes
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .. import config as config_mod
from ..config import ExperimentConfig
from ..data import DatasetSplits, build_dataset, check_source
from ..data.types import Example
from ..encoders import load_tokenizer
from ..metrics import compute, higher_is_better
from ..models import MIBModel, build_model
from ..objectives import build_objective, output_dim
from .cache import TextCache, cache_applies
from .checkpoint import atomic_write_text, load_state, save_state, save_weights
from .loop import Predictions, predict, train_one_epoch
from .seed import epoch_generator, resolve_device, rng_state, seed_everything, set_rng_state
from .speed import adam_options, configure_threads, grad_scaler, maybe_compile, resolve_precision


class RunExistsError(RuntimeError):
    pass


@dataclass
class Setup:
    """Everything built from a config: data, task, model, objective, device, the autocast
    dtype (None = fp32) and, for a frozen text encoder, its on-disk cache."""

    cfg: ExperimentConfig
    data: DatasetSplits
    task: str
    model: MIBModel
    objective: Any
    device: torch.device
    amp: torch.dtype | None = None
    text_cache: TextCache | None = None
    _examples: dict[str, list[Example]] = field(default_factory=dict, repr=False)

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
        """Predictions for a split by name, or for a list of examples as given."""
        c = self.cfg
        examples = self.examples(split) if isinstance(split, str) else split
        return predict(self.model, examples, modalities=c.data.modalities,
                       batch_size=c.train.eval_batch_size, pad_to=self.pad_to, device=self.device,
                       objective=self.objective, inference=kw.pop("inference", c.model.inference),
                       mc_samples=c.model.mc_samples, amp=kw.pop("amp", self.amp), **kw)

    def evaluate(self, split: str | list[Example], **kw) -> tuple[dict[str, float], Predictions]:
        p = self.predict(split, **kw)
        metrics = compute(self.task, p.pred, p.labels, self.data.label_names,
                          convention=self.cfg.eval.convention, family=self.cfg.eval.metrics,
                          dataset=self.data.dataset, info=self.data.info)
        return {**p.terms, **metrics}, p


def resolve_task(cfg: ExperimentConfig, data: DatasetSplits) -> str:
    return data.task if cfg.objective.task == "auto" else cfg.objective.task


def setup(cfg: ExperimentConfig, *, pretrained: bool = True, text_source: str | None = None,
          data: DatasetSplits | None = None) -> Setup:
    """Seed, load the data and build model + objective on the configured device."""
    seed_everything(cfg.train.seed)
    configure_threads(cfg.train.num_threads)
    device = resolve_device(cfg.train.device)
    amp = resolve_precision(cfg.train.precision, device)
    if data is None:
        check_source(cfg.data)
        uses_tokens = "text" in cfg.data.modalities and cfg.model.text_encoder != "glove"
        tokenizer = load_tokenizer(text_source or cfg.model.text_encoder) if uses_tokens else None
        data = build_dataset(cfg.data, tokenizer)
    task = resolve_task(cfg, data)
    torch.manual_seed(cfg.train.seed)  # model init does not depend on how data was built
    model = build_model(cfg, data.dims, output_dim(task, len(data.label_names)),
                        pretrained=pretrained, text_source=text_source).to(device)
    maybe_compile(model, cfg.train.compile)
    cache = None
    if cache_applies(cfg, model)[0]:
        cache = TextCache(model.encoders["text"], cfg.train.cache_dir, device=device, dtype=amp,
                          batch_size=cfg.train.eval_batch_size, progress=cfg.train.progress)
    return Setup(cfg, data, task, model, build_objective(cfg, task), device, amp, cache)


def make_optimizer(s: Setup) -> tuple[torch.optim.Optimizer, Any]:
    o = s.cfg.optim
    opt = torch.optim.Adam(s.model.param_groups(o.lr, o.text_lr, o.weight_decay),
                           **adam_options(s.cfg.train.fused_optimizer, s.model.parameters()))
    sched = None
    if o.scheduler == "cosine":
        steps = s.cfg.train.epochs * math.ceil(len(s.data.train) / s.cfg.train.batch_size)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(steps, 1))
    return opt, sched


def run_dir_for(cfg: ExperimentConfig, *, overwrite: bool = False, explicit_name: bool = False) -> Path:
    """A fresh run directory. A finished or started run is never silently overwritten: with an
    explicit name it is an error (use --resume or --overwrite), otherwise a suffix is added."""
    base = Path(cfg.out_dir) / cfg.name
    if not base.exists() or overwrite or not any(base.iterdir()):
        if overwrite and base.exists():
            for f in ("summary.json", "state.pt", "metrics.jsonl", "best.safetensors"):
                (base / f).unlink(missing_ok=True)
        return base
    if explicit_name:
        finished = (base / "summary.json").exists()
        raise RunExistsError(
            f"{base} already holds a {'finished' if finished else 'started'} run; "
            f"use --resume {base} to continue it, --overwrite to replace it, or another --name"
        )
    i = 2
    while (Path(cfg.out_dir) / f"{cfg.name}-{i}").exists():
        i += 1
    return Path(cfg.out_dir) / f"{cfg.name}-{i}"


def _log(msg: str) -> None:
    print(msg, flush=True)


def fit(cfg: ExperimentConfig, *, run_dir: Path | None = None, resume: bool = False,
        overwrite: bool = False, explicit_name: bool = False, quiet: bool = False) -> dict[str, Any]:
    """Train, select on validation, test the selected checkpoint; returns the summary.

    ``resume=True`` continues the run in ``run_dir`` from its last completed epoch.
    """
    log = (lambda m: None) if quiet else _log
    if resume:
        assert run_dir is not None
        run_dir = Path(run_dir)
        if (run_dir / "summary.json").exists():
            log(f"{run_dir} is already finished; nothing to resume")
            return json.loads((run_dir / "summary.json").read_text())
        if not (run_dir / "config.toml").exists():
            raise FileNotFoundError(f"{run_dir}: no config.toml; not an mmib run directory")
        cfg = config_mod.load(run_dir / "config.toml")
    else:
        run_dir = run_dir or run_dir_for(cfg, overwrite=overwrite, explicit_name=explicit_name)
        if cfg.data.path and not Path(cfg.data.path).is_absolute():
            # the saved config must find the data from any working directory (evaluate, resume)
            cfg = config_mod.set_value(cfg, "data.path", str(Path(cfg.data.path).resolve()))
    run_dir.mkdir(parents=True, exist_ok=True)

    s = setup(cfg)
    c = cfg.train
    opt, sched = make_optimizer(s)
    scaler = grad_scaler(s.device, s.amp)
    toml = cfg.to_toml()
    data_info = {"dataset": s.data.dataset, "task": s.task, "label_names": s.data.label_names,
                 "dims": s.data.dims, "sizes": s.data.sizes, **s.data.info}
    start, best_score, best_epoch, history = 0, None, -1, []
    state_path = run_dir / "state.pt"
    if resume and state_path.exists():
        st = load_state(state_path)
        s.model.load_state_dict(st["model"])
        opt.load_state_dict(st["optimizer"])
        if sched is not None and st.get("scheduler"):
            sched.load_state_dict(st["scheduler"])
        set_rng_state(st["rng"])
        if scaler is not None and st.get("scaler"):
            scaler.load_state_dict(st["scaler"])  # fp16 on CUDA: the loss scale continues too
        start, best_score, best_epoch = st["epoch"] + 1, st["best_score"], st["best_epoch"]
        log(f"resuming {run_dir} at epoch {start + 1}/{c.epochs}")
    if not resume or not state_path.exists():
        atomic_write_text(run_dir / "config.toml", toml)
        atomic_write_text(run_dir / "data.json", json.dumps(data_info, indent=2))
        tok_dir = run_dir / "text_encoder"
        backbone = s.model.encoders["text"].backbone if s.model.text_parameters() else None
        if backbone is not None:
            tok = load_tokenizer(cfg.model.text_encoder)
            tok.save_pretrained(str(tok_dir))
            backbone.config.save_pretrained(str(tok_dir))
    # keep only epochs the saved state covers (a killed epoch may have logged nothing or a line)
    log_path = run_dir / "metrics.jsonl"
    if log_path.exists():
        history = [json.loads(x) for x in log_path.read_text().splitlines() if x.strip()]
        history = [h for h in history if h["epoch"] < start]
    atomic_write_text(log_path, "".join(json.dumps(h) + "\n" for h in history))

    sel = c.select_metric
    sizes = s.data.sizes
    log(f"run {run_dir} | {s.data.dataset} ({s.task}) train/valid/test = "
        f"{sizes['train']}/{sizes['valid']}/{sizes['test']} | {cfg.model.variant} + {cfg.model.fusion} "
        f"| {sum(p.numel() for p in s.model.parameters()):,} parameters | {s.device}")
    if s.text_cache is not None:
        s.examples("train")
        r = s.text_cache.log[-1]
        log(f"frozen text encoder: training on cached states ({'reused' if r['hit'] else 'built'} "
            f"in {r['seconds']:.1f}s under {c.cache_dir})")
    for epoch in range(start, c.epochs):
        t0 = time.time()
        train_terms = train_one_epoch(
            s.model, s.objective, opt, s.examples("train"), modalities=cfg.data.modalities,
            batch_size=c.batch_size, pad_to=s.pad_to, generator=epoch_generator(c.seed, epoch),
            device=s.device, bucket=cfg.data.bucket, grad_clip=cfg.optim.grad_clip, scheduler=sched,
            progress=c.progress, desc=f"epoch {epoch + 1}/{c.epochs}", amp=s.amp, scaler=scaler)
        valid, _ = s.evaluate("valid")
        if sel not in valid:
            raise KeyError(f"train.select_metric = {sel!r} is not computed on this task; "
                           f"expected one of {sorted(valid)}")
        score = valid[sel]
        improved = best_score is None or (score > best_score if higher_is_better(sel) else score < best_score)
        record: dict[str, Any] = {"epoch": epoch, "seconds": round(time.time() - t0, 3),
                                  "train": train_terms, "valid": valid, "selected": improved}
        if c.log_test_every_epoch:
            record["test_every_epoch (not used for selection)"], _ = s.evaluate("test")
        if improved:
            best_score, best_epoch = score, epoch
            save_weights(run_dir / "best.safetensors", s.model, toml,
                         {"epoch": epoch, "valid": valid, "data": data_info})
        history.append(record)
        atomic_write_text(log_path, "".join(json.dumps(h) + "\n" for h in history))
        save_state(state_path, {
            "model": s.model.state_dict(), "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict() if sched is not None else {},
            "rng": rng_state(), "epoch": epoch, "best_score": best_score, "best_epoch": best_epoch,
            "scaler": scaler.state_dict() if scaler is not None else {},
        })
        shown = "" if sel == "loss" else f" {sel} {score:.4f}"  # the selection metric, when not the loss
        log(f"epoch {epoch + 1:>3}/{c.epochs} train loss {train_terms['loss']:.4f} | valid loss "
            f"{valid['loss']:.4f}{shown}{' *' if improved else ''} | {record['seconds']:.1f}s")

    from .evaluate import evaluate_run

    summary = evaluate_run(run_dir, write=True, quiet=True)
    if not quiet:
        from ..report import metrics_table
        log(metrics_table(summary))
    return summary
