"""Exact labels of a rendered frame: boxes, visibility, 6D poses, keypoints and segmentation maps.

Conventions (as ``dr_sim.scene.camera``): metres; pixels with the origin at the top-left corner of the
top-left pixel, so pixel (u, v) spans [u, u + 1) x [v, v + 1) and its centre is (u + 0.5, v + 0.5);
boxes are ``[x_min, y_min, x_max, y_max]`` in those continuous coordinates (pixel edges); the camera
frame is OpenCV's (x right, y down, z forward); poses are 4x4 homogeneous transforms.

An object's keypoints are the 8 corners of its local bounding box (in the body's base frame, measured
once at identity pose), ordered by (x, y, z) sign bits: corner ``i`` takes ``high`` on axis ``k`` where
bit ``k`` of ``i`` is set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pybullet as p

from dr_sim.scene.camera import Camera, Frame

PARK_HEIGHT = -50.0  # m: where bodies wait, out of every camera's view, while an object renders alone


@dataclass(frozen=True)
class ObjectLabel:
    """The labels of one object in one frame (JSON-friendly through ``to_dict``).

    ``box`` is ``None`` and ``visibility`` 0 when no pixel of the object is visible; ``visibility`` is
    ``None`` when the unoccluded silhouette was not rendered.
    """

    name: str
    body: int
    category: int
    box: list[float] | None
    pixels: int
    visibility: float | None
    pose: np.ndarray  # 4x4 object-to-camera
    keypoints: np.ndarray  # (8, 2) pixels
    keypoint_depth: np.ndarray  # (8,) m along the camera's z; <= 0 is behind the camera

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "body": self.body,
            "category": self.category,
            "box": self.box,
            "pixels": self.pixels,
            "visibility": self.visibility,
            "pose": self.pose.tolist(),
            "keypoints": self.keypoints.tolist(),
            "keypoint_depth": self.keypoint_depth.tolist(),
        }


def mask_box(mask: np.ndarray) -> list[float] | None:
    """The tight box ``[x_min, y_min, x_max, y_max]`` (pixel edges) of a boolean mask, or ``None``."""
    rows, cols = np.nonzero(mask)
    if rows.size == 0:
        return None
    return [float(cols.min()), float(rows.min()), float(cols.max() + 1), float(rows.max() + 1)]


def body_pose(client_id: int, body: int) -> np.ndarray:
    """4x4 base-to-world transform of a body (m)."""
    position, orientation = p.getBasePositionAndOrientation(body, physicsClientId=client_id)
    transform = np.eye(4)
    transform[:3, :3] = np.asarray(p.getMatrixFromQuaternion(orientation)).reshape(3, 3)
    transform[:3, 3] = position
    return transform


def local_box(client_id: int, body: int) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) corners (m) of a body's bounding box in its base frame, over all its links.

    Measured by placing the body at the identity pose for a moment (PyBullet's AABBs are world-aligned),
    then putting it back; velocities are kept.
    """
    position, orientation = p.getBasePositionAndOrientation(body, physicsClientId=client_id)
    p.resetBasePositionAndOrientation(body, [0, 0, 0], [0, 0, 0, 1], physicsClientId=client_id)
    try:
        boxes = [
            p.getAABB(body, link, physicsClientId=client_id)
            for link in range(-1, p.getNumJoints(body, physicsClientId=client_id))
        ]
    finally:
        p.resetBasePositionAndOrientation(body, position, orientation, physicsClientId=client_id)
    low = np.min([box[0] for box in boxes], axis=0)
    high = np.max([box[1] for box in boxes], axis=0)
    return low, high


def box_corners(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """The 8 corners (8, 3) of an axis-aligned box, corner ``i`` high on axis ``k`` where bit ``k`` is set."""
    return np.array([[high[k] if i >> k & 1 else low[k] for k in range(3)] for i in range(8)])


def project_points(camera: Camera, points_world: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixels (N, 2) and camera-frame depths (N,) of world points (N, 3) through ``K`` and ``pose()``."""
    world_to_camera = np.linalg.inv(camera.pose())
    in_camera = (world_to_camera[:3, :3] @ points_world.T).T + world_to_camera[:3, 3]
    depth = in_camera[:, 2]
    safe = np.where(np.abs(depth) < 1e-9, 1e-9, depth)
    uvw = (camera.intrinsics() @ in_camera.T).T
    return uvw[:, :2] / safe[:, None], depth


def unoccluded_pixels(camera: Camera, body: int, occluders: list[int]) -> int:
    """Pixels of ``body`` with ``occluders`` moved out of view (its whole silhouette in this camera).

    The occluders are parked at ``PARK_HEIGHT`` for one segmentation render, then put back exactly.
    """
    client_id = camera.client_id
    saved = [(b, *p.getBasePositionAndOrientation(b, physicsClientId=client_id)) for b in occluders]
    try:
        for b, (x, y, _), orientation in saved:
            p.resetBasePositionAndOrientation(b, [x, y, PARK_HEIGHT], orientation, physicsClientId=client_id)
        frame = camera.render(None, depth=False, segmentation=True)
    finally:
        for b, position, orientation in saved:
            p.resetBasePositionAndOrientation(b, position, orientation, physicsClientId=client_id)
    assert frame.body is not None
    return int(np.count_nonzero(frame.body == body))


def object_label(
    camera: Camera,
    frame: Frame,
    name: str,
    body: int,
    category: int,
    corners: np.ndarray,
    unoccluded: int | None = None,
) -> ObjectLabel:
    """Labels of ``body`` in ``frame`` (rendered with segmentation by ``camera`` in the current state).

    ``corners`` (8, 3) are the keypoints in the body's base frame; ``unoccluded`` the pixel count of its
    whole silhouette (``unoccluded_pixels``), for the visibility fraction.
    """
    if frame.body is None:
        raise ValueError("the frame was rendered without segmentation; labels need it")
    mask = frame.body == body
    pixels = int(np.count_nonzero(mask))
    to_world = body_pose(camera.client_id, body)
    object_to_camera = np.linalg.inv(camera.pose()) @ to_world
    corners_world = (to_world[:3, :3] @ corners.T).T + to_world[:3, 3]
    keypoints, depth = project_points(camera, corners_world)
    visibility = None if unoccluded is None else min(1.0, pixels / unoccluded) if unoccluded else 0.0
    return ObjectLabel(name, body, category, mask_box(mask), pixels, visibility, object_to_camera, keypoints, depth)


def semantic_map(body_map: np.ndarray, categories: dict[int, int]) -> np.ndarray:
    """Per-pixel category (uint8; 0 for background and bodies without a category) from a body-id map."""
    lookup = np.zeros(max([*categories, int(body_map.max(initial=0))]) + 2, dtype=np.uint8)
    for body, category in categories.items():
        lookup[body + 1] = category
    return lookup[body_map + 1]
