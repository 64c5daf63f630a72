"""`mmib data inspect`: splits, sizes, dims, lengths, label statistics and problems of a corpus."""

from __future__ import annotations

from typing import Any

import numpy as np

from .corpus import Corpus
from .validate import SPLITS, RepairLog


def _stats(x: np.ndarray) -> dict[str, float]:
    return {"min": float(x.min()), "mean": float(x.mean()), "max": float(x.max())} if len(x) else {}


def _uninformative(name: str, values: list[np.ndarray]) -> str | None:
    """A problem line when a modality's features carry nothing: all zero, or every feature
    the same value in every step of every utterance (a failed extraction looks like this)."""
    rows = [v for v in values if len(v)]
    if not rows:
        return None
    lo = np.min([v.min(axis=0) for v in rows], axis=0)
    hi = np.max([v.max(axis=0) for v in rows], axis=0)
    if not lo.any() and not hi.any():
        return (f"{name}: every value is 0 in every split: the modality carries no information "
                "(a failed feature extraction?); drop it from data.modalities or re-extract it")
    if np.array_equal(lo, hi):
        return (f"{name}: every feature is constant (the same row in every step of every utterance): the "
                "modality carries no information; drop it from data.modalities or re-extract it")
    return None


def report(corpus: Corpus, max_len: int = 50) -> dict[str, Any]:
    """A JSON-able summary of ``corpus`` with a list of problems found."""
    problems: list[str] = []
    repairs = RepairLog()
    repairs.merge(corpus.repairs)
    problems += [f"non-finite values: {line}" for line in repairs.lines()]
    fields: dict[str, Any] = {}
    for name, dim in corpus.dims.items():
        if name.endswith("_mask") and name[:-5] in corpus.dims:
            continue  # a per-frame mask: reported with its field
        per = {}
        for s in SPLITS:
            r = corpus.splits[s].fields[name]
            per[s] = _stats(r.lengths)
            empty = int((r.lengths == 0).sum())
            if empty:
                problems.append(f"{name}: {empty} utterance(s) of split {s!r} have no valid step "
                                "(they train on one zero step)")
        longer = sum(int((corpus.splits[s].fields[name].lengths > max_len).sum()) for s in SPLITS)
        if longer:
            problems.append(f"{name}: {longer} utterance(s) longer than max_len = {max_len} "
                            "(shortened at training: see data.truncation)")
        fields[name] = {"dim": dim, "dtype": str(corpus.splits["train"].fields[name].values.dtype),
                        "steps": per}
        if f"{name}_mask" in corpus.splits["train"].fields:
            masked = {s: float((corpus.splits[s].fields[f"{name}_mask"].values == 0).mean())
                      if len(corpus.splits[s].fields[f"{name}_mask"].values) else 0.0 for s in SPLITS}
            fields[name]["masked_fraction"] = masked
            if all(v == 1.0 for v in masked.values()):
                problems.append(f"{name}: every frame is masked ({name}_mask is 0 everywhere)")
        if dim:  # feature rows (token ids are not features)
            problem = _uninformative(name, [corpus.splits[s].fields[name].values for s in SPLITS])
            if problem:
                problems.append(problem)
    labels: dict[str, Any] = {}
    if corpus.has_sentiment:
        sent = {}
        for s in SPLITS:
            y = corpus.splits[s].sentiment
            sent[s] = {**_stats(y), "std": float(y.std()), "positive": int((y > 0).sum()),
                       "zero": int((y == 0).sum()), "negative": int((y < 0).sum())}
            if y.std() == 0:
                problems.append(f"sentiment: every label of split {s!r} is {y[0]:g}")
        y_all = np.concatenate([corpus.splits[s].sentiment for s in SPLITS])
        bound = float(np.abs(y_all).max())
        if bound > 3:
            problems.append(f"sentiment: labels up to |{bound:g}|, outside [-3, 3] (mosi/mosei/sims refuse them)")
        labels["sentiment"] = sent
    if corpus.has_emotions:
        emo = {}
        for s in SPLITS:
            e = corpus.splits[s].emotions
            emo[s] = {n: int(e[:, k].sum()) for k, n in enumerate(corpus.emotion_names)}
        for n, c in emo["train"].items():
            if c in (0, len(corpus.splits["train"])):
                problems.append(f"emotions: {n!r} is {'never' if c == 0 else 'always'} present in split 'train'")
        single = corpus.dataset.get("labels") == "classes"  # one class per utterance (records files)
        labels["classes (counts)" if single else "emotions (present counts)"] = emo
    seen: dict[str, str] = {}
    for s in SPLITS:
        ids = corpus.splits[s].ids
        dup = len(ids) - len(set(ids))
        if dup:
            problems.append(f"ids: {dup} duplicate id(s) in split {s!r}")
        shared = [i for i in set(ids) if i in seen]
        if shared:
            problems.append(f"ids: {len(shared)} id(s) of split {s!r} also in split {seen[shared[0]]!r} "
                            f"(e.g. {shared[0]!r})")
        seen.update({i: s for i in ids if i not in seen})
    return {"source": corpus.source, "reader": corpus.reader, "sizes": corpus.sizes, "fields": fields,
            "words": corpus.word_aligned, "dataset": corpus.dataset, "emotion_names": corpus.emotion_names, "labels": labels,
            "repairs": repairs.totals(), "notes": corpus.notes, "problems": problems}


