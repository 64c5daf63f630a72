"""The ``landmarks`` extractor on a real face photograph (scikit-image's astronaut): in-plane
rotation, mirror, scale and an opened mouth move the features as their definitions say, and a
video's frames without a face are masked, never zero-filled as if a face were there."""

from __future__ import annotations

import importlib.util
import time

import numpy as np
import pytest

pytest.importorskip("dlib")
if importlib.util.find_spec("face_recognition_models") is None:  # its __init__ needs pkg_resources: not imported
    pytest.skip("face-recognition-models is not installed", allow_module_level=True)
pytest.importorskip("skimage")
cv2 = pytest.importorskip("cv2")

from media import face_frames, write_clip  # noqa: E402

from mmib.extract import EXTRACTORS, Clip  # noqa: E402
from mmib.extract import landmarks as lm  # noqa: E402

IX = {n: i for i, n in enumerate(lm.FEATURES)}
POINTS = slice(0, 136)
# features that do not depend on the face's size in the picture (all but the pose's translation,
# face_scale and motion)
SCALE_FREE = [i for n, i in IX.items() if not n.startswith("pose_t") and n not in ("face_scale", "motion")]


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """The astronaut's head and shoulders, 300 x 300 grey: a face about 90 pixels wide."""
    from skimage import data

    return np.ascontiguousarray(cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2GRAY)[0:300, 90:390])


@pytest.fixture(scope="module")
def base(photo):
    out = lm.analyse(photo)
    assert out is not None, "no face found in the astronaut photograph"
    return out


def test_spec_declares_dim_rate_names_and_the_models_licence():
    spec = EXTRACTORS.get("landmarks")
    assert spec.modality == "visual" and spec.dim == len(spec.feature_names) == len(set(spec.feature_names))
    assert spec.frame_rate == 25.0 and spec.feature_names[:2] == ("lm_x_00", "lm_x_01")
    for name in ("pose_pitch", "pose_yaw", "pose_roll", "pose_tz", "ear_left", "AU12_lip_corner_pull",
                 "AU25_lips_part", "AU26_jaw_drop", "AU45_blink"):
        assert name in spec.feature_names
    assert "research-only" in spec.description
    rec = spec.describe("landmarks")
    assert rec["versions"]["dlib-bin"] != "not installed" and rec["settings"]["min_face"] == 0.25


def test_the_photograph_is_normalised_to_the_face(base):
    row, pts = base
    assert pts.shape == (68, 2)
    x, y = row[:68], row[68:136]
    # centred on the eyes' midpoint, eye line horizontal, inter-ocular distance 1
    left, right = np.array([x[36:42].mean(), y[36:42].mean()]), np.array([x[42:48].mean(), y[42:48].mean()])
    np.testing.assert_allclose(left, [-0.5, 0.0], atol=1e-9)
    np.testing.assert_allclose(right, [0.5, 0.0], atol=1e-9)
    assert y[8] > y[57] > y[33] > 0 > y[19]  # chin below the lip below the nose; brows above the eyes
    assert abs(row[IX["pose_yaw"]]) < 15 and abs(row[IX["pose_roll"]]) < 10 and 200 < row[IX["pose_tz"]] < 1000
    assert 0.2 < row[IX["ear_left"]] < 0.45 and 0.2 < row[IX["ear_right"]] < 0.45  # open eyes


@pytest.mark.parametrize("angle", [15, -15])
def test_in_plane_rotation_changes_roll_and_keeps_the_normalised_landmarks(photo, base, angle):
    from skimage import transform

    row0, pts = base
    centre = tuple(pts[27:48].mean(0))
    turned = transform.rotate(photo, angle, center=centre, mode="edge", preserve_range=True).astype(np.uint8)
    out = lm.analyse(turned)
    assert out is not None
    row = out[0]
    # skimage turns the picture counter-clockwise for a positive angle: roll (clockwise positive,
    # the picture's y axis pointing down) moves by -angle
    d_roll = row[IX["pose_roll"]] - row0[IX["pose_roll"]]
    print(f"rotation {angle:+d} deg: roll {row0[IX['pose_roll']]:.1f} -> {row[IX['pose_roll']]:.1f}")
    assert d_roll == pytest.approx(-angle, abs=3)
    moved = np.abs(row[POINTS] - row0[POINTS])
    print(f"normalised landmarks moved by {moved.mean():.3f} on average, {moved.max():.3f} at most (IOD units)")
    assert moved.mean() < 0.03 and moved.max() < 0.1


def test_a_mirror_flips_the_sign_of_yaw_and_roll(photo, base):
    row0 = base[0]
    row = lm.analyse(np.ascontiguousarray(photo[:, ::-1]))[0]
    yaw0, yaw = row0[IX["pose_yaw"]], row[IX["pose_yaw"]]
    print(f"yaw {yaw0:.2f} -> mirrored {yaw:.2f}; roll {row0[IX['pose_roll']]:.2f} -> {row[IX['pose_roll']]:.2f}")
    assert abs(yaw0) > 1 and np.sign(yaw) == -np.sign(yaw0) and abs(yaw + yaw0) < 2
    assert np.sign(row[IX["pose_roll"]]) == -np.sign(row0[IX["pose_roll"]])
    assert row[IX["pose_pitch"]] == pytest.approx(row0[IX["pose_pitch"]], abs=3)


