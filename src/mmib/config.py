"""Typed experiment configuration: nested dataclasses, TOML in and out, dotted overrides.

Every field is documented here; this module is the config reference (see also
docs/config.md, generated from these docstrings by ``mmib config show``).
Validation names the offending key and the value that was expected.
"""

from __future__ import annotations

import dataclasses
import sys
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

import tomli_w


class ConfigError(ValueError):
    """A config file or override is invalid; the message names the key and what was expected."""


@dataclass
class SynthConfig:
    """Parameters of the built-in synthetic dataset (see docs/synth.md)."""

    seed: int = 0
    """Generator seed: the same seed always gives the same dataset."""
    n_train: int = 1284
    """Training utterances (the MMSA MOSI split sizes by default)."""
    n_valid: int = 229
    """Validation utterances."""
    n_test: int = 686
    """Test utterances."""
    text_share: float = 0.6
    """Share of the label variance carried by the text modality (shares are normalised)."""
    audio_share: float = 0.2
    """Share of the label variance carried by the acoustic modality."""
    visual_share: float = 0.2
    """Share of the label variance carried by the visual modality."""
    text_noise: float = 0.1
    """Probability that a sentiment word's polarity is flipped (text nuisance)."""
    audio_noise: float = 1.0
    """Amplitude of label-independent structured nuisance in the acoustic features."""
    visual_noise: float = 1.0
    """Amplitude of label-independent structured nuisance in the visual features."""
    mean_words: float = 12.0
    """Mean number of words per utterance (lengths are log-normal, at most 50)."""


@dataclass
class DataConfig:
    """What to train on and how to batch it."""

    dataset: str = "synth"
    """Dataset name: synth, mosi, mosei, iemocap, sims (sets task and metrics)."""
    path: str = ""
    """Data file for real datasets (pickle or converted file); unused for synth."""
    format: str = "auto"
    """Reader: auto (picked from the file's structure), mmsa, magbert, mult or converted
    (docs/datasets.md)."""
    labels: str = "auto"
    """Which labels to learn: auto (iemocap: emotions, others: sentiment), sentiment, or
    emotions (MOSEI's six emotions, when the file has them)."""
    modalities: list[str] = field(default_factory=lambda: ["text", "audio", "visual"])
    """Modalities the model uses: any non-empty subset of text, audio, visual."""
    max_len: int = 50
    """Maximum sequence length in steps (tokens for text)."""
    truncation: str = "head"
    """How audio/visual sequences longer than max_len are shortened: head (keep the first
    max_len steps) or pool (average max_len equal windows over the whole utterance). Text
    always keeps its first max_len steps."""
    padding: str = "dynamic"
    """dynamic: pad each batch to its longest member; fixed: pad every batch to max_len."""
    bucket: bool = True
    """Group utterances of similar length into batches (still shuffled) to cut padding."""
    synth: SynthConfig = field(default_factory=SynthConfig)


