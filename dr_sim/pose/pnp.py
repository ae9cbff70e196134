"""Object pose from 2D keypoints and the object's 3D box with the frame's K (``cv2.solvePnP``).

``solve_pnp`` returns the object-to-camera pose (OpenCV camera frame: x right, y down, z forward; the
frame of ``dr_sim.scene.camera.Camera.pose`` and of the labels, so PyBullet's OpenGL convention never
shows here). The first solve is SQPnP (globally optimal for 3 or more points, no initial guess); with
``ransac`` it runs inside ``cv2.solvePnPRansac`` (SQPnP on minimal sets), which drops keypoints that
land far from where the pose puts them (a peak on a distractor, a hidden corner); then Levenberg-Marquardt
refines the pose on the inliers (``cv2.solvePnPRefineLM``). The pose's confidence is the RMS reprojection
error on the inliers (px): small when the keypoints agree with one rigid box.

``world_pose`` puts the pose in the world frame through the camera's calibrated pose (camera-to-world),
and ``table_xy`` is the (x, y) path of Tobin's Localize: the centroid's ray cut with the plane of the
centroid's height.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from dr_sim.policies.controllers.localize import pixel_to_plane

MIN_POINTS = 4  # keypoints a pose needs (SQPnP takes 3, but 4 make it unique)
RANSAC_THRESHOLD_PX = 3.0  # px: a keypoint farther than this from its reprojection is an outlier
RANSAC_ITERATIONS = 200


@dataclass(frozen=True)
class PoseEstimate:
    """An object's pose in the camera frame: ``rotation`` (3x3), ``translation`` (3,, m), the RMS
    reprojection error of the inlier keypoints (px), which keypoints were used and inliers (bool (N,)),
    and ``ok`` (``False``: too few keypoints, or PnP failed; then the pose is the identity)."""

    rotation: np.ndarray
    translation: np.ndarray
    reprojection_error_px: float
    inliers: np.ndarray
    ok: bool

    def matrix(self) -> np.ndarray:
        """The 4x4 object-to-camera transform (m)."""
        transform = np.eye(4)
        transform[:3, :3], transform[:3, 3] = self.rotation, self.translation
        return transform


def _failed(count: int) -> PoseEstimate:
    return PoseEstimate(np.eye(3), np.zeros(3), float("inf"), np.zeros(count, dtype=bool), False)


def reprojection_errors(
    points: np.ndarray, keypoints: np.ndarray, k: np.ndarray, rotation: np.ndarray, translation: np.ndarray
) -> np.ndarray:
    """Distance (px, (N,)) between each keypoint and its 3D point projected through the pose and ``k``."""
    camera = points @ rotation.T + translation
    projected = camera @ k.T
    return np.linalg.norm(projected[:, :2] / projected[:, 2:3] - keypoints, axis=1)


def solve_pnp(
    points: np.ndarray,
    keypoints: np.ndarray,
    k: np.ndarray,
    confidence: np.ndarray | None = None,
    min_confidence: float = 0.0,
    ransac: bool = True,
    threshold_px: float = RANSAC_THRESHOLD_PX,
) -> PoseEstimate:
    """The object-to-camera pose from ``points`` (N, 3; m, object frame) seen at ``keypoints`` (N, 2;
    px) through intrinsics ``k`` (3x3, no distortion); see the module docstring.

    Args:
        confidence: per keypoint (N,) (a belief map's peak height); those below ``min_confidence`` and
            non-finite keypoints are left out before solving.
        ransac: reject outlier keypoints (``threshold_px`` from their reprojection) before refining.
    """
    points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    keypoints = np.asarray(keypoints, dtype=np.float64).reshape(-1, 2)
    k = np.asarray(k, dtype=np.float64)
    used = np.all(np.isfinite(keypoints), axis=1)
    if confidence is not None:
        used &= np.asarray(confidence, dtype=np.float64) >= min_confidence
    if used.sum() < MIN_POINTS:
        return _failed(len(points))
    object_points, image_points = points[used], keypoints[used]
    try:
        return _solve(points, used, object_points, image_points, k, ransac, threshold_px)
    except cv2.error:  # a degenerate view (keypoints in one spot, or on a line): no pose to read from it
        return _failed(len(points))


def _solve(
    points: np.ndarray,
    used: np.ndarray,
    object_points: np.ndarray,
    image_points: np.ndarray,
    k: np.ndarray,
    ransac: bool,
    threshold_px: float,
) -> PoseEstimate:
    """``solve_pnp`` on the keypoints kept (``used`` of ``points``); OpenCV's errors pass through."""
    if ransac and used.sum() > MIN_POINTS:
        found, rvec, tvec, inlier_rows = cv2.solvePnPRansac(
            object_points,
            image_points,
            k,
            None,
            iterationsCount=RANSAC_ITERATIONS,
            reprojectionError=threshold_px,
            confidence=0.999,
            flags=cv2.SOLVEPNP_SQPNP,
        )
        chosen = np.zeros(len(object_points), dtype=bool)
        if found and inlier_rows is not None and len(inlier_rows) >= MIN_POINTS:
            chosen[np.asarray(inlier_rows).reshape(-1)] = True
        else:  # no consensus: solve on every keypoint, the reprojection error tells how bad it is
            chosen[:] = True
            found, rvec, tvec = cv2.solvePnP(object_points, image_points, k, None, flags=cv2.SOLVEPNP_SQPNP)
    else:
        chosen = np.ones(len(object_points), dtype=bool)
        found, rvec, tvec = cv2.solvePnP(object_points, image_points, k, None, flags=cv2.SOLVEPNP_SQPNP)
    if not found:
        return _failed(len(points))
    rvec, tvec = cv2.solvePnPRefineLM(object_points[chosen], image_points[chosen], k, None, rvec, tvec)
    rotation = cv2.Rodrigues(rvec)[0]
    translation = np.asarray(tvec, dtype=np.float64).reshape(3)
    if translation[2] <= 0 or not np.all(np.isfinite(translation)):
        return _failed(len(points))
    errors = reprojection_errors(object_points[chosen], image_points[chosen], k, rotation, translation)
    inliers = np.zeros(len(points), dtype=bool)
    inliers[np.flatnonzero(used)[chosen]] = True
    return PoseEstimate(rotation, translation, float(np.sqrt(np.mean(errors**2))), inliers, True)


def world_pose(object_to_camera: np.ndarray, camera_pose: np.ndarray) -> np.ndarray:
    """The 4x4 object-to-world transform (m) from an object-to-camera one and the camera's calibrated
    camera-to-world pose (OpenCV camera frame, as ``Camera.pose`` and the labels' ``camera.pose``)."""
    return np.asarray(camera_pose, dtype=np.float64) @ np.asarray(object_to_camera, dtype=np.float64)


def table_xy(centroid_px: np.ndarray, k: np.ndarray, camera_pose: np.ndarray, height: float) -> np.ndarray:
    """World (x, y) (m) where the ray through the centroid's pixel (u, v) meets the plane z = ``height``
    (m): the height of the object's centre over the world's z = 0 (the table top), half its box's height
    when it rests upright. Through intrinsics ``k`` and the calibrated camera-to-world ``camera_pose``."""
    point = pixel_to_plane(np.asarray(centroid_px, dtype=np.float64), np.asarray(k), np.asarray(camera_pose), height)
    return point[:2]
