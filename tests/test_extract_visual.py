"""The visual extractors on real media made on the fly: the OpenCV face descriptor on a video
of the astronaut's face (and of no face), and OpenFace 2 CSVs written with the real layout."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("cv2")
pytest.importorskip("av")
pytest.importorskip("skimage")

from media import face_frames, write_clip  # noqa: E402

from mmib.extract import EXTRACTORS, Clip, ClipError  # noqa: E402
from mmib.extract import face as face_mod  # noqa: E402
from mmib.extract import openface as of  # noqa: E402

N = 64  # frames per test clip (2.56 s at 25 fps)


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("visual")
    return {"face": write_clip(d / "face.mp4", frames=face_frames(N)),
            "noface": write_clip(d / "noface.mp4", frames=face_frames(N, face=False))}


@pytest.fixture(scope="module")
def face_stream(clips):
    import cv2

    p, threads = clips["face"], cv2.getNumThreads()
    cv2.setNumThreads(1)  # a speed per core, as with one extraction worker per core
    try:
        t = time.perf_counter()
        s = EXTRACTORS.get("face").extract(Clip("f", p, video=p), {})
        print(f"face extractor: {len(s.times) / (time.perf_counter() - t):.1f} frames/s on one core (320x240)")
    finally:
        cv2.setNumThreads(threads)
    return s


def test_face_spec_declares_dim_names_and_settings():
    spec = EXTRACTORS.get("face")
    assert spec.modality == "visual" and spec.dim == len(spec.feature_names) == 41
    assert len(set(spec.feature_names)) == spec.dim
    for name in ("face_size", "roll", "eyes_found", "smile_width", "mouth_open", "brow_edge_y", "flow_mouth"):
        assert name in spec.feature_names
    rec = spec.describe("face", {"fps": 30.0})
    assert rec["settings"]["fps"] == 30.0 and rec["settings"]["min_neighbors"] == 5
    import cv2

    assert "opencv-python-headless" in rec["versions"] and cv2.__version__.startswith("4.")  # 5.x: no cascades


def test_face_found_in_face_clip_and_not_in_empty_clip(clips, face_stream):
    s = face_stream
    assert s.values.shape == (N, 41) and s.values.dtype == np.float32
    rate = face_mod.face_rate(s)
    print(f"face found in {rate:.1%} of {N} frames")
    assert rate > 0.9
    np.testing.assert_allclose(np.diff(s.times), 1 / 25, atol=1e-6)
    assert s.times[0] == pytest.approx(0.5 / 25)
    ix = {n: i for i, n in enumerate(face_mod.FEATURES)}
    found = s.values[s.mask]
    # the face is near the frame's centre and a quarter of its width; both eyes and the smile found
    assert np.all(np.abs(found[:, ix["face_x"]] - 0.5) < 0.15) and np.all(found[:, ix["face_size"]] > 0.15)
    assert found[:, ix["eyes_found"]].mean() > 0.8 and found[:, ix["smile_found"]].mean() > 0.8
    assert np.all(np.abs(found[:, ix["roll"]]) < 0.3)  # the photograph is upright

    p = clips["noface"]
    empty = EXTRACTORS.get("face").extract(Clip("n", p, video=p), {})
    print(f"no-face clip: face found in {face_mod.face_rate(empty):.1%} of frames")
    assert len(empty.times) == N and not empty.mask.any() and face_mod.face_rate(empty) == 0.0
    assert not empty.values.any()  # masked frames are zero, never a made-up face
    # the pipeline reports such a clip: test_extract.py::test_visual_stream_masks_no_face_frames_...


def test_frames_without_a_face_are_masked_and_zero(tmp_path):
    frames = list(face_frames(20)) + list(face_frames(20, face=False)) + list(face_frames(20))
    p = write_clip(tmp_path / "gap.mp4", frames=frames)
    s = EXTRACTORS.get("face").extract(Clip("g", p, video=p), {})
    assert len(s.times) == 60
    assert s.mask[:20].mean() > 0.9 and s.mask[40:].mean() > 0.9 and not s.mask[20:40].any()
    assert not s.values[~s.mask].any() and np.abs(s.values[s.mask]).sum(axis=1).min() > 0


def test_descriptor_is_scale_normalised(face_stream):
    # face_frames zooms the face between 0.7x (frame ~48) and 1.0x (frame ~16): everything but
    # the box's position and size is measured relative to the face, so it should barely move
    s, names = face_stream, face_mod.FEATURES
    big, small = s.values[12:21].mean(0), s.values[44:53].mean(0)
    ix = {n: i for i, n in enumerate(names)}
    zoom = big[ix["face_size"]] / small[ix["face_size"]]
    assert 1.15 < zoom < 1.6  # the box follows the zoom
    keep = [i for i, n in enumerate(names) if n not in ("face_x", "face_y", "face_size")]
    change = np.linalg.norm(big[keep] - small[keep])
    spread = np.linalg.norm(big[keep] - big[keep].mean())
    print(f"zoom x{zoom:.2f}: descriptor change / between-feature spread = {change / spread:.3f}")
    assert change / spread < 0.25
    for n in ("eye_size", "smile_width", "pitch_eyes", "brow_edge_y"):  # relative sizes and heights
        assert abs(big[ix[n]] - small[ix[n]]) < 0.15 * abs(big[ix[n]]), n


def test_descriptor_does_not_depend_on_the_video_resolution(tmp_path, face_stream):
    import cv2

    frames = [cv2.resize(f, (640, 480), interpolation=cv2.INTER_CUBIC) for f in list(face_frames(N))[:32]]
    p = write_clip(tmp_path / "hd.mp4", frames=frames)
    hd = EXTRACTORS.get("face").extract(Clip("hd", p, video=p), {})
    lo = face_stream.values[:32]
    assert hd.mask.all() and face_stream.mask[:32].all()
    change = np.linalg.norm(hd.values.mean(0) - lo.mean(0))
    spread = np.linalg.norm(lo.mean(0) - lo.mean())
    print(f"640x480 vs 320x240: descriptor change / between-feature spread = {change / spread:.3f}")
    assert change / spread < 0.1
    ix = face_mod.FEATURES.index("face_size")
    np.testing.assert_allclose(hd.values[:, ix], lo[:, ix], rtol=0.1)


def test_face_deterministic_and_start_end(clips, face_stream):
    p = clips["face"]
    again = EXTRACTORS.get("face").extract(Clip("f", p, video=p), {})  # default threads, fixture 1
    assert again.values.tobytes() == face_stream.values.tobytes()
    assert again.mask.tobytes() == face_stream.mask.tobytes()
    part = EXTRACTORS.get("face").extract(Clip("f", p, video=p, start=0.4, end=1.4), {"fps": 10})
    assert len(part.times) == 10 and part.times[0] == pytest.approx(0.05)
    # the same instants as the full run (frame 0.4 s is frame 10 at 25 fps) give the same box size
    ix = face_mod.FEATURES.index("face_size")
    assert part.values[0, ix] == pytest.approx(face_stream.values[10, ix], rel=0.2)


def test_face_needs_a_video(tmp_path):
    with pytest.raises(ClipError, match="needs a video"):
        EXTRACTORS.get("face").extract(Clip("a", tmp_path / "a.wav"), {})
    with pytest.raises(ClipError, match="file not found"):
        EXTRACTORS.get("face").extract(Clip("a", tmp_path / "x.mp4", video=tmp_path / "x.mp4"), {})
    wav = write_clip(tmp_path / "a.wav", audio=np.zeros(1600, np.float32))
    with pytest.raises(ClipError, match="no video track"):
        EXTRACTORS.get("face").extract(Clip("a", wav, video=wav), {})


# --- OpenFace 2 CSVs ----------------------------------------------------------------------------

def _header() -> list[str]:
    """OpenFace 2.2 FeatureExtraction's column order (landmarks shortened to a few)."""
    gaze = [f"gaze_{e}_{a}" for e in (0, 1) for a in "xyz"] + ["gaze_angle_x", "gaze_angle_y"]
    lmk = [f"{a}_{i}" for a in "xy" for i in range(3)]
    return (["frame", "face_id", "timestamp", "confidence", "success"] + gaze + list(of.POSE) + lmk
            + [f"{a}_r" for a in of.AU_INTENSITY] + [f"{a}_c" for a in of.AU_PRESENCE])


