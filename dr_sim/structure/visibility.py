"""What a camera would see of a box, without rendering: whether it lies in the image, and the visible
fraction of its silhouette.

The fraction is estimated on the box's faces that face the camera: a grid of points on each, weighted
by the face's projected area (px^2), and a point counts as visible when the segment from the eye to it
passes through no other box (``boxes.blocked``). Occluders are boxes, so an object that fills less of
its box than a box does hides less than the estimate says: the estimate errs on the safe side.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dr_sim.scene.camera import Camera, CameraState
from dr_sim.scene.labels import project_points
from dr_sim.structure.boxes import UprightBox, blocked

GRID = 4  # points per side of each face


@dataclass(frozen=True)
class View:
    """A camera's geometry: ``camera`` is only asked for its pose and intrinsics, never rendered."""

    camera: Camera

    @classmethod
    def of(cls, camera: Camera, eye: np.ndarray, target: np.ndarray, roll: float, fov: float) -> View:
        """The view of ``camera`` (its size, nominal near and far planes) moved to ``eye`` looking at
        ``target`` (m, world) with ``roll`` (rad), the world's z up and a vertical ``fov`` (deg)."""
        nominal = camera.nominal
        state = CameraState(
            np.asarray(eye, dtype=np.float64),
            np.asarray(target, dtype=np.float64),
            np.array([0.0, 0.0, 1.0]),
            float(fov),
            nominal.near,
            nominal.far,
            roll=float(roll),
        )
        return cls(Camera(camera.client_id, camera.width, camera.height, state))

    @classmethod
    def nominal(cls, camera: Camera) -> View:
        """The view of ``camera`` in its nominal state."""
        return cls(Camera(camera.client_id, camera.width, camera.height, camera.nominal))

    @property
    def eye(self) -> np.ndarray:
        return self.camera.state.eye

    def contains(self, box: UprightBox, margin: float = 0.0) -> bool:
        """Whether every corner of ``box`` projects into the image, ``margin`` px inside its border, in
        front of the near plane."""
        pixels, depth = project_points(self.camera, box.corners())
        size = np.array([self.camera.width, self.camera.height])
        inside = np.all((pixels >= margin) & (pixels <= size - margin), axis=1)
        return bool(np.all(inside & (depth > self.camera.state.near)))

    def visible_fraction(self, box: UprightBox, occluders: list[UprightBox]) -> float:
        """Estimated share (0-1) of ``box``'s silhouette that ``occluders`` leave visible."""
        points, weights = face_samples(self, box)
        if not weights.sum() > 0:
            return 0.0
        hidden = blocked(self.eye, points, occluders)
        return float(weights[~hidden].sum() / weights.sum())


_SIGNS = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], dtype=np.float64)  # a face's corners, in order
_CELLS = np.array([(2 * i + 1) / GRID - 1 for i in range(GRID)])
_GRID = np.stack(np.meshgrid(_CELLS, _CELLS), axis=-1).reshape(-1, 2)  # (GRID^2, 2) cell centres


def face_samples(view: View, box: UprightBox) -> tuple[np.ndarray, np.ndarray]:
    """Points (M, 3) on the faces of ``box`` that face the eye, ``GRID`` x ``GRID`` per face at cell
    centres, and their weights (M,): the face's projected area (px^2) shared among its points."""
    rotation = box.rotation()
    normals, spans = [], []
    for axis in range(3):
        first, second = (k for k in range(3) if k != axis)
        for sign in (-1.0, 1.0):
            normals.append(sign * rotation[:, axis] * box.half[axis])
            spans.append((rotation[:, first] * box.half[first], rotation[:, second] * box.half[second]))
    centres = box.center + np.array(normals)  # (6, 3)
    facing = np.einsum("fk,fk->f", view.eye - centres, np.array(normals)) > 0
    u = np.array([span[0] for span in spans])[facing]  # (F, 3)
    v = np.array([span[1] for span in spans])[facing]
    centres = centres[facing]
    corners = centres[:, None] + _SIGNS[None, :, :1] * u[:, None] + _SIGNS[None, :, 1:] * v[:, None]  # (F, 4, 3)
    pixels, _ = project_points(view.camera, corners.reshape(-1, 3))
    x, y = pixels[:, 0].reshape(-1, 4), pixels[:, 1].reshape(-1, 4)
    areas = 0.5 * np.abs(np.sum(x * np.roll(y, -1, axis=1) - np.roll(x, -1, axis=1) * y, axis=1))
    points = centres[:, None] + _GRID[None, :, :1] * u[:, None] + _GRID[None, :, 1:] * v[:, None]  # (F, G, 3)
    weights = np.repeat(areas / len(_GRID), len(_GRID))
    return points.reshape(-1, 3), weights
