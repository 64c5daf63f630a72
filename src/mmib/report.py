"""Plain-text and Markdown tables of results."""

from __future__ import annotations

from typing import Any

from .metrics import headline


def metrics_table(summary: dict[str, Any], split: str = "test") -> str:
    """The paper's columns for one run, with split sizes and the metric convention."""
    cols = headline(summary["task"], summary[split])
    sizes = summary["sizes"]
    head = " | ".join(f"{k:>7}" for k, _ in cols)
    vals = " | ".join(f"{v:>7.4f}" for _, v in cols)
    rule = "-" * len(head)
    return (f"\n{split} metrics of {summary['name']} (best epoch {summary['best_epoch'] + 1}; "
            f"{summary['variant']} + {summary['fusion']}; convention {summary['metric_convention']}; "
            f"train/valid/test = {sizes['train']}/{sizes['valid']}/{sizes['test']})\n"
            f"{head}\n{rule}\n{vals}\n")
