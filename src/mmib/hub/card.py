"""The model card of an exported model: ``README.md`` with YAML metadata, written through
``huggingface_hub``'s :class:`~huggingface_hub.ModelCard` / :class:`~huggingface_hub.ModelCardData`
(so the Hub reads its library, tags, datasets and ``model-index`` results).

The card says exactly how the numbers were obtained: the dataset and its split sizes, the
metric convention and family, the inference mode, the selection rule (which validation
quantity picked which epoch; the test split is scored once, on that epoch) and, for an
exported seed group, the mean +/- std over its seeds.
"""

from __future__ import annotations

from typing import Any

from ..metrics import CONVENTIONS, headline_keys, higher_is_better

PAPER = ("Mai, Zeng, Hu: Multimodal Information Bottleneck: Learning Minimal Sufficient Unimodal and "
         "Multimodal Representations. IEEE Transactions on Multimedia, 2022")
PAPER_DOI = "10.1109/TMM.2022.3171679"
_TASK = {"regression": "multimodal sentiment analysis (regression)",
         "classification": "multimodal emotion recognition"}


def _selection(cfg: dict[str, Any], epoch: int) -> str:
    sel = cfg["train"]["select_metric"]
    way = "lowest" if sel == "loss" or not higher_is_better(sel) else "highest"
    return (f"the epoch with the {way} validation `{sel}` (`train.select_metric`) out of "
            f"{cfg['train']['epochs']} (epoch {epoch} selected); the test split is scored once, on that "
            "epoch, never used for selection")


def _fmt(v: float) -> str:
    return f"{v:.4f}"


def model_card(info: dict[str, Any], group: dict[str, Any] | None = None, *, name: str = "mmib model"):
    """The :class:`huggingface_hub.ModelCard` of an export; ``info`` is the export's config.json
    content, ``group`` a seed group's results.json (mean +/- std over its seeds)."""
    from huggingface_hub import EvalResult, ModelCard, ModelCardData

    cfg, data, summary = info["config"], info["data"], info["summary"]
    m = cfg["model"]
    sizes = data["sizes"]
    conv = summary["metric_convention"]
    test = summary["test"]
    shown = group["test"]["mean"] if group else test
    keys = [k for _, k in headline_keys(shown)] or sorted(shown)[:4]
    task = _TASK.get(summary["task"], summary["task"])
    results = [EvalResult(task_type="multimodal-" + ("sentiment-analysis" if summary["task"] == "regression"
                                                    else "emotion-recognition"),
                          task_name=task, dataset_type=data["dataset"], dataset_name=data["dataset"],
                          dataset_split="test", metric_type=k, metric_name=k + (" (mean over seeds)" if group else ""),
                          metric_value=round(float(shown[k]), 6)) for k in keys]
    card_data = ModelCardData(
        library_name="mmib", model_name=name, tags=["multimodal", "information-bottleneck", m["variant"],
                                                    summary["task"]],
        datasets=[data["dataset"]], metrics=keys, eval_results=results, license="mit",
        paper=PAPER, paper_doi=PAPER_DOI,
        mmib={"variant": m["variant"], "fusion": m["fusion"], "text_encoder": m["text_encoder"],
              "modalities": cfg["data"]["modalities"], "metric_convention": conv,
              "metric_family": summary.get("metric_family"), "inference": summary.get("inference"),
              "select_metric": cfg["train"]["select_metric"], "selected_epoch": info["selected_epoch"],
              "splits": sizes, "seeds": group["seeds"] if group else [cfg["train"]["seed"]]})
    c = CONVENTIONS.get(conv)
    lines = [
        f"# {name}", "",
        (f"A {m['variant'].upper()} model ({m['fusion']} fusion, text encoder `{m['text_encoder']}`, modalities "
        f"{', '.join(cfg['data']['modalities'])}) trained with mmib, the "
        f"Multimodal Information Bottleneck toolkit, for {task}."), "",
        f"Paper: {PAPER} (doi:{PAPER_DOI}).", "",
        "## How to use", "",
        "```python", "import mmib", "", 'model = mmib.load("THIS_FOLDER_OR_HUB_ID")   # no code from the folder runs',
        "preds = model.predict(examples)               # mmib.data.Example list, a Batch or JSON-style records",
        "```", "",
        "## Training data and splits", "",
        f"Dataset `{data['dataset']}`" + (f" (file sha256 {data['sha256'][:16]}...)" if data.get("sha256") else "")
        + f"; labels {', '.join(data['label_names'])}; feature dims "
        + ", ".join(f"{k} {v}" if v else f"{k} (token ids)" for k, v in data["dims"].items()) + ".", "",
        "| split | utterances |", "|---|---|", *[f"| {k} | {v} |" for k, v in sizes.items()], "",
        "## Evaluation", "",
        f"- Metric convention: `{conv}`" + (f" ({c.source})" if c else "") + "; metric family "
        f"`{summary.get('metric_family')}`; predictions with `{summary.get('inference')}` inference.",
        f"- Selection rule: {_selection(cfg, info['selected_epoch'])}.",
    ]
    if group:
        n = len(group["seeds"])
        lines += [(f"- Test results: mean +/- std (sample std) over {n} seeds {group['seeds']}; the weights here are "
                  f"seed {cfg['train']['seed']}'s (the seed with the best validation `{cfg['train']['select_metric']}`)."),
                  "", "| metric | mean | std | this seed |", "|---|---|---|---|",
                  *[f"| {k} | {_fmt(group['test']['mean'][k])} | {_fmt(group['test']['std'][k])} | {_fmt(test[k])} |"
                    for k in keys if k in test]]
    else:
        lines += ["- Test results (one seed):", "", "| metric | test | valid |", "|---|---|---|",
                  *[f"| {k} | {_fmt(test[k])} | {_fmt(summary['valid'].get(k, float('nan')))} |" for k in keys]]
    lines += [
        "", "## Intended use and limits", "",
        (f"- Research on {task} with features extracted like the training file's (same feature dims, "
        "the same text encoder's tokenizer); not validated for decisions about people."),
        ("- Scores depend on the metric convention: compare only with numbers computed under the same one "
        "(docs/metrics.md in mmib)."),
        ("- Trained on one dataset; no claim of transfer to other speakers, languages, recording conditions "
        "or feature extractors."),
        "- `synth` is mmib's synthetic dataset: a model trained on it is a demonstration only." if
        data["dataset"] == "synth" else "- Inherits the biases of its training corpus.",
    ]
    return ModelCard(f"---\n{card_data.to_yaml()}\n---\n\n" + "\n".join(lines) + "\n")


__all__ = ["PAPER", "PAPER_DOI", "model_card"]
