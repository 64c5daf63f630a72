"""mmib predict and mmib.load(...).predict(...): the same predictions the metrics were computed from."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

import mmib
from eval_runs import eval_runs  # noqa: F401  (session fixture)
from mmib import config as config_mod
from mmib.cli import main
from mmib.data.synth import generate
from mmib.metrics import compute

pytestmark = pytest.mark.filterwarnings("ignore::mmib.metrics.MetricWarning")


def read_csv(path):
    return list(csv.DictReader(path.open()))


def test_predict_on_the_test_split_reproduces_the_reported_metrics(eval_runs, tmp_path, capsys):
    run = eval_runs / "cm" / "seed-0"
    out = tmp_path / "pred.csv"
    assert main(["predict", str(run), "--split", "test", "-o", str(out)]) == 0
    assert "metrics of these 24 predictions" in capsys.readouterr().out
    rows = read_csv(out)
    summary = json.loads((run / "summary.json").read_text())
    assert len(rows) == summary["sizes"]["test"] == 24
    assert list(rows[0]) == ["id", "prediction", "label", "head/text", "head/audio", "head/visual",
                             "kl/text", "kl/audio", "kl/visual", "kl/fused"]
    # float32 values written by their shortest decimal (-1.2, not -1.2000000476837158): read as float32
    pred = np.array([[np.float32(r["prediction"])] for r in rows], dtype=np.float64)
    labels = np.array([[np.float32(r["label"])] for r in rows], dtype=np.float64)
    metrics = compute("regression", pred, labels, ["sentiment"], convention=summary["metric_convention"])
    for k, v in metrics.items():
        assert v == summary["test"][k], k  # exactly the numbers in summary.json
    # and the same values the engine computes for the test split
    s, _ = mmib.engine.load_setup(run)
    p = s.predict("test")
    assert [r["id"] for r in rows] == p.ids
    assert np.array_equal(pred[:, 0], p.pred[:, 0].astype(np.float64))
    assert np.array_equal(np.array([np.float32(r["kl/fused"]) for r in rows]), p.kl["fused"])
    assert all(float(r["kl/text"]) > 0 for r in rows)


def test_predict_json_and_stdout(eval_runs, tmp_path, capsys):
    run = eval_runs / "bm"
    assert main(["predict", str(run), "--split", "valid", "-o", str(tmp_path / "p.json")]) == 0
    doc = json.loads((tmp_path / "p.json").read_text())
    assert doc["task"] == "regression" and len(doc["predictions"]) == 16
    assert set(doc["predictions"][0]) == {"id", "prediction", "label", "kl/fused"}  # B-MIB: one head
    capsys.readouterr()
    assert main(["predict", str(run / "best.safetensors")]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("id,prediction,label,kl/fused\n") and len(captured.out.splitlines()) == 25
    assert "metrics of these 24 predictions" in captured.err


def jsonl_records(cfg: config_mod.ExperimentConfig) -> list[dict]:
    """The run's synth test utterances as raw words with one audio / visual row per word."""
    raw = generate(cfg.data, tokenizer=None)  # same random stream: identical per-word features
    return [{"id": ex.id, "words": ex.text.split(), "audio": ex.inputs["audio"].tolist(),
             "visual": ex.inputs["visual"].tolist(), "label": float(ex.label[0])} for ex in raw.test]


def test_jsonl_input_matches_the_dataset_path(eval_runs, tmp_path):
    run = eval_runs / "cm" / "seed-1"
    model = mmib.load(run)
    recs = jsonl_records(model.cfg)
    f = tmp_path / "utts.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in recs))
    out = tmp_path / "u.csv"
    assert main(["predict", str(run), str(f), "-o", str(out)]) == 0
    rows = read_csv(out)
    direct = model.predict(model.dataset().test)
    assert [r["id"] for r in rows] == direct.ids
    np.testing.assert_allclose([float(r["prediction"]) for r in rows], direct.pred[:, 0], rtol=0, atol=1e-6)
    np.testing.assert_allclose([float(r["head/audio"]) for r in rows], direct.heads["audio"][:, 0], atol=1e-6)
    # records without labels, unaligned features (not one row per word) and plain text also work
    unl = [{"id": "u1", "text": "a great movie", "audio": [[0.0] * 74] * 5, "visual": [[0.1] * 47] * 2}]
    p = model.predict(unl)
    assert p.pred.shape == (1, 1) and np.isnan(p.labels).all() and set(p.kl) == {"text", "audio", "visual", "fused"}


