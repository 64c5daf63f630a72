"""Reports: results tables and captions (text, Markdown, CSV) for runs, seed groups, sweeps and
comparisons, per-utterance prediction files, and figures. Everything here reads results; the
one exception, the t-SNE figure, asks the engine for a run's fused representation."""

from .tables import convention_caption, csv_text, fmt_cell, fmt_value, metrics_line, metrics_table, render_table

__all__ = ["convention_caption", "csv_text", "fmt_cell", "fmt_value", "metrics_line", "metrics_table", "render_table"]
