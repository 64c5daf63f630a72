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


def baseline_rows(holder: dict[str, Any]) -> list[tuple[str, dict[str, Cell]]]:
    """Table rows of the baselines a summary / results.json / comparison carries (test split,
    fit on train: :mod:`mmib.engine.baselines`)."""
    return [(b["label"], b["test"]) for b in holder.get("baselines") or []]


def confusion_text(conf: dict[str, Any]) -> str:
    """The confusion matrix as aligned text: rows = true class, columns = predicted class."""
    names, m = conf["labels"], conf["matrix"]
    corner = "true \\ predicted"
    first = max(len(corner), *(len(n) for n in names))
    width = max(5, *(len(n) for n in names), *(len(str(v)) for row in m for v in row))
    head = corner.ljust(first) + "  " + "  ".join(n.rjust(width) for n in names)
    rows = [n.ljust(first) + "  " + "  ".join(str(v).rjust(width) for v in row) for n, row in zip(names, m)]
    return "\n".join([f"confusion matrix ({conf.get('split', 'test')} split)", head, *rows]) + "\n"


def metrics_table(summary: dict[str, Any], split: str = "test", *, markdown: bool = False) -> str:
    """The headline columns of one run (and, on test, the baselines' rows), with split sizes,
    the selected epoch and the convention; a multi-class run's confusion matrix below."""
    metrics = summary[split]
    cols = headline_keys(metrics)
    sizes = summary["sizes"]
    rows = [(summary["name"], metrics)] + (baseline_rows(summary) if split == "test" else [])
    table = render_table(rows, cols, markdown=markdown)
    conv = convention_caption(summary.get("metric_family"), summary["metric_convention"])
    conf = summary.get("confusion")
    shown = "\n" + confusion_text(conf) if conf and split == conf.get("split", "test") and not markdown else ""
    return (f"\n{split} metrics of {summary['name']} (selected epoch {summary['best_epoch']} by "
            f"validation; {summary['variant']} + {summary['fusion']}; {conv}; train/valid/test = "
            f"{sizes['train']}/{sizes['valid']}/{sizes['test']})\n{table}{shown}")


def csv_text(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """CSV text (every CSV file mmib writes comes from here): floats in full precision (repr),
    None as an empty cell."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(list(header))
    for r in rows:
        w.writerow(["" if v is None else repr(v) if isinstance(v, float) else v for v in r])
    return buf.getvalue()


__all__ = ["Cell", "baseline_rows", "confusion_text", "convention_caption", "csv_text", "fmt_cell", "fmt_value",
           "metrics_line", "metrics_table", "render_table"]