def _write_openface(path: Path, n: int = 30, fps: float = 30.0, bad: dict | None = None,
                    drop: tuple[str, ...] = ()) -> tuple[Path, np.ndarray]:
    header = [h for h in _header() if h not in drop]
    rng = np.random.default_rng(0)
    table = rng.random((n, len(header))) * 3
    col = {h: i for i, h in enumerate(header)}
    table[:, col["frame"]] = np.arange(1, n + 1)
    table[:, col["face_id"]] = 0
    table[:, col["timestamp"]] = np.arange(n) / fps
    table[:, col["success"]] = 1
    table[:, col["confidence"]] = 0.98
    table[5, col["success"]] = 0       # lost the face
    table[6, col["confidence"]] = 0.2  # unsure
    lines = [", ".join(header)]
    for r, row in enumerate(table):
        cells = [f"{v:.3f}" for v in row]
        if bad and r in bad:
            cells[col[bad[r][0]]] = bad[r][1]
        lines.append(", ".join(cells))
    path.write_text("\n".join(lines) + "\n")
    return path, table[:, [col[c] for c in of.COLUMNS]] if not drop else table


def test_openface_csv_dims_times_and_mask(tmp_path):
    spec = EXTRACTORS.get("openface")
    assert spec.modality == "visual" and spec.dim == 43 == len(spec.feature_names)
    assert spec.feature_names[:2] == ("AU01_r", "AU02_r") and spec.feature_names[-2:] == of.GAZE
    assert sum(n.endswith("_r") for n in spec.feature_names) == 17
    assert sum(n.endswith("_c") for n in spec.feature_names) == 18
    path, expect = _write_openface(tmp_path / "clip.csv")
    s = spec.extract(Clip("c", tmp_path / "clip.mp4", openface=path), {})
    assert s.values.shape == (30, 43)
    np.testing.assert_allclose(s.times, np.round(np.arange(30) / 30, 3), atol=1e-9)
    assert s.mask.sum() == 28 and not s.mask[5] and not s.mask[6]
    assert not s.values[5].any() and not s.values[6].any()
    ok = s.mask
    np.testing.assert_allclose(s.values[ok], np.round(expect[ok], 3), atol=1e-5)
    # a stricter confidence threshold is a setting; start/end cut and shift the times
    assert spec.extract(Clip("c", path, openface=path), {"min_confidence": 0.99}).mask.sum() == 0
    part = spec.extract(Clip("c", path, openface=path, start=0.2, end=0.5), {})
    assert len(part.times) == 9 and part.times[0] == pytest.approx(0.0, abs=1e-9)  # frames 6..14
    assert not part.mask[0] and part.mask[1:].all()
    np.testing.assert_array_equal(part.values, s.values[6:15])


