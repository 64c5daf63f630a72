"""Figures from a run directory, written as PNG (matplotlib's Agg canvas, no display needed).

- :func:`learning_curves`: total and per-head task loss (train / valid) and the valid
  headline metrics per epoch, the selected epoch marked;
- :func:`constraint_curves`: the KL term of every bottleneck per epoch, train and valid
  (the paper's Fig. 5), read from ``metrics.jsonl`` (``kl/<bottleneck>``);
- :func:`tsne`: a t-SNE of the fused representation on the test split, coloured by label,
  one panel per run - e.g. with and without MIB (the paper's Fig. 4);
- the confusion matrix of a multi-class run (:mod:`mmib.report.confusion`).

Figures are built on ``matplotlib.figure.Figure`` with an Agg canvas, so importing this
module never changes the global pyplot backend.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..engine import Experiment, read_log, read_summary
from ..metrics import headline_keys, is_percent
from ..models import VARIANTS, constraint_weight

PLOTS = ("curves", "kl", "tsne", "confusion")


def _log(run_dir: Path) -> list[dict[str, Any]]:
    rows = read_log(run_dir)
    if not rows:
        raise ValueError(f"{run_dir / 'metrics.jsonl'}: the log is empty (no epoch finished yet)")
    return rows


def _selected_epoch(run_dir: Path, log: list[dict[str, Any]]) -> int:
    """The selected epoch (epochs count from 1)."""
    if (run_dir / "summary.json").exists():
        return int(read_summary(run_dir)["best_epoch"])
    chosen = [r["epoch"] for r in log if r.get("selected")]
    return chosen[-1] if chosen else log[-1]["epoch"]


def run_name(run_dir: Path) -> str:
    """``group/seed-k`` for a seed of a group, else the run directory's name."""
    return f"{run_dir.parent.name}/{run_dir.name}" if run_dir.name.startswith("seed-") else run_dir.name


def _save(fig: Figure, out: Path) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    fig.savefig(out, dpi=110)
    return out


def _test_key(rec: dict[str, Any]) -> str | None:
    return next((k for k in rec if k.startswith("test_every_epoch")), None)


def learning_curves(run_dir: str | Path, out: str | Path) -> Path:
    """Three panels: total loss, task loss per head (train solid, valid dashed) and the valid
    headline metrics; a dotted line marks the epoch selected on the validation split."""
    run_dir = Path(run_dir)
    log = _log(run_dir)
    ep = np.array([r["epoch"] for r in log])
    best = _selected_epoch(run_dir, log)
    fig = Figure(figsize=(14, 4.2), layout="constrained")
    ax1, ax2, ax3 = fig.subplots(1, 3)
    ax1.plot(ep, [r["train"]["loss"] for r in log], "o-", label="train")
    ax1.plot(ep, [r["valid"]["loss"] for r in log], "s--", label="valid")
    tk = _test_key(log[0])
    if tk:
        ax1.plot(ep, [r[tk]["loss"] for r in log], "^:", color="grey", label="test (logged, not used for selection)")
    ax1.set(title="total loss", xlabel="epoch", ylabel="loss")
    heads = [k for k in log[0]["train"] if k.startswith("task/")]
    for i, h in enumerate(heads):
        color = f"C{i}"
        ax2.plot(ep, [r["train"][h] for r in log], "-", color=color, label=f"{h[5:]} train")
        ax2.plot(ep, [r["valid"][h] for r in log], "--", color=color, label=f"{h[5:]} valid")
    ax2.set(title="task loss per head", xlabel="epoch", ylabel="task loss")
    cols = [(h, k) for h, k in headline_keys(log[0]["valid"]) if is_percent(k)]
    for i, (h, k) in enumerate(cols[:6]):
        ax3.plot(ep, [100 * r["valid"][k] for r in log], "o-", color=f"C{i}", label=h)
    ax3.set(title="validation metrics", xlabel="epoch", ylabel="%")
    for ax in (ax1, ax2, ax3):
        ax.axvline(best, color="k", linestyle=":", linewidth=1)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.suptitle(f"{run_name(run_dir)}: learning curves (dotted line = epoch {best}, selected on valid)")
    return _save(fig, Path(out))


