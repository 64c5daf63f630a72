"""mmib extract: a manifest of real generated clips -> a dataset file (audio extractors,
manifest checks, alignment, pooling, resume, determinism, bad rows)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from media import face_frames, voiced, write_clip
from mmib.cli import main
from mmib.data.readers import converted
from mmib.extract import EXTRACTORS, Clip, Stream
from mmib.extract.align import align_to_words, pool
from mmib.extract.audio import EGEMAPS_NAMES, LIBROSA_NAMES
from mmib.extract.manifest import read_manifest
from mmib.extract.pipeline import Plan, extract_manifest

F0S = {"train": [110, 140, 170, 200], "valid": [125, 230], "test": [155, 260]}


def write_manifest(folder: Path, rows: list[dict], name: str = "clips.csv") -> Path:
    keys = list(dict.fromkeys(k for r in rows for k in r))
    path = folder / name
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, keys)
        w.writeheader()
        w.writerows(rows)
    return path


def audio_clips(folder: Path, seconds: float = 1.0) -> list[dict]:
    rows = []
    for split, f0s in F0S.items():
        for f0 in f0s:
            uid = f"{split}_{f0}"
            write_clip(folder / f"{uid}.wav", audio=voiced(f0, seconds, seed=f0))
            rows.append({"id": uid, "media": f"{uid}.wav", "text": "a voiced sound", "split": split,
                         "label": f"{(f0 - 185) / 40:.2f}", "f0": f0})
    return rows


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> tuple[Path, list[dict]]:
    folder = tmp_path_factory.mktemp("clips")
    return folder, audio_clips(folder)


@pytest.mark.parametrize("name,dim", [("librosa", 50), ("opensmile", 25)])
def test_audio_extractors_have_the_documented_dims_and_recover_f0_within_5_percent(tmp_path, name, dim):
    spec = EXTRACTORS.get(name)
    assert spec.dim == dim == len(spec.feature_names) and spec.frame_rate == 100.0
    for f0 in (110.0, 180.0, 260.0):
        path = write_clip(tmp_path / f"{f0}.mp4", audio=voiced(f0, 1.5))  # AAC in an mp4
        s = spec.extract(Clip("x", path), spec.settings)
        assert s.values.shape[1] == dim and s.values.dtype == np.float32
        assert 140 <= len(s.times) <= 160 and np.all(np.diff(s.times) > 0)  # 100 frames/s over 1.5 s
        if name == "librosa":
            est = s.values[s.values[:, LIBROSA_NAMES.index("voiced")] > 0, 0]
        else:
            semi = s.values[:, EGEMAPS_NAMES.index("F0semitoneFrom27.5Hz_sma3nz")]
            est = 27.5 * 2 ** (semi[semi > 0] / 12)
        assert len(est) > 0.8 * len(s.times)
        assert abs(np.median(est) / f0 - 1) < 0.05, (name, f0, np.median(est))


def test_start_and_end_cut_the_clip(tmp_path):
    path = write_clip(tmp_path / "a.wav", audio=voiced(150, 2.0))
    spec = EXTRACTORS.get("librosa")
    s = spec.extract(Clip("x", path, start=0.5, end=1.25), spec.settings)
    assert 74 <= len(s.times) <= 77


def test_align_to_words_averages_valid_frames_within_each_interval():
    times = np.arange(10) * 0.1 + 0.05
    values = np.arange(20, dtype=np.float32).reshape(10, 2)
    mask = np.ones(10, bool)
    mask[3] = False
    s = align_to_words(Stream(values, times, mask), [("a", 0.0, 0.5), ("b", 0.5, 0.52), ("c", 2.0, 3.0)])
    np.testing.assert_allclose(s.values[0], values[[0, 1, 2, 4]].mean(0))  # frame 3 masked
    np.testing.assert_allclose(s.values[1], values[5])  # shorter than a frame: the nearest one
    assert s.mask.tolist() == [True, True, False] and not s.values[2].any()


def test_pool_bounds_length_by_averaging_valid_frames():
    values = np.arange(12, dtype=np.float32).reshape(12, 1)
    mask = np.array([1, 1, 1, 1, 0, 0, 0, 0, 1, 0, 1, 0], bool)
    s = pool(Stream(values, np.arange(12) / 10, mask), 3)
    assert s.values[:, 0].tolist() == [1.5, 0.0, 9.0] and s.mask.tolist() == [True, False, True]
    same = Stream(values[:3], np.arange(3) / 10)
    assert pool(same, 3) is same


def test_extract_writes_a_dataset_that_describes_itself(clips, tmp_path):
    folder, rows = clips
    out = tmp_path / "ds.safetensors"
    code = main(["extract", str(write_manifest(folder, rows)), "-o", str(out), "--workers", "1", "-q",
                 "--name", "tones", "--asr", "none"])
    assert code == 0
    c = converted.read(out)
    assert c.sizes == {"train": 4, "valid": 2, "test": 2} and c.reader == "extract"
    assert c.dims["audio"] == 50 and "visual" not in c.dims
    assert c.dataset == {"name": "tones", "labels": "sentiment", "sentiment_range": 3.0, "emotion_names": []}
    rec = c.extraction["audio"]
    assert rec["extractor"] == "librosa" and rec["dim"] == 50 and rec["frame_rate"] == 100.0
    assert rec["feature_names"] == list(LIBROSA_NAMES) and rec["settings"]["sample_rate"] == 16000
    assert "librosa" in rec["versions"] and c.extraction["aligned"] is False
    train = c.splits["train"]
    assert train.ids == [r["id"] for r in rows if r["split"] == "train"]
    np.testing.assert_allclose(train.sentiment, [float(r["label"]) for r in rows if r["split"] == "train"])
    assert train.raw_text[0] == "a voiced sound" and train.words[0] == ["a", "voiced", "sound"]
    for i, r in enumerate(x for x in rows if x["split"] == "train"):
        a = train.fields["audio"][i]
        f0 = np.median(a[a[:, 1] > 0, 0])
        assert abs(f0 / r["f0"] - 1) < 0.05
    assert Plan.from_record(c.extraction).record()["audio"]["settings"] == rec["settings"]


def test_extraction_is_deterministic_and_a_rerun_reuses_every_clip(clips, tmp_path):
    folder, rows = clips
    man = write_manifest(folder, rows, "det.csv")
    a = extract_manifest(man, tmp_path / "a.safetensors", workers=1, progress=False, asr=None)
    b = extract_manifest(man, tmp_path / "b.safetensors", workers=2, progress=False, asr=None)
    assert a.extracted == b.extracted == 8
    for s in ("train", "valid", "test"):
        x, y = a.corpus.splits[s].fields["audio"], b.corpus.splits[s].fields["audio"]
        assert x.values.tobytes() == y.values.tobytes() and x.lengths.tolist() == y.lengths.tolist()
    again = extract_manifest(man, tmp_path / "a.safetensors", workers=1, progress=False, asr=None)
    assert (again.extracted, again.reused) == (0, 8)
    parts = sorted((tmp_path / "a.safetensors.parts").glob("*.safetensors"))
    for p in parts[:3]:
        p.unlink()
    resumed = extract_manifest(man, tmp_path / "a.safetensors", workers=1, progress=False, asr=None)
    assert (resumed.extracted, resumed.reused) == (3, 5)
    x, y = a.corpus.splits["train"].fields["audio"], resumed.corpus.splits["train"].fields["audio"]
    assert x.values.tobytes() == y.values.tobytes()


def test_bad_rows_and_clips_are_reported_with_row_and_reason_and_strict_stops(clips, tmp_path, capsys):
    folder, rows = clips
    write_clip(folder / "silent.mp4", frames=face_frames(10, size=(64, 64), face=False))
    (folder / "garbage.mp4").write_bytes(np.random.default_rng(0).bytes(4000))
    whole = write_clip(folder / "whole.mp4", audio=voiced(150, 1.0), frames=face_frames(25, size=(64, 64)))
    (folder / "cut.mp4").write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])  # a download cut short
    bad = [
        {"id": "missing", "media": "nope.wav", "text": "x", "split": "train", "label": "0"},
        {"id": "noaudio", "media": "silent.mp4", "text": "x", "split": "train", "label": "0"},
        {"id": "garbage", "media": "garbage.mp4", "text": "x", "split": "valid", "label": "0"},
        {"id": "cut", "media": "cut.mp4", "text": "x", "split": "valid", "label": "0"},
        {"id": "split", "media": "train_110.wav", "text": "x", "split": "dev", "label": "0"},
        {"id": "range", "media": "train_110.wav", "text": "x", "split": "test", "label": "4.5"},
        {"id": "notext", "media": "train_110.wav", "text": "", "split": "test", "label": "1"},
    ]
    man = write_manifest(folder, rows + bad, "bad.csv")
    out = tmp_path / "ds.safetensors"
    assert main(["extract", str(man), "-o", str(out), "--workers", "1", "-q", "--asr", "none"]) == 0
    err = capsys.readouterr().err
    expect = {"missing": "file not found", "noaudio": "no audio track", "garbage": "not a readable",
              "cut": "not a readable", "split": "split 'dev': expected one of train, valid, test", "range": "outside [-3, 3]",
              "notext": "no transcript (column 'text' is empty) and --asr none"}
    for k, (uid, why) in enumerate(expect.items()):
        line = next(x for x in err.splitlines() if f": {uid}: " in x)
        assert f"bad.csv:{len(rows) + 2 + k}: {uid}: " in line and why in line, line
    report = [json.loads(x) for x in (tmp_path / "ds.safetensors.report.jsonl").read_text().splitlines()]
    assert [r["id"] for r in report] == list(expect)
    assert converted.read(out).sizes == {"train": 4, "valid": 2, "test": 2}
    assert main(["extract", str(man), "-o", str(tmp_path / "s.safetensors"), "--strict", "-q", "--asr", "none"]) == 1
    assert f"bad.csv:{len(rows) + 6}: split: split 'dev'" in capsys.readouterr().err
    assert not (tmp_path / "s.safetensors").exists()


def test_manifest_errors_name_the_file_and_column(tmp_path):
    (tmp_path / "m.csv").write_text("id,media,text,split\na,a.wav,hi,train\n")
    with pytest.raises(ValueError, match=r"m.csv: column 'label' is missing"):
        read_manifest(tmp_path / "m.csv")
    (tmp_path / "m.jsonl").write_text(json.dumps({"id": "a", "media": "a.wav", "text": "hi", "split": "train",
                                                  "label": "happy;sad", "words": "hi:0:0.3 there:0.3:x"}) + "\n")
    man = read_manifest(tmp_path / "m.jsonl")
    assert man.labels == "emotions" and man.bad[0].row == 1 and "'there:0.3:x' is not word:start:end" in man.bad[0].reason


def test_emotion_labels_and_word_alignment(tmp_path):
    rows = []
    for i, (split, emo) in enumerate([("train", "happy"), ("train", "sad;angry"), ("valid", "happy"),
                                      ("test", "angry")]):
        write_clip(tmp_path / f"{i}.wav", audio=voiced(120 + 20 * i, 1.0))
        rows.append({"id": str(i), "media": f"{i}.wav", "text": "one two three", "split": split, "label": emo,
                     "words": "one:0.0:0.3 two:0.3:0.6 three:0.6:0.95"})
    res = extract_manifest(write_manifest(tmp_path, rows), tmp_path / "e.safetensors", workers=1,
                           progress=False, max_frames=20)
    c = res.corpus
    assert c.emotion_names == ["angry", "happy", "sad"] and c.word_aligned
    assert c.splits["train"].emotions.tolist() == [[0, 1, 0], [1, 0, 1]]
    assert c.splits["train"].fields["audio"].lengths.tolist() == [3, 3]  # one row per word
    assert c.splits["train"].words[0] == ["one", "two", "three"]
    assert c.extraction["aligned"] is True and c.dataset["labels"] == "emotions"


@pytest.mark.slow
def test_a_killed_extraction_resumes_where_it_stopped(clips, tmp_path):
    folder, rows = clips
    more = []
    for k in range(12):
        write_clip(folder / f"long{k}.wav", audio=voiced(100 + 10 * k, 3.0))
        more.append({"id": f"long{k}", "media": f"long{k}.wav", "text": "long", "split": "train", "label": "0"})
    man = write_manifest(folder, rows + more, "kill.csv")
    out = tmp_path / "k.safetensors"
    cmd = [sys.executable, "-m", "mmib", "extract", str(man), "-o", str(out), "--workers", "1", "-q", "--asr", "none"]
    proc = subprocess.Popen(cmd)
    parts = tmp_path / "k.safetensors.parts"
    deadline = time.time() + 120
    while time.time() < deadline and len(list(parts.glob("*.safetensors"))) < 3:
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    done = len(list(parts.glob("*.safetensors")))
    assert 3 <= done < 20 and not out.exists()
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert f"clips extracted {20 - done}, reused from k.safetensors.parts {done}" in res.stdout
    assert converted.read(out).sizes == {"train": 16, "valid": 2, "test": 2}


def test_visual_stream_masks_no_face_frames_and_a_faceless_clip_is_reported(tmp_path, capsys):
    pytest.importorskip("cv2")
    half = list(face_frames(25, face=False, seed=1)) + list(face_frames(25))
    rows = []
    for i, split in enumerate(["train", "train", "valid", "test"]):
        write_clip(tmp_path / f"v{i}.mp4", audio=voiced(150, 2.0), frames=half)
        rows.append({"id": f"v{i}", "media": f"v{i}.mp4", "text": "hi there", "split": split, "label": "1"})
    write_clip(tmp_path / "empty.mp4", audio=voiced(150, 1.0), frames=face_frames(25, face=False))
    rows.append({"id": "empty", "media": "empty.mp4", "text": "hi", "split": "train", "label": "0"})
    out = tmp_path / "v.safetensors"
    assert main(["extract", str(write_manifest(tmp_path, rows)), "-o", str(out), "--visual", "face",
                 "--workers", "1", "-q", "--asr", "none"]) == 0
    assert f"clips.csv:{len(rows) + 1}: empty: no face in any frame" in capsys.readouterr().err
    c = converted.read(out)
    tr = c.splits["train"]
    assert tr.ids == ["v0", "v1"] and c.dims["visual"] == EXTRACTORS.get("face").dim
    mask, vis = tr.fields["visual_mask"][0], tr.fields["visual"][0]
    assert len(mask) == len(vis) == 50
    assert not mask[:25].any() and mask[25:].mean() > 0.9  # masked where there is no face
    assert not vis[:25].any() and c.extraction["visual"]["extractor"] == "face"
