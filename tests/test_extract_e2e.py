"""End to end on generated clips: mmib extract -> mmib train -> mmib predict RUN clip.mp4."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from media import face_frames, voiced, write_clip
from mmib.cli import main
from mmib.extract import EXTRACTORS

TINY = ["--text-encoder", "tiny-config", "--set", "model.d=10", "--set", "model.n_heads=2",
        "--set", "model.ib_hidden=16", "--set", "train.epochs=2", "--set", "train.batch_size=4",
        "--set", "train.progress=false", "--set", "optim.lr=1e-3", "--quiet"]
WORDS = {1: "a wonderful happy day", -1: "a terrible sad night"}


def visual() -> str | None:
    return "face" if "face" in EXTRACTORS else None


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """20 clips: a face video with a voiced sound whose pitch follows the label."""
    folder = tmp_path_factory.mktemp("own")
    rows = []
    splits = ["train"] * 12 + ["valid"] * 4 + ["test"] * 4
    for i, split in enumerate(splits):
        sign = 1 if i % 2 else -1
        label = sign * (0.5 + (i % 5) * 0.5)
        frames = face_frames(20, size=(120, 160), seed=i) if visual() else None
        write_clip(folder / f"c{i:02d}.mp4", audio=voiced(170 + 40 * sign, 0.8, seed=i), frames=frames)
        rows.append({"id": f"c{i:02d}", "media": f"c{i:02d}.mp4", "text": WORDS[sign], "label": label,
                     "split": split})
    with open(folder / "clips.csv", "w", newline="") as f:
        w = csv.DictWriter(f, list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return folder


@pytest.mark.slow
def test_extract_train_and_predict_a_new_clip(clips, tmp_path, capsys):
    ds = tmp_path / "own.safetensors"
    args = ["extract", str(clips / "clips.csv"), "-o", str(ds), "--workers", "2", "-q", "--max-frames", "50", "--asr", "none"]
    if visual():
        args += ["--visual", visual()]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "train 12 / valid 4 / test 4 utterances" in out and "audio 50 (librosa)" in out
    mods = "text,audio,visual" if visual() else "text,audio"
    assert main(["train", "--data-path", str(ds), "--modalities", mods,
                 "--out-dir", str(tmp_path / "runs"), "--name", "own", *TINY]) == 0
    run = tmp_path / "runs" / "own"
    data = json.loads((run / "data.json").read_text())
    assert data["extraction"]["audio"]["extractor"] == "librosa"
    capsys.readouterr()
    new = write_clip(tmp_path / "new.mp4", audio=voiced(210, 0.8, seed=99),
                     frames=face_frames(20, size=(120, 160), seed=99) if visual() else None)
    assert main(["predict", str(run), str(new), "--text", "what a wonderful day"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    header, row = lines[0].split(","), lines[1].split(",")
    assert header[:2] == ["id", "prediction"] and row[0] == "new"
    assert np.isfinite(float(row[1])) and {"kl/audio", "kl/fused"} <= set(header)
    # the same clip through a manifest gives the same prediction
    man = tmp_path / "new.csv"
    man.write_text(f"id,media,text\nnew,{new},what a wonderful day\n")
    assert main(["predict", str(run), str(man)]) == 0
    assert capsys.readouterr().out.strip().splitlines()[1].split(",")[1] == row[1]
    # a manifest's bad rows are skipped and named (line and id), like mmib extract does; the rest predicted
    man.write_text(f"id,media,text\ngone,missing.mp4,hi there\nnew,{new},what a wonderful day\nnotext,{new},\n")
    assert main(["predict", str(run), str(man)]) == 0
    cap = capsys.readouterr()
    assert [ln.split(",")[:2] for ln in cap.out.strip().splitlines()[1:]] == [["new", row[1]]]
    assert f"skipped {man}:2: gone: " in cap.err and f"skipped {man}:4: notext: no transcript (column 'text'" in cap.err
    # refusals: no transcript; a run whose features mmib did not extract
    assert main(["predict", str(run), str(new)]) == 2
    assert "extracted without a speech recogniser (--asr none)" in capsys.readouterr().err
