"""Localize: a classical detector, from the image and the camera calibration alone.

The target is the largest blob of the nominal target red (an HSV threshold); the ray through the blob's
centroid, through the camera's intrinsics K and pose (a calibrated camera), meets the plane of the
target's centre at the estimate. Tuned to the nominal scene: under visual randomization (other
colors, lights, camera) it fails by design.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from dr_sim.errors import ConfigError

# OpenCV HSV (hue 0-180, saturation and value 0-255) around the nominal red (hue 2, saturation 211);
# the wooden table top has hue 13-20 and saturation below 90.
HUE_HALF_WIDTH = 8
MIN_SATURATION = 130
MIN_VALUE = 60


def red_mask(rgb: np.ndarray) -> np.ndarray:
    """The pixels of ``rgb`` (uint8 HxWx3) within the target's red (bool HxW)."""
    hue, saturation, value = np.moveaxis(cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV), -1, 0)
    red = (hue <= HUE_HALF_WIDTH) | (hue >= 180 - HUE_HALF_WIDTH)
    return red & (saturation >= MIN_SATURATION) & (value >= MIN_VALUE)


def largest_blob(mask: np.ndarray) -> np.ndarray:
    """The largest 8-connected component of ``mask`` (bool HxW; all False if the mask is empty)."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if count < 2:
        return np.zeros_like(mask)
    return labels == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))


def pixel_to_plane(pixel: np.ndarray, intrinsics: np.ndarray, pose: np.ndarray, height: float) -> np.ndarray:
    """Where the ray through ``pixel`` (u, v; continuous, pixel (i, j) spans [i, i + 1] x [j, j + 1])
    meets the plane z = ``height`` (m), for a camera with OpenCV ``intrinsics`` and camera-to-world
    ``pose``; world (x, y, z), m."""
    direction = pose[:3, :3] @ np.linalg.solve(intrinsics, np.array([pixel[0], pixel[1], 1.0]))
    origin = pose[:3, 3]
    return origin + (height - origin[2]) / direction[2] * direction


class LocalizeController:
    """Scripted localization for ``dr_sim/Localize``: needs an image observation (``rgb``, ``rgbd``,
    ``state+rgb`` or ``state+rgbd``)."""

    def __init__(self, env: Any) -> None:
        self.env = env.unwrapped
        if self.env.session.obs_type is None:
            raise ConfigError("LocalizeController needs an image observation; make the env with obs_type='rgb'")

    def reset(self) -> None:
        """Nothing to reset: every estimate comes from one image."""

    def act(self, observation: Any) -> np.ndarray:
        """The estimated (x, y) of the target (m, world); the workspace centre when no red is seen."""
        rgb = observation["rgb"] if isinstance(observation, dict) else observation
        rows, cols = np.nonzero(largest_blob(red_mask(rgb)))
        if rows.size == 0:
            return np.zeros(2, dtype=np.float32)
        camera = self.env.session.camera
        centroid = np.array([cols.mean() + 0.5, rows.mean() + 0.5])
        point = pixel_to_plane(centroid, camera.intrinsics(), camera.pose(), self.env.target_height)
        return point[:2].astype(np.float32)
