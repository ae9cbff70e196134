"""Image: corruption of rendered RGB only, after rendering, so every label stays exact.

Order: brightness, contrast, saturation, hue (color jitter), gamma, blur, noise, JPEG. All levels
are drawn per episode; the noise pattern is drawn again for every frame.
"""

from __future__ import annotations

import cv2
import numpy as np

from dr_sim.config.schema import IMAGE_NOMINAL, ImageConfig
from dr_sim.randomizers.base import Params, Randomizer, Term
from dr_sim.scene.scene import Scene

TARGET = "image"
_NOMINAL = IMAGE_NOMINAL  # the neutral levels, declared with the schema that checks ops against them


class ImageRandomizer(Randomizer):
    """Color jitter, gamma, blur, noise and JPEG artefacts on uint8 RGB images."""

    section = "image"

    def __init__(self, config: ImageConfig) -> None:
        super().__init__()
        self.config = config

    def bind(self, scene: Scene) -> None:
        self.terms = [
            Term(name, getattr(self.config, name), {TARGET: np.asarray(nominal)})
            for name, nominal in _NOMINAL.items()
            if getattr(self.config, name) is not None
        ]

    def sample(self, rng: np.random.Generator, step: int | None = None) -> Params:
        params = super().sample(rng, step)
        if step is None and self.config.jpeg_probability > 0:
            params["jpeg"] = {TARGET: bool(rng.random() < self.config.jpeg_probability)}
        return params

    def apply(self, scene: Scene, params: Params) -> None:
        """Image corruption changes no scene state; ``corrupt`` uses the params."""

    def corrupt(self, rgb: np.ndarray, params: Params, rng: np.random.Generator) -> np.ndarray:
        """Return a corrupted copy of a uint8 (H, W, 3) image."""
        levels = {
            name: float(params[name][TARGET]) if name in params else nominal for name, nominal in _NOMINAL.items()
        }
        image = rgb.astype(np.float32) / 255.0
        image = image * levels["contrast"] + (1.0 - levels["contrast"]) * image.mean() + levels["brightness"]
        image = np.clip(image, 0.0, 1.0)
        if levels["saturation"] != 1.0 or levels["hue"] != 0.0:
            hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV)  # float input: H in [0, 360)
            hsv[..., 0] = (hsv[..., 0] + levels["hue"]) % 360.0
            hsv[..., 1] = np.clip(hsv[..., 1] * levels["saturation"], 0.0, 1.0)
            image = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
        if levels["gamma"] != 1.0:
            image = np.power(np.clip(image, 0.0, 1.0), max(levels["gamma"], 1e-3))
        if levels["blur_sigma"] > 0:
            image = cv2.GaussianBlur(image, (0, 0), sigmaX=levels["blur_sigma"])
        if levels["noise_std"] > 0:
            image = image + rng.normal(0.0, levels["noise_std"], size=image.shape).astype(np.float32)
        out = (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
        if params.get("jpeg", {}).get(TARGET, False):
            quality = int(np.clip(round(levels["jpeg_quality"]), 1, 100))
            _, encoded = cv2.imencode(".jpg", out[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
            out = np.ascontiguousarray(cv2.imdecode(encoded, cv2.IMREAD_COLOR)[..., ::-1])
        return out