def constraint_terms(log: list[dict[str, Any]]) -> list[str]:
    """Logged constraint terms (``<constraint>/<bottleneck>``, e.g. ``kl/text``)."""
    return [k for k in log[0]["train"] if "/" in k and not k.startswith("task/")]


def constraint_curves(run_dir: str | Path, out: str | Path) -> Path:
    """The constraint term of each bottleneck per epoch (train solid, valid dashed). The KL
    is the mean over latent dimensions of KL(N(mu, sigma^2) || N(0, 1)), as optimised."""
    run_dir = Path(run_dir)
    log = _log(run_dir)
    terms = constraint_terms(log)
    if not terms:
        raise ValueError(f"{run_dir}: the log has no constraint terms (a model without bottlenecks, "
                         "variant noib); nothing to plot")
    ep = np.array([r["epoch"] for r in log])
    fig = Figure(figsize=(8.5, 4.5), layout="constrained")
    ax = fig.subplots()
    values = []
    for i, t in enumerate(terms):
        tr = [r["train"][t] for r in log]
        va = [r["valid"][t] for r in log]
        values += tr + va
        ax.plot(ep, tr, "o-", color=f"C{i}", label=f"{t.split('/', 1)[1]} (train)")
        ax.plot(ep, va, "s--", color=f"C{i}", alpha=0.7, label=f"{t.split('/', 1)[1]} (valid)")
    pos = [v for v in values if v > 0]
    if pos and max(pos) / min(pos) > 50:
        ax.set_yscale("log")
    name = terms[0].split("/", 1)[0]
    ax.set(xlabel="epoch", ylabel=f"{name.upper()} (mean over latent dims)",
           title=f"{run_name(run_dir)}: {name.upper()} of each bottleneck over training")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.axvline(_selected_epoch(run_dir, log), color="k", linestyle=":", linewidth=1)
    ax.grid(alpha=0.3)
    # beside the axes, so that no curve is ever hidden behind it
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return _save(fig, Path(out))


def fused_codes(run_dir: str | Path, split: str = "test") -> dict[str, Any]:
    """The fused representation (N, d) of a split under the run's selected checkpoint, with
    labels (N, K), the task and a label for the run."""
    s = Experiment.load(run_dir)
    p = s.predict(split, progress=True, desc=f"t-SNE: predicting {split} of {run_name(Path(run_dir))}")
    c = s.cfg
    beta = constraint_weight(c)
    ib = VARIANTS.get(c.model.variant).has_ib and beta > 0
    title = f"{run_name(Path(run_dir))}: {c.model.variant}, beta {beta:g} ({'with' if ib else 'without'} IB)"
    return {"codes": p.fused, "labels": p.labels, "task": s.task, "label_names": s.data.label_names,
            "title": title}


def neighbour_agreement(codes: np.ndarray, y: np.ndarray, k: int = 5) -> float:
    """Pearson correlation between each utterance's label and the mean label of its k nearest
    neighbours in code space: how well the representation arranges utterances by label."""
    from sklearn.neighbors import NearestNeighbors

    k = min(k, len(codes) - 1)
    if k < 1 or np.ptp(y) == 0:
        return 0.0
    idx = NearestNeighbors(n_neighbors=k + 1).fit(codes).kneighbors(codes, return_distance=False)[:, 1:]
    m = y[idx].mean(1)
    return float(np.corrcoef(y, m)[0, 1]) if np.ptp(m) > 0 else 0.0


def embed(codes: np.ndarray, seed: int = 0) -> np.ndarray:
    """(N, d) -> (N, 2) t-SNE (PCA init, perplexity min(30, (N - 1) / 3))."""
    from sklearn.manifold import TSNE

    n = len(codes)
    if n < 4:
        raise ValueError(f"t-SNE needs at least 4 utterances; the split has {n}")
    return TSNE(n_components=2, perplexity=min(30.0, (n - 1) / 3), init="pca", learning_rate="auto",
                random_state=seed).fit_transform(codes.astype(np.float64))


