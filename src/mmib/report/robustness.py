"""Tables, CSV and curves of a robustness study (:mod:`mmib.studies.robustness`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..metrics import display_name, headline_keys
from .tables import csv_text, fmt_value, render_table


def _cell(key: str, c: dict[str, Any]):
    return (c["mean"][key], c["std"][key]) if c["n"] > 1 else c["mean"][key]


def tables(res: dict[str, Any], *, markdown: bool = False) -> str:
    """Per model: one row per (modality, kind, rate), the headline metrics and the KL of each
    bottleneck (mean ± std over seeds and repeats); then the AUC and relative drop rows."""
    out = []
    for mod in res["models"]:
        first = mod["curves"][0]["mean"]
        cols = headline_keys(first) + [(display_name(k), k) for k in mod["keys"] if k.startswith("bottleneck_kl/")]
        rows = [(f"{c['modality']} {c['kind']} {c['rate']:g}", {k: _cell(k, c) for _, k in cols if k in c["mean"]})
                for c in mod["curves"]]
        n = max(c["n"] for c in mod["curves"])
        out.append(f"{mod['label']} ({mod['variant']}, seeds {mod['seeds']}; mean ± std over seeds x repeats, "
                   f"up to n = {n}; test split)\n")
        out.append(render_table(rows, cols, markdown=markdown, row_header="modality kind rate"))
        aucs = [(f"{s['modality']} {s['kind']}", s["auc"]) for s in mod["summary"]]
        text = render_table(aucs, cols, markdown=markdown, row_header="area under the curve (mean level)")
        drops = [(f"{s['modality']} {s['kind']}", {k: f"{100 * v:+.1f}%" for k, v in s["drop"].items()})
                 for s in mod["summary"]]
        out.append(text)
        out.append(_text_table(drops, cols, markdown,
                               "relative drop from the lowest to the highest rate (+ = worse)"))
    return "\n".join(out)


def _text_table(rows, cols, markdown: bool, title: str) -> str:
    keys = [k for _, k in cols]
    header = [title] + [h for h, _ in cols]
    body = [[label] + [cells.get(k, "-") for k in keys] for label, cells in rows]
    if markdown:
        return "\n".join(["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * len(keys)) + "|"]
                         + ["| " + " | ".join(r) + " |" for r in body]) + "\n"
    widths = [max(len(str(r[i])) for r in [header] + body) for i in range(len(header))]
    return "\n".join("  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w)
                               for i, (c, w) in enumerate(zip(r, widths))) for r in [header] + body) + "\n"


def markdown(res: dict[str, Any]) -> str:
    return (f"Robustness: test-time corruption of one modality at a time, rates {res['rates']}, "
            f"{res['repeats']} repeat(s) per rate; kinds {', '.join(res['kinds'])} (docs/robustness.md)\n\n"
            + tables(res, markdown=True))


def to_csv(res: dict[str, Any]) -> str:
    keys = res["models"][0]["keys"]
    rows = [[m["label"], m["variant"], c["modality"], c["kind"], c["rate"], c["n"]]
            + [c[s].get(k) for k in keys for s in ("mean", "std")]
            for m in res["models"] for c in m["curves"]]
    return csv_text(["model", "variant", "modality", "kind", "rate", "n"] + [f"{display_name(k)} {s}" for k in keys
                                                                          for s in ("mean", "std")], rows)


def curves(res: dict[str, Any], out: str | Path, metric: str | None = None) -> Path:
    """One panel per (modality, kind), one line per model (mean ± std band) of ``metric``
    (default: the first headline metric, e.g. Acc2 or mean_F1) against the rate; a PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = curves_figure(res, metric)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    fig.savefig(out, dpi=110)
    return out


def curves_figure(res: dict[str, Any], metric: str | None = None):
    """The matplotlib Figure that :func:`curves` saves (labels: the metrics' display names)."""
    from matplotlib.figure import Figure

    first = res["models"][0]["curves"][0]["mean"]
    key = metric or next((k for h, k in headline_keys(first) if "acc_2" in k or k.startswith("mean_")),
                         headline_keys(first)[0][1])
    scale = 100 if fmt_value(key, 1.0) == "100.0" else 1
    panels = list(dict.fromkeys((c["modality"], c["kind"]) for m in res["models"] for c in m["curves"]))
    cols = min(4, len(panels))
    rows = -(-len(panels) // cols)
    fig = Figure(figsize=(4.2 * cols, 3.4 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, (mod, kind) in zip(axes, panels):
        for i, m in enumerate(res["models"]):
            pts = sorted((c for c in m["curves"] if c["modality"] == mod and c["kind"] == kind), key=lambda c: c["rate"])
            if not pts:
                continue
            x = [c["rate"] for c in pts]
            y = [c["mean"][key] for c in pts]
            s = [c["std"][key] for c in pts]
            name = m["label"] if m["label"] == m["variant"] else f"{m['label']} ({m['variant']})"
            ax.plot(x, [scale * v for v in y], "o-", color=f"C{i}", label=name)
            ax.fill_between(x, [scale * (v - e) for v, e in zip(y, s)], [scale * (v + e) for v, e in zip(y, s)],
                            color=f"C{i}", alpha=0.15)
        ax.set(title=f"{mod}: {kind}", xlabel="corruption rate r",
               ylabel=display_name(key) + (" (%)" if scale == 100 else ""))
        ax.grid(alpha=0.3)
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"Robustness: test {display_name(key)} under corruption of one modality (mean ± std over seeds)")
    return fig


__all__ = ["curves", "curves_figure", "markdown", "tables", "to_csv"]