def render(rep: dict[str, Any]) -> str:
    """The report as aligned text."""
    src = rep["source"]
    lines = [f"file      {src.get('converted_file', src.get('file'))}",
             f"format    {rep['reader']}" + (" (converted)" if "converted_file" in src else "")]
    if "converted_file" in src:  # the file it was converted from; none when it was extracted from clips
        lines.append(f"source    {src.get('file') or 'extracted by mmib extract (no source file)'}")
    if src.get("sha256"):
        lines.append(f"sha256    {src['sha256']} (release: {src.get('release', 'unknown')})")
    elif src.get("converted_sha256"):
        lines.append(f"sha256    {src['converted_sha256']} (this file)")
    if rep.get("dataset"):
        d = rep["dataset"]
        what = (f"sentiment in [-{d['sentiment_range']:g}, {d['sentiment_range']:g}]"
                if d.get("labels") == "sentiment" and d.get("sentiment_range") is not None
                else ", ".join(d.get("emotion_names") or []) or d.get("labels", "?"))
        lines.append(f"dataset   {d.get('name')} ({what}; `mmib train --data-path` alone reads it)")
    lines.append("splits    " + " / ".join(f"{s} {n}" for s, n in rep["sizes"].items()))
    lines.append("fields    (dim; valid steps min / mean / max per split)")
    for name, f in rep["fields"].items():
        steps = "  ".join(f"{s} {v['min']:.0f}/{v['mean']:.1f}/{v['max']:.0f}" for s, v in f["steps"].items() if v)
        lines.append(f"  {name:<13} {f['dim'] or 'ids':>4}  {steps}")
        if "masked_fraction" in f:
            lines.append(f"  {name + '_mask':<13} masked frames " + "  ".join(
                f"{s} {v:.1%}" for s, v in f["masked_fraction"].items()))
    if rep["words"]:
        lines.append("  words         one audio/visual row per word (tokenised at training)")
    for kind, per in rep["labels"].items():
        lines.append(f"labels    {kind}")
        for s, st in per.items():
            if kind == "sentiment":
                lines.append(f"  {s:<6} mean {st['mean']:+.3f} std {st['std']:.3f} range [{st['min']:g}, "
                             f"{st['max']:g}]  pos {st['positive']} / zero {st['zero']} / neg {st['negative']}")
            else:
                lines.append(f"  {s:<6} " + "  ".join(f"{n} {c}" for n, c in st.items()))
    for note in rep["notes"]:
        lines.append(f"note      {note}")
    lines.append(f"problems  {len(rep['problems']) or 'none found'}")
    lines += [f"  - {p}" for p in rep["problems"]]
    return "\n".join(lines)
