"""``landmarks``: 68 facial landmarks per frame (dlib), head pose, eye aspect ratios and
geometric action-unit proxies: OpenFace's landmark scheme from PyPI wheels.

dlib's HOG face detector and its 68-point shape predictor (``shape_predictor_68_face_landmarks.dat``
from the ``face-recognition-models`` package, found on disk through importlib: nothing is
downloaded) give the 68 points of the iBUG 300-W scheme that OpenFace also uses. That
model is trained on 300-W, whose images are licensed for research only: for commercial work
use the OpenCV ``face`` extractor (docs/visual_features.md).

Per frame (default 25 fps): find the face (:meth:`_Finder.find`: a detection near the last
face on a small window, the whole rescaled frame when there is none), place the 68 points,
then describe them (:func:`describe`): the points normalised to the face (centred on the
eyes' midpoint, de-rotated by the eye line, in inter-ocular distances), head pose from
``cv2.solvePnP`` of 11 rigid points on a mean 3-D face, eye aspect ratios and action-unit
proxies. A frame without a face has mask False and a zero row; the features' formulas are
in docs/visual_features.md.
"""

from __future__ import annotations

import functools
import importlib.util
import math
from pathlib import Path
from typing import Any

import numpy as np

from . import _faces, media
from .registry import EXTRACTORS, Clip, ClipError, ExtractorSpec, Stream

SETTINGS: dict[str, Any] = {
    "fps": 25.0,           # frames per second analysed
    "min_face": 0.25,      # smallest face found from scratch, as a fraction of the frame's shorter side
    "window": 1.5,         # a tracked face is searched in a square this many face sides wide
    "track_side": 84,      # that window is rescaled so the last face is this many pixels wide (dlib's
                           # detector window is 80: the smallest rescaling that still finds it)
    "lost_every": 3,       # with no face, the whole frame is searched every N frames (others masked)
    "detect_every": 3,     # detect every N frames; between, the face is followed by its landmarks (the
                           # detection is most of the cost: 4.1 -> 3.1 ms per frame, docs/own_data.md)
    "upsample": 0,         # dlib's own pyramid up-sampling of the searched picture (slower)
}

_POINTS = tuple(f"lm_{a}_{i:02d}" for a in "xy" for i in range(68))
POSE = ("pose_pitch", "pose_yaw", "pose_roll", "pose_tx", "pose_ty", "pose_tz")
AUS = ("AU01_inner_brow_raise", "AU02_outer_brow_raise", "AU04_brow_lower", "AU05_upper_lid_raise",
       "AU07_lid_tighten", "AU09_nose_wrinkle", "AU10_upper_lip_raise", "AU12_lip_corner_pull",
       "AU15_lip_corner_depress", "AU17_chin_raise", "AU20_lip_stretch", "AU23_lip_tighten",
       "AU25_lips_part", "AU26_jaw_drop", "AU45_blink")
FEATURES: tuple[str, ...] = (*_POINTS, *POSE, "ear_left", "ear_right", *AUS, "face_scale", "motion")
_IX = {n: i for i, n in enumerate(FEATURES)}

# A mean 3-D face in millimetres, camera axes (x right in the picture, y down, z away from the
# camera), origin at the nose tip: 11 points that do not move with expressions (eye corners,
# nose, the jaw line's top ends), from typical adult anthropometric distances (eye corners 30 and
# 90 mm apart, nasion 45 mm above the nose tip, face 136 mm wide at the jaw line's top).
_RIGID = (0, 16, 27, 30, 31, 33, 35, 36, 39, 42, 45)
_MODEL = np.array([
    [-68.0, -25.0, 80.0], [68.0, -25.0, 80.0],     # 0, 16: jaw line's top ends (by the ears)
    [0.0, -45.0, 18.0], [0.0, 0.0, 0.0],           # 27 nasion, 30 nose tip
    [-14.0, 9.0, 22.0], [0.0, 13.0, 17.0], [14.0, 9.0, 22.0],  # 31, 33, 35: nostrils' base
    [-45.0, -38.0, 42.0], [-15.0, -36.0, 30.0],    # 36, 39: the picture-left eye's outer, inner corner
    [15.0, -36.0, 30.0], [45.0, -38.0, 42.0],      # 42, 45: the picture-right eye's inner, outer corner
])
_EAR_OPEN = 0.3  # a wide-open eye's aspect ratio (AU45 is 0 there, 1 when closed)


