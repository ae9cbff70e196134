"""Lighting: TinyRenderer's light arguments, so randomizing light changes no scene state.

The light's direction is drawn as a 3-vector (``direction``) or as ``elevation`` and ``azimuth`` (deg);
``intensity`` scales the diffuse and specular coefficients (drawn or nominal) that reach the renderer.
"""

from __future__ import annotations

import math

import numpy as np

from dr_sim.config.schema import LIGHT_NOMINAL, LightingConfig
from dr_sim.randomizers.base import Params, Randomizer, Term
from dr_sim.scene.scene import Scene

TARGET = "light"
#: TinyRenderer's light, as arrays (declared with the schema, which checks ops against it).
NOMINAL = {name: np.array(value) for name, value in LIGHT_NOMINAL.items()}
#: Drawn quantities passed to the renderer as they are.
_ARGUMENTS = {
    "color": "lightColor",
    "distance": "lightDistance",
    "ambient": "lightAmbientCoeff",
}
#: The light's own contributions, which ``intensity`` scales.
_SCALED = {"diffuse": "lightDiffuseCoeff", "specular": "lightSpecularCoeff"}
_DIRECTION = "lightDirection"


class LightingRandomizer(Randomizer):
    """Direction (or elevation and azimuth), color, distance, ambient/diffuse/specular coefficients,
    intensity and shadows."""

    section = "lighting"

    def __init__(self, config: LightingConfig) -> None:
        super().__init__()
        self.config = config
        # the last values applied of what combines with another draw (a term may be due at other steps)
        self.coefficients = {name: float(NOMINAL[name]) for name in _SCALED}
        self.intensity = float(NOMINAL["intensity"])
        self.angles = {name: float(NOMINAL[name]) for name in ("elevation", "azimuth")}

    def bind(self, scene: Scene) -> None:
        self.terms = [
            Term(name, getattr(self.config, name), {TARGET: nominal})
            for name, nominal in NOMINAL.items()
            if getattr(self.config, name) is not None
        ]

    def sample(self, rng: np.random.Generator, step: int | None = None) -> Params:
        params = super().sample(rng, step)
        if step is None and self.config.shadow_probability > 0:
            params["shadow"] = {TARGET: bool(rng.random() < self.config.shadow_probability)}
        return params

    def apply(self, scene: Scene, params: Params) -> None:
        for name, argument in _ARGUMENTS.items():
            if name in params:
                scene.light[argument] = params[name][TARGET]
        if "direction" in params:
            set_direction(scene, params["direction"][TARGET])
        if any(name in params for name in self.angles):
            self.angles.update({name: float(params[name][TARGET]) for name in self.angles if name in params})
            set_direction(scene, sky_direction(self.angles["elevation"], self.angles["azimuth"]))
        if any(name in params for name in (*_SCALED, "intensity")):
            self.coefficients.update({name: float(params[name][TARGET]) for name in _SCALED if name in params})
            if "intensity" in params:
                self.intensity = float(params["intensity"][TARGET])
            for name, argument in _SCALED.items():
                scene.light[argument] = self.coefficients[name] * self.intensity
        if "shadow" in params:
            scene.light["shadow"] = int(params["shadow"][TARGET])


def sky_direction(elevation: float, azimuth: float) -> list[float]:
    """The unit vector towards a light ``elevation`` deg above the horizontal, ``azimuth`` deg about z
    (0 = +x, counter-clockwise seen from above)."""
    up, around = math.radians(elevation), math.radians(azimuth)
    return [math.cos(up) * math.cos(around), math.cos(up) * math.sin(around), math.sin(up)]


def set_direction(scene: Scene, direction: list[float]) -> None:
    """Light ``scene`` from ``direction`` (a 3-vector towards the light, normalised here)."""
    vector = np.asarray(direction, dtype=np.float64)
    scene.light[_DIRECTION] = (vector / max(np.linalg.norm(vector), 1e-9)).tolist()
