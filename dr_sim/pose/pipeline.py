"""From belief maps to poses: peaks, PnP with the frame's K, the world pose and the table (x, y).

``estimate_pose`` runs the whole path for one image: the 9 peaks (``dr_sim.pose.keypoints``), PnP on
those confident enough (``dr_sim.pose.pnp``), the world pose through the given camera pose (the true one
or a calibrated one with its error), and the centroid's ray cut with the plane of the object's centre.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dr_sim.pose.keypoints import CENTROID, read_keypoints
from dr_sim.pose.pnp import solve_pnp, table_xy
from dr_sim.pose.pnp import world_pose as to_world

MIN_PEAK = 0.1  # belief-map peak height below which a keypoint is left out of PnP


@dataclass(frozen=True)
class ImageEstimate:
    """One image's estimate: keypoints (9, 2) px and their peak heights (9,), the pose in the camera
    frame and in the world (4x4, m; NaN-filled when PnP failed), PnP's RMS reprojection error (px,
    ``inf`` on failure), and the table (x, y) (m, world) of the centroid's ray."""

    keypoints: np.ndarray
    peaks: np.ndarray
    camera_pose: np.ndarray
    world_pose: np.ndarray
    reprojection_error_px: float
    xy: np.ndarray


def estimate_pose(
    beliefs: np.ndarray,
    model_points: np.ndarray,
    k: np.ndarray,
    camera_pose: np.ndarray,
    centre_height: float,
    stride: float = 1.0,
    min_peak: float = MIN_PEAK,
    ransac: bool = True,
) -> ImageEstimate:
    """The estimate of one image from its network outputs (belief maps (9, h, w) of ``stride`` px per
    cell, or with corner offsets (25, h, w); ``dr_sim.pose.keypoints.read_keypoints``), the object's
    9 model points (9, 3; m, object frame), the frame's intrinsics ``k`` and the camera-to-world
    ``camera_pose`` (OpenCV frame, m) a user has; ``centre_height`` (m) is the height of the object's
    centre over the table top (z = 0) for the (x, y) path."""
    uv, peaks = read_keypoints(beliefs, stride)
    result = solve_pnp(model_points, uv, k, peaks, min_peak, ransac=ransac)
    if result.ok:
        in_camera = result.matrix()
        in_world = to_world(in_camera, camera_pose)
    else:
        in_camera = in_world = np.full((4, 4), np.nan)
    xy = table_xy(uv[CENTROID], k, camera_pose, centre_height)
    return ImageEstimate(uv, peaks, in_camera, in_world, result.reprojection_error_px, xy)
