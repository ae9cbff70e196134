"""How far a randomization moves the camera's view: the pixel scatter of fixed world points.

Two randomizations span the same camera range when the images of the same world points scatter alike
over their images, whatever the parametrisation (a box of eye offsets and aim angles, or mount poses on a
cap). ``image_spread`` measures it from camera labels: the OpenCV intrinsics ``K`` (px) and the
camera-to-world ``pose`` (4x4, m) that every generated image stores.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

ArrayLike = np.ndarray | list[list[float]]


def grid_points(low: list[float], high: list[float], count: int = 5) -> np.ndarray:
    """A ``count`` x ``count`` grid (N, 3) of world points (m) on the axis-aligned rectangle from ``low`` to
    ``high`` (x and y vary, z is ``low``'s)."""
    xs, ys = np.meshgrid(np.linspace(low[0], high[0], count), np.linspace(low[1], high[1], count))
    return np.stack([xs.ravel(), ys.ravel(), np.full(xs.size, float(low[2]))], axis=1)


def project(intrinsics: ArrayLike, pose: ArrayLike, points: np.ndarray) -> np.ndarray:
    """Pixels (N, 2) of world points (N, 3) seen by a camera with OpenCV intrinsics ``K`` (3x3, px) and
    camera-to-world ``pose`` (4x4, m)."""
    world_to_camera = np.linalg.inv(np.asarray(pose, dtype=np.float64))
    in_camera = points @ world_to_camera[:3, :3].T + world_to_camera[:3, 3]
    uvw = in_camera @ np.asarray(intrinsics, dtype=np.float64).T
    return uvw[:, :2] / uvw[:, 2:3]


def image_spread(cameras: Iterable[tuple[ArrayLike, ArrayLike]], points: np.ndarray) -> np.ndarray:
    """The camera range of a set of images: each world point's pixel standard deviation over the cameras
    ``(K, pose)``, averaged over the points, in u and v (2,) px. Zero when every camera is the same."""
    pixels = [project(intrinsics, pose, points) for intrinsics, pose in cameras]
    if len(pixels) < 2:
        raise ValueError(f"a spread needs at least two cameras, got {len(pixels)}")
    return np.stack(pixels).std(axis=0).mean(axis=0)
