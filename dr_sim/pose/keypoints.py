"""Keypoints: peaks of belief maps with subpixel refinement, Gaussian target maps, and label keypoints.

Keypoint order (``KEYPOINTS`` = 9): the 8 corners of the object's own bounding box as
``dr_sim.scene.labels`` orders them (corner ``i`` high on axis ``k`` where bit ``k`` of ``i`` is set),
then the box's centroid.

A belief map of stride ``s`` has cells of ``s`` x ``s`` pixels: cell (j, i) (row, column) is centred on
pixel coordinates ((i + 0.5) s, (j + 0.5) s). Pixel coordinates follow ``dr_sim.scene.labels``: pixel
(u, v) spans [u, u + 1) x [v, v + 1).

An object that looks the same at any turn about one of its own axes (a ball, a can about its upright
axis) has no one box to label: its corners' pixels depend on a turn the image cannot show.
``canonical_rotation`` picks the turn that faces the camera (the object's next axis after the symmetry
axis points along the camera's x axis, projected), so every look of the object has one set of keypoints
(``canonical_keypoints``); PnP then finds that canonical pose, and ADD-S scores it fairly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

KEYPOINTS = 9  # 8 box corners + the centroid
CENTROID = 8  # index of the centroid keypoint
CORNERS = 8  # the box corners come first
OFFSET_UNIT = 16.0  # px per unit of a network's corner-offset channels (``read_keypoints``)
AXES = {"x": 0, "y": 1, "z": 2}  # symmetry axes, object frame


def refine_peak(belief: np.ndarray, row: int, col: int) -> tuple[float, float]:
    """Subpixel offset (d_col, d_row), each in [-0.5, 0.5] cells, of the peak at integer cell (row, col).

    Per axis, a parabola through the cell and its two neighbours: fitted to the logarithm of the values
    when all three are positive (exact for a Gaussian peak, the shape the network is trained to draw),
    else to the values themselves; no neighbour on a side (the map's edge) or a flat fit gives 0.
    """
    offsets = []
    for axis in (1, 0):  # columns, then rows
        index, size = (col, belief.shape[1]) if axis == 1 else (row, belief.shape[0])
        if index <= 0 or index >= size - 1:
            offsets.append(0.0)
            continue
        if axis == 1:
            left, centre, right = (float(v) for v in belief[row, col - 1 : col + 2])
        else:
            left, centre, right = (float(v) for v in belief[row - 1 : row + 2, col])
        if min(left, centre, right) > 0:
            left, centre, right = np.log(left), np.log(centre), np.log(right)
        curvature = left - 2 * centre + right
        offset = 0.5 * (left - right) / curvature if curvature < 0 else 0.0
        offsets.append(float(np.clip(offset, -0.5, 0.5)))
    return offsets[0], offsets[1]


def extract_peaks(beliefs: np.ndarray, stride: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """The strongest peak of each belief map (K, h, w), refined to subpixel (``refine_peak``).

    Returns:
        (uv, confidence): pixels (K, 2) as (column, row) in image pixel coordinates (maps of ``stride``
        pixels per cell), and the peak heights (K,) (the map's value at its maximum cell), a confidence
        a user thresholds.
    """
    beliefs = np.asarray(beliefs, dtype=np.float64)
    if beliefs.ndim == 2:
        beliefs = beliefs[None]
    if beliefs.ndim != 3:
        raise ValueError(f"belief maps must be (K, h, w), got shape {beliefs.shape}")
    count, _, width = beliefs.shape
    uv = np.empty((count, 2))
    confidence = np.empty(count)
    for k, belief in enumerate(beliefs):
        flat = int(np.argmax(belief))
        row, col = divmod(flat, width)
        d_col, d_row = refine_peak(belief, row, col)
        uv[k] = ((col + d_col + 0.5) * stride, (row + d_row + 0.5) * stride)
        confidence[k] = belief[row, col]
    return uv, confidence


def sample_cell(maps: np.ndarray, col: float, row: float) -> np.ndarray:
    """Each map of ``maps`` (C, h, w) read at the (fractional) cell (``col``, ``row``) by bilinear
    interpolation, clamped to the maps' edges: (C,)."""
    _, height, width = maps.shape
    col, row = float(np.clip(col, 0, width - 1)), float(np.clip(row, 0, height - 1))
    c0, r0 = int(col), int(row)
    c1, r1 = min(c0 + 1, width - 1), min(r0 + 1, height - 1)
    dc, dr = col - c0, row - r0
    top = maps[:, r0, c0] * (1 - dc) + maps[:, r0, c1] * dc
    bottom = maps[:, r1, c0] * (1 - dc) + maps[:, r1, c1] * dc
    return top * (1 - dr) + bottom * dr


def read_keypoints(outputs: np.ndarray, stride: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """The 9 keypoints (9, 2; px) and their confidences (9,) of a network's outputs for one image.

    ``outputs`` (9, h, w) are belief maps: each keypoint is its map's peak (``extract_peaks``). With
    corner offsets (25, h, w: the maps, then each corner's (x, y) from the centroid in ``OFFSET_UNIT``
    px), the centroid is its map's peak and each corner is the centroid plus its offset read at the
    peak's subpixel cell (``sample_cell``); the corners then carry the centroid's confidence.
    """
    outputs = np.asarray(outputs, dtype=np.float64)
    channels = (KEYPOINTS, KEYPOINTS + 2 * CORNERS)
    if outputs.ndim != 3 or outputs.shape[0] not in channels:
        raise ValueError(f"network outputs must be ({channels[0]} or {channels[1]}, h, w), got {outputs.shape}")
    uv, confidence = extract_peaks(outputs[:KEYPOINTS], stride)
    if outputs.shape[0] == KEYPOINTS:
        return uv, confidence
    col, row = uv[CENTROID] / stride - 0.5
    offsets = sample_cell(outputs[KEYPOINTS:], col, row).reshape(CORNERS, 2) * OFFSET_UNIT
    uv[:CORNERS] = uv[CENTROID] + offsets
    confidence[:CORNERS] = confidence[CENTROID]
    return uv, confidence


def gaussian_maps(uv: np.ndarray, shape: tuple[int, int], stride: float = 1.0, sigma: float = 1.0) -> np.ndarray:
    """Target belief maps (K, h, w) float32: a Gaussian of peak 1 and ``sigma`` cells at each keypoint
    ``uv`` (K, 2) (image pixels); a NaN keypoint gives an all-zero map."""
    h, w = shape
    uv = np.asarray(uv, dtype=np.float64).reshape(-1, 2)
    cells = uv / stride - 0.5  # cell coordinates: cell i is centred at i
    cols, rows = np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64)
    gx = np.exp(-0.5 * ((cols[None, :] - cells[:, :1]) / sigma) ** 2)  # (K, w)
    gy = np.exp(-0.5 * ((rows[None, :] - cells[:, 1:]) / sigma) ** 2)  # (K, h)
    maps = gy[:, :, None] * gx[:, None, :]
    return np.nan_to_num(maps, nan=0.0).astype(np.float32)


def label_camera_points(label: Mapping[str, Any], k: np.ndarray) -> np.ndarray:
    """The 8 box corners (8, 3) of one object label in the camera frame (m): its keypoints (pixels)
    back-projected through ``k`` to their depths (``keypoint_depth``)."""
    uv = np.asarray(label["keypoints"], dtype=np.float64).reshape(8, 2)
    depth = np.asarray(label["keypoint_depth"], dtype=np.float64).reshape(8)
    rays = np.linalg.solve(k, np.column_stack([uv, np.ones(8)]).T).T  # (8, 3), z = 1
    return rays * depth[:, None]


def label_model_points(label: Mapping[str, Any], k: np.ndarray) -> np.ndarray:
    """The 9 keypoints' 3D points (9, 3) in the object frame (m): the box corners (from the label's
    keypoints, depths and ``pose``, object-to-camera), then their centroid. The same for every image of
    one object; in the order of ``KEYPOINTS``."""
    pose = np.asarray(label["pose"], dtype=np.float64)
    corners = (label_camera_points(label, k) - pose[:3, 3]) @ pose[:3, :3]  # camera to object frame
    return np.vstack([corners, corners.mean(axis=0)])


def label_keypoints(label: Mapping[str, Any], k: np.ndarray) -> np.ndarray:
    """The 9 keypoints (9, 2) of one object label in pixels: its 8 projected corners, then the projected
    centroid of its box."""
    corners = label_camera_points(label, k)
    centre = k @ corners.mean(axis=0)
    return np.vstack([np.asarray(label["keypoints"], dtype=np.float64).reshape(8, 2), centre[:2] / centre[2]])


def canonical_rotation(rotation: np.ndarray, axis: str) -> np.ndarray:
    """The object-to-camera rotation (3x3) turned about the object's own ``axis`` (``x``, ``y`` or ``z``)
    so that the object's next axis (y, z or x) points along the camera's x axis projected on the plane
    normal to ``axis``: the same look of a symmetric object always gets the same rotation. Unchanged when
    the camera's x axis is along ``axis`` (a degenerate view)."""
    rotation = np.asarray(rotation, dtype=np.float64)[:3, :3]
    a = np.eye(3)[AXES[axis]]
    b = np.eye(3)[(AXES[axis] + 1) % 3]
    camera_x = rotation.T @ np.array([1.0, 0.0, 0.0])  # the camera's x axis, object frame
    projected = camera_x - (camera_x @ a) * a
    if np.linalg.norm(projected) < 1e-9:
        return rotation.copy()
    angle = np.arctan2(np.cross(b, projected) @ a, b @ projected)
    c, s = np.cos(angle), np.sin(angle)
    k = np.array([[0.0, -a[2], a[1]], [a[2], 0.0, -a[0]], [-a[1], a[0], 0.0]])
    turn = np.eye(3) + s * k + (1 - c) * (k @ k)  # Rodrigues: about a by angle
    return rotation @ turn


def canonical_keypoints(label: Mapping[str, Any], k: np.ndarray, axis: str) -> np.ndarray:
    """The 9 keypoints (9, 2; px) of a label whose object is symmetric about its ``axis``: its model
    points (``label_model_points``) projected through ``k`` under the canonical pose
    (``canonical_rotation`` of the label's ``pose``)."""
    pose = np.asarray(label["pose"], dtype=np.float64)
    points = label_model_points(label, k) @ canonical_rotation(pose, axis).T + pose[:3, 3]
    projected = points @ np.asarray(k, dtype=np.float64).T
    return projected[:, :2] / projected[:, 2:3]
