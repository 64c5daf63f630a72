"""Results tables in the paper's layout (rows = models, columns = metrics), as text or Markdown.

Accuracies, F1, WA and AUC are shown in percent with one decimal and MAE / Corr with three,
as the paper prints them; JSON and CSV files keep the exact values.
"""

from __future__ import annotations

from typing import Any, Sequence

from .metrics import headline_keys, is_percent

Cell = float | tuple[float, float] | None
"""A table cell: a value, (mean, std) over seeds, or None when the metric is missing."""


def fmt_value(key: str, value: float) -> str:
    return f"{100 * value:.1f}" if is_percent(key) else f"{value:.3f}"


def fmt_cell(key: str, cell: Cell) -> str:
    if cell is None:
        return "-"
    if isinstance(cell, tuple):
        mean, std = cell
        return f"{fmt_value(key, mean)} ± {fmt_value(key, std)}"
    return fmt_value(key, cell)


def render_table(rows: Sequence[tuple[str, dict[str, Cell]]], columns: Sequence[tuple[str, str]], *,
                 markdown: bool = False, row_header: str = "model") -> str:
    """rows: (row label, {metric key: cell}); columns: (header, metric key)."""
    header = [row_header] + [h for h, _ in columns]
    body = [[label] + [fmt_cell(k, cells.get(k)) for _, k in columns] for label, cells in rows]
    if markdown:
        lines = ["| " + " | ".join(header) + " |",
                 "|" + "|".join(["---"] + ["---:"] * len(columns)) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in body]
        return "\n".join(lines) + "\n"
    widths = [max(len(r[i]) for r in [header] + body) for i in range(len(header))]
    def line(r: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
    out = [line(header), "  ".join("-" * w for w in widths)] + [line(r) for r in body]
    return "\n".join(out) + "\n"


def metrics_table(summary: dict[str, Any], split: str = "test", *, markdown: bool = False) -> str:
    """The headline columns of one run, with split sizes, the selected epoch and the convention."""
    metrics = summary[split]
    cols = headline_keys(metrics)
    sizes = summary["sizes"]
    table = render_table([(summary["name"], metrics)], cols, markdown=markdown)
    family = summary.get("metric_family", "sentiment")
    conv = f"convention {summary['metric_convention']}" if family == "sentiment" else f"metrics {family}"
    return (f"\n{split} metrics of {summary['name']} (selected epoch {summary['best_epoch'] + 1} by "
            f"validation; {summary['variant']} + {summary['fusion']}; {conv}; train/valid/test = "
            f"{sizes['train']}/{sizes['valid']}/{sizes['test']})\n{table}")
