"""Tables, captions and CSV of a seed group (``results.json`` content, :mod:`mmib.studies.seeds`)."""

from __future__ import annotations

from typing import Any

from ..metrics import display_name, headline_keys
from .tables import baseline_rows, convention_caption, csv_text, render_table


def mean_std(part: dict[str, Any], key: str, n_seeds: int):
    """A table cell: (mean, std) over seeds, or the value alone for one seed (its std is undefined)."""
    return (part["mean"][key], part["std"][key]) if n_seeds > 1 else part["mean"][key]


def table(results: list[dict[str, Any]], *, markdown: bool = False, split: str = "test") -> str:
    """Rows = groups (name), columns = the headline metrics, cells = mean ± std (one seed: the value)."""
    cols = headline_keys(results[0][split]["mean"])
    rows = [(r["name"], {k: mean_std(r[split], k, len(r["seeds"])) for _, k in cols if k in r[split]["mean"]})
            for r in results]
    if split == "test":  # the baselines of the data (the same for every seed), once
        rows += list(dict(row for r in results for row in baseline_rows(r)).items())
    return render_table(rows, cols, markdown=markdown)


def caption(res: dict[str, Any]) -> str:
    m = res["model"]
    n = len(res["seeds"])
    over = f"mean ± std over {n} seeds {res['seeds']}" if n > 1 else f"one seed {res['seeds']} (n = 1, no std)"
    return (f"{res['name']}: {m['variant']} + {m['fusion']}, beta {m['beta']:g}, on {res['dataset']}; "
            f"test metrics of the epoch selected on valid, {over}; "
            f"{convention_caption(res['metric_family'], res['metric_convention'])}")


def to_csv(res: dict[str, Any], split: str = "test") -> str:
    """One row per seed, then mean and std rows; headline metrics first, full precision."""
    part = res[split]
    lead = [k for _, k in headline_keys(part["mean"])]
    keys = lead + [k for k in part["mean"] if k not in lead]
    rows = [[seed, f"seed-{seed}"] + [m.get(k, float("nan")) for k in keys] for seed, m in part["per_seed"].items()]
    rows += [[stat, ""] + [part[stat][k] for k in keys] for stat in ("mean", "std")]
    return csv_text(["seed", "run"] + [display_name(k) for k in keys], rows)


def markdown(res: dict[str, Any]) -> str:
    return f"{caption(res)}\n\n{table([res], markdown=True)}"


__all__ = ["caption", "markdown", "mean_std", "table", "to_csv"]
