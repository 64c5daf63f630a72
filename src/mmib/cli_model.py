"""``mmib model summary``: the modules of a configured model and their parameter counts.

No data is read and no weights are downloaded: the model is built from the config with
the text encoder's architecture only (``bert-base-config`` reproduces the paper's Table XI).
Feature dims come from ``--audio-dim`` / ``--visual-dim`` / ``--text-dim`` or default to the
usual ones of the dataset the config names (``--dataset``).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from torch import nn

from . import config as config_mod
from .cli import add_config_args, config_from_args


@dataclass(frozen=True)
class DatasetShape:
    """The feature dims and output width a dataset's models usually have."""

    audio: int
    visual: int
    text: int = 0
    """Text feature dim for a feature-sequence (glove) text path; 0 = token ids."""
    text_encoder: str | None = None
    """The text encoder the dataset's paper setup uses when the config leaves the default."""
    task: str = "regression"
    labels: int = 1


# MAG-BERT / MulT feature files: COVAREP 74-d acoustic; FACET 47-d (MOSI) or 35-d
# (MOSEI, IEMOCAP) visual; IEMOCAP with GloVe 300-d text and 4 binary emotions.
DATASET_SHAPES: dict[str, DatasetShape] = {
    "mosi": DatasetShape(audio=74, visual=47),
    "mosei": DatasetShape(audio=74, visual=35),
    "iemocap": DatasetShape(audio=74, visual=35, text=300, text_encoder="glove", task="multilabel", labels=4),
    "synth": DatasetShape(audio=74, visual=47),
}


def count(module: nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def summary_rows(model: nn.Module, depth: int = 3) -> list[tuple[str, str, int]]:
    """(dotted name, module class, parameter count) for every module with parameters, down to
    ``depth`` levels (``encoders.text.backbone`` is level 3); deeper modules are folded."""
    rows = []
    for name, module in model.named_modules():
        level = name.count(".") + 1 if name else 0
        if 1 <= level <= depth:
            n = count(module)
            if n:
                rows.append((name, type(module).__name__, n))
    return rows


def build_for_summary(args: argparse.Namespace):
    from .models import build_model
    from .objectives import output_dim

    cfg = config_from_args(args)
    # an unknown dataset has no default dims: a modality left at 0 is then a clear error
    shape = DATASET_SHAPES.get(cfg.data.dataset, DatasetShape(audio=0, visual=0))
    explicit_text = args.model__text_encoder is not None or any(
        s.split("=", 1)[0].strip() == "model.text_encoder" for s in args.set)
    if shape.text_encoder and not explicit_text and cfg.model.text_encoder == config_mod.ModelConfig.text_encoder:
        cfg = config_mod.set_value(cfg, "model.text_encoder", shape.text_encoder)
    glove = cfg.model.text_encoder == "glove"
    dims = {
        "text": args.text_dim if args.text_dim is not None else ((shape.text or 300) if glove else 0),
        "audio": args.audio_dim if args.audio_dim is not None else shape.audio,
        "visual": args.visual_dim if args.visual_dim is not None else shape.visual,
    }
    if not glove:
        dims["text"] = 0
    task = shape.task if cfg.objective.task == "auto" else cfg.objective.task
    out = args.out_dim if args.out_dim is not None else output_dim(task, shape.labels)
    model = build_model(cfg, dims, out, pretrained=False)
    return cfg, dims, out, model


def cmd_summary(args: argparse.Namespace) -> int:
    cfg, dims, out, model = build_for_summary(args)
    m = cfg.model
    used = {k: v for k, v in dims.items() if k in cfg.data.modalities}
    print(f"model: {m.variant} + {m.fusion} | text encoder {m.text_encoder} | d = {m.d} | "
          f"modalities {', '.join(cfg.data.modalities)} | dims {used} | output {out}")
    rows = summary_rows(model, args.depth)
    width = max([len(r[0]) + 2 * r[0].count(".") for r in rows] + [9])
    print(f"{'module':<{width}}  {'type':<24} {'parameters':>13}")
    for name, kind, n in rows:
        label = "  " * name.count(".") + name
        print(f"{label:<{width}}  {kind:<24} {n:>13,}")
    total = count(model)
    trainable = count(model, trainable_only=True)
    if trainable != total:
        print(f"trainable parameters: {trainable}")
    print(f"total parameters: {total}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("model", help="inspect model architectures")
    msub = p.add_subparsers(dest="model_command", required=True)
    s = msub.add_parser("summary", help="modules and parameter counts of a configured model, ending "
                                        "with 'total parameters: N'")
    add_config_args(s)
    s.add_argument("--audio-dim", type=int, help="acoustic feature dim (default: the dataset's)")
    s.add_argument("--visual-dim", type=int, help="visual feature dim (default: the dataset's)")
    s.add_argument("--text-dim", type=int, help="text vector dim for the glove path (default 300)")
    s.add_argument("--out-dim", type=int, help="decoder width (default: from the dataset's task)")
    s.add_argument("--depth", type=int, default=3, help="module levels to list (default 3)")
    s.set_defaults(func=cmd_summary)