def test_python_api_on_a_batch(eval_runs):
    model = mmib.load(eval_runs / "cm" / "seed-0")
    examples = model.dataset().test
    full = model.predict(examples)
    batch = model.collate(examples[:5])
    part = model.predict(batch)
    assert part.ids == full.ids[:5]
    np.testing.assert_allclose(part.pred, full.pred[:5], atol=1e-6)
    np.testing.assert_allclose(part.kl["text"], full.kl["text"][:5], atol=1e-6)
    assert set(part.heads) == {"text", "audio", "visual", "fused"}
    mc = model.predict(batch, inference="mc")
    assert mc.pred.shape == (5, 1) and not np.allclose(mc.pred, part.pred)


def test_jsonl_errors_name_the_line_and_field(eval_runs, tmp_path):
    run = eval_runs / "cm" / "seed-0"
    f = tmp_path / "bad.jsonl"
    f.write_text(json.dumps({"id": "x", "words": ["good"], "audio": [[0.0] * 3], "visual": [[0.0] * 47]}) + "\n")
    with pytest.raises(ValueError, match=r"bad.jsonl:1: 'audio' has shape \(1, 3\); expected \(T >= 1, 74\)"):
        mmib.load(run).read_jsonl(f)
    f.write_text('{"id": "y", "words": ["a"], "visual": [[0]]}\n')
    with pytest.raises(ValueError, match="bad.jsonl:1: field 'audio' missing"):
        mmib.load(run).read_jsonl(f)
    f.write_text("not json\n")
    assert main(["predict", str(run), str(f)]) == 2


def test_predict_on_a_data_file_in_a_real_format(eval_runs, tmp_path):
    run = eval_runs / "iem"
    out = tmp_path / "iem.csv"
    assert main(["predict", str(run), str(eval_runs / "iemocap.pkl"), "--dataset", "iemocap",
                 "--split", "test", "-o", str(out)]) == 0
    rows = read_csv(out)
    summary = json.loads((run / "summary.json").read_text())
    names = ["neutral", "happy", "sad", "angry"]
    assert len(rows) == summary["sizes"]["test"]
    assert {f"logit/{n}" for n in names} | {f"present/{n}" for n in names} | {"kl/fused"} <= set(rows[0])
    logits = np.array([[float(r[f"logit/{n}"]) for n in names] for r in rows])
    labels = np.array([[float(r[f"label/{n}"]) for n in names] for r in rows])
    metrics = compute("multilabel", logits, labels, names, default="emotion_acc_f1")
    for k, v in metrics.items():
        assert v == summary["test"][k], k


def test_jsonl_token_ids_and_long_sequences_are_shortened_as_in_training(eval_runs):
    model = mmib.load(eval_runs / "cm" / "seed-0")
    n = model.cfg.data.max_len + 30
    rec = {"id": "long", "token_ids": [101] + [2204] * (n - 2) + [102],
           "audio": np.arange(n * 74, dtype=float).reshape(n, 74).tolist(), "visual": [[0.5] * 47] * 3}
    (ex,) = model.examples_from_records([rec])
    L = model.cfg.data.max_len
    assert len(ex.inputs["text"]) == L and ex.inputs["text"][-1] == 102  # [SEP] kept
    assert ex.inputs["audio"].shape == (L, 74) and ex.inputs["audio"][0, 0] == 0.0  # head truncation
    assert ex.inputs["visual"].shape == (3, 47)
    assert model.predict([rec]).pred.shape == (1, 1)


def test_a_clip_is_refused_for_a_run_trained_on_features_mmib_did_not_extract(eval_runs, tmp_path, capsys):
    from media import voiced, write_clip

    clip = write_clip(tmp_path / "c.wav", audio=voiced(150, 0.5))
    assert main(["predict", str(eval_runs / "cm" / "seed-0"), str(clip), "--text", "hi"]) == 2
    err = capsys.readouterr().err
    assert "not made by `mmib extract`, so mmib cannot extract a clip the same way" in err
    assert main(["predict", str(eval_runs / "cm" / "seed-0"), str(tmp_path / "missing.mp4")]) == 2
    assert "missing.mp4: clip not found" in capsys.readouterr().err
