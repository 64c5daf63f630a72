"""Results tables in the paper's layout (rows = models, columns = metrics), as text or Markdown,
and the captions that say how the numbers were computed.

Accuracies, F1, WA and AUC are shown in percent with one decimal and MAE / Corr with three,
as the paper prints them; JSON and CSV files keep the exact values.
"""

from __future__ import annotations

import csv
import io
from typing import Any, Sequence

from ..metrics import headline_keys, is_percent

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


def metrics_line(metrics: dict[str, Any]) -> str:
    """The headline metrics on one line, as a table shows them: ``Acc7 35.2 | ... | Corr 0.612``
    (progress lines: a seed's or a cell's result as soon as it is known)."""
    return " | ".join(f"{h} {fmt_cell(k, metrics.get(k))}" for h, k in headline_keys(metrics))


def convention_caption(family: str | None, convention: str | None) -> str:
    """``convention mib`` for sentiment (the convention decides the numbers), else ``metrics <family>``."""
    family = family or "sentiment"
    return f"convention {convention}" if family == "sentiment" else f"metrics {family}"


def metrics_table(summary: dict[str, Any], split: str = "test", *, markdown: bool = False) -> str:
    """The headline columns of one run, with split sizes, the selected epoch and the convention."""
    metrics = summary[split]
    cols = headline_keys(metrics)
    sizes = summary["sizes"]
    table = render_table([(summary["name"], metrics)], cols, markdown=markdown)
    conv = convention_caption(summary.get("metric_family"), summary["metric_convention"])
    text = (f"\n{split} metrics of {summary['name']} (selected epoch {summary['best_epoch']} by "
            f"validation; {summary['variant']} + {summary['fusion']}; {conv}; train/valid/test = "
            f"{sizes['train']}/{sizes['valid']}/{sizes['test']})\n{table}")
    if split == "test" and summary.get("baseline_test") and not markdown:
        what = "the training mean" if summary.get("task") == "regression" else "each emotion's training rate"
        text += f"baseline (always predicting {what}): {metrics_line(summary['baseline_test'])}\n"
    return text


def csv_text(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """CSV text (every CSV file mmib writes comes from here): floats in full precision (repr),
    None as an empty cell."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(list(header))
    for r in rows:
        w.writerow(["" if v is None else repr(v) if isinstance(v, float) else v for v in r])
    return buf.getvalue()


__all__ = ["Cell", "convention_caption", "csv_text", "fmt_cell", "fmt_value", "metrics_line", "metrics_table",
           "render_table"]
