"""Where the camera and the light come from: plausible mount poses and the upper hemisphere.

Angles in the config are degrees; poses are metres. Directions are drawn area-uniform on their band of
the sphere (the sine of the elevation is uniform), so no part of a cap is favoured.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from dr_sim.config.schema import CameraMount, LightHemisphere
from dr_sim.errors import ConfigError


@dataclass(frozen=True)
class MountPose:
    """A camera pose: ``eye`` and ``target`` (3,) m in the world, ``roll`` rad about the optical axis
    (the up vector is the world's z), and ``fov_scale`` x the nominal field of view."""

    eye: np.ndarray
    target: np.ndarray
    roll: float
    fov_scale: float = 1.0

    @property
    def tilt(self) -> float:
        """The optical axis' angle below the horizontal (deg)."""
        axis = self.target - self.eye
        return math.degrees(math.atan2(-axis[2], math.hypot(axis[0], axis[1])))


def sphere_direction(rng: np.random.Generator, elevation: list[float], azimuth: list[float]) -> np.ndarray:
    """A unit vector (3,) area-uniform on the band ``elevation`` x ``azimuth`` (deg) of the sphere."""
    low, high = (math.sin(math.radians(e)) for e in elevation)
    z = rng.uniform(low, high)
    phi = math.radians(rng.uniform(*azimuth))
    ring = math.sqrt(max(1.0 - z * z, 0.0))
    return np.array([ring * math.cos(phi), ring * math.sin(phi), z])


def camera_pose(rng: np.random.Generator, mount: CameraMount, attempts: int) -> MountPose:
    """A camera pose on the mount's cap that meets its height and tilt limits, drawn at most ``attempts``
    times; a ``ConfigError`` naming the limits when none does."""
    center = np.asarray(mount.center, dtype=np.float64)
    jitter = np.asarray(mount.aim_jitter, dtype=np.float64)
    heights = tilts = 0
    for _ in range(attempts):
        eye = center + rng.uniform(*mount.distance) * sphere_direction(rng, mount.elevation, mount.azimuth)
        target = center + rng.uniform(-jitter, jitter)
        pose = MountPose(eye, target, math.radians(rng.uniform(*mount.roll)), float(rng.uniform(*mount.fov)))
        if not mount.height[0] <= eye[2] <= mount.height[1]:
            heights += 1
        elif not mount.tilt[0] <= pose.tilt <= mount.tilt[1]:
            tilts += 1
        else:
            return pose
    rule, limit = ("height", mount.height) if heights >= tilts else ("tilt", mount.tilt)
    raise ConfigError(
        f"structure.camera: no pose of the cap met its {rule} limits {limit} in {attempts} draws (height missed "
        f"{heights} times, tilt {tilts}); widen the limits or move the cap (center, distance, elevation)"
    )


def light_direction(rng: np.random.Generator, lights: LightHemisphere) -> np.ndarray:
    """A unit vector (3,) towards the light, from the configured band of the upper hemisphere."""
    return sphere_direction(rng, lights.elevation, lights.azimuth)