def tsne(run_dirs: list[str | Path], out: str | Path, *, split: str = "test", max_points: int = 2000,
         seed: int = 0, log=None) -> Path:
    """One panel per run: t-SNE of the fused representation coloured by label (sentiment:
    a diverging colour scale over [-3, 3]; emotions: the first present emotion). ``log``: a
    line per step (the embedding of thousands of points takes minutes on a CPU)."""
    log = log or (lambda m: None)
    panels = []
    for r in run_dirs:
        log(f"t-SNE: the fused representation of {run_name(Path(r))} ({split} split)")
        panels.append(fused_codes(r, split))
    fig = Figure(figsize=(6 * len(panels), 5.2), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(panels)))
    rng = np.random.default_rng(seed)
    for ax, p in zip(axes, panels):
        codes, labels = p["codes"], p["labels"]
        if len(codes) > max_points:
            keep = np.sort(rng.choice(len(codes), max_points, replace=False))
            codes, labels = codes[keep], labels[keep]
        t0 = time.monotonic()
        log(f"t-SNE: embedding {len(codes)} points of {p['title'].split(':')[0]}")
        xy = embed(codes, seed)
        log(f"t-SNE: embedded in {time.monotonic() - t0:.0f}s")
        if p["task"] == "regression":
            y = labels[:, 0]
            sc = ax.scatter(xy[:, 0], xy[:, 1], c=y, cmap="coolwarm", vmin=-3, vmax=3, s=18, edgecolors="none")
            fig.colorbar(sc, ax=ax, label="sentiment label")
            agree = neighbour_agreement(codes, y)
            ax.set_title(f"{p['title']}\n5-NN label correlation in code space: {agree:.2f}", fontsize=9)
        else:
            names = p["label_names"]
            cls = np.where(labels.max(1) > 0.5, labels.argmax(1), len(names))  # multiclass: one-hot rows
            for j, name in enumerate(list(names) + ["none"]):
                sel = cls == j
                if sel.any():
                    ax.scatter(xy[sel, 0], xy[sel, 1], s=18, label=name, color=f"C{j}", edgecolors="none")
            ax.legend(fontsize=8)
            how = "first present emotion" if p["task"] == "multilabel" else "class"
            ax.set_title(f"{p['title']}\ncolour: {how}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"t-SNE of the fused representation ({split} split)")
    return _save(fig, Path(out))


def plot_run(run_dir: str | Path, out_dir: str | Path | None = None, *, compare: list[str | Path] | None = None,
             what: tuple[str, ...] = PLOTS, log=print) -> list[Path]:
    """Every requested figure of a run into ``out_dir`` (default ``<run_dir>/plots``), each
    announced by ``log`` (``wrote FILE``) as soon as it is written. A seed group directory
    stands for its first seed's run."""
    run_dir = resolve_run(run_dir, log)
    out = Path(out_dir) if out_dir else run_dir / "plots"
    written = []
    for w in what:
        if w not in PLOTS:
            raise ValueError(f"unknown plot {w!r}; expected one of {', '.join(PLOTS)}")
    def wrote(path: Path) -> None:
        written.append(path)
        log(f"wrote {path}")

    if "curves" in what:
        wrote(learning_curves(run_dir, out / "learning_curves.png"))
    if "kl" in what:
        try:
            wrote(constraint_curves(run_dir, out / "kl_per_bottleneck.png"))
        except ValueError as e:
            log(f"skipped the KL plot: {e}")
    if "tsne" in what:
        runs = [run_dir] + [resolve_run(c, log) for c in (compare or [])]
        wrote(tsne(runs, out / "tsne_fused.png", log=log))
    if "confusion" in what:
        from .confusion import confusion_matrix_plot

        try:
            wrote(confusion_matrix_plot(run_dir, out / "confusion_matrix.png"))
        except ValueError as e:
            log(f"skipped the confusion matrix: {e}")
    return written


def resolve_run(path: str | Path, log=print) -> Path:
    path = Path(path)
    if (path / "metrics.jsonl").exists():
        return path
    seeds = sorted(path.glob("seed-*/metrics.jsonl"), key=lambda f: int(f.parent.name.split("-", 1)[1]))
    if seeds:
        log(f"{path} is a seed group; plotting its run {seeds[0].parent.name}")
        return seeds[0].parent
    raise FileNotFoundError(f"{path}: not a run directory (no metrics.jsonl) nor a seed group")


__all__ = ["PLOTS", "constraint_curves", "embed", "fused_codes", "learning_curves", "neighbour_agreement",
           "plot_run", "tsne"]