@dataclass
class ModelConfig:
    """The architecture: unimodal networks, bottlenecks and fusion."""

    variant: str = "cmib"
    """emib, lmib, cmib, bmib (E-MIB trained with beta = 0) or noib (no IB heads)."""
    fusion: str = "concat"
    """Fusion registry name: concat, addition, multiplication, tensor (TFN), lowrank (LMF),
    graph (ARGF-style), poe (product of experts; lmib / cmib only). See docs/models.md."""
    fusion_options: dict[str, Any] = field(default_factory=dict)
    """Extra keyword arguments for the fusion: lowrank {rank = 4}; tensor {hidden, dropout};
    graph {hidden}; poe {eps}."""
    d: int = 50
    """Width of every unimodal representation and latent."""
    text_encoder: str = "minilm"
    """Hugging Face model name or local path; minilm = the offline all-MiniLM-L6-v2 package;
    bert-base-config / minilm-config / tiny-config = architecture only, random weights;
    glove = a feature-sequence text path (Conv1D + Transformer) for precomputed vectors."""
    freeze_text_encoder: bool = False
    """Keep the pretrained text encoder's weights fixed."""
    ib_hidden: int = 1024
    """Width of the IB encoder's hidden layer."""
    no_ib_modalities: list[str] = field(default_factory=list)
    """lmib / cmib only: modalities whose unimodal IB is removed (paper Table V). Their
    representation is fused as it is, with no bottleneck, no constraint and no unimodal
    decoder; the other modalities keep theirs. Empty (default): every modality has one."""
    pooling: str = "masked"
    """masked: last valid step, padding ignored in attention; last: the reference code's
    last step of the padded sequence with no masking."""
    text_partial_last_layer: bool = True
    """With masked pooling, compute the pretrained text encoder's last layer only at the two
    steps the pooled output reads (same result up to float rounding, ~6% fewer FLOPs with
    bert-base, ~12% with MiniLM; BERT-layout encoders only; off under train.compile)."""
    n_layers: int = 3
    """Transformer layers of the acoustic / visual / glove-text encoders."""
    n_heads: int = 5
    """Attention heads (must divide d)."""
    attn_dropout: float = 0.5
    """Dropout on attention weights (the paper's 0.5)."""
    res_dropout: float = 0.3
    """Dropout on residual branches."""
    relu_dropout: float = 0.3
    """Dropout after the feed-forward ReLU."""
    embed_dropout: float = 0.2
    """Dropout on the scaled input plus positions."""
    inference: str = "mean"
    """How the bottleneck is read at evaluation: mean (z = mu), sample (one draw, as the
    reference code), mc (average the predictions of mc_samples draws)."""
    mc_samples: int = 10
    """Draws averaged when model.inference = "mc"."""


@dataclass
class ObjectiveConfig:
    """How model outputs become loss terms."""

    task: str = "auto"
    """auto (from the dataset), regression (L1), multilabel (binary CE per label),
    multiclass (CE)."""
    constraint: str = "kl"
    """Minimal-information constraint registry name: kl (the paper's), mmd, coral,
    orthogonality, euclidean, cosine (paper Table X; docs/models.md)."""
    beta: float = 1e-3
    """Weight of the constraint on every bottleneck (>= 0)."""


@dataclass
class OptimConfig:
    """Adam with two parameter groups."""

    lr: float = 2e-5
    """Learning rate of everything but the pretrained text encoder."""
    text_lr: float = 1e-5
    """Learning rate of the pretrained text encoder."""
    weight_decay: float = 0.0
    """Adam's L2 weight decay on every group."""
    grad_clip: float = 0.0
    """Clip the global gradient norm to this value (0 = off)."""
    scheduler: str = "none"
    """Learning-rate schedule: none (the paper) or cosine (annealed over all steps)."""


@dataclass
class TrainConfig:
    """The training loop."""

    epochs: int = 50
    """Training epochs; the checkpoint evaluated on test is the best epoch on validation."""
    batch_size: int = 32
    """Training batch size (utterances per optimiser step)."""
    eval_batch_size: int = 128
    """Batch size at evaluation (no gradients, so larger is cheaper)."""
    seed: int = 0
    """Seeds model initialisation, dropout and data order (a CPU run repeats bit for bit)."""
    device: str = "auto"
    """auto (cuda if available), cpu, cuda, cuda:N."""
    num_threads: int = 0
    """CPU threads for torch (0 = torch's default, one per core)."""
    precision: str = "auto"
    """Forward-pass arithmetic: fp32; bf16 or fp16 autocast (mixed precision: weights,
    optimiser and loss stay fp32; fp16 only on CUDA, with loss scaling); auto = bf16 on a
    CUDA device that supports it, else fp32 (on CPUs without native bf16 a bf16 matmul is
    far slower than fp32: docs/speed.md)."""
    compile: bool = False
    """Compile the model with torch.compile (dynamic shapes). Off by default: on 2 CPU cores
    compiling took minutes per new batch shape and gave no measurable gain (docs/speed.md)."""
    fused_optimizer: bool = True
    """Use Adam's fused kernel: the same update in one pass over all parameters instead of
    a Python loop of small kernels (measured gain: docs/speed.md)."""
    cache_text: bool = True
    """With a frozen pretrained text encoder (model.freeze_text_encoder) and masked pooling,
    compute its hidden states once, cache them on disk and train the rest on the cache."""
    cache_dir: str = ".mmib_cache"
    """Folder of the frozen-text-encoder cache (keyed by encoder weights and data; safe to
    delete)."""
    select_metric: str = "loss"
    """Validation quantity that picks the best epoch: loss (lowest) or a metric name."""
    log_test_every_epoch: bool = False
    """Also evaluate the test split every epoch, as the reference code does (logged under
    the key "test_every_epoch (not used for selection)"; never used for selection)."""
    progress: bool = True
    """Show progress bars."""


