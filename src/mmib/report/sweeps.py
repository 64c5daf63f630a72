"""Tables, captions and CSV of a sweep (``sweep.json`` content, :mod:`mmib.studies.sweep`)."""

from __future__ import annotations

import json
from typing import Any

from ..config import tomllib
from ..metrics import display_name, headline_keys
from .groups import mean_std
from .tables import convention_caption, csv_text, render_table

# settings named in a caption when the grid does not vary them
_HELD = ("model.variant", "model.fusion", "objective.constraint", "objective.beta", "data.modalities")


def short_key(key: str) -> str:
    return key.rsplit(".", 1)[-1]


def fmt(value: Any) -> str:
    """A value as it appears in row labels: ``1e-06``, ``text+audio``, ``none`` for []."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return "+".join(fmt(v) for v in value) if value else "none"
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return str(value)


def describe(values: dict[str, Any]) -> str:
    """``model.variant=lmib model.fusion=tensor`` (progress lines, skipped cells)."""
    def one(v: Any) -> str:
        return "[" + ", ".join(one(x) for x in v) + "]" if isinstance(v, list) else fmt(v)
    return " ".join(f"{k}={one(v)}" for k, v in values.items())


def _rows(res: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(label, test part) of every cell, then of every average row."""
    return ([(c["label"], c["results"]["test"]) for c in res["cells"]]
            + [(a["label"], a["test"]) for a in res["averages"]])


def columns(res: dict[str, Any]) -> list[tuple[str, str]]:
    return headline_keys(res["cells"][0]["results"]["test"]["mean"])


def table(res: dict[str, Any], *, markdown: bool = False) -> str:
    """Rows = cells labelled by their grid values, then average rows; columns = the headline
    test metrics, mean ± std over seeds."""
    cols = columns(res)
    n = len(res["seeds"])
    rows = [(label, {k: mean_std(part, k, n) for _, k in cols if k in part["mean"]}) for label, part in _rows(res)]
    header = " / ".join(short_key(k) for k, _ in res["grid"])
    return render_table(rows, cols, markdown=markdown, row_header=header)


def caption(res: dict[str, Any]) -> str:
    first = res["cells"][0]["results"]
    keys = [k for k, _ in res["grid"]]
    base = tomllib.loads(res["config"])
    held = []
    for key in (k for k in _HELD if k not in keys):
        text = f"{short_key(key)} {fmt(base[key.split('.')[0]][short_key(key)])}"
        off = sorted({c["results"]["model"]["variant"] for c in res["cells"]
                      if c["results"]["model"].get("constraint_off")})
        if key == "objective.beta" and off:
            text += f" ({', '.join(off)}: 0)"
        held.append(text)
    conv = convention_caption(first["metric_family"], first["metric_convention"])
    n_skip = f", {len(res['skipped'])} skipped" if res["skipped"] else ""
    text = (f"{res['name']}{': ' + res['title'] if res['title'] else ''}. Sweep over {', '.join(keys)} "
            f"({len(res['cells'])} cells{n_skip}) on {first['dataset']}; {', '.join(held)}; test metrics of "
            f"the epoch selected on valid, "
            + (f"mean ± std over {len(res['seeds'])} seeds {res['seeds']}" if len(res["seeds"]) > 1
               else f"one seed {res['seeds']} (n = 1, no std)") + f"; {conv}")
    if res["averages"]:
        text += ("; 'average' rows: per seed, the mean over the cells sharing that "
                 f"{' / '.join(short_key(k) for k in res['average_keys'])}, then mean ± std over seeds")
    return text


def to_csv(res: dict[str, Any]) -> str:
    """One row per cell then per average row: grid values, seeds, mean and std of every test
    metric (headline metrics first, full precision)."""
    parts = [part for _, part in _rows(res)]
    lead = [k for _, k in columns(res)]
    common = [k for k in parts[0]["mean"] if all(k in p["mean"] for p in parts)]
    keys = [k for k in lead if k in common] + [k for k in common if k not in lead]
    grid_keys = [k for k, _ in res["grid"]]
    rows = []
    for c in res["cells"]:
        part = c["results"]["test"]
        rows.append([c["label"], "cell", *(fmt(c["values"][k]) for k in grid_keys),
                     " ".join(map(str, c["results"]["seeds"]))] + [part[s][k] for k in keys for s in ("mean", "std")])
    for a in res["averages"]:
        rows.append([a["label"], "average", *(fmt(a["value"]) if k == a["key"] else "average" for k in grid_keys),
                     " ".join(map(str, a["seeds"]))] + [a["test"][s][k] for k in keys for s in ("mean", "std")])
    return csv_text(["row", "kind", *grid_keys, "seeds"] + [f"{display_name(k)} {s}" for k in keys
                                                           for s in ("mean", "std")], rows)


def skipped_text(res: dict[str, Any]) -> str:
    return "".join(f"skipped: {describe(s['values'])} ({s['reason']})\n" for s in res["skipped"])


def markdown(res: dict[str, Any]) -> str:
    skipped = skipped_text(res)
    return f"{caption(res)}\n\n{table(res, markdown=True)}" + (f"\n{skipped}" if skipped else "")


__all__ = ["caption", "columns", "describe", "fmt", "markdown", "short_key", "skipped_text", "table", "to_csv"]
