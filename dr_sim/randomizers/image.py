"""Image: corruption of rendered RGB only, after rendering, so every label stays exact.

Order: brightness, contrast, saturation, hue (color jitter), gamma, blur, noise, JPEG. All levels
are drawn per episode; the noise pattern is drawn again for every frame (one float32 draw per frame,
from the episode's per-step stream, so a replayed episode gets the same noise).

The image stays uint8 throughout, in as few passes as the levels need: brightness, contrast and gamma
are one 256-entry lookup table (``cv2.LUT``); saturation and hue are a linear mix of the channels (the
luminance-preserving matrices of SVG's ``feColorMatrix``), applied with the brightness and contrast
folded in by one ``cv2.transform``, then the gamma table; blur runs in place; the noise is added with
rounding and saturation in one ``cv2.add``. The noise is Gaussian through a table: one uint16 draw per
value picks one of ``NOISE_LEVELS`` equally likely quantiles of the normal distribution (tails cut at
4.3 standard deviations), about 5x cheaper than drawing normal floats. Levels at their nominal values
cost nothing. Intensities are rounded to uint8 between passes, so a level is applied to within one
intensity step of exact arithmetic.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

from dr_sim.config.schema import IMAGE_NOMINAL, MIN_GAMMA, ImageConfig
from dr_sim.randomizers.base import Params, Randomizer, Term
from dr_sim.scene.scene import Scene

TARGET = "image"
_NOMINAL = IMAGE_NOMINAL  # the neutral levels, declared with the schema that checks ops against them
NOISE_LEVELS = 1 << 16  # quantiles of the noise table, one uint16 draw each
_LUMINANCE = np.array([0.213, 0.715, 0.072])  # the weights of SVG's feColorMatrix (Rec. 709, rounded)
_HUE_SINE = np.array([[-0.213, -0.715, 0.928], [0.143, 0.140, -0.283], [-0.787, 0.715, 0.072]])


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
        """Return a corrupted copy of a uint8 (H, W, 3) image (see the module docstring for the passes)."""
        levels = {
            name: float(params[name][TARGET]) if name in params else nominal for name, nominal in _NOMINAL.items()
        }
        out = _color_and_gamma(rgb, levels)
        if levels["blur_sigma"] > 0:
            cv2.GaussianBlur(out, (0, 0), sigmaX=levels["blur_sigma"], dst=out)
        if levels["noise_std"] > 0:
            draws = rng.integers(0, NOISE_LEVELS, size=out.shape, dtype=np.uint16)
            noise = np.take(_noise_table(levels["noise_std"]), draws)
            out = cv2.add(out, noise, dtype=cv2.CV_8U)  # rounded and saturated in the same pass
        if params.get("jpeg", {}).get(TARGET, False):
            quality = int(np.clip(round(levels["jpeg_quality"]), 1, 100))
            _, encoded = cv2.imencode(".jpg", cv2.cvtColor(out, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
            out = cv2.cvtColor(cv2.imdecode(encoded, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        return out


def _color_and_gamma(rgb: np.ndarray, levels: dict[str, float]) -> np.ndarray:
    """Brightness, contrast, saturation, hue and gamma of a uint8 RGB image in one or two passes (a new array).

    Brightness and contrast (about the image's mean intensity) are affine in each channel; saturation and hue
    mix the channels linearly (``color_matrix``). Without mixing, affine and gamma are one 256-entry lookup
    table (``cv2.LUT``); with it, one ``cv2.transform`` (the affine folded into the matrix), then the gamma table.
    """
    contrast, brightness, gamma = levels["contrast"], levels["brightness"], max(levels["gamma"], MIN_GAMMA)
    mixes = levels["saturation"] != 1.0 or levels["hue"] != 0.0
    affine = contrast != 1.0 or brightness != 0.0
    if not (mixes or affine or gamma != 1.0):
        return np.array(rgb, dtype=np.uint8, copy=True)
    mean = sum(cv2.mean(rgb)[:3]) / (3 * 255.0) if contrast != 1.0 else 0.0
    offset = (1.0 - contrast) * mean + brightness  # in units of the full 0-1 intensity scale
    levels_in = np.arange(256, dtype=np.float64) / 255.0
    if mixes:
        matrix = np.empty((3, 4))
        matrix[:, :3] = contrast * color_matrix(levels["saturation"], levels["hue"])
        matrix[:, 3] = 255.0 * offset  # rows of the mixing matrix sum to 1: a grey offset stays grey
        out = cv2.transform(np.ascontiguousarray(rgb), matrix)
        if gamma != 1.0:
            cv2.LUT(out, _gamma_table(gamma), dst=out)
        return out
    return cv2.LUT(np.ascontiguousarray(rgb), _table(np.clip(levels_in * contrast + offset, 0.0, 1.0) ** gamma))


@functools.lru_cache(maxsize=64)
def _gamma_table(gamma: float) -> np.ndarray:
    return _table((np.arange(256, dtype=np.float64) / 255.0) ** gamma)


@functools.lru_cache(maxsize=64)
def color_matrix(saturation: float, hue: float) -> np.ndarray:
    """The 3x3 RGB matrix that scales saturation by ``saturation`` (0: grey) after rotating hue by ``hue``
    degrees about the grey axis (the luminance-preserving matrices of SVG's ``feColorMatrix``); cached, so
    treat it as read-only."""
    luminance = np.tile(_LUMINANCE, (3, 1))
    angle = np.radians(hue)
    rotate = luminance + np.cos(angle) * (np.eye(3) - luminance) + np.sin(angle) * _HUE_SINE
    return (luminance + saturation * (np.eye(3) - luminance)) @ rotate


def _table(values: np.ndarray) -> np.ndarray:
    """A uint8 lookup table from 256 values in [0, 1]."""
    return (np.clip(values, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


@functools.lru_cache(maxsize=16)
def _noise_table(noise_std: float) -> np.ndarray:
    """``NOISE_LEVELS`` equally likely normal quantiles (float32) with standard deviation ``noise_std`` in
    intensity steps of 0-255 (``noise_std`` is in units of the full 0-1 scale)."""
    probability = (np.arange(NOISE_LEVELS, dtype=np.float64) + 0.5) / NOISE_LEVELS
    return (normal_quantile(probability) * noise_std * 255.0).astype(np.float32)


def normal_quantile(probability: np.ndarray) -> np.ndarray:
    """The standard normal inverse CDF at ``probability`` in (0, 1) (Acklam's rational approximation, relative
    error below 1.2e-9)."""
    a = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02, 1.383577518672690e02,
         -3.066479806614716e01, 2.506628277459239e00)  # fmt: skip
    b = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02, 6.680131188771972e01,
         -1.328068155288572e01)  # fmt: skip
    c = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00, -2.549732539343734e00,
         4.374664141464968e00, 2.938163982698783e00)  # fmt: skip
    d = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00, 3.754408661907416e00)
    p = np.asarray(probability, dtype=np.float64)
    tail = np.minimum(p, 1.0 - p)
    q = np.sqrt(-2.0 * np.log(np.maximum(tail, 1e-300)))
    outer = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / (
        (((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0
    )
    outer = np.where(p < 0.5, outer, -outer)
    r = (p - 0.5) ** 2
    inner = (
        (p - 0.5)
        * (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5])
        / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0)
    )
    return np.where(tail < 0.02425, outer, inner)
