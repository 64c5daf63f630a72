"""The one cross-part check of a config: every name it gives is looked up in the registry
that defines it, and the parts must fit together.

``mmib config validate``, ``mmib train``, ``mmib sweep`` / ``mmib paper`` (every cell, before
the first trains) and :meth:`mmib.engine.Experiment.build` all call :func:`check_config`, so a
config that passes here does not fail later for a name or a pairing.
"""

from __future__ import annotations

from pathlib import Path

from ..config import ConfigError, ExperimentConfig
from ..data import DATASETS
from ..data.datasets import AUTO, file_description
from ..data.datasets import resolve as resolve_dataset
from ..data.validate import DataError
from ..data.readers import formats
from ..encoders import TEXT_ENCODERS, text_encoder_spec
from ..fusion import FUSIONS, build_fusion, fuses_posteriors
from ..metrics import CONVENTIONS, FAMILIES
from ..models import VARIANTS, check_fusion
from ..objectives import CONSTRAINTS, TASK_LOSSES
from ..tracking import LOGGERS, need_packages


def _name(registry, name: str, allow: tuple[str, ...] = ()) -> None:
    if name not in registry and name not in allow:
        names = [*allow, *registry.names()]
        raise ConfigError(f"{registry.key}: unknown {registry.kind} {name!r}; expected one of {', '.join(names)}")


def _dataset(d, data: bool):
    """(name, spec) of ``data.dataset`` (auto resolved from the data file); None when auto
    names a file that is not there and ``data`` is False (a run that only predicts)."""
    if d.dataset == AUTO and d.path and not Path(d.path).expanduser().is_file():
        if not data:
            return None
        raise ConfigError(f"data.path: {d.path}: data file not found")
    try:
        return resolve_dataset(d)
    except DataError as e:
        raise ConfigError(str(e)) from None


def encoder_fix(name: str) -> str:
    """The exact fix for a Hugging Face text encoder that cannot be loaded here."""
    return (f"to use it here, give a local copy (--text-encoder /path/to/{name.rsplit('/', 1)[-1]}: a folder with "
            "config.json, weights and tokenizer files) or use --text-encoder minilm (shipped, works offline)")


def _unavailable(notes: list[str] | None, message: str) -> None:
    """Something the config needs that this machine does not have (a data file not given yet, a
    text encoder that cannot be downloaded here): an error, or a note when ``notes`` collects them."""
    if notes is None:
        raise ConfigError(message)
    notes.append(message)


def _text_encoder(name: str, notes: list[str] | None) -> None:
    from ..encoders.huggingface import availability

    if name in TEXT_ENCODERS:
        spec = TEXT_ENCODERS.get(name)
        reason = spec.check() if spec.check is not None else None
        if reason:
            raise ConfigError(f"model.text_encoder: {name!r} cannot be loaded: {reason}")
        source = spec.source  # a short name for a Hugging Face model
        reason = availability(source) if source else None
        if reason:
            _unavailable(notes, f"model.text_encoder: {name!r} is the Hugging Face model {source}, which cannot be "
                                f"loaded here ({reason}); {encoder_fix(source)}")
        return
    reason = availability(name)
    if reason == "no such folder":  # a path that is wrong, not a download that cannot happen here
        raise ConfigError(
            f"model.text_encoder: expected a registered text encoder ({', '.join(TEXT_ENCODERS.names())}), "
            f"a local folder or a Hugging Face model name that can be loaded, got {name!r} ({reason})")
    if reason:
        _unavailable(notes, f"model.text_encoder: {name!r} is the name of a Hugging Face model, which cannot be "
                            f"loaded here ({reason}); {encoder_fix(name)}")


