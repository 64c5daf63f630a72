"""Single-label emotion recognition as the field scores it (issue #36): the multiclass task and
its metric family, text-and-label records files, and the baselines beside every result."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from sklearn.metrics import (accuracy_score, balanced_accuracy_score, confusion_matrix, f1_score,
                             precision_recall_fscore_support)

from conftest import TINY
from mmib import config as config_mod
from mmib.data.readers import converted, load_corpus
from mmib.data.types import Example
from mmib.data.validate import DataError
from mmib.engine.baselines import baseline_results
from mmib.metrics import MetricWarning, compute, confusion, headline_keys

KEYWORDS = {"angry": ("furious", "rage", "yelling"), "happy": ("joy", "delighted", "laughing"),
            "neutral": ("table", "schedule", "meeting"), "sad": ("tears", "lonely", "grief")}
FILLER = "the a we it was today then so and just there after".split()


def emotion_rows(sizes=(("train", 120), ("valid", 32), ("test", 48)), seed=0):
    """Synthetic single-label emotion text: the class is carried by two of its keywords among filler."""
    rng = np.random.default_rng(seed)
    names = sorted(KEYWORDS)
    rows = []
    for split, n in sizes:
        for i in range(n):
            c = names[int(rng.integers(len(names)))]
            words = list(rng.choice(FILLER, 3, replace=False)) + list(rng.choice(KEYWORDS[c], 2, replace=False))
            rng.shuffle(words)
            rows.append({"id": f"{split}-{i}", "text": " ".join(words), "label": c, "split": split})
    return rows


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


# ---------------------------------------------------------------- the metric family


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_wa_ua_f1_and_confusion_equal_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    names = ["angry", "happy", "neutral", "sad", "frustrated"]
    n, k = 60, len(names)
    true = rng.integers(0, k - 1 if seed == 2 else k, n)  # seed 2: one class absent from the labels
    logits = rng.normal(size=(n, k))
    if seed == 1:
        logits[:, 3] -= 100  # one class never predicted
    pred = logits.argmax(1)
    labels = np.eye(k)[true]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = compute("multiclass", logits, labels, names)
        ua = balanced_accuracy_score(true, pred)
    assert m["WA"] == pytest.approx(accuracy_score(true, pred), abs=1e-12)
    assert m["UA"] == pytest.approx(ua, abs=1e-12)
    assert m["F1_weighted"] == pytest.approx(f1_score(true, pred, average="weighted", zero_division=0), abs=1e-12)
    assert m["F1_macro"] == pytest.approx(f1_score(true, pred, average="macro", zero_division=0), abs=1e-12)
    p, r, f, _ = precision_recall_fscore_support(true, pred, labels=range(k), zero_division=0)
    for i, name in enumerate(names):
        assert (m[f"{name}_precision"], m[f"{name}_recall"], m[f"{name}_F1"]) == pytest.approx((p[i], r[i], f[i]))
    conf = confusion(logits, labels, names)
    assert conf["labels"] == names
    assert conf["matrix"] == confusion_matrix(true, pred, labels=range(k)).tolist()
    assert [h for h, _ in headline_keys(m)] == ["WA", "UA", "F1 weighted", "F1 macro"]


def test_constant_predictions_warn_without_blaming_the_paper():
    labels = np.eye(3)[[0, 1, 2, 0]]
    with pytest.warns(MetricWarning, match="every prediction is class 'b'") as rec:
        m = compute("multiclass", np.tile([0.0, 1.0, 0.0], (4, 1)), labels, ["a", "b", "c"])
    assert m["WA"] == 0.25 and m["UA"] == pytest.approx(1 / 3)
    assert not any("paper" in str(w.message) for w in rec)


# ---------------------------------------------------------------- records files


@pytest.mark.parametrize("mutate, field", [
    (lambda r: r.pop("label"), "label"),
    (lambda r: r.update(split="trian"), "split"),
    (lambda r: r.update(text="   "), "text"),
    (lambda r: r.update(label=["happy"]), "label"),  # a list after class names: mixed label kinds
])
def test_malformed_rows_are_refused_by_row(tmp_path, mutate, field):
    rows = emotion_rows((("train", 6), ("valid", 3), ("test", 3)))
    mutate(rows[4])
    path = write_jsonl(tmp_path / "bad.jsonl", rows)
    with pytest.raises(DataError) as e:
        load_corpus(path, log=False)
    msg = str(e.value)
    assert "\n" not in msg
    assert msg.startswith(f"{path}: row 5, field '{field}': expected ")


def test_csv_records_with_scores_and_multi_label_names_and_a_converted_copy(tmp_path):
    csv = tmp_path / "senti.csv"
    csv.write_text("id,text,label,split\n" + "".join(
        f"u{i},some words {i},{(i % 7) - 3},{s}\n" for i, s in enumerate(["train"] * 4 + ["dev"] * 2 + ["test"] * 2)))
    c = load_corpus(csv, log=False)
    assert c.reader == "records" and c.has_sentiment and not c.has_emotions
    assert c.splits["valid"].ids == ["u4", "u5"] and c.splits["train"].sentiment.tolist() == [-3, -2, -1, 0]
    multi = tmp_path / "multi.csv"
    multi.write_text('text,label,split\nhi there,"[""happy"", ""sad""]",train\nyo,[],train\nok,"[""sad""]",valid\n'
                     'no,"[""happy""]",test\n')
    m = load_corpus(multi, log=False)
    assert m.emotion_names == ["happy", "sad"] and m.dataset["labels"] == "emotions"
    assert m.splits["train"].emotions.tolist() == [[1, 1], [0, 0]]
    rec = write_jsonl(tmp_path / "emo.jsonl", emotion_rows((("train", 8), ("valid", 4), ("test", 4))))
    out = tmp_path / "emo.safetensors"
    converted.write(load_corpus(rec, log=False), out)
    back = load_corpus(out, log=False)
    assert back.dataset["labels"] == "classes" and back.emotion_names == sorted(KEYWORDS)
    assert (back.splits["train"].emotions.sum(1) == 1).all() and back.splits["test"].raw_text[0]


# ---------------------------------------------------------------- baselines


def _ex(text, label):
    return Example(text, {}, np.asarray(label, np.float32), text)


def test_baselines_are_fit_on_train_only_and_scored_on_test():
    """Train: 'alpha' -> class 0 (the majority), 'beta' -> class 1; test: the mapping flipped
    and class 1 the majority. Fit on train, the bag of words gets every test utterance wrong
    and the majority class scores class 0's test share; fit on test, both would be right."""
    eye = np.eye(2)
    train = [_ex("alpha words", eye[0])] * 6 + [_ex("beta words", eye[1])] * 4
    test = [_ex("alpha words", eye[1])] * 7 + [_ex("beta words", eye[0])] * 3

    def score(pred, labels):
        return compute("multiclass", pred, labels, ["c0", "c1"])

    res = {b["name"]: b for b in baseline_results("multiclass", train, test, score)}
    assert res["majority"]["test"]["WA"] == pytest.approx(0.3)
    assert res["tfidf"]["test"]["WA"] == 0.0
    assert res["tfidf"]["label"] == "baseline: TF-IDF + logistic regression (train)"
    # regression: the mean of train, whatever the test labels
    tr = [_ex(f"w{i}", [float(i)]) for i in range(5)]  # mean 2
    te = [_ex("w0", [-1.0]), _ex("w9", [3.0])]
    reg = {b["name"]: b for b in baseline_results(
        "regression", tr, te, lambda p, y: {"pred": float(p.mean()), "MAE": float(np.abs(p - y).mean())})}
    assert reg["majority"]["test"]["pred"] == pytest.approx(2.0)
    assert reg["majority"]["label"] == "baseline: mean of train"