def test_openface_bad_csvs_are_clear(tmp_path):
    spec = EXTRACTORS.get("openface")
    with pytest.raises(ClipError, match="needs an OpenFace CSV"):
        spec.extract(Clip("c", tmp_path / "clip.mp4"), {})
    with pytest.raises(ClipError, match=r"missing\.csv: OpenFace CSV not found"):
        spec.extract(Clip("c", tmp_path / "clip.mp4", openface=tmp_path / "missing.csv"), {})
    path, _ = _write_openface(tmp_path / "cols.csv", drop=("AU12_r", "pose_Rz"))
    with pytest.raises(ClipError, match=r"cols\.csv: not an OpenFace 2 CSV: missing columns AU12_r, pose_Rz"):
        spec.extract(Clip("c", path, openface=path), {})
    path, _ = _write_openface(tmp_path / "nan.csv", bad={3: ("AU04_r", "abc")})
    with pytest.raises(ClipError, match=r"nan\.csv: row 5, column 'AU04_r': expected a number, got 'abc'"):
        spec.extract(Clip("c", path, openface=path), {})
    path, _ = _write_openface(tmp_path / "late.csv")
    with pytest.raises(ClipError, match="no OpenFace frames between 5.0s and 6.0s"):
        spec.extract(Clip("c", path, openface=path, start=5.0, end=6.0), {})


def test_openface_multi_face_keeps_one_face_id(tmp_path):
    path, expect = _write_openface(tmp_path / "one.csv", n=10)
    lines = path.read_text().splitlines()
    other = [", ".join(["9" if i == 1 else c for i, c in enumerate(line.split(", "))]) for line in lines[1:]]
    both = tmp_path / "multi.csv"
    both.write_text("\n".join([lines[0]] + [x for pair in zip(lines[1:], other) for x in pair]) + "\n")
    spec = EXTRACTORS.get("openface")
    s = spec.extract(Clip("c", both, openface=both), {})
    assert len(s.times) == 10 and np.all(np.diff(s.times) > 0)
    np.testing.assert_allclose(s.values[s.mask], np.round(expect[:10][s.mask], 3), atol=1e-5)
    assert len(spec.extract(Clip("c", both, openface=both), {"face_id": 9}).times) == 10


def test_tracking_keeps_the_first_face_when_a_larger_one_appears(tmp_path):
    from skimage import data, transform

    crop = data.astronaut()[20:230, 150:330]
    small = (transform.resize(crop, (168, 144), anti_aliasing=True) * 255).astype(np.uint8)
    frames = []
    for i in range(30):
        img = np.full((240, 480, 3), 110, np.uint8)
        img[36:204, 40:184] = small
        if i >= 10:  # a larger face enters on the right
            img[15:225, 290:470] = crop
        frames.append(img)
    p = write_clip(tmp_path / "two.mp4", frames=frames)
    s = EXTRACTORS.get("face").extract(Clip("t", p, video=p), {})
    x = s.values[:, face_mod.FEATURES.index("face_x")]
    assert s.mask.mean() > 0.9 and np.all(x[s.mask] < 0.5)  # still the left face

    alone = EXTRACTORS.get("face").extract(Clip("t", p, video=p, start=0.8), {})  # no history:
    assert np.mean(alone.values[alone.mask, face_mod.FEATURES.index("face_x")] > 0.5) > 0.9  # the largest


def test_openface_unreadable_files_are_clear(tmp_path):
    spec = EXTRACTORS.get("openface")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ClipError, match=r"empty\.csv: empty file"):
        spec.extract(Clip("c", empty, openface=empty), {})
    binary = tmp_path / "video.csv"
    binary.write_bytes(b"\x00\x00\x00\x18ftypmp42\xff\xfe\xfa")
    with pytest.raises(ClipError, match=r"video\.csv: not a text CSV"):
        spec.extract(Clip("c", binary, openface=binary), {})
    short, _ = _write_openface(tmp_path / "short.csv", n=8)
    short.write_text(short.read_text() + "1, 0, 0.2\n")
    with pytest.raises(ClipError, match=r"short\.csv: row 10: 3 values for \d+ columns"):
        spec.extract(Clip("c", short, openface=short), {})