@functools.lru_cache(maxsize=None)
def _models() -> tuple[Any, Any]:
    """dlib's frontal face detector and the 68-point shape predictor (loaded once per process)."""
    import dlib

    spec = importlib.util.find_spec("face_recognition_models")
    path = Path(spec.origin).parent / "models" / "shape_predictor_68_face_landmarks.dat" if spec else None
    if path is None or not path.is_file():
        raise ImportError("the 'landmarks' extractor needs the 68-point model of face-recognition-models: "
                          "install mmib[extract] (pip install 'mmib[extract]')")
    return dlib.get_frontal_face_detector(), dlib.shape_predictor(str(path))


class _Finder:
    """Finds the tracked face in successive frames (module docstring): returns its box."""

    def __init__(self, s: dict[str, Any]) -> None:
        self.s, self.last, self.skip = s, None, 0
        self.detector = _models()[0]
        self.follow, self.centroid, self.offset, self.iod = 0, None, None, 1.0

    def locate(self, gray: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """The tracked face's box and 68 points in this frame, or None. With ``detect_every`` N
        above 1, N - 1 frames of N reuse the last box moved with the landmarks' centroid; a
        follow whose points change size by 20% or jump by half an IOD is checked by detection."""
        if self.centroid is not None and self.follow < int(self.s["detect_every"]) - 1:
            box = self.last.copy()
            box[:2] = self.centroid + self.offset - box[2:] / 2
            pts = landmarks(gray, box)
            c, iod = pts.mean(0), _iod(pts)
            if abs(iod / self.iod - 1) < 0.2 and np.hypot(*(c - self.centroid)) < 0.5 * iod:
                self.follow, self.centroid, self.last = self.follow + 1, c, box
                return box, pts
        box = self.find(gray)
        if box is None:
            self.centroid = None
            return None
        pts = landmarks(gray, box)
        self.follow, self.centroid, self.iod = 0, pts.mean(0), _iod(pts)
        self.offset = _faces.centre(box) - self.centroid
        return box, pts

    def _detect(self, img: np.ndarray) -> np.ndarray:
        rects = self.detector(img, int(self.s["upsample"]))
        return np.array([[r.left(), r.top(), r.width(), r.height()] for r in rects], np.float64).reshape(-1, 4)

    def find(self, gray: np.ndarray) -> np.ndarray | None:
        s = self.s
        if self.last is not None:  # near the last face: a small window, rescaled to a fixed face size
            x0, y0, x1, y1 = _faces.window(self.last, s["window"], gray.shape)
            k = s["track_side"] / max(self.last[2], 1.0)
            boxes = self._detect(_faces.rescale(gray[y0:y1, x0:x1], k))
            if len(boxes):
                boxes = boxes / k + [x0, y0, 0, 0]
                self.last, _ = _faces.pick(boxes, self.last)
                return self.last
        if self.last is None and self.skip > 0:  # lost: the whole frame only every lost_every frames
            self.skip -= 1
            return None
        # the whole frame, rescaled so the smallest face sought fills dlib's 80-pixel window
        k = min(80 / max(s["min_face"] * min(gray.shape), 1.0), 4.0)
        boxes = self._detect(_faces.rescale(gray, k)) / k
        box = _faces.pick(boxes, self.last)[0] if len(boxes) else None
        self.skip = 0 if box is not None else int(s["lost_every"]) - 1
        self.last = box
        return box


def _iod(pts: np.ndarray) -> float:
    return float(np.hypot(*(pts[42:48].mean(0) - pts[36:42].mean(0)))) or 1.0


def _camera(shape: tuple[int, ...]) -> np.ndarray:
    """A pinhole camera for a frame of this size: focal length = frame width, centred."""
    h, w = shape[:2]
    return np.array([[w, 0, w / 2], [0, w, h / 2], [0, 0, 1]], np.float64)


def head_pose(pts: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """(pitch, yaw, roll) in degrees and (tx, ty, tz) in mm of the mean face fitted to the
    rigid points by ``cv2.solvePnP``; R = Rz(roll) Ry(yaw) Rx(pitch) (docs/visual_features.md)."""
    import cv2

    image = np.ascontiguousarray(pts[list(_RIGID)], np.float64)
    flag = getattr(cv2, "SOLVEPNP_SQPNP", cv2.SOLVEPNP_ITERATIVE)
    ok, rvec, tvec = cv2.solvePnP(_MODEL, image, _camera(shape), None, flags=flag)
    if not ok:
        return np.zeros(6)
    R = cv2.Rodrigues(rvec)[0]
    pitch = math.atan2(R[2, 1], R[2, 2])
    yaw = math.asin(max(-1.0, min(1.0, -R[2, 0])))
    roll = math.atan2(R[1, 0], R[0, 0])
    return np.array([*np.degrees([pitch, yaw, roll]), *tvec.ravel()])


def normalise(pts: np.ndarray) -> tuple[np.ndarray, float]:
    """The 68 points centred on the eyes' midpoint, rotated so the eye line is horizontal and
    divided by the inter-ocular distance (between the eyes' centres); and that distance."""
    left, right = pts[36:42].mean(0), pts[42:48].mean(0)
    d = right - left
    iod = float(np.hypot(*d))
    c, s = d / max(iod, 1e-9)
    rot = np.array([[c, s], [-s, c]])  # rotates the eye line onto +x
    return (pts - (left + right) / 2) @ rot.T / max(iod, 1e-9), iod


def _ear(q: np.ndarray, a: int) -> float:
    """Eye aspect ratio of the eye whose points start at ``a`` (36 or 42)."""
    p = q[a:a + 6]
    return float((np.linalg.norm(p[1] - p[5]) + np.linalg.norm(p[2] - p[4])) / (2 * np.linalg.norm(p[0] - p[3]) + 1e-9))


def describe(pts: np.ndarray, shape: tuple[int, ...], prev: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """One frame's feature row (FEATURES) from its 68 points in frame pixels; and the
    normalised points (for the next frame's motion)."""
    q, iod = normalise(pts)
    x, y = q[:, 0], q[:, 1]  # y grows downwards; the eye line is y = 0
    f = np.zeros(len(FEATURES))
    f[:136] = np.concatenate([x, y])
    f[136:142] = head_pose(pts, shape)
    ear_l, ear_r = _ear(q, 36), _ear(q, 42)
    eyes_y = (y[36:42].mean() + y[42:48].mean()) / 2
    corner_l, corner_r = (y[36] + y[39]) / 2, (y[42] + y[45]) / 2
    mouth_y = (y[62] + y[66]) / 2
    corners = mouth_y - (y[48] + y[54]) / 2  # > 0: the lip corners above the lips' middle
    au = {
        "AU01_inner_brow_raise": eyes_y - (y[21] + y[22]) / 2,
        "AU02_outer_brow_raise": eyes_y - (y[17] + y[18] + y[25] + y[26]) / 4,
        "AU04_brow_lower": -((eyes_y - y[19:25].mean()) + (x[22] - x[21])) / 2,
        "AU05_upper_lid_raise": ((corner_l - (y[37] + y[38]) / 2) + (corner_r - (y[43] + y[44]) / 2)) / 2,
        "AU07_lid_tighten": -(((y[40] + y[41]) / 2 - corner_l) + ((y[46] + y[47]) / 2 - corner_r)) / 2,
        "AU09_nose_wrinkle": -(y[33] - (y[21] + y[22]) / 2),
        "AU10_upper_lip_raise": -(y[51] - y[33]),
        "AU12_lip_corner_pull": max(corners, 0.0),
        "AU15_lip_corner_depress": max(-corners, 0.0),
        "AU17_chin_raise": -(y[8] - y[57]),
        "AU20_lip_stretch": float(np.hypot(x[54] - x[48], y[54] - y[48])),
        "AU23_lip_tighten": -((y[62] - y[51]) + (y[57] - y[66])),
        "AU25_lips_part": max(0.0, float(np.mean([y[67] - y[61], y[66] - y[62], y[65] - y[63]]))),
        "AU26_jaw_drop": y[8] - y[33],
        "AU45_blink": 1.0 - (ear_l + ear_r) / 2 / _EAR_OPEN,
    }
    f[142], f[143] = ear_l, ear_r
    for k, v in au.items():
        f[_IX[k]] = v
    f[_IX["face_scale"]] = iod / shape[1]
    f[_IX["motion"]] = 0.0 if prev is None else float(np.linalg.norm(q - prev, axis=1).mean())
    return f, q


def landmarks(gray: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The 68 points (68, 2) in frame pixels of the face in ``box`` (x, y, w, h)."""
    import dlib

    x, y, w, h = (int(round(v)) for v in box)
    shape = _models()[1](gray, dlib.rectangle(x, y, x + w, y + h))
    return np.array([[p.x, p.y] for p in shape.parts()], np.float64)


def analyse(gray: np.ndarray, settings: dict[str, Any] | None = None) -> tuple[np.ndarray, np.ndarray] | None:
    """One picture (uint8 grey (H, W)) on its own: (feature row, the 68 points in pixels), or
    None when no face is found."""
    found = _Finder({**SETTINGS, **(settings or {})}).locate(np.ascontiguousarray(gray))
    if found is None:
        return None
    return describe(found[1], gray.shape, None)[0], found[1]


def extract(clip: Clip, settings: dict[str, Any]) -> Stream:
    """One row per analysed frame; mask: a face was found (rows without one are all zero)."""
    s = {**SETTINGS, **settings}
    if clip.video is None:
        raise ClipError(f"{clip.media}: the 'landmarks' extractor needs a video (the row has no video)")
    finder = _Finder(s)
    rows, times, mask = [], [], []
    prev = None
    for t, gray in media.read_frames(clip.video, float(s["fps"]), clip.start, clip.end, gray=True):
        if len(times) % 25 == 0:
            clip.tick(t)
        found = finder.locate(gray)
        if found is None:
            rows.append(np.zeros(len(FEATURES)))
            prev = None
        else:
            row, prev = describe(found[1], gray.shape, prev)
            rows.append(row)
        mask.append(found is not None)
        times.append(t)
    if not rows:
        raise ClipError(f"{clip.video}: no video frames" + ("" if clip.start is None and clip.end is None
                                                           else f" between {clip.start}s and {clip.end}s"))
    step = 0.5 / float(s["fps"])
    return Stream(np.stack(rows), np.asarray(times) + step, np.asarray(mask, dtype=bool))


EXTRACTORS.add("landmarks", ExtractorSpec(
    modality="visual",
    description="dlib 68-point landmarks (iBUG 300-W scheme; research-only model) normalised to the face, "
                "head pose (solvePnP), eye aspect ratios, geometric action-unit proxies; mask = face found",
    dim=len(FEATURES), frame_rate=SETTINGS["fps"], feature_names=FEATURES, extract=extract,
    settings=dict(SETTINGS), packages=("dlib-bin", "face-recognition-models", "opencv-python-headless", "av"),
    requires=("dlib", "face_recognition_models", "cv2", "av")))

__all__ = ["AUS", "FEATURES", "POSE", "SETTINGS", "analyse", "describe", "extract", "head_pose", "landmarks", "normalise"]
