"""mmib export --onnx and the onnxruntime backend: the graph predicts what the PyTorch model
predicts (predictions, heads and KLs within 1e-4, batched or one utterance at a time), in a
process that never imports torch, and bad folders or requests are one clear line."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import tiny_config

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

import mmib  # noqa: E402
from mmib.cli import main  # noqa: E402
from mmib.engine import fit  # noqa: E402

TOL = 1e-4


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A C-MIB (tiny BERT text encoder from token ids, audio, visual) trained 2 epochs, exported."""
    tmp = tmp_path_factory.mktemp("onnx")
    res = fit(tiny_config(tmp, "name='r'", "train.epochs=2"), run_dir=tmp / "r")
    out = tmp / "export"
    assert main(["export", str(res.run_dir), str(out), "--onnx"]) == 0
    return res, out


def _records(n: int, seed: int = 0) -> list[dict]:
    """Utterances of different lengths in every modality; some with masked frames."""
    rng = np.random.default_rng(seed)
    words = "the film was not bad at all but far too long for me".split()
    recs = []
    for i in range(n):
        ta, tv = 1 + (7 * i) % 23, 2 + (5 * i) % 17
        rec = {"id": f"u{i}", "text": " ".join(words[: 1 + (3 * i) % len(words)]),
               "audio": rng.standard_normal((ta, 74)).round(4).tolist(),
               "visual": rng.standard_normal((tv, 47)).round(4).tolist()}
        if i % 3 == 1:
            rec["visual_mask"] = [int(j % 2 == 0) for j in range(tv)]
        recs.append(rec)
    return recs


def _max_diff(a, b) -> float:
    assert a.ids == b.ids
    assert set(a.heads) == set(b.heads) and set(a.kl) == set(b.kl)
    diffs = [np.abs(a.pred - b.pred).max()]
    diffs += [np.abs(a.heads[k] - b.heads[k]).max() for k in a.heads]
    diffs += [np.abs(a.kl[k] - b.kl[k]).max() for k in a.kl]
    diffs += [np.abs(a.fused - b.fused).max()]
    return float(max(diffs))


def test_the_export_records_its_graph(exported):
    _, out = exported
    assert {"model.onnx", "onnx.json", "config.json", "model.safetensors", "text_encoder"} <= {p.name for p in out.iterdir()}
    rec = json.loads((out / "onnx.json").read_text())
    assert rec["opset"] == 17 and rec["inference"] == "mean"
    assert rec["bottlenecks"] == ["text", "audio", "visual", "fused"] and rec["heads"] == ["text", "audio", "visual"]
    inputs = {i["name"]: i for i in rec["inputs"]}
    assert inputs["text"]["dtype"] == "int64" and inputs["text"]["shape"] == ["batch", "time_text"]
    assert inputs["audio"]["shape"] == ["batch", "time_audio", 74] and inputs["visual_mask"]["dtype"] == "bool"
    assert rec["check"]["max_abs_diff"] <= TOL
    import onnx

    graph = onnx.load(str(out / "model.onnx")).graph
    dims = {i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in graph.input}
    assert dims["audio"] == ["batch", "time_audio", 74] and dims["text"] == ["batch", "time_text"]
    assert [o.name for o in graph.output][:2] == ["prediction", "head_text"]


def test_onnxruntime_matches_torch_on_a_batch_of_different_lengths(exported):
    from mmib.runtime import OnnxPredictor

    res, out = exported
    torch_model, ort_model = mmib.load(out), OnnxPredictor.load(out)
    examples = res.experiment.examples("test")  # 24 utterances, lengths differ
    lengths = {len(ex.inputs["text"]) for ex in examples} | {len(ex.inputs["audio"]) for ex in examples}
    assert len(lengths) > 3
    expected = torch_model.predict(examples)
    assert _max_diff(ort_model.predict(examples), expected) <= TOL
    # one padded batch of all of them, as PyTorch pads it, and one utterance at a time
    assert _max_diff(ort_model.predict(ort_model.pad(examples)), torch_model.predict(torch_model.collate(examples))) <= TOL
    for ex in examples[:4]:
        alone = ort_model.predict([ex])
        assert alone.pred.shape == (1, 1)
        assert np.abs(alone.pred[0] - expected.pred[examples.index(ex)]).max() <= TOL
    # records with masked frames go through the same input path
    recs = _records(9)
    assert _max_diff(ort_model.predict(recs), torch_model.predict(recs)) <= TOL
    assert ort_model.task == torch_model.task and ort_model.label_names == torch_model.label_names
    assert ort_model.meta["data"]["dims"] == torch_model.meta["data"]["dims"]
    assert ort_model.score(ort_model.predict(examples))["MAE"] == pytest.approx(
        torch_model.score(expected)["MAE"], abs=1e-4)


