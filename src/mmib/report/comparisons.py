"""The text, Markdown and CSV of a comparison (:func:`mmib.studies.compare`)."""

from __future__ import annotations

from typing import Any

from ..metrics import display_name, headline_keys
from .tables import baseline_rows, convention_caption, csv_text, fmt_value, render_table


def _p(p: float | None) -> str:
    if p is None:
        return "n/a"
    return f"{p:.3f}{' *' if p < 0.05 else ''}"


def render(report: dict[str, Any], *, markdown: bool = False) -> str:
    """The comparison table (mean ± std, seeds per row) and one block of tests per pair."""
    rows = []
    for r in report["results"]:
        label = f"{r['name']} ({len(r['seeds'])} seed{'s' if len(r['seeds']) != 1 else ''})"
        rows.append((label, {k: (r["mean"][k], r["std"][k]) if len(r["seeds"]) > 1 else r["mean"][k]
                             for k in report["columns"] if k in r["mean"]}))
    rows += baseline_rows(report)
    first = report["results"][0]
    cols = headline_keys(first["mean"])
    conv = convention_caption(first.get("metric_family"), first.get("metric_convention"))
    out = [f"test metrics (epoch selected on valid), mean ± std over seeds; {conv}", "",
           render_table(rows, cols, markdown=markdown)]
    for w in report["warnings"]:
        out.append(f"warning: {w}")
    for t in report["tests"]:
        n = len(t["seeds"])
        out.append(f"\npaired tests: {t['other']} - {t['reference']} over {n} matching seed(s) {t['seeds']}")
        if n < 2:
            out.append("  not applicable (needs at least 2 seeds present in both)")
            continue
        trows = []
        for k, r in t["metrics"].items():
            diff = r["mean_diff"]
            sign = "-" if diff < 0 else "+"
            trows.append((display_name(k), {"diff": f"{sign}{fmt_value(k, abs(diff))}", "better": r["better"],
                              "t": _p(r["t_p"]), "w": _p(r["wilcoxon_p"]), "note": r["note"]}))
        out.append(_text_rows(trows, markdown))
    out.append("\n(* p < 0.05, two-sided, no correction for multiple comparisons)" if report["tests"] else "")
    return "\n".join(out).rstrip() + "\n"


def _text_rows(rows: list[tuple[str, dict[str, str]]], markdown: bool) -> str:
    header = ["metric", "mean diff", "better", "t-test p", "Wilcoxon p", "note"]
    body = [[k, v["diff"], v["better"], v["t"], v["w"], v["note"]] for k, v in rows]
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|---|---:|---|---:|---:|---|"]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in body])
    widths = [max(len(r[i]) for r in [header] + body) for i in range(len(header))]
    return "\n".join("  " + "  ".join(c.ljust(w) if i in (0, 2, 5) else c.rjust(w)
                                       for i, (c, w) in enumerate(zip(r, widths))).rstrip()
                     for r in [header] + body)



def to_csv(report: dict[str, Any]) -> str:
    cols = report["columns"]
    rows = [[r["name"], " ".join(map(str, r["seeds"]))] + [r["mean"].get(k) for k in cols]
            + [r["std"].get(k) for k in cols] for r in report["results"]]
    rows += [[label, ""] + [m.get(k) for k in cols] + [None] * len(cols) for label, m in baseline_rows(report)]
    return csv_text(["name", "seeds"] + [f"{display_name(k)} mean" for k in cols]
                    + [f"{display_name(k)} std" for k in cols], rows)


__all__ = ["render", "to_csv"]
