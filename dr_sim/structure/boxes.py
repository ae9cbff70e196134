"""Upright boxes: the bounding boxes of objects that stand upright, turned only about the world's z axis.

Units: metres and radians. A box has a centre (world), half extents along its own axes, and a yaw.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

_TOUCH = 1e-6  # m: boxes whose z ranges overlap by less than this touch (one stands on the other)


@dataclass(frozen=True)
class UprightBox:
    """A box standing upright: ``center`` (3,) m in the world, ``half`` (3,) m half extents along its own
    axes, ``yaw`` rad about the world's z axis."""

    center: np.ndarray
    half: np.ndarray
    yaw: float

    @property
    def bottom(self) -> float:
        return float(self.center[2] - self.half[2])

    @property
    def top(self) -> float:
        return float(self.center[2] + self.half[2])

    def rotation(self) -> np.ndarray:
        """3x3 rotation from the box's axes to the world's."""
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])

    def footprint(self) -> np.ndarray:
        """(4, 2) x-y corners of the box's footprint (m, world)."""
        signs = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], dtype=np.float64)
        return self.center[:2] + (signs * self.half[:2]) @ self.rotation()[:2, :2].T

    def corners(self) -> np.ndarray:
        """(8, 3) corners (m, world)."""
        signs = np.array([[(i >> k & 1) * 2 - 1 for k in range(3)] for i in range(8)], dtype=np.float64)
        return self.center + (signs * self.half) @ self.rotation().T


def overlaps(a: UprightBox, b: UprightBox, gap: float = 0.0) -> bool:
    """Whether two boxes overlap, or come closer than ``gap`` (m) side by side.

    Boxes overlap when their z ranges overlap (touching, as a box standing on another, does not count)
    and their footprints, grown by ``gap / 2`` on every side, intersect (separating axes).
    """
    if a.bottom >= b.top - _TOUCH or b.bottom >= a.top - _TOUCH:
        return False
    axes_a, axes_b = a.rotation()[:2, :2], b.rotation()[:2, :2]
    half_a, half_b = a.half[:2] + gap / 2, b.half[:2] + gap / 2
    offset = b.center[:2] - a.center[:2]
    for axis in (*axes_a.T, *axes_b.T):
        reach = np.abs(axes_a.T @ axis) @ half_a + np.abs(axes_b.T @ axis) @ half_b
        if abs(float(offset @ axis)) > reach:
            return False
    return True


def blocked(eye: np.ndarray, points: np.ndarray, boxes: list[UprightBox]) -> np.ndarray:
    """(N,) whether the segment from ``eye`` (3,) to each of ``points`` (N, 3) passes through one of
    ``boxes`` before it reaches the point (slab test in each box's frame, all boxes at once; m)."""
    if not boxes:
        return np.zeros(len(points), dtype=bool)
    centers = np.array([box.center for box in boxes])[:, None, :]  # (M, 1, 3)
    half = np.array([box.half for box in boxes])[:, None, :]
    rotations = np.array([box.rotation() for box in boxes])  # (M, 3, 3)
    start = np.einsum("mj,mjk->mk", eye - centers[:, 0], rotations)[:, None, :]  # into each box's frame
    direction = np.einsum("mnj,mjk->mnk", points[None] - centers, rotations) - start
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = (-half - start) / direction
        t2 = (half - start) / direction
    parallel = direction == 0
    inside = np.abs(start) <= half
    near = np.where(parallel, np.where(inside, -np.inf, np.inf), np.minimum(t1, t2))
    far = np.where(parallel, np.where(inside, np.inf, -np.inf), np.maximum(t1, t2))
    enter, leave = near.max(axis=2), far.min(axis=2)
    return np.any((enter < leave) & (leave > 0) & (enter < 1 - 1e-6), axis=0)