def test_the_onnx_backend_runs_without_torch(exported, tmp_path):
    res, out = exported
    recs = _records(7, seed=3)
    (tmp_path / "in.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    code = f"""
import json, sys
from mmib.runtime import OnnxPredictor
model = OnnxPredictor.load({str(out)!r})
p = model.predict(model.read_jsonl({str(tmp_path / 'in.jsonl')!r}))
print(json.dumps({{"torch": "torch" in sys.modules, "transformers": "transformers" in sys.modules,
                  "ids": p.ids, "pred": p.pred.tolist(), "kl": {{k: v.tolist() for k, v in p.kl.items()}}}}))
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    got = json.loads(run.stdout.strip().splitlines()[-1])
    assert got["torch"] is False and got["transformers"] is False
    expected = mmib.load(out).predict(recs)
    assert got["ids"] == expected.ids
    assert np.abs(np.asarray(got["pred"]) - expected.pred).max() <= TOL
    for k, v in expected.kl.items():
        assert np.abs(np.asarray(got["kl"][k]) - v).max() <= TOL


def test_bad_folders_and_requests_are_one_clear_line(exported, tmp_path, monkeypatch, capsys):
    from mmib.runtime import OnnxPredictor

    res, out = exported
    plain = tmp_path / "plain"
    assert main(["export", str(res.run_dir), str(plain)]) == 0
    with pytest.raises(FileNotFoundError, match=r"onnx.json: missing; export the run again with mmib export RUN DIR --onnx"):
        OnnxPredictor.load(plain)
    with pytest.raises(FileNotFoundError, match="config.json: missing"):
        OnnxPredictor.load(tmp_path)
    model = OnnxPredictor.load(out)
    with pytest.raises(ValueError, match="deterministic path only"):
        model.predict(_records(1), inference="mc")
    with pytest.raises(ValueError, match=r"record 0: 'audio' has shape \(3, 5\); expected \(T >= 1, 74\)"):
        model.predict([{"text": "fine", "audio": [[0.0] * 5] * 3, "visual": [[0.0] * 47]}])
    # a graph that disagrees with PyTorch is refused, and no model.onnx is left behind
    import mmib.hub.onnx as hub_onnx

    monkeypatch.setattr(hub_onnx, "TOLERANCE", -1.0)  # no difference can pass
    capsys.readouterr()
    assert main(["export", str(res.run_dir), str(tmp_path / "bad"), "--onnx"]) == 2
    assert "output 'prediction' of the exported graph differs from PyTorch by" in capsys.readouterr().err
    assert not (tmp_path / "bad" / "model.onnx").exists() and not (tmp_path / "bad" / "onnx.json").exists()
    monkeypatch.setattr(hub_onnx, "TOLERANCE", 1e-4)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ImportError, match=r"pip install 'mmib\[onnx\]'"):
        OnnxPredictor.load(out)
    monkeypatch.setitem(sys.modules, "onnx", None)
    capsys.readouterr()
    assert main(["export", str(res.run_dir), str(tmp_path / "again"), "--onnx"]) == 2
    err = capsys.readouterr().err
    assert "mmib[onnx]" in err and len(err.strip().splitlines()) == 1 and not (tmp_path / "again").exists()


def test_vector_text_posterior_fusion_last_step_and_fixed_padding(tmp_path):
    """Another path through the model: GloVe-style text vectors, L-MIB with a product of experts,
    the reference code's last-step pooling (no masks read) and fixed padding."""
    from mmib.hub import export_run
    from mmib.runtime import OnnxPredictor

    cfg = tiny_config(tmp_path, "name='g'", "train.epochs=1", "model.variant='lmib'", "model.fusion='poe'",
                      "model.text_encoder='glove'", "model.pooling='last'", "data.padding='fixed'", "data.max_len=20")
    res = fit(cfg, run_dir=tmp_path / "g")
    out = export_run(res.run_dir, tmp_path / "e", onnx=True)
    rec = json.loads((out / "onnx.json").read_text())
    assert [i["name"] for i in rec["inputs"]] == ["text", "audio", "visual"]  # last-step pooling reads no mask
    assert rec["inputs"][0]["dtype"] == "float32" and rec["inputs"][0]["shape"] == ["batch", "time_text", 300]
    examples = res.experiment.examples("test")
    torch_model, ort_model = mmib.load(out), OnnxPredictor.load(out)
    assert ort_model.tokenizer() is None and ort_model.pad(examples[:2]).inputs["audio"].shape[1] == 20
    assert _max_diff(ort_model.predict(examples), torch_model.predict(examples)) <= TOL