@dataclass
class EvalConfig:
    """How predictions are scored (formulas and edge cases: docs/metrics.md)."""

    convention: str = "mib"
    """Sentiment metric convention: mib (the paper's reference code: Acc2/F1 on y != 0 with
    p >= 0 vs y >= 0, MAE/Corr on y != 0), mmsa (MMSA toolkit: Non0 with > 0, MAE/Corr on all
    samples), mult (Multimodal Transformer code: > 0, MAE/Corr on all, its swapped F1
    arguments reproduced). Recorded in summary.json."""
    metrics: str = "auto"
    """Metric family: auto (from task and label names), sentiment, sentiment_sims (CH-SIMS
    labels in [-1, 1]: Mult_acc_2/3/5, F1_score, MAE, Corr), emotion_acc_f1 (IEMOCAP:
    accuracy and weighted F1 per emotion), emotion_wa_auc (MOSEI emotions: weighted accuracy
    and ROC-AUC per emotion), classification."""


@dataclass
class ExperimentConfig:
    """One experiment: a name, where runs go, and the component configs."""

    name: str = "demo"
    """Run name: the run directory is <out_dir>/<name>."""
    out_dir: str = "runs"
    """Folder that holds run directories."""
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def validate(self) -> "ExperimentConfig":
        """Check value ranges; raises ConfigError naming the key."""
        _check_values(self)
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_toml(self) -> str:
        return tomli_w.dumps(self.to_dict())

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_toml())


# ----------------------------------------------------------------------------- parsing

def _type_name(tp: Any) -> str:
    if isinstance(tp, type):
        return tp.__name__
    return str(tp).replace("typing.", "")


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Check ``value`` against the annotation ``tp`` and return it (ints widen to floats)."""
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a table of {tp.__name__} fields, got {value!r}")
        return _from_dict(tp, value, key)
    if origin in (Union, types.UnionType):
        errors = []
        for arg in typing.get_args(tp):
            if arg is type(None):
                if value is None:
                    return None
                continue
            try:
                return _coerce(value, arg, key)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(f"{key}: expected {_type_name(tp)}, got {value!r}")
    if origin is list:
        (item_tp,) = typing.get_args(tp)
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list of {_type_name(item_tp)}, got {value!r}")
        return [_coerce(v, item_tp, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a table, got {value!r}")
        return dict(value)
    if tp is Any:
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return value
    raise ConfigError(f"{key}: unsupported annotation {tp!r}")  # pragma: no cover


def _from_dict(cls: type, data: dict[str, Any], prefix: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    for k in data:
        if k not in names:
            where = f"{prefix}." if prefix else ""
            raise ConfigError(
                f"unknown key {where}{k}; expected one of: {', '.join(sorted(names))}"
            )
    kwargs = {}
    for k, v in data.items():
        key = f"{prefix}.{k}" if prefix else k
        kwargs[k] = _coerce(v, hints[k], key)
    return cls(**kwargs)


def from_dict(data: dict[str, Any]) -> ExperimentConfig:
    """Build and validate a config from a nested dict (missing keys take defaults)."""
    return _from_dict(ExperimentConfig, data).validate()


def load(path: str | Path) -> ExperimentConfig:
    """Read a TOML config file; errors name the file and the key."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML ({e})") from None
    try:
        return from_dict(data)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None