def check_config(cfg: ExperimentConfig, *, data: bool = True, source: str = "",
                 text_encoder: str | None = None, notes: list[str] | None = None) -> ExperimentConfig:
    """Raise ConfigError naming the key and the valid names when a part of ``cfg`` is unknown
    or does not fit; ``data``: also check that the data source exists. ``source`` (a file)
    prefixes the message; ``text_encoder``: where the text encoder really comes from, when
    not from ``model.text_encoder`` (a run's saved copy). ``notes``: a list that collects,
    instead of raising, what this machine lacks to train the config (a data file not given, a
    Hugging Face encoder that cannot be downloaded here), each with its fix (``mmib config
    show / validate`` describe such a config; training refuses it with the same line).
    Returns ``cfg``."""
    try:
        _check(cfg, data, text_encoder, notes)
    except ConfigError as e:
        raise ConfigError(f"{source}: {e}" if source else str(e)) from None
    return cfg


def _check(cfg: ExperimentConfig, data: bool, text_encoder: str | None, notes: list[str] | None) -> None:
    m, d = cfg.model, cfg.data
    _name(VARIANTS, m.variant)
    _name(FUSIONS, m.fusion)
    _name(CONSTRAINTS, cfg.objective.constraint)
    _name(TASK_LOSSES, cfg.objective.task, ("auto",))
    if d.dataset not in DATASETS and not (d.path and file_description(d.path).get("name") == d.dataset):
        _name(DATASETS, d.dataset, ("auto",))  # a file's own name (mmib extract) is valid for that file
    fmts = formats()
    if d.format not in fmts:
        raise ConfigError(f"data.format: unknown data format {d.format!r}; expected one of {', '.join(fmts)}")
    _name(FAMILIES, cfg.eval.metrics, ("auto",))
    if cfg.eval.convention not in CONVENTIONS:
        raise ConfigError(f"eval.convention: unknown metric convention {cfg.eval.convention!r}; expected one of "
                          f"{', '.join(CONVENTIONS)}")
    check_fusion(m)
    variant_check = VARIANTS.get(m.variant).check
    if variant_check is not None:
        variant_check(cfg)
    if not fuses_posteriors(m.fusion):
        try:
            build_fusion(m.fusion, [m.d] * len(d.modalities), m.d, **m.fusion_options)
        except ValueError as e:
            raise ConfigError(str(e)) from None
    resolved = _dataset(d, data)
    if resolved is not None:
        name, spec = resolved
        spec.label_kind(d.labels, name)
    if resolved is not None and data and spec.reads_file:
        if not d.path:
            _unavailable(notes, f"data.path: dataset {name!r} needs a data file; pass --data-path FILE "
                                "(docs/datasets.md lists where the files come from)")
        elif not Path(d.path).expanduser().is_file():
            raise ConfigError(f"data.path: {d.path}: data file not found")
    for spec in d.augment:
        from ..data.corruptions import find, parse_augment

        try:
            kind, modality, _ = parse_augment(spec)
        except ValueError as e:
            raise ConfigError(str(e)) from None
        if modality not in d.modalities:
            raise ConfigError(f"data.augment: {spec!r} corrupts {modality!r}, which is not in data.modalities = "
                              f"{d.modalities}")
        tokens = modality == "text" and text_encoder_spec(text_encoder or m.text_encoder).reads_tokens
        if find(kind, "tokens" if tokens else "features") is None:
            raise ConfigError(f"data.augment: {spec!r}: corruption {kind!r} does not apply to "
                              f"{'token ids' if tokens else 'feature rows'}")
        if tokens and m.freeze_text_encoder and cfg.train.cache_text:
            raise ConfigError(f"data.augment: {spec!r} changes the text, which a frozen, cached text encoder "
                              "computes once; set train.cache_text = false to augment the text")
    for name in cfg.train.loggers:
        _name(LOGGERS, name)
        try:
            need_packages(name)
        except ImportError as e:
            raise ConfigError(str(e)) from None
    if "text" in d.modalities:  # last: it may look into the Hugging Face cache
        _text_encoder(text_encoder or m.text_encoder, notes)


__all__ = ["check_config", "encoder_fix"]
