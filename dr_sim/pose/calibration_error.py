"""A calibration error: the camera pose a user would have, the true pose moved by a small rigid error.

A real camera's pose is known to a few millimetres and a fraction of a degree. ``draw_calibration_error``
draws one such error from a caller's ``numpy.random.Generator``: a translation of exactly
``translation_m`` (default 5 mm) in a uniformly random direction and a rotation of exactly
``rotation_deg`` (default 0.5 degrees) about a uniformly random axis, both in the camera frame (the
camera turns about its own centre). One error is drawn per evaluation set (a calibration is done
once) and ``perturb_pose`` applies it to each image's camera pose: ``pose @ error``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from pydantic import Field

from dr_sim.config.params import StrictModel

DEFAULT_TRANSLATION_M = 0.005
DEFAULT_ROTATION_DEG = 0.5


@dataclass(frozen=True)
class CalibrationError:
    """The size of a calibration error: ``translation_m`` (m) and ``rotation_deg`` (degrees)."""

    translation_m: float = DEFAULT_TRANSLATION_M
    rotation_deg: float = DEFAULT_ROTATION_DEG

    def __post_init__(self) -> None:
        if not (self.translation_m >= 0 and self.rotation_deg >= 0):
            raise ValueError(
                f"a calibration error needs translation_m >= 0 and rotation_deg >= 0, got "
                f"{self.translation_m!r} m and {self.rotation_deg!r} deg"
            )


class CalibrationErrorSpec(StrictModel):
    """A config's calibration error size, checked: ``translation_m`` (m, at most 1) and ``rotation_deg``
    (degrees, at most 90)."""

    translation_m: float = Field(default=DEFAULT_TRANSLATION_M, ge=0, le=1)
    rotation_deg: float = Field(default=DEFAULT_ROTATION_DEG, ge=0, le=90)

    def size(self) -> CalibrationError:
        """The size as ``draw_calibration_error`` takes it."""
        return CalibrationError(self.translation_m, self.rotation_deg)


def _direction(rng: np.random.Generator) -> np.ndarray:
    """A unit 3-vector, uniform on the sphere."""
    while True:
        vector = rng.normal(size=3)
        norm = float(np.linalg.norm(vector))
        if norm > 1e-9:
            return vector / norm


def draw_calibration_error(rng: np.random.Generator, size: CalibrationError | None = None) -> np.ndarray:
    """A 4x4 rigid error in the camera frame (see the module docstring), drawn from ``rng``."""
    size = size or CalibrationError()
    error = np.eye(4)
    axis = _direction(rng)
    error[:3, :3] = cv2.Rodrigues(axis * np.radians(size.rotation_deg))[0]
    error[:3, 3] = _direction(rng) * size.translation_m
    return error


def perturb_pose(camera_pose: np.ndarray, error: np.ndarray) -> np.ndarray:
    """The camera-to-world pose (4x4, m) a user would have: ``camera_pose`` moved by ``error`` (4x4, in
    the camera frame)."""
    return np.asarray(camera_pose, dtype=np.float64) @ np.asarray(error, dtype=np.float64)
