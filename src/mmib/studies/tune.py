"""Hyper-parameter search on Optuna (``mmib tune``): trials are ordinary runs, the objective a
named validation metric, pruning on its per-epoch curve, the best trial exported as a config.

Study directory ``<out_dir>/<study>/``:
  study.db        the default storage (SQLite; any ``--storage`` URL instead, shared by workers)
  trial-<n>/      trial n's run folder (with ``--seeds``: a seed group of runs)
  best.toml       the best trial's config (``mmib train -c best.toml`` retrains it)

The objective is the validation value of ``metric`` at the trial's selected epoch, never a
test metric; the best trial's test metrics are read once, at the end, from its summary. The
default metric (:func:`default_metric`) holds no regulariser: ``train.select_metric``, unless
it is the total loss (beta x KL in it would make a small beta look good for no real reason),
then ``task/fused``, the task loss of the final prediction. A metric that holds a term the
space scales (``--metric loss`` with ``objective.beta`` searched) is warned about
(:class:`ObjectiveWarning`); the metric and that finding are recorded in the study. Pruning: each epoch's validation value is reported to the pruner
(the first seed's, with ``--seeds``); a pruned trial stops after that epoch, its run folder
left resumable. The space is a TOML file (:func:`load_space`); ``configs/spaces/paper.toml``
is the paper's random search.
"""

from __future__ import annotations

import json
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import config as config_mod
from ..config import ConfigError, ExperimentConfig
from ..engine import check_config, fit, read_summary
from ..engine.checkpoint import atomic_write_text
from ..metrics import higher_is_better
from .seeds import collect, write_results
from .storage import describe_url, open_storage, optuna_module

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

TYPES = ("float", "int", "categorical")
PRUNERS = ("median", "none")
SAMPLERS = ("random", "tpe")


@dataclass
class Param:
    """One searched config key: ``float`` / ``int`` in [low, high] (``log``: log-uniform;
    ``step``: a grid step), or ``categorical`` over ``choices``."""

    key: str
    type: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: list[Any] = field(default_factory=list)

    def suggest(self, trial: Any) -> Any:
        if self.type == "categorical":
            return trial.suggest_categorical(self.key, self.choices)
        if self.type == "int":
            return trial.suggest_int(self.key, int(self.low), int(self.high), step=int(self.step or 1), log=self.log)
        return trial.suggest_float(self.key, float(self.low), float(self.high), step=self.step, log=self.log)


@dataclass
class Space:
    """The parameters, the pruner (median over earlier trials at the same epoch, or none) and
    the sampler (random search, as in the paper, or TPE)."""

    params: list[Param]
    pruner: str = "median"
    n_startup_trials: int = 5
    n_warmup_steps: int = 0
    sampler: str = "random"
    seed: int | None = None
    source: str = ""


def _bad(path: Path, key: str, expected: str, got: Any) -> ConfigError:
    return ConfigError(f"{path}: {key}: expected {expected}, got {got!r}")


def load_space(path: str | Path, cfg: ExperimentConfig) -> Space:
    """Read and check a space file against ``cfg`` (every key must be a config key that takes
    the values searched). Format::

        [params."objective.beta"]
        type = "float"          # float, int or categorical
        low = 1e-6
        high = 1e-1
        log = true
        [params."model.fusion"]
        type = "categorical"
        choices = ["concat", "tensor"]
        [pruner]                # optional: type = "median" | "none", n_startup_trials, n_warmup_steps
        [sampler]               # optional: type = "random" | "tpe", seed
    """
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such space file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: not a TOML file ({e})") from None
    extra = set(doc) - {"params", "pruner", "sampler"}
    if extra:
        raise _bad(path, min(extra), "one of the tables params, pruner, sampler", min(extra))
    raw = doc.get("params")
    if not isinstance(raw, dict) or not raw:
        raise _bad(path, "params", 'a table of searched keys, e.g. [params."objective.beta"]', raw)
    params = []
    for key, spec in raw.items():
        where = f"params.{key!r}"
        if not isinstance(spec, dict):
            raise _bad(path, where, "a table with type and low/high or choices", spec)
        unknown = set(spec) - {"type", "low", "high", "log", "step", "choices"}
        if unknown:
            raise _bad(path, f"{where}.{min(unknown)}", "one of type, low, high, log, step, choices", min(unknown))
        tp = spec.get("type")
        if tp not in TYPES:
            raise _bad(path, f"{where}.type", " or ".join(TYPES), tp)
        p = Param(key, tp, spec.get("low"), spec.get("high"), bool(spec.get("log", False)), spec.get("step"),
                  list(spec.get("choices", [])))
        if tp == "categorical":
            if not p.choices:
                raise _bad(path, f"{where}.choices", "a non-empty list", spec.get("choices"))
            probes = p.choices
        else:
            for b in ("low", "high"):
                v = getattr(p, b)
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    raise _bad(path, f"{where}.{b}", "a number", v)
            if not p.low < p.high or (p.log and p.low <= 0):
                raise _bad(path, where, "low < high (and low > 0 with log = true)", (p.low, p.high))
            probes = [int(p.low), int(p.high)] if tp == "int" else [float(p.low), float(p.high)]
        for v in probes:  # each value the trials may take must make a valid config
            try:
                check_config(config_mod.set_value(cfg, key, v))
            except (ConfigError, KeyError) as e:
                raise ConfigError(f"{path}: {where}: {e}") from None
        params.append(p)
    pr, sa = doc.get("pruner", {}), doc.get("sampler", {})
    space = Space(params, pr.get("type", "median"), pr.get("n_startup_trials", 5), pr.get("n_warmup_steps", 0),
                  sa.get("type", "random"), sa.get("seed"), str(path))
    if space.pruner not in PRUNERS:
        raise _bad(path, "pruner.type", " or ".join(PRUNERS), space.pruner)
    if space.sampler not in SAMPLERS:
        raise _bad(path, "sampler.type", " or ".join(SAMPLERS), space.sampler)
    for name in ("n_startup_trials", "n_warmup_steps"):
        v = getattr(space, name)
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise _bad(path, f"pruner.{name}", "an integer >= 0", v)
    return space


