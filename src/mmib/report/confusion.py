"""The confusion matrix of a multi-class run (``summary.json``'s ``confusion``), drawn as a
heat map: rows = true class, columns = predicted class, each cell its count and its share of
the true class (the row's recall on the diagonal)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..engine import read_summary


def confusion_matrix_plot(run_dir: str | Path, out: str | Path) -> Path:
    """Draw the run's saved confusion matrix to ``out`` (PNG); a run without one (not a
    multi-class task) is a ValueError saying so."""
    run_dir = Path(run_dir)
    if not (run_dir / "summary.json").exists():
        raise ValueError(f"{run_dir}: the run has not finished (no summary.json), so it has no confusion matrix")
    summary = read_summary(run_dir)
    conf = summary.get("confusion")
    if not conf:
        raise ValueError(f"{run_dir}: no confusion matrix (task {summary.get('task')!r}; only multiclass runs "
                         "have one)")
    names, m = conf["labels"], np.asarray(conf["matrix"], dtype=np.int64)
    share = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
    size = 1.2 + 0.9 * len(names)
    fig = Figure(figsize=(size + 1.5, size), layout="constrained")
    ax = fig.subplots()
    im = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(im, ax=ax, label="share of the true class")
    for i in range(len(names)):
        for j in range(len(names)):
            ax.text(j, i, f"{m[i, j]}\n{100 * share[i, j]:.0f}%", ha="center", va="center", fontsize=8,
                    color="white" if share[i, j] > 0.6 else "black")
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set(xlabel="predicted class", ylabel="true class")
    test = summary.get("test", {})
    ax.set_title(f"{summary['name']}: confusion matrix ({conf.get('split', 'test')} split)\n"
                 f"WA {100 * test.get('WA', 0):.1f}  UA {100 * test.get('UA', 0):.1f}", fontsize=9)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    fig.savefig(out, dpi=110)
    return out


__all__ = ["confusion_matrix_plot"]
