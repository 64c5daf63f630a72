"""The paper's experiments as named sweep presets (``mmib paper TABLE``; docs/paper.md).

A preset is a grid over a base config plus settings it fixes (applied after the config
file, before ``--set`` and the flags, so a user can still change them), an optional filter
of meaningless cells, the keys that get average rows, and an optional step after training
(the figures). The dataset always comes from the config: ``table1`` on configs/mosi.toml is
the paper's MOSI comparison, on configs/mosei.toml the MOSEI one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..fusion import fuses_posteriors
from ..models import VARIANTS
from .grid import Grid
from .sweep import SkipRule

VARIANTS_MAIN = ["bmib", "emib", "lmib", "cmib"]
VECTOR_FUSIONS = ["concat", "addition", "multiplication", "tensor", "lowrank", "graph"]
MODALITY_SUBSETS = [["text"], ["audio"], ["visual"], ["text", "audio"], ["text", "visual"],
                    ["audio", "visual"], ["text", "audio", "visual"]]
BETAS = [1.0, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 0.0]
CONSTRAINTS = ["kl", "mmd", "coral", "orthogonality", "euclidean", "cosine"]


@dataclass(frozen=True)
class Preset:
    """One of the paper's tables or figures as a sweep."""

    name: str
    description: str
    """One line for ``mmib paper --list``."""
    grid: Grid = field(default_factory=list)
    fixed: tuple[str, ...] = ()
    """``key=value`` overrides (TOML values) the experiment implies, e.g. model.variant='cmib'."""
    skip: SkipRule | None = None
    average: tuple[str, ...] = ()
    """Grid keys whose values get an average row."""
    after: Callable[[dict[str, Any], Callable[[str], None]], list[Path]] | None = None
    """Run after the sweep with its results (e.g. draw a figure); returns the files written."""
    pointer: str = ""
    """For an experiment that is not a sweep: the command that produces it."""


def _poe_needs_posteriors(values: dict[str, Any]) -> str | None:
    fusion, variant = values.get("model.fusion"), values.get("model.variant")
    if fusion and variant and fuses_posteriors(fusion) and not VARIANTS.get(variant).unimodal_ib:
        return f"{fusion} fuses per-modality posteriors, which {variant} does not have"
    return None


IB_FAMILY = ["noib", "emib", "lmib", "cmib", "ithp"]
ESTIMATORS = ["kl", "club", "mine"]


def _constraint_needs_a_bottleneck(values: dict[str, Any]) -> str | None:
    variant, constraint = values.get("model.variant"), values.get("objective.constraint")
    if variant and constraint and constraint != "kl" and not VARIANTS.get(variant).has_ib:
        return f"{variant} has no bottleneck for the {constraint} constraint"
    return None


def _cell_group(res: dict[str, Any], **values: Any) -> Path:
    for c in res["cells"]:
        if all(c["values"].get(k) == v for k, v in values.items()):
            return Path(c["group"])
    raise KeyError(f"no cell with {values} in sweep {res['name']}")


def _fig4(res: dict[str, Any], log: Callable[[str], None]) -> list[Path]:
    """t-SNE of the fused representation, C-MIB beside the same model without IB (first seed)."""
    from ..report.plots import plot_run

    out = Path(res["dir"]) / "plots"
    return plot_run(_cell_group(res, **{"model.variant": "cmib"}), out, what=("tsne",),
                    compare=[_cell_group(res, **{"model.variant": "noib"})], log=log)


def _fig5(res: dict[str, Any], log: Callable[[str], None]) -> list[Path]:
    """The KL term of every bottleneck per epoch (first seed)."""
    from ..report.plots import plot_run

    out = Path(res["dir"]) / "plots"
    return plot_run(_cell_group(res, **{"model.variant": "cmib"}), out, what=("kl",), log=log)


def _robustness(res: dict[str, Any], log: Callable[[str], None]) -> list[Path]:
    """Every cell under the robustness protocol (r = 0, 0.1, ..., 0.9, every kind), one table and
    one picture with a line per variant."""
    from ..report.robustness import curves, markdown
    from .robustness import parse_rates, run_robustness, write

    out = Path(res["dir"])
    rob = run_robustness([out], rates=parse_rates("0:0.9:0.1"), log=log)
    log(markdown(rob))
    return [write(rob, out / "robustness.json"), write(rob, out / "robustness.csv"),
            write(rob, out / "robustness.md"), curves(rob, out / "plots" / "robustness.png")]