TASK_METRIC = "task/fused"
"""The default objective when ``train.select_metric`` is the total loss: the validation task
loss of the final (fused) prediction, with no beta x KL, reconstruction or auxiliary-head term."""

SCALES: dict[str, tuple[str, ...]] = {
    "loss": ("objective.beta", "objective.recon_weight", "objective.constraint", "objective.task", "model.variant"),
    "task/": ("objective.task",),
    "recon/": ("objective.recon_weight",),
}
"""Validation quantities (a name, or a prefix ending in /) and the config keys that change their
scale, not only the model: searched, they let a trial score better by making the term smaller.
A constraint term (kl/..., mmd/...) changes with every objective key."""


class ObjectiveWarning(UserWarning):
    """The tuning objective holds a term that the search space scales."""


def default_metric(cfg: ExperimentConfig) -> str:
    """``train.select_metric`` unless it is the total loss; then :data:`TASK_METRIC`."""
    return TASK_METRIC if cfg.train.select_metric == "loss" else cfg.train.select_metric


def scaled_by(metric: str, space: Space) -> list[str]:
    """The searched keys that scale a term of ``metric`` (empty: a fair objective)."""
    keys: tuple[str, ...] = ()
    for name, ks in SCALES.items():
        if metric == name or (name.endswith("/") and metric.startswith(name)):
            keys = ks
    if "/" in metric and not metric.startswith(("task/", "recon/")):  # a constraint term: kl/text, ...
        keys = ("objective.",)
    return [p.key for p in space.params if p.key in keys or any(k.endswith(".") and p.key.startswith(k)
                                                                for k in keys)]


def default_storage(cfg: ExperimentConfig, study: str) -> str:
    return f"sqlite:///{(Path(cfg.out_dir) / study / 'study.db').expanduser().resolve()}"


def _trial_runs(trial_dir: Path, seeds: list[int] | None) -> Path:
    """The run folder whose config is the trial's (the first seed's, for a seed group)."""
    return trial_dir if not seeds else trial_dir / f"seed-{seeds[0]}"