def parse_value(text: str) -> Any:
    """Parse an override's right-hand side as a TOML value, falling back to a bare string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_overrides(cfg: ExperimentConfig, overrides: list[str]) -> ExperimentConfig:
    """Apply ``section.key=value`` overrides (values in TOML syntax) and re-validate."""
    data = cfg.to_dict()
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r}: expected KEY=VALUE, e.g. objective.beta=1e-4")
        key, text = item.split("=", 1)
        parts = key.strip().split(".")
        node = data
        for p in parts[:-1]:
            if not isinstance(node.get(p), dict):
                raise ConfigError(f"override {key!r}: {p!r} is not a config section")
            node = node[p]
        node[parts[-1]] = parse_value(text.strip())
    return from_dict(data)


def set_value(cfg: ExperimentConfig, key: str, value: Any) -> ExperimentConfig:
    """Set one dotted key to an already-parsed value (used by CLI convenience flags)."""
    data = cfg.to_dict()
    node = data
    parts = key.split(".")
    for p in parts[:-1]:
        node = node[p]
    node[parts[-1]] = value
    return from_dict(data)


# ----------------------------------------------------------------------------- ranges

_CHOICES = {
    "train.precision": ("auto", "fp32", "bf16", "fp16"),
    "data.padding": ("dynamic", "fixed"),
    "data.format": ("auto", "converted", "magbert", "mmsa", "mult"),
    "data.labels": ("auto", "sentiment", "emotions"),
    "data.truncation": ("head", "pool"),
    "model.pooling": ("masked", "last"),
    "model.inference": ("mean", "sample", "mc"),
    "model.variant": ("emib", "lmib", "cmib", "bmib", "noib"),
    "optim.scheduler": ("none", "cosine"),
    "objective.task": ("auto", "regression", "multilabel", "multiclass"),
    "eval.convention": ("mib", "mmsa", "mult"),
    "eval.metrics": ("auto", "sentiment", "sentiment_sims", "emotion_acc_f1", "emotion_wa_auc",
                     "classification"),
}
_MODALITIES = ("text", "audio", "visual")


def _check_values(cfg: ExperimentConfig) -> None:
    def need(ok: bool, key: str, expected: str, got: Any) -> None:
        if not ok:
            raise ConfigError(f"{key}: expected {expected}, got {got!r}")

    for key, choices in _CHOICES.items():
        section, name = key.split(".")
        value = getattr(getattr(cfg, section), name)
        need(value in choices, key, "one of " + ", ".join(choices), value)
    need(bool(cfg.name.strip()), "name", "a non-empty run name", cfg.name)
    need("/" not in cfg.name and cfg.name not in (".", ".."), "name", "a name without '/'", cfg.name)
    m = cfg.data.modalities
    need(len(m) > 0, "data.modalities", "a non-empty subset of text, audio, visual", m)
    need(all(x in _MODALITIES for x in m) and len(set(m)) == len(m), "data.modalities",
         "distinct names among text, audio, visual", m)
    need(cfg.data.max_len >= 3, "data.max_len", "an integer >= 3", cfg.data.max_len)
    s = cfg.data.synth
    for split in ("n_train", "n_valid", "n_test"):
        need(getattr(s, split) >= 1, f"data.synth.{split}", "at least 1 utterance (a split "
             "cannot be empty)", getattr(s, split))
    for name in ("text_share", "audio_share", "visual_share", "audio_noise", "visual_noise"):
        need(getattr(s, name) >= 0, f"data.synth.{name}", "a value >= 0", getattr(s, name))
    need(s.text_share + s.audio_share + s.visual_share > 0, "data.synth.text_share",
         "modality shares that are not all zero", 0)
    need(0 <= s.text_noise <= 0.5, "data.synth.text_noise", "a probability in [0, 0.5]",
         s.text_noise)
    need(1 <= s.mean_words <= 50, "data.synth.mean_words", "a value in [1, 50]", s.mean_words)
    need(cfg.model.d >= 1, "model.d", "an integer >= 1", cfg.model.d)
    need(cfg.model.ib_hidden >= 1, "model.ib_hidden", "an integer >= 1", cfg.model.ib_hidden)
    need(cfg.model.n_layers >= 0, "model.n_layers", "an integer >= 0", cfg.model.n_layers)
    need(cfg.model.n_heads >= 1 and cfg.model.d % cfg.model.n_heads == 0, "model.n_heads",
         f"a divisor of model.d = {cfg.model.d}", cfg.model.n_heads)
    for name in ("attn_dropout", "res_dropout", "relu_dropout", "embed_dropout"):
        v = getattr(cfg.model, name)
        need(0 <= v < 1, f"model.{name}", "a probability in [0, 1)", v)
    no_ib = cfg.model.no_ib_modalities
    need(all(x in m for x in no_ib) and len(set(no_ib)) == len(no_ib), "model.no_ib_modalities",
         f"distinct names among data.modalities = {m}", no_ib)
    need(not no_ib or cfg.model.variant in ("lmib", "cmib"), "model.no_ib_modalities",
         "an empty list unless model.variant is lmib or cmib (only they have unimodal IBs)", no_ib)
    need(not no_ib or cfg.model.fusion != "poe", "model.no_ib_modalities",
         "an empty list with model.fusion = 'poe' (product of experts needs every modality's "
         "posterior)", no_ib)
    need(cfg.model.mc_samples >= 1, "model.mc_samples", "an integer >= 1", cfg.model.mc_samples)
    need(cfg.objective.beta >= 0, "objective.beta", "a value >= 0", cfg.objective.beta)
    need(cfg.optim.lr > 0, "optim.lr", "a value > 0", cfg.optim.lr)
    need(cfg.optim.text_lr >= 0, "optim.text_lr", "a value >= 0", cfg.optim.text_lr)
    need(cfg.optim.weight_decay >= 0, "optim.weight_decay", "a value >= 0", cfg.optim.weight_decay)
    need(cfg.optim.grad_clip >= 0, "optim.grad_clip", "a value >= 0 (0 = off)", cfg.optim.grad_clip)
    need(cfg.train.epochs >= 1, "train.epochs", "an integer >= 1", cfg.train.epochs)
    need(cfg.train.batch_size >= 1, "train.batch_size", "an integer >= 1", cfg.train.batch_size)
    need(cfg.train.eval_batch_size >= 1, "train.eval_batch_size", "an integer >= 1",
         cfg.train.eval_batch_size)
    need(cfg.train.num_threads >= 0, "train.num_threads", "an integer >= 0", cfg.train.num_threads)
    need(bool(cfg.train.cache_dir.strip()), "train.cache_dir", "a folder path", cfg.train.cache_dir)
    dev = cfg.train.device
    need(dev in ("auto", "cpu", "cuda") or dev.startswith("cuda:"), "train.device",
         "auto, cpu, cuda or cuda:N", dev)


def reference_markdown() -> str:
    """The config reference page (docs/config.md is exactly this: ``mmib config reference``)."""
    lines = ["# Configuration reference", "",
             "Generated by `mmib config reference > docs/config.md` from the docstrings in "
             "`src/mmib/config.py` (a test keeps it in sync). Every key can be set in a TOML file "
             "(section = the part before the last dot) or with `--set key=value`.", "",
             "| key | type | default | meaning |", "|---|---|---|---|"]
    for key, tp, default, doc in describe():
        lines.append(f"| `{key}` | {tp} | `{default}` | {doc.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


def describe(cls: type = ExperimentConfig, prefix: str = "") -> list[tuple[str, str, str, str]]:
    """(key, type, default, doc) for every field, read from the dataclasses' docstrings."""
    import ast
    import inspect

    docs: dict[str, str] = {}
    tree = ast.parse(inspect.getsource(cls))
    body = tree.body[0].body  # type: ignore[attr-defined]
    for node, nxt in zip(body, body[1:] + [None]):
        if isinstance(node, ast.AnnAssign) and isinstance(nxt, ast.Expr) \
                and isinstance(getattr(nxt, "value", None), ast.Constant):
            docs[node.target.id] = " ".join(str(nxt.value.value).split())  # type: ignore
    rows = []
    hints = typing.get_type_hints(cls)
    default = cls()
    for f in dataclasses.fields(cls):
        key = f"{prefix}{f.name}"
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp):
            rows.extend(describe(tp, key + "."))
        else:
            rows.append((key, _type_name(tp), repr(getattr(default, f.name)), docs.get(f.name, "")))
    return rows
