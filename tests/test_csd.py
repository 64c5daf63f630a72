"""The CMU-MultimodalSDK .csd reader on small HDF5 files written with the SDK's layout."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from mmib.cli import main
from mmib.data.readers import converted
from mmib.extract.csd import load_folds, read_csd

FOLDS = load_folds("mosi")
VIDS = {"train": FOLDS["train"][:2], "valid": FOLDS["valid"][:1], "test": FOLDS["test"][:1]}


def write_csd(path, name, videos, dtype=None):
    with h5py.File(path, "w") as f:
        g = f.create_group(name)
        for vid, (feats, iv) in videos.items():
            v = g.create_group(f"data/{vid}")
            v.create_dataset("features", data=np.asarray(feats, dtype=dtype) if dtype else feats)
            v.create_dataset("intervals", data=np.asarray(iv, np.float64))
        m = g.create_group("metadata")
        m.attrs["root name"] = name
        m.create_dataset("computational sequence description", data=f"{name} for tests".encode())
    return path


@pytest.fixture
def files(tmp_path):
    vids = [v for s in VIDS.values() for v in s] + ["not_in_any_fold"]
    words, audio, labels = {}, {}, {}
    for i, vid in enumerate(vids):
        # two segments: [0, 2) with words "good sp movie", [2, 4) with "bad"
        words[vid] = (np.array([[b"good"], [b"sp"], [b"movie"], [b"bad"]]),
                      [[0.0, 0.5], [0.5, 0.7], [0.7, 1.5], [2.1, 2.9]])
        t = np.arange(0, 4, 0.1)  # 10 frames/s, feature = (time, video index)
        feats = np.stack([t + 0.05, np.full_like(t, i)], 1)
        feats[3, 0] = np.nan
        audio[vid] = (feats, np.stack([t, t + 0.1], 1))
        labels[vid] = (np.array([[1.5], [-2.0]]), [[0.0, 2.0], [2.0, 4.0]])
    return {"words": write_csd(tmp_path / "words.csd", "words", words),
            "audio": write_csd(tmp_path / "covarep.csd", "COVAREP", audio),
            "labels": write_csd(tmp_path / "labels.csd", "Opinion Segment Labels", labels)}


def test_aligned_averages_frames_within_each_word_and_uses_the_standard_folds(files):
    c = read_csd(labels=files["labels"], words=files["words"], audio=files["audio"])
    assert c.sizes == {"train": 4, "valid": 2, "test": 2} and c.word_aligned
    tr = c.splits["train"]
    assert tr.ids[:2] == [f"{VIDS['train'][0]}[0]", f"{VIDS['train'][0]}[1]"]
    assert tr.words[0] == ["good", "movie"] and tr.raw_text[1] == "bad"  # 'sp' is a pause
    a = tr.fields["audio"][0]
    # "good" [0, 0.5): frames centred 0.05..0.45, frame 3 is NaN -> repaired to 0
    np.testing.assert_allclose(a[0, 0], np.mean([0.05, 0.15, 0.25, 0.0, 0.45]), rtol=1e-6)
    np.testing.assert_allclose(a[1, 0], np.mean(np.arange(7, 15) / 10 + 0.05), rtol=1e-6)  # "movie" [0.7, 1.5)
    assert tr.fields["audio"].lengths.tolist() == [2, 1, 2, 1]
    np.testing.assert_allclose(tr.sentiment, [1.5, -2.0, 1.5, -2.0])
    assert c.repairs["audio"]["train"]["nan"] == 2 and c.dataset["name"] == "mosi"


def test_unaligned_keeps_each_streams_frames_within_the_segment(files):
    c = read_csd(labels=files["labels"], audio=files["audio"], aligned=False)
    a = c.splits["valid"].fields["audio"]
    assert a.lengths.tolist() == [20, 20] and c.splits["valid"].words is None
    np.testing.assert_allclose(a[1][:, 0], np.arange(20, 40) / 10 + 0.05, rtol=1e-6)


def test_cli_writes_a_dataset_file(files, tmp_path, capsys):
    out = tmp_path / "mosi.safetensors"
    assert main(["data", "csd", "--labels", str(files["labels"]), "--words", str(files["words"]), "--audio",
                 str(files["audio"]), "-o", str(out)]) == 0
    assert "train 4 / valid 2 / test 2 segments; audio 2" in capsys.readouterr().out
    c = converted.read(out)
    assert c.reader == "csd" and c.dataset["name"] == "mosi" and c.splits["test"].words[0] == ["good", "movie"]


def test_layout_errors_name_the_file_group_and_video(files, tmp_path):
    with h5py.File(tmp_path / "bad.csd", "w") as f:
        f.create_group("X/data/v1").create_dataset("features", data=np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"bad.csd: 'X/data/v1/intervals' is missing"):
        read_csd(labels=tmp_path / "bad.csd", aligned=False)
    vid = VIDS["test"][0]
    write_csd(tmp_path / "short.csd", "COVAREP", {VIDS["train"][0]: (np.zeros((2, 2)), [[0, 1], [1, 2]])})
    with pytest.raises(ValueError, match=r"short.csd: video '.*' \(in .*labels.csd\) is missing from this file"):
        read_csd(labels=files["labels"], audio=tmp_path / "short.csd", aligned=False)
    (tmp_path / "text.csd").write_text("not hdf5")
    with pytest.raises(ValueError, match="text.csd: not an HDF5 file"):
        read_csd(labels=tmp_path / "text.csd")
    with pytest.raises(ValueError, match="aligned dataset needs the words"):
        read_csd(labels=files["labels"], audio=files["audio"])
    assert vid


def test_a_csd_dataset_trains_as_the_dataset_its_folds_name(files, tmp_path):
    from mmib.config import DataConfig
    from mmib.data import build_dataset

    out = tmp_path / "mosi.safetensors"
    converted.write(read_csd(labels=files["labels"], words=files["words"], audio=files["audio"]), out)
    d = build_dataset(DataConfig(path=str(out), modalities=["audio"]))
    assert d.dataset == "mosi" and d.metrics == "sentiment" and d.sizes == {"train": 4, "valid": 2, "test": 2}