def run_tune(cfg: ExperimentConfig, space: Space, trials: int, *, storage: str | None = None,
             study_name: str | None = None, metric: str | None = None, seeds: list[int] | None = None,
             log: Callable[[str], None] | None = None,
             train_log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run trials until the study holds ``trials`` finished (complete or pruned) ones, this
    process being one worker; export the best trial's config and return the outcome
    (counts, best trial, its config file and, once, its test metrics)."""
    optuna = optuna_module()
    log = log or (lambda m: None)
    name = study_name or cfg.name
    study_dir = Path(cfg.out_dir) / name
    storage = storage or default_storage(cfg, name)
    metric = metric or default_metric(cfg)
    direction = "maximize" if higher_is_better(metric) else "minimize"
    unfair = scaled_by(metric, space)
    if unfair:
        warnings.warn(f"the objective {metric!r} on valid holds a term that the searched {', '.join(unfair)} "
                      f"scale(s): a trial can score better by making that term small, not by predicting better "
                      f"(beta x KL in the loss favours a small beta); use the default objective ({TASK_METRIC}) or "
                      "a task metric such as MAE", ObjectiveWarning, stacklevel=2)
    seed = space.seed if space.seed is not None else cfg.train.seed
    sampler = optuna.samplers.RandomSampler(seed=seed) if space.sampler == "random" else \
        optuna.samplers.TPESampler(seed=seed)
    pruner = optuna.pruners.NopPruner() if space.pruner == "none" else optuna.pruners.MedianPruner(
        n_startup_trials=space.n_startup_trials, n_warmup_steps=space.n_warmup_steps)
    study = optuna.create_study(study_name=name, storage=open_storage(storage), load_if_exists=True,
                                direction=direction, sampler=sampler, pruner=pruner)
    if study.user_attrs.get("kind") not in (None, "tune"):
        raise ConfigError(f"--study {name!r} in {describe_url(storage)} is a {study.user_attrs['kind']}, not a tuning study")
    if study.user_attrs.get("metric", metric) != metric:
        raise ConfigError(f"--study {name!r} in {describe_url(storage)} scores its trials by "
                          f"{study.user_attrs['metric']!r}, not {metric!r}: use --metric "
                          f"{study.user_attrs['metric']} to continue it, or another --study")
    objective_note = {"metric": metric, "split": "valid", "direction": direction,
                      "regulariser_free": not unfair, "scaled_by_space": unfair}
    for k, v in {"kind": "tune", "dir": str(study_dir), "metric": metric, "objective": objective_note,
                 "seeds": seeds or [], "space": space.source}.items():
        if k not in study.user_attrs:
            study.set_user_attr(k, v)
    log(f"study {name!r} in {describe_url(storage)}: {metric} on valid ({direction}"
        + (", no regulariser term" if not unfair else f", scaled by the searched {', '.join(unfair)}")
        + f"), {trials} trials")

    def objective(trial: Any) -> float:
        values = {p.key: p.suggest(trial) for p in space.params}
        trial_dir = study_dir / f"trial-{trial.number}"
        tcfg = config_mod.set_values(cfg, {**values, "out_dir": str(study_dir), "name": trial_dir.name},
                                     origin="--space")
        check_config(tcfg)
        trial.set_user_attr("run", str(trial_dir))
        log(f"trial {trial.number}: " + " ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                                                   for k, v in values.items()))

        def report(epoch: int, valid: dict[str, float]) -> None:
            if metric not in valid:
                raise KeyError(f"--metric {metric!r} is not computed on this task; expected one of {sorted(valid)}")
            trial.report(float(valid[metric]), epoch)
            if trial.should_prune():
                log(f"trial {trial.number}: pruned after epoch {epoch} ({metric} {valid[metric]:.4f})")
                raise optuna.TrialPruned(f"epoch {epoch}: {metric} = {valid[metric]}")

        if not seeds:
            return float(fit(tcfg, run_dir=trial_dir, log=train_log, on_epoch=report)["valid"][metric])
        summaries = {}
        for i, s in enumerate(seeds):
            run = trial_dir / f"seed-{s}"
            summaries[s] = fit(config_mod.set_value(tcfg, "train.seed", s), run_dir=run, log=train_log,
                               on_epoch=report if i == 0 else None).summary
        res = collect(trial_dir, summaries, tcfg)
        write_results(trial_dir, res)
        return float(res["valid"]["mean"][metric])

    done_states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    study.optimize(objective, n_trials=trials, catch=(),
                   callbacks=[optuna.study.MaxTrialsCallback(trials, states=done_states)])
    return summarize_tune(study, cfg)


def summarize_tune(study: Any, cfg: ExperimentConfig | None = None, *, export: bool = True) -> dict[str, Any]:
    """Counts by state, the best trial, its config (written to ``best.toml`` when ``export``)
    and its test metrics."""
    states = {}
    for t in study.trials:
        states[t.state.name] = states.get(t.state.name, 0) + 1
    out: dict[str, Any] = {"study": study.study_name, "metric": study.user_attrs.get("metric"),
                           "direction": study.direction.name.lower(), "states": states}
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    if not complete:
        return out
    best = study.best_trial
    seeds = study.user_attrs.get("seeds") or None
    run = _trial_runs(Path(best.user_attrs["run"]), seeds)
    best_cfg = config_mod.load(run / "config.toml")
    study_dir = Path(study.user_attrs["dir"])
    best_cfg = config_mod.set_values(best_cfg, {"name": f"{study.study_name}-best",
                                                "out_dir": str(cfg.out_dir if cfg else study_dir.parent),
                                                "train.seed": (cfg or best_cfg).train.seed})
    best_file = study_dir / "best.toml"
    if export:
        atomic_write_text(best_file, best_cfg.to_toml())
    test = read_summary(run)["test"] if not seeds else \
        json.loads((Path(best.user_attrs["run"]) / "results.json").read_text())["test"]["mean"]
    out.update({"best": {"number": best.number, "value": best.value, "params": best.params,
                         "run": best.user_attrs["run"]},
                "best_config": str(best_file), "best_test": test,
                "top": [{"number": t.number, "value": t.value, "params": t.params}
                        for t in sorted(complete, key=lambda t: t.value,
                                        reverse=study.direction.name == "MAXIMIZE")[:5]]})
    return out


__all__ = ["ObjectiveWarning", "PRUNERS", "SAMPLERS", "SCALES", "TASK_METRIC", "TYPES", "Param", "Space",
           "default_metric", "default_storage", "load_space", "run_tune", "scaled_by", "summarize_tune"]
