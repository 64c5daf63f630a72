"""The config schema: one dataclass per section, each field documented by the string
under it (docs/config.md is generated from these) and checked by the section's
``__post_init__`` with an error naming the full key.

Checks here cover what a section knows by itself (ranges, fixed choices, relations between
its own fields). Names that a registry defines (variants, fusions, constraints, datasets,
readers, text encoders, metric families) are checked by :func:`mmib.engine.check_config`,
which consults the registries.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import tomli_w

from ._checks import choice, integer, modality_list, need, number, probability

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

    def __post_init__(self) -> None:
        for split in ("n_train", "n_valid", "n_test"):
            need(getattr(self, split) >= 1, f"data.synth.{split}", "at least 1 utterance (a split "
                 "cannot be empty)", getattr(self, split))
        for name in ("text_share", "audio_share", "visual_share", "audio_noise", "visual_noise"):
            number(getattr(self, name), f"data.synth.{name}")
        need(self.text_share + self.audio_share + self.visual_share > 0, "data.synth.text_share",
             "modality shares that are not all zero", 0)
        number(self.text_noise, "data.synth.text_noise", high=0.5, what="a probability in [0, 0.5]")
        number(self.mean_words, "data.synth.mean_words", low=1, high=50)


@dataclass
class DataConfig:
    """What to train on and how to batch it."""

    dataset: str = "auto"
    """Dataset name: synth, mosi, mosei, iemocap, sims (sets task and metrics), or auto: synth
    without data.path, else what the data file says about itself (files from `mmib extract`)."""
    path: str = ""
    """Data file for real datasets (pickle, converted file or text-and-label records); unused for synth."""
    format: str = "auto"
    """Reader: auto (picked from the file's structure; .jsonl / .csv / .tsv files: records),
    mmsa, magbert, mult, converted or records (text-and-label rows; docs/datasets.md)."""
    labels: str = "auto"
    """Which labels to learn: auto (iemocap: emotions, a records file of class names: classes,
    others: sentiment), sentiment, emotions (one present / absent decision per emotion, e.g.
    MOSEI's six) or classes (one class per utterance, softmax: every row must have exactly one)."""
    modalities: list[str] = field(default_factory=lambda: ["text", "audio", "visual"])
    """Modalities the model uses: any non-empty subset of text, audio, visual."""
    max_len: int = 50
    """Maximum sequence length in steps (tokens for text)."""
    truncation: str = "auto"
    """How audio/visual sequences longer than max_len are shortened: head (keep the first
    max_len steps), pool (average max_len equal windows over the whole utterance), or auto:
    what the data file recommends (files from `mmib extract` without word alignment: pool),
    else head. Text always keeps its first max_len steps."""
    padding: str = "dynamic"
    """dynamic: pad each batch to its longest member; fixed: pad every batch to max_len."""
    bucket: bool = True
    """Group utterances of similar length into batches (still shuffled) to cut padding."""
    augment: list[str] = field(default_factory=list)
    """Training-time corruptions, each KIND:MODALITY:RATE (e.g. "noise:audio:0.2"), with the
    definitions mmib robustness measures (docs/robustness.md); drawn anew every epoch,
    deterministically from (train.seed, epoch). Empty (default): off."""
    synth: SynthConfig = field(default_factory=SynthConfig)

    def __post_init__(self) -> None:
        choice(self.labels, "data.labels", ("auto", "sentiment", "emotions", "classes"))
        choice(self.truncation, "data.truncation", ("auto", "head", "pool"))
        choice(self.padding, "data.padding", ("dynamic", "fixed"))
        modality_list(self.modalities, "data.modalities", allow_empty=False)
        integer(self.max_len, "data.max_len", 3, 100_000)


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
    mpnet = all-mpnet-base-v2 (bert-base-class, offline with the extra mmib[mpnet]);
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
    prime_modality: str = "text"
    """ithp only: the prime modality, compressed by the first bottleneck of the hierarchy."""
    detectors: list[str] = field(default_factory=list)
    """ithp only: the order in which the other modalities are reconstructed, one stage each
    (stage k's code must reconstruct detectors[k]). Empty (default): the other modalities
    of data.modalities in their order."""

    def __post_init__(self) -> None:
        choice(self.pooling, "model.pooling", ("masked", "last"))
        choice(self.inference, "model.inference", ("mean", "sample", "mc"))
        need(bool(self.text_encoder.strip()), "model.text_encoder", "a registered name, a Hugging Face "
             "model name or a local folder", self.text_encoder)
        integer(self.d, "model.d", 1, 65_536)
        integer(self.ib_hidden, "model.ib_hidden", 1, 1 << 20)
        integer(self.n_layers, "model.n_layers", 0, 256)
        need(self.n_heads >= 1 and self.d % self.n_heads == 0, "model.n_heads",
             f"a divisor of model.d = {self.d}", self.n_heads)
        for name in ("attn_dropout", "res_dropout", "relu_dropout", "embed_dropout"):
            probability(getattr(self, name), f"model.{name}")
        modality_list(self.no_ib_modalities, "model.no_ib_modalities", allow_empty=True)
        integer(self.mc_samples, "model.mc_samples", 1, 100_000)
        choice(self.prime_modality, "model.prime_modality", ("text", "audio", "visual"))
        modality_list(self.detectors, "model.detectors", allow_empty=True)


@dataclass
class ObjectiveConfig:
    """How model outputs become loss terms."""

    task: str = "auto"
    """auto (from the dataset), regression (L1), multilabel (binary CE per label) or multiclass
    (softmax CE over the classes; every label row must hold exactly one class)."""
    constraint: str = "kl"
    """Minimal-information constraint registry name: kl (the paper's), mmd, coral,
    orthogonality, euclidean, cosine (paper Table X), or a trained mutual-information
    estimator: club (an upper bound), mine (a lower bound) (docs/ib_family.md)."""
    beta: float = 1e-3
    """Weight of the constraint on every bottleneck (>= 0)."""
    estimator_lr: float = 1e-3
    """club / mine: learning rate of the estimator networks (one per bottleneck, Adam)."""
    estimator_hidden: int = 64
    """club / mine: hidden width of each estimator network."""
    recon_weight: float = 1.0
    """ithp: weight of each stage's reconstruction term (the mean squared error of the next
    modality, predicted from the stage's code)."""

    def __post_init__(self) -> None:
        number(self.beta, "objective.beta", high=1e6)
        number(self.estimator_lr, "objective.estimator_lr", strict=True, high=10.0)
        integer(self.estimator_hidden, "objective.estimator_hidden", 1, 1 << 20)
        number(self.recon_weight, "objective.recon_weight", high=1e6)


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

    def __post_init__(self) -> None:
        number(self.lr, "optim.lr", strict=True, high=10.0)
        number(self.text_lr, "optim.text_lr", high=10.0)
        number(self.weight_decay, "optim.weight_decay", high=100.0)
        number(self.grad_clip, "optim.grad_clip", what="a finite value >= 0 (0 = off)")
        choice(self.scheduler, "optim.scheduler", ("none", "cosine"))


@dataclass
class TrainConfig:
    """The training loop."""

    epochs: int = 50
    """Training epochs; the checkpoint evaluated on test is the best epoch on validation."""
    batch_size: int = 32
    """Training batch size (utterances per optimiser step)."""
    eval_batch_size: int = 128
    """Batch size at evaluation (no gradients, so larger is cheaper)."""
    eval_max_padding: float = 0.2
    """With dynamic padding, evaluation batches hold utterances of similar length, and a
    batch may pad its utterances by at most this fraction of their real steps (0.2 = 20%).
    Higher: fewer, wider batches (each batch has a fixed cost: autocast's weight casts and
    per-operator overhead); lower: less padding computed. 0.2 evaluated fastest in
    benchmarks/eval_batching.py (docs/speed.md). Also used to build the text cache."""
    seed: int = 0
    """Seeds model initialisation, dropout and data order (a CPU run repeats bit for bit)."""
    device: str = "auto"
    """auto (cuda if available), cpu, cuda, cuda:N."""
    num_threads: int = 0
    """CPU threads for torch (0 = torch's default, one per core)."""
    precision: str = "auto"
    """Forward-pass arithmetic: fp32; bf16 or fp16 autocast (mixed precision: weights,
    optimiser and loss stay fp32; fp16 only on CUDA, with loss scaling); auto = bf16 on a
    CUDA device that supports it and on a CPU with native bf16 matrix instructions (AMX,
    AVX512-BF16) where a measured bf16 product is >= 1.5x as fast as fp32, else fp32 (on CPUs
    without them a bf16 matmul is far slower). summary.json records the choice and why;
    MMIB_CPU_BF16=1/0 overrides the CPU probe (docs/speed.md)."""
    retain_memory: bool = True
    """Keep freed memory in the process for the next tensors (glibc mallopt) instead of giving
    it back to the kernel: fewer page faults, 10-20% faster CPU training (docs/speed.md); the
    process keeps its peak memory."""
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
    """Show progress: bars on a terminal, plain lines in a log file (every MMIB_PROGRESS_EVERY
    seconds, default 30)."""
    on_nonfinite: str = "stop"
    """A training step whose loss is NaN or inf: stop (every completed epoch is kept and the run
    can be resumed or restarted) or skip (the step is not applied; skipped steps are counted
    in metrics.jsonl and the log; an epoch of only such steps stops the run)."""
    keep_state: bool = False
    """Keep state.pt (optimiser, random generators: what --resume needs) after the run
    finishes. Off by default: a finished run needs only best.safetensors, and state.pt is
    about three times its size."""
    loggers: list[str] = field(default_factory=list)
    """Experiment trackers this run also logs to: tensorboard (event files in
    <run_dir>/tensorboard/), mlflow (a run in train.tracking_uri); none by default. Both need
    pip install 'mmib[track]'. metrics.jsonl stays the record (docs/tracking.md)."""
    tracking_uri: str = ""
    """MLflow tracking store: empty = sqlite:///<out_dir>/mlflow.db; any MLflow URI (a
    database, a server) otherwise."""
    tracking_experiment: str = "mmib"
    """MLflow experiment that the runs are filed under."""

    def __post_init__(self) -> None:
        need(isinstance(self.loggers, list) and all(isinstance(x, str) and x.strip() for x in self.loggers)
             and len(set(self.loggers)) == len(self.loggers), "train.loggers",
             'a list of distinct logger names, e.g. ["tensorboard", "mlflow"]', self.loggers)
        need(bool(self.tracking_experiment.strip()), "train.tracking_experiment", "a non-empty name",
             self.tracking_experiment)
        integer(self.epochs, "train.epochs", 1, 1_000_000)
        integer(self.batch_size, "train.batch_size", 1, 1 << 20)
        integer(self.eval_batch_size, "train.eval_batch_size", 1, 1 << 20)
        number(self.eval_max_padding, "train.eval_max_padding", high=10.0,
               what="a fraction >= 0 of an evaluation batch's real steps (0.2 = up to 20% padding)")
        integer(self.seed, "train.seed", 0, 2**31 - 1)
        integer(self.num_threads, "train.num_threads", 0)
        need(bool(self.cache_dir.strip()), "train.cache_dir", "a folder path", self.cache_dir)
        dev = self.device
        need(dev in ("auto", "cpu", "cuda") or (dev.startswith("cuda:") and dev[5:].isdigit()),
             "train.device", "auto, cpu, cuda or cuda:N", dev)
        choice(self.precision, "train.precision", ("auto", "fp32", "bf16", "fp16"))
        choice(self.on_nonfinite, "train.on_nonfinite", ("stop", "skip"))
        need(bool(self.select_metric.strip()), "train.select_metric", "loss or a metric name",
             self.select_metric)


@dataclass
class EvalConfig:
    """How predictions are scored (formulas and edge cases: docs/metrics.md)."""

    convention: str = "mib"
    """Sentiment metric convention: mib (the paper's reference code: Acc2/F1 on y != 0 with
    p >= 0 vs y >= 0, MAE/Corr on y != 0), mmsa (MMSA toolkit: Non0 with > 0, MAE/Corr on all
    samples), mult (Multimodal Transformer code: > 0, MAE/Corr on all, its swapped F1
    arguments reproduced). Recorded in summary.json."""
    metrics: str = "auto"
    """Metric family: auto (the one the dataset names for its labels), sentiment, sentiment_sims (CH-SIMS
    labels in [-1, 1]: Mult_acc_2/3/5, F1_score, MAE, Corr), emotion_acc_f1 (IEMOCAP:
    accuracy and weighted F1 per emotion), emotion_wa_auc (MOSEI emotions: weighted accuracy
    and ROC-AUC per emotion), emotion_wa_ua (single-label classes: WA, UA, weighted and macro
    F1, per-class precision / recall / F1)."""
    baselines: bool = True
    """Score baselines fit on the train split beside the model (majority class or mean, and
    TF-IDF + logistic / ridge regression on the text) and show them in every results table;
    stored in summary.json under "baselines"."""


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

    SECTIONS: ClassVar[tuple[str, ...]] = ("data", "model", "objective", "optim", "train", "eval")

    def __post_init__(self) -> None:
        need(bool(self.name.strip()), "name", "a non-empty run name", self.name)
        need("/" not in self.name and "\\" not in self.name and self.name not in (".", ".."), "name",
             "a name without '/'", self.name)
        no_ib, m = self.model.no_ib_modalities, self.data.modalities
        need(all(x in m for x in no_ib), "model.no_ib_modalities",
             f"distinct names among data.modalities = {m}", no_ib)

    def validate(self) -> "ExperimentConfig":
        """Re-run every section's checks (after fields were changed in place); raises
        ConfigError naming the key."""
        for part in [getattr(self, s) for s in self.SECTIONS] + [self.data.synth, self]:
            check = getattr(part, "__post_init__", None)
            if check is not None:
                check()
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_toml(self) -> str:
        return tomli_w.dumps(self.to_dict())

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_toml())


__all__ = ["DataConfig", "EvalConfig", "ExperimentConfig", "ModelConfig", "ObjectiveConfig", "OptimConfig",
           "SynthConfig", "TrainConfig"]
