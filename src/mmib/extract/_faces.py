"""Face finding shared by the visual extractors (``face``: OpenCV cascades; ``landmarks``:
dlib's HOG detector): detection on a rescaled frame and tracking one face across frames.

Boxes are float arrays (x, y, w, h) in frame pixels. Tracking follows one rule in both
extractors: with a face in a recent frame, keep the detection whose centre is nearest the
last box's (a second person entering does not steal the track); without one, the largest.
"""

from __future__ import annotations

import numpy as np


def rescale(gray: np.ndarray, k: float) -> np.ndarray:
    """The frame resized by ``k`` (area averaging when shrinking, linear when growing)."""
    if abs(k - 1.0) < 1e-3:
        return gray
    import cv2

    h, w = gray.shape[:2]
    size = (max(1, round(w * k)), max(1, round(h * k)))
    return cv2.resize(gray, size, interpolation=cv2.INTER_AREA if k < 1 else cv2.INTER_LINEAR)


def downscale_factor(width: int, detect_width: int) -> float:
    """The factor that brings a frame ``width`` pixels wide down to ``detect_width`` (never up)."""
    return min(1.0, detect_width / width)


def centre(box: np.ndarray) -> np.ndarray:
    return box[..., :2] + box[..., 2:] / 2


def pick(boxes: np.ndarray, last: np.ndarray | None) -> tuple[np.ndarray, float]:
    """The tracked face among ``boxes`` (N, 4) and its centre's distance to ``last`` (inf
    without one): the detection nearest the last box, else the largest."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if last is None:
        return boxes[int(np.argmax(boxes[:, 2] * boxes[:, 3]))], float("inf")
    dist = np.linalg.norm(centre(boxes) - centre(last), axis=1)
    j = int(np.argmin(dist))
    return boxes[j], float(dist[j])


def window(box: np.ndarray, factor: float, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """The square region ``factor`` times the box's larger side around its centre, clipped to
    the frame: (x0, y0, x1, y1) in whole pixels."""
    h, w = shape[:2]
    cx, cy = centre(box)
    half = factor * max(box[2], box[3]) / 2
    x0, y0 = max(0, int(cx - half)), max(0, int(cy - half))
    x1, y1 = min(w, int(np.ceil(cx + half))), min(h, int(np.ceil(cy + half)))
    return x0, y0, max(x1, x0 + 1), max(y1, y0 + 1)


__all__ = ["centre", "downscale_factor", "pick", "rescale", "window"]