def test_scaling_the_face_leaves_the_scale_free_features(photo, base):
    row0 = base[0]
    big = cv2.resize(photo, None, fx=1.5, fy=1.5, interpolation=cv2.INTER_CUBIC)
    row = lm.analyse(big)[0]
    assert row[IX["face_scale"]] == pytest.approx(row0[IX["face_scale"]], rel=0.08)  # relative to the frame
    assert row[IX["pose_tz"]] == pytest.approx(row0[IX["pose_tz"]], rel=0.1)  # the camera's focal grows too
    pts = np.abs(row[POINTS] - row0[POINTS])
    aus = {n: row[IX[n]] - row0[IX[n]] for n in lm.AUS}
    print(f"x1.5: landmarks moved {pts.mean():.3f} on average; largest AU change "
          f"{max(aus, key=lambda n: abs(aus[n]))} {max(abs(v) for v in aus.values()):.3f}")
    assert pts.mean() < 0.02 and pts.max() < 0.08
    assert all(abs(v) < 0.06 for v in aus.values()), aus
    angles = [IX["pose_pitch"], IX["pose_yaw"], IX["pose_roll"]]
    np.testing.assert_allclose(row[angles], row0[angles], atol=3)
    others = [i for i in SCALE_FREE if i not in angles]
    np.testing.assert_allclose(row[others], row0[others], atol=0.1)


def _open_mouth(photo: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """The photograph with the jaw and lower lip moved down by a third of the inter-ocular
    distance (a piecewise-affine warp on the landmarks) and the mouth's inside dark."""
    from skimage import draw, transform

    iod = np.linalg.norm(pts[42:48].mean(0) - pts[36:42].mean(0))
    dst = pts.copy()
    weight = {4: 0.3, 12: 0.3, 5: 0.6, 11: 0.6, 48: 0.5, 54: 0.5, 60: 0.5, 64: 0.5}
    for i in [*range(4, 13), *range(55, 60), *range(64, 68), 48, 54, 60]:
        dst[i, 1] += 0.35 * iod * weight.get(i, 1.0)
    h, w = photo.shape
    frame = np.array([[x, y] for x in (0, w / 2, w - 1) for y in (0, h / 2, h - 1)])
    tf = transform.PiecewiseAffineTransform()
    tf.estimate(np.vstack([dst, frame]), np.vstack([pts, frame]))  # output -> input coordinates
    out = transform.warp(photo, tf, preserve_range=True).astype(np.uint8)
    inner = dst[[60, 61, 62, 63, 64, 65, 66, 67]]
    rr, cc = draw.polygon(inner[:, 1], inner[:, 0], out.shape)
    out[rr, cc] = 35
    return out


@pytest.mark.filterwarnings("ignore::FutureWarning")  # skimage 0.26 renames PiecewiseAffineTransform.estimate
def test_an_opened_mouth_raises_lips_part_and_jaw_drop(photo, base):
    row0, pts = base
    row = lm.analyse(_open_mouth(photo, pts))[0]
    for n in ("AU25_lips_part", "AU26_jaw_drop"):
        print(f"{n}: {row0[IX[n]]:.3f} -> {row[IX[n]]:.3f}")
        assert row[IX[n]] > row0[IX[n]] + 0.15
    assert abs(row[IX["AU01_inner_brow_raise"]] - row0[IX["AU01_inner_brow_raise"]]) < 0.05  # the brows stay


def test_frames_without_a_face_are_masked_not_zero_filled_as_a_face(tmp_path):
    frames = list(face_frames(20, seed=1)) + list(face_frames(15, face=False)) + list(face_frames(20, seed=2))
    p = write_clip(tmp_path / "gap.mp4", frames=frames)
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        t = time.process_time()
        s = EXTRACTORS.get("landmarks").extract(Clip("g", p, video=p), {})
        cpu = time.process_time() - t
    finally:
        cv2.setNumThreads(threads)
    print(f"landmarks: {len(s.times) / cpu:.0f} frames per CPU second (320x240, a face in 40 of 55 frames)")
    assert s.values.shape == (55, len(lm.FEATURES)) and len(s.mask) == 55
    # detect_every 3 (default): the face is followed between detections, so its loss is seen at
    # the next detection, at most 2 frames late; a detection in every frame masks exactly
    assert s.mask[:20].all() and not s.mask[22:35].any() and s.mask[37:].all()
    assert not s.values[~s.mask].any()  # masked rows hold nothing, no carried-over face
    assert np.abs(s.values[s.mask][:, IX["pose_tz"]]).min() > 100  # every kept row has a pose
    assert s.times[0] == pytest.approx(0.02)
    exact = EXTRACTORS.get("landmarks").extract(Clip("g", p, video=p), {"detect_every": 1})
    assert exact.mask[:20].all() and not exact.mask[20:35].any() and exact.mask[35:].mean() > 0.9
    assert not exact.values[~exact.mask].any()
    both = s.mask & exact.mask
    moved = np.abs(exact.values[both][:, POINTS] - s.values[both][:, POINTS]).mean()
    print(f"detect_every 3 vs 1: normalised landmarks differ by {moved:.4f} IOD on average")
    assert moved < 0.03
    # no face at all: every frame masked (the pipeline reports the clip, test_extract_pipeline.py)
    empty = write_clip(tmp_path / "none.mp4", frames=face_frames(12, face=False))
    s = EXTRACTORS.get("landmarks").extract(Clip("n", empty, video=empty), {})
    assert len(s.times) == 12 and not s.mask.any() and not s.values.any()
