"""The one input path of trained models (mmib.inputs): what a file is, records and data files
read without torch, and every front end (mmib predict, Predictor) going through it."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import mmib
from eval_runs import eval_runs  # noqa: F401 - session fixture
from mmib.cli import main
from mmib.inputs import ModelInputs, clip_rows, kind_of


def test_kind_of_each_input(tmp_path):
    (tmp_path / "clips.csv").write_text("id,media,text\na,a.wav,hi\n")
    (tmp_path / "clips.jsonl").write_text('{"id": "a", "media": "a.wav", "text": "hi"}\n')
    (tmp_path / "utts.jsonl").write_text('{"id": "a", "text": "hi"}\n')
    (tmp_path / "table.csv").write_text("id,text\na,hi\n")
    assert kind_of(tmp_path / "x.MP4") == "clip" and kind_of(tmp_path / "x.wav") == "clip"
    assert kind_of(tmp_path / "clips.csv") == "manifest" and kind_of(tmp_path / "clips.jsonl") == "manifest"
    assert kind_of(tmp_path / "utts.jsonl") == "jsonl"
    assert kind_of(tmp_path / "table.csv") == "data" and kind_of(tmp_path / "mosi.pkl") == "data"
    assert kind_of(tmp_path / "clips.csv", "jsonl") == "jsonl" and kind_of(tmp_path / "x.mp4", "mmsa") == "data"


def test_one_clip_becomes_one_checked_row_without_a_temporary_manifest(tmp_path):
    clip = tmp_path / "hello.wav"
    clip.write_bytes(b"RIFF")
    rows, bad, where = clip_rows(clip, text="what a day", words="what:0:0.2 a:0.2:0.3 day:0.3:0.8")
    assert not bad and where == clip and [r.clip.id for r in rows] == ["hello"]
    assert rows[0].clip.media == clip and rows[0].words[-1] == ("day", 0.3, 0.8)
    _, bad, _ = clip_rows(clip, text="hi", words="hi:0.5:0.1")
    assert "expected a word and 0 <= start < end" in bad[0].reason
    with pytest.raises(FileNotFoundError, match="missing.mp4: clip not found"):
        clip_rows(tmp_path / "missing.mp4", text="hi")
    assert not list(tmp_path.glob("*.csv"))


def test_inputs_and_data_import_no_torch_and_read_records(eval_runs):  # noqa: F811
    """An ONNX-only process reads inputs: mmib.data and mmib.inputs build examples from a run's
    saved config and data record with no torch in the process."""
    run = eval_runs / "cm" / "seed-0"
    code = textwrap.dedent(f"""
        import json, sys
        from pathlib import Path
        import mmib.data, mmib.inputs
        from mmib import config
        from mmib.inputs import FileTokenizer
        run = Path({str(run)!r})
        meta = json.loads((run / "data.json").read_text())
        cfg = config.load(run / "config.toml")
        inp = mmib.inputs.ModelInputs(cfg, meta, str(run), lambda: FileTokenizer(run / "text_encoder"))
        rec = {{"id": "u1", "text": "a fine film", "audio": [[0.1] * 74] * 4, "visual": [[0.2] * 47] * 3}}
        (ex,) = inp.from_records([rec])
        print(json.dumps({{"torch": "torch" in sys.modules, "ids": ex.inputs["text"].tolist(),
                          "shapes": {{k: list(v.shape) for k, v in ex.inputs.items()}}}}))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["torch"] is False
    assert res["shapes"]["audio"] == [4, 74] and res["shapes"]["visual"] == [3, 47] and res["shapes"]["text"][0] >= 3
    # the same token ids as the run's own (transformers) tokenizer
    (ex,) = mmib.load(run).inputs.from_records([{"id": "u1", "text": "a fine film", "audio": [[0.1] * 74] * 4,
                                                 "visual": [[0.2] * 47] * 3}])
    assert res["ids"] == ex.inputs["text"].tolist()


def test_predictor_and_cli_share_the_input_path(eval_runs, tmp_path, monkeypatch, capsys):  # noqa: F811
    """Predictor.read and `mmib predict` both call ModelInputs; records give the same examples
    through Predictor.predict(dicts) and through a JSON-lines file."""
    run = eval_runs / "cm" / "seed-0"
    model = mmib.load(run)
    assert isinstance(model.inputs, ModelInputs) and model.inputs.dims == model.dims
    recs = [{"id": f"u{i}", "text": "a fine film " * (i + 1), "audio": [[0.1 * i] * 74] * (i + 2),
             "visual": [[0.2] * 47] * 3} for i in range(3)]
    f = tmp_path / "utts.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in recs))
    direct = model.predict(recs)
    calls = []
    real = ModelInputs.read

    def spy(self, path, **kw):
        calls.append(kind_of(path))
        return real(self, path, **kw)

    monkeypatch.setattr(ModelInputs, "read", spy)
    got = model.read(f)
    assert calls == ["jsonl"] and got.kind == "jsonl" and [e.id for e in got.examples] == ["u0", "u1", "u2"]
    np.testing.assert_array_equal(model.predict(got.examples).pred, direct.pred)
    assert main(["predict", str(run), str(f)]) == 0
    assert calls == ["jsonl", "jsonl"]
    lines = capsys.readouterr().out.strip().splitlines()
    assert [ln.split(",")[0] for ln in lines[1:]] == ["u0", "u1", "u2"]
    assert [float(ln.split(",")[1]) for ln in lines[1:]] == pytest.approx(direct.pred[:, 0].tolist(), abs=1e-6)


def test_a_bad_record_names_itself_and_the_field(eval_runs):  # noqa: F811
    model = mmib.load(eval_runs / "cm" / "seed-0")
    with pytest.raises(ValueError, match=r"record 1: 'audio' has shape \(2, 3\); expected \(T >= 1, 74\)"):
        model.inputs.from_records([{"text": "ok", "audio": [[0.0] * 74], "visual": [[0.0] * 47], "id": "a"},
                                   {"text": "ok", "audio": [[0.0] * 3] * 2, "visual": [[0.0] * 47], "id": "b"}])
    with pytest.raises(ValueError, match="record 0: expected a JSON object"):
        model.inputs.from_records([[1, 2]])