_MAIN = dict(grid=[("model.variant", VARIANTS_MAIN)], fixed=("model.fusion='concat'",))
PRESETS: dict[str, Preset] = {p.name: p for p in [
    Preset("table1", "main comparison: B-MIB, E-MIB, L-MIB, C-MIB with concatenation (Tables I-III: "
                     "the config picks MOSI, MOSEI or IEMOCAP)", **_MAIN),
    Preset("table4", "MOSEI emotions: B-MIB, E-MIB, L-MIB, C-MIB with concatenation, six emotions "
                     "(sets data.labels = 'emotions')",
           grid=[("model.variant", VARIANTS_MAIN)], fixed=("model.fusion='concat'", "data.labels='emotions'")),
    Preset("table5", "C-MIB with the unimodal IB removed from one modality at a time",
           grid=[("model.no_ib_modalities", [[], ["text"], ["audio"], ["visual"]])],
           fixed=("model.variant='cmib'", "model.fusion='concat'")),
    Preset("table6", "every variant x every fusion (poe for L-MIB / C-MIB only), average per variant "
                     "(Tables VI-VII)",
           grid=[("model.variant", ["emib", "lmib", "cmib"]), ("model.fusion", VECTOR_FUSIONS + ["poe"])],
           skip=_poe_needs_posteriors, average=("model.variant",)),
    Preset("table8", "unimodal, bimodal and trimodal systems, without IB (noib) vs C-MIB",
           grid=[("data.modalities", MODALITY_SUBSETS), ("model.variant", ["noib", "cmib"])],
           fixed=("model.fusion='concat'",)),
    Preset("table9", "C-MIB with beta = 1, 1e-1, ..., 1e-6, 0",
           grid=[("objective.beta", BETAS)], fixed=("model.variant='cmib'", "model.fusion='concat'")),
    Preset("table10", "C-MIB with each minimal-information constraint: kl, mmd, coral, orthogonality, "
                      "euclidean, cosine",
           grid=[("objective.constraint", CONSTRAINTS)], fixed=("model.variant='cmib'", "model.fusion='concat'")),
    Preset("robustness", "noib, emib, lmib, cmib, then test-time corruption of each modality (mask, drop, "
                         "noise, missing; r = 0 ... 0.9): robustness.json / .md and plots/robustness.png",
           grid=[("model.variant", ["noib", "emib", "lmib", "cmib"])], fixed=("model.fusion='concat'",),
           after=_robustness),
    Preset("ibfamily", "the information-bottleneck family under one protocol: noib, emib, lmib, cmib, ithp "
                       "with the KL, and every IB variant with the CLUB and MINE estimators (docs/ib_family.md)",
           grid=[("model.variant", IB_FAMILY), ("objective.constraint", ESTIMATORS)],
           fixed=("model.fusion='concat'",), skip=_constraint_needs_a_bottleneck),
    Preset("table11", "parameter counts per variant: not a sweep, use `mmib model summary`",
           pointer="mmib model summary --dataset mosi --text-encoder bert-base-config --variant V  "
                   "(V = noib, emib, lmib, cmib; prints 'total parameters: N'; docs/models.md)"),
    Preset("fig4", "without IB (noib) vs C-MIB, then the t-SNE of their fused representations "
                   "(plots/tsne_fused.png)",
           grid=[("model.variant", ["noib", "cmib"])], fixed=("model.fusion='concat'",), after=_fig4),
    Preset("fig5", "C-MIB, then the KL term of each bottleneck per epoch (plots/kl_per_bottleneck.png)",
           grid=[("model.variant", ["cmib"])], fixed=("model.fusion='concat'",), after=_fig5),
]}

ALIASES = {"table2": "table1", "table3": "table1", "table7": "table6"}
"""The paper repeats an experiment per dataset: the same preset, another config."""


def get(name: str) -> Preset:
    """A preset by name (or alias); the error lists them."""
    key = ALIASES.get(name, name)
    if key not in PRESETS:
        raise ValueError(f"unknown paper experiment {name!r}; expected one of: "
                         f"{', '.join(list(PRESETS) + list(ALIASES))} (see mmib paper --list)")
    return PRESETS[key]


def listing() -> str:
    """The text of ``mmib paper --list``: one line per preset, then the aliases."""
    width = max(len(n) for n in PRESETS)
    lines = [f"{p.name:<{width}}  {p.description}" for p in PRESETS.values()]
    lines += [f"{a:<{width}}  same as {t} (with another dataset's config)" for a, t in ALIASES.items()]
    return "\n".join(lines) + "\n"


__all__ = ["ALIASES", "PRESETS", "Preset", "get", "listing"]
