"""Camera: pose jitter around the nominal pose, field of view and principal point; ``aim_camera`` puts a
camera at a drawn pose (the structure's mount poses)."""

from __future__ import annotations

import numpy as np

from dr_sim.config.schema import CameraConfig
from dr_sim.randomizers.base import Params, Randomizer, add_terms
from dr_sim.scene.camera import Camera
from dr_sim.scene.scene import Scene

_FIELDS = ("eye", "aim", "roll", "fov", "principal_point")


def _nominal(field: str, camera: Camera) -> np.ndarray:
    nominal = camera.nominal
    return np.asarray(getattr(nominal, field), dtype=np.float64)


class CameraRandomizer(Randomizer):
    """Randomizes every camera of the scene (``scene.cameras``) independently."""

    section = "camera"

    def __init__(self, config: CameraConfig) -> None:
        super().__init__()
        self.config = config

    def bind(self, scene: Scene) -> None:
        self.terms = []
        add_terms(self.terms, self.config, _FIELDS, dict(scene.cameras), _nominal)

    def apply(self, scene: Scene, params: Params) -> None:
        for field in _FIELDS:
            for name, value in params.get(field, {}).items():
                state = scene.cameras[name].state
                setattr(state, field, float(value) if np.ndim(value) == 0 else np.asarray(value, dtype=np.float64))


def aim_camera(camera: Camera, eye: list[float], target: list[float], roll: float, fov: float) -> None:
    """Put ``camera`` at ``eye`` looking at ``target`` (m, world) with the world's z up, turned by
    ``roll`` (rad) about its axis, with no aim offset and a vertical field of view ``fov`` (deg)."""
    state = camera.state
    state.eye = np.asarray(eye, dtype=np.float64)
    state.target = np.asarray(target, dtype=np.float64)
    state.up = np.array([0.0, 0.0, 1.0])
    state.aim = np.zeros(2)
    state.roll = float(roll)
    state.fov = float(fov)