# ---------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def emotion_run(tmp_path_factory):
    from mmib.engine import fit

    root = tmp_path_factory.mktemp("emotion")
    data = write_jsonl(root / "emo.jsonl", emotion_rows())
    cfg = config_mod.apply_overrides(config_mod.ExperimentConfig(), TINY + [
        f"out_dir='{root / 'runs'}'", f"data.path='{data}'", 'data.modalities=["text"]', "optim.lr=3e-3",
        "optim.text_lr=3e-3", "train.epochs=10", "train.batch_size=8", "data.max_len=12", "name='emo'"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetricWarning)
        res = fit(cfg)
    return res


def test_records_of_text_and_class_names_train_a_softmax_that_beats_its_baselines(emotion_run):
    s = emotion_run.summary
    assert s["task"] == "multiclass" and s["metric_family"] == "emotion_wa_ua"
    assert emotion_run.experiment.data.info["reader"] == "records"
    assert s["test"]["WA"] >= 0.95, s["test"]
    base = {b["name"]: b["test"] for b in s["baselines"]}
    assert s["test"]["WA"] > base["majority"]["WA"] and s["test"]["UA"] > base["majority"]["UA"]
    assert sum(map(sum, s["confusion"]["matrix"])) == s["sizes"]["test"]
    # logits of the fused head: a softmax over the 4 classes, one per utterance
    p = emotion_run.experiment.predict("test")
    assert p.pred.shape == (48, 4) and (p.labels.sum(1) == 1).all()


def test_tables_results_json_and_compare_show_the_baselines_and_plot_draws_the_confusion(emotion_run, tmp_path,
                                                                                        capsys):
    from mmib.cli import main
    from mmib.report import metrics_table
    from mmib.report.comparisons import render
    from mmib.studies.comparisons import compare, load_result
    from mmib.studies.seeds import collect, write_results

    run = emotion_run.run_dir
    text = metrics_table(emotion_run.summary)
    assert "baseline: majority class of train" in text and "baseline: TF-IDF + logistic regression" in text
    assert "confusion matrix (test split)" in text
    group = tmp_path / "group"
    group.mkdir()
    write_results(group, collect(group, {0: emotion_run.summary}, emotion_run.experiment.cfg))
    res = json.loads((group / "results.json").read_text())
    assert [b["name"] for b in res["baselines"]] == ["majority", "tfidf"]
    assert "baseline: majority class of train" in (group / "results.md").read_text()
    assert "baseline: TF-IDF + logistic regression" in render(compare([load_result(run)]))
    assert main(["compare", str(run)]) == 0
    assert "baseline: majority class of train" in capsys.readouterr().out
    # a records file given to mmib predict is read as a dataset (it has a split per row)
    assert main(["predict", str(run), emotion_run.experiment.cfg.data.path, "-o", str(tmp_path / "p.csv")]) == 0
    rows = (tmp_path / "p.csv").read_text().splitlines()
    assert rows[0].startswith("id,prediction,label,logit/angry") and len(rows) == 49
    assert main(["plot", str(run), "--only", "confusion", "--out", str(tmp_path / "figs")]) == 0
    png = tmp_path / "figs" / "confusion_matrix.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000


def test_the_worked_example_of_docs_metrics_md():
    true, pred = [0, 0, 0, 1, 2], [0, 0, 1, 1, 0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MetricWarning)
        m = compute("multiclass", np.eye(3)[pred], np.eye(3)[true], ["a", "b", "c"])
    assert (m["WA"], m["UA"]) == pytest.approx((0.6, (2 / 3 + 1 + 0) / 3))
    assert (m["F1_weighted"], m["F1_macro"]) == pytest.approx(((3 * 2 / 3 + 2 / 3) / 5, (2 / 3 + 2 / 3) / 3))
    assert confusion(np.eye(3)[pred], np.eye(3)[true], ["a", "b", "c"])["matrix"] == [[2, 1, 0], [0, 1, 0], [1, 0, 0]]


def test_objective_task_multiclass_refuses_labels_that_are_not_one_class(tmp_path):
    from conftest import tiny_config
    from mmib.engine import Experiment

    from mmib.data.types import DatasetSplits

    both = _ex("two emotions", [1.0, 1.0])  # multi-label data: not one class per utterance
    data = DatasetSplits([both], [both], [both], "x", "multilabel", ["a", "b"], {"text": 0})
    with pytest.raises(config_mod.ConfigError, match=r"objective.task = 'multiclass': split 'train', utterance 0 "
                                                     r"\('two emotions'\) has 2 of 2 labels set"):
        Experiment.build(tiny_config(tmp_path, "objective.task='multiclass'"), data=data)
