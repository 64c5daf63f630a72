"""``face``: a FACET-like per-frame face descriptor from OpenCV 4.x Haar cascades.

Nothing is downloaded at run time: the cascades (frontal face, profile face, eyes, smile)
ship inside the ``opencv-python-headless`` 4.x wheel (``cv2.data.haarcascades``; 5.x ships
none, hence the ``<5`` pin). Per frame (default 25 fps):

1. detect faces on the (downscaled, histogram-equalised) grey frame; keep the one nearest the
   previous face box (tracking), else the largest; smooth the box a little over time; when no
   frontal face is found, try the profile cascade on the frame and its mirror image;
2. describe the face region with landmark-free, scale-normalised measures (everything is
   relative to the face box, computed on a fixed-size crop): head position and pose proxies,
   eyes (cascade) and eye-band darkness, brow-band edges, smile (cascade), mouth darkness and
   edges (lips part / jaw drop), appearance (orientation histograms) and motion (frame
   difference and Farneback optical flow inside the face).

Frames with no face have mask False and an all-zero row: they are masked, never passed off as
a face. A clip with no face in any frame gives an all-masked stream (:func:`face_rate` is 0);
the pipeline reports any all-masked stream as "no face in any frame"
(:func:`mmib.extract.pipeline.extract_clip`). Feature meanings: docs/visual_features.md.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from . import _faces, media
from .registry import EXTRACTORS, Clip, ClipError, ExtractorSpec, Stream

SETTINGS: dict[str, Any] = {
    "fps": 25.0,              # frames per second analysed (FACET / OpenFace run at the video rate, ~30)
    "scale_factor": 1.1,      # detectMultiScale's image pyramid step
    "min_neighbors": 5,       # detectMultiScale's overlapping-detections threshold (faces)
    "min_face": 0.15,         # smallest face side, relative to the frame's shorter side
    "detect_width": 320,      # frames wider than this are downscaled for detection only
    "equalize": False,        # histogram-equalise before detection (helps dim footage; a flat background
                              # dominates the histogram and can hide a small face)
    "smooth": 0.6,            # weight of the new detection in the box's running average
    "profile": True,          # try the profile cascade when no frontal face is found
    "eye_neighbors": 5,
    "smile_neighbors": 15,
    "roi_width": 160,         # face boxes wider than this are downscaled for the eye and smile cascades
    "crop": 64,               # side of the face crop the descriptors are computed on
    "flow": True,             # Farneback optical flow in the eye band and the mouth region
}

_ORIENT = 8  # orientation-histogram bins (unsigned gradient directions, 0..pi)
FEATURES: tuple[str, ...] = (
    "face_x", "face_y", "face_size", "profile", "yaw_asym", "yaw_eyes", "pitch_eyes", "roll",
    "eyes_found", "eye_size", "eye_dark", "eye_vgrad",
    "brow_vgrad", "brow_edge_y",
    "smile_found", "smile_width", "mouth_dark", "mouth_vgrad", "mouth_open",
    "face_mean", "face_std",
    *(f"hog_upper_{k}" for k in range(_ORIENT)), *(f"hog_lower_{k}" for k in range(_ORIENT)),
    "motion_face", "flow_eyes", "flow_mouth", "flow_face_dy",
)
_IX = {n: i for i, n in enumerate(FEATURES)}

# regions of the face crop as (row0, row1, col0, col1) fractions of its side
_BROW = (0.12, 0.38, 0.15, 0.85)
_EYES = (0.25, 0.50, 0.15, 0.85)
_MOUTH = (0.66, 0.92, 0.28, 0.72)


@functools.lru_cache(maxsize=None)
def _cascade(name: str):
    import cv2

    c = cv2.CascadeClassifier(cv2.data.haarcascades + name)
    if c.empty():
        raise ImportError(f"OpenCV has no {name} cascade: install opencv-python-headless 4.x "
                          "(pip install 'mmib[extract]'); 5.x ships no Haar cascades")
    return c


def _region(a: np.ndarray, r: tuple[float, float, float, float]) -> np.ndarray:
    n, m = a.shape[:2]
    return a[int(r[0] * n):int(math.ceil(r[1] * n)), int(r[2] * m):int(math.ceil(r[3] * m))]


def _detect(gray: np.ndarray, prev: np.ndarray | None, s: dict[str, Any]) -> tuple[np.ndarray | None, float]:
    """The tracked face box (x, y, w, h) in frame pixels and its profile flag (0 frontal, +1
    facing one way, -1 the other), or (None, 0) when no face is found."""
    import cv2

    h, w = gray.shape
    k = _faces.downscale_factor(w, s["detect_width"])
    small = _faces.rescale(gray, k)
    if s["equalize"]:
        small = cv2.equalizeHist(small)
    side = max(12, int(s["min_face"] * min(small.shape)))
    args = dict(scaleFactor=s["scale_factor"], minNeighbors=s["min_neighbors"], minSize=(side, side))
    boxes, flag = _cascade("haarcascade_frontalface_default.xml").detectMultiScale(small, **args), 0.0
    if len(boxes) == 0 and s["profile"]:
        prof = _cascade("haarcascade_profileface.xml")
        boxes, flag = prof.detectMultiScale(small, **args), 1.0
        if len(boxes) == 0:
            mirrored = prof.detectMultiScale(np.ascontiguousarray(small[:, ::-1]), **args)
            if len(mirrored):
                mirrored = np.asarray(mirrored).copy()
                mirrored[:, 0] = small.shape[1] - mirrored[:, 0] - mirrored[:, 2]
            boxes, flag = mirrored, -1.0
    if len(boxes) == 0:
        return None, 0.0
    box, dist = _faces.pick(np.asarray(boxes, dtype=np.float64) / k, prev)  # nearest the last, else largest
    if prev is not None and dist < prev[2]:  # the same face: smooth the box against jitter
        box = s["smooth"] * box + (1 - s["smooth"]) * prev
    return box, flag


def _crop(gray: np.ndarray, box: np.ndarray, side: int) -> np.ndarray:
    import cv2

    h, w = gray.shape
    x0, y0 = int(round(max(0.0, box[0]))), int(round(max(0.0, box[1])))
    x1, y1 = int(round(min(w, box[0] + box[2]))), int(round(min(h, box[1] + box[3])))
    return cv2.resize(gray[y0:max(y1, y0 + 1), x0:max(x1, x0 + 1)], (side, side), interpolation=cv2.INTER_AREA)


def _orientation_hist(gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
    """An L1-normalised histogram of unsigned gradient directions weighted by magnitude."""
    mag = np.hypot(gx, gy).ravel()
    ang = np.mod(np.arctan2(gy, gx).ravel(), np.pi)
    bins = np.minimum((ang / np.pi * _ORIENT).astype(np.int64), _ORIENT - 1)
    hist = np.bincount(bins, weights=mag, minlength=_ORIENT)
    return hist / max(hist.sum(), 1e-9)


def _features(gray: np.ndarray, prev_gray: np.ndarray | None, box: np.ndarray, flag: float,
              s: dict[str, Any]) -> np.ndarray:
    """The descriptor of one frame's face box (see FEATURES and docs/visual_features.md)."""
    import cv2

    H, W = gray.shape
    x, y, bw, bh = box
    f = np.zeros(len(FEATURES), dtype=np.float64)
    f[_IX["face_x"]], f[_IX["face_y"]] = (x + bw / 2) / W, (y + bh / 2) / H
    f[_IX["face_size"]], f[_IX["profile"]] = bw / W, flag

    side = int(s["crop"])
    crop = _crop(gray, box, side)
    c = crop.astype(np.float64)
    mean, std = c.mean(), c.std() + 1e-6
    f[_IX["face_mean"]], f[_IX["face_std"]] = mean / 255, std / 255
    half = side // 2
    f[_IX["yaw_asym"]] = (c[:, :half].mean() - c[:, half:].mean()) / std

    gx = cv2.Sobel(c, cv2.CV_64F, 1, 0, ksize=3)
    gy = cv2.Sobel(c, cv2.CV_64F, 0, 1, ksize=3)
    total = np.abs(gx).sum() + np.abs(gy).sum() + 1e-9
    area = side * side

    def vshare(r):  # this region's share of the face's edge energy, per unit of area
        return float(np.abs(_region(gy, r)).sum() / total * area / _region(gy, r).size)

    f[_IX["eye_vgrad"]], f[_IX["brow_vgrad"]], f[_IX["mouth_vgrad"]] = vshare(_EYES), vshare(_BROW), vshare(_MOUTH)
    rows = np.abs(_region(gy, _BROW)).sum(axis=1)  # the brow's horizontal edge: its height
    f[_IX["brow_edge_y"]] = (_BROW[0] * side + int(np.argmax(rows))) / side
    f[_IX["eye_dark"]] = (mean - _region(c, _EYES).mean()) / std
    mouth = _region(c, _MOUTH)
    f[_IX["mouth_dark"]] = (mean - mouth.mean()) / std
    f[_IX["mouth_open"]] = float((mouth < mean - std).mean())
    f[_IX["hog_upper_0"]:_IX["hog_upper_0"] + _ORIENT] = _orientation_hist(gx[:half], gy[:half])
    f[_IX["hog_lower_0"]:_IX["hog_lower_0"] + _ORIENT] = _orientation_hist(gx[half:], gy[half:])

    # eyes and smile: cascades inside the face box, at the frame's resolution
    ix, iy = int(round(max(0.0, x))), int(round(max(0.0, y)))
    roi = gray[iy:int(round(min(H, y + bh))), ix:int(round(min(W, x + bw)))]
    if roi.shape[1] > s["roi_width"]:  # a large face (HD video): the same cascades at a bounded cost
        k = s["roi_width"] / roi.shape[1]
        roi = cv2.resize(roi, (int(s["roi_width"]), max(1, round(roi.shape[0] * k))), interpolation=cv2.INTER_AREA)
    rh, rw = roi.shape
    if rh >= 24 and rw >= 24:
        eside = max(8, rw // 8)
        eyes = _cascade("haarcascade_eye.xml").detectMultiScale(
            roi[: int(rh * 0.6)], scaleFactor=s["scale_factor"], minNeighbors=s["eye_neighbors"],
            minSize=(eside, eside), maxSize=(rw // 2, rw // 2))
        left = [e for e in eyes if e[0] + e[2] / 2 < rw / 2]
        right = [e for e in eyes if e[0] + e[2] / 2 >= rw / 2]
        found = [max(side_eyes, key=lambda e: e[2]) for side_eyes in (left, right) if side_eyes]
        f[_IX["eyes_found"]] = len(found) / 2
        if found:
            centres = np.array([[e[0] + e[2] / 2, e[1] + e[3] / 2] for e in found], dtype=np.float64)
            f[_IX["eye_size"]] = float(np.mean([e[2] for e in found])) / rw
            f[_IX["pitch_eyes"]] = centres[:, 1].mean() / rh
        if len(found) == 2:
            (lx, ly), (rx, ry) = centres
            f[_IX["yaw_eyes"]] = ((lx + rx) / 2 - rw / 2) / rw
            f[_IX["roll"]] = math.atan2(ry - ly, rx - lx)
        top = rh // 2
        smiles = _cascade("haarcascade_smile.xml").detectMultiScale(
            roi[top:], scaleFactor=s["scale_factor"], minNeighbors=s["smile_neighbors"],
            minSize=(max(10, rw // 5), max(5, rw // 10)))
        smiles = [m for m in smiles if top + m[1] + m[3] / 2 > 0.6 * rh]
        if smiles:
            f[_IX["smile_found"]] = 1.0
            f[_IX["smile_width"]] = max(m[2] for m in smiles) / rw

    if prev_gray is not None:  # motion inside the current box since the previous frame
        before = _crop(prev_gray, box, side)
        f[_IX["motion_face"]] = float(np.abs(c - before).mean()) / 255
        if s["flow"]:
            flow = cv2.calcOpticalFlowFarneback(before, crop, None, 0.5, 2, 9, 2, 5, 1.1, 0)
            mag = np.hypot(flow[..., 0], flow[..., 1]) / side  # in face widths per frame
            f[_IX["flow_eyes"]] = float(_region(mag, _EYES).mean())
            f[_IX["flow_mouth"]] = float(_region(mag, _MOUTH).mean())
            f[_IX["flow_face_dy"]] = float(flow[..., 1].mean()) / side
    return f


def extract(clip: Clip, settings: dict[str, Any]) -> Stream:
    """One row per analysed frame (``fps`` per second between ``clip.start`` and ``clip.end``);
    mask: a face was found in that frame (rows without one are all zero)."""
    s = {**SETTINGS, **settings}
    if clip.video is None:
        raise ClipError(f"{clip.media}: the 'face' extractor needs a video (the row has no video)")
    rows, times, mask = [], [], []
    prev_box, prev_gray = None, None
    for t, gray in media.read_frames(clip.video, float(s["fps"]), clip.start, clip.end, gray=True):
        if len(times) % 25 == 0:
            clip.tick(t)
        box, flag = _detect(gray, prev_box, s)
        if box is None:
            rows.append(np.zeros(len(FEATURES)))
        else:
            rows.append(_features(gray, prev_gray, box, flag, s))
        mask.append(box is not None)
        times.append(t)
        prev_box, prev_gray = box, gray
    if not rows:
        raise ClipError(f"{clip.video}: no video frames" + ("" if clip.start is None and clip.end is None
                                                           else f" between {clip.start}s and {clip.end}s"))
    step = 0.5 / float(s["fps"])  # a frame covers [t, t + 1/fps): its centre is half a step later
    return Stream(np.stack(rows), np.asarray(times) + step, np.asarray(mask, dtype=bool))


def face_rate(stream: Stream) -> float:
    """The fraction of frames in which a face was found (1.0 for a stream without a mask)."""
    if stream.mask is None:
        return 1.0
    return float(stream.mask.mean()) if len(stream.mask) else 0.0


EXTRACTORS.add("face", ExtractorSpec(
    modality="visual",
    description="OpenCV 4.x Haar cascades (face, eyes, smile) + landmark-free face-region descriptors "
                "(pose, eyes, brow, mouth, appearance, motion); mask = face found",
    dim=len(FEATURES), frame_rate=SETTINGS["fps"], feature_names=FEATURES, extract=extract,
    settings=dict(SETTINGS), packages=("opencv-python-headless", "av"), requires=("cv2", "av")))

__all__ = ["FEATURES", "SETTINGS", "extract", "face_rate"]
