"""Lighting: TinyRenderer's light arguments, so randomizing light changes no scene state."""

from __future__ import annotations

import numpy as np

from dr_sim.config.schema import LIGHT_NOMINAL, LightingConfig
from dr_sim.randomizers.base import Params, Randomizer, Term
from dr_sim.scene.scene import Scene

TARGET = "light"
# Nominal light that ops ``scale`` and ``add`` start from (TinyRenderer's coefficients).
#: TinyRenderer's light, as arrays (declared with the schema, which checks ops against it).
NOMINAL = {name: np.array(value) for name, value in LIGHT_NOMINAL.items()}
_ARGUMENTS = {
    "direction": "lightDirection",
    "color": "lightColor",
    "distance": "lightDistance",
    "ambient": "lightAmbientCoeff",
    "diffuse": "lightDiffuseCoeff",
    "specular": "lightSpecularCoeff",
}


class LightingRandomizer(Randomizer):
    """Direction, color, distance, ambient/diffuse/specular coefficients and shadows."""

    section = "lighting"

    def __init__(self, config: LightingConfig) -> None:
        super().__init__()
        self.config = config

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
                if name == "direction":
                    set_direction(scene, params[name][TARGET])
                else:
                    scene.light[argument] = params[name][TARGET]
        if "shadow" in params:
            scene.light["shadow"] = int(params["shadow"][TARGET])


def set_direction(scene: Scene, direction: list[float]) -> None:
    """Light ``scene`` from ``direction`` (a 3-vector towards the light, normalised here)."""
    vector = np.asarray(direction, dtype=np.float64)
    scene.light[_ARGUMENTS["direction"]] = (vector / max(np.linalg.norm(vector), 1e-9)).tolist()
