"""Augmentations of generated samples that keep every label true.

A sample is a dict as ``ShardDataset`` returns it: ``rgb`` (H, W, 3) uint8, ``depth`` (H, W) float32
metres, ``instance`` and ``semantic`` (H, W) uint8, ``labels`` (the per-image dict of the shards).
An augmentation is a callable ``(sample, rng) -> sample`` drawing only from the numpy Generator it is
given (``ShardDataset`` seeds one per item and epoch).

- ``GeometricAugment`` moves pixels: a random shift, scale, rotation (about the image centre) and
  horizontal flip, composed into one affine map ``A`` (3x3, pixel coordinates with dr_sim's convention:
  pixel (u, v) spans [u, u + 1) x [v, v + 1)). ``warp_sample`` applies it to ``rgb`` (bilinear),
  ``depth``, ``instance`` and ``semantic`` (nearest; pixels from outside the image are 0: no depth,
  background), and to the labels: each object's ``box`` and ``pixels`` are recomputed from its warped
  instance mask, its ``keypoints`` are mapped by ``A``, ``K`` becomes ``A @ K`` (so ``K`` still
  projects camera-frame points onto the warped pixels; a flip gives a negative ``fx``), and
  ``visibility`` is scaled by the share of the object's pixels that stayed in the image (an estimate:
  the unoccluded silhouette is not stored). Poses, depths along the ray and world positions do not
  change. ``labels["augment"]`` holds the accumulated ``A``.
- ``PixelAugment`` changes pixel values only (brightness, contrast, Gaussian noise on ``rgb``): labels
  and the other maps are left alone.
- ``Compose`` chains augmentations.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from dr_sim.errors import ConfigError
from dr_sim.scene.labels import mask_box

Sample = dict[str, Any]
Augment = Callable[[Sample, np.random.Generator], Sample]


def affine_matrix(
    width: int, height: int, *, shift: tuple[float, float] = (0.0, 0.0), scale: float = 1.0, rotation: float = 0.0
) -> np.ndarray:
    """The 3x3 map of pixel coordinates: scale (negative: also a horizontal flip) and rotate by
    ``rotation`` radians about the image centre, then shift by ``shift`` pixels (x, y)."""
    cx, cy = width / 2, height / 2
    c, s = math.cos(rotation), math.sin(rotation)
    flip = -1.0 if scale < 0 else 1.0
    size = abs(scale)
    linear = np.array([[c, -s], [s, c]]) @ np.diag([flip * size, size])
    affine = np.eye(3)
    affine[:2, :2] = linear
    affine[:2, 2] = np.array([cx + shift[0], cy + shift[1]]) - linear @ np.array([cx, cy])
    return affine


def _warp(image: np.ndarray, affine: np.ndarray, interpolation: int) -> np.ndarray:
    """``image`` warped by ``affine`` (dr_sim pixel coordinates; OpenCV's put pixel centres on integers)."""
    to_opencv = np.array([[1.0, 0.0, -0.5], [0.0, 1.0, -0.5], [0.0, 0.0, 1.0]])
    matrix = (to_opencv @ affine @ np.linalg.inv(to_opencv))[:2]
    height, width = image.shape[:2]
    return cv2.warpAffine(
        image, matrix, (width, height), flags=interpolation, borderMode=cv2.BORDER_CONSTANT, borderValue=0
    )


def warp_sample(sample: Sample, affine: np.ndarray) -> Sample:
    """``sample`` with its pixels moved by ``affine`` (3x3) and its labels updated to match."""
    out = dict(sample)
    out["rgb"] = _warp(sample["rgb"], affine, cv2.INTER_LINEAR)
    for key in ("depth", "instance", "semantic"):
        out[key] = _warp(sample[key], affine, cv2.INTER_NEAREST)
    labels = copy.deepcopy(sample["labels"])
    labels["camera"]["K"] = (affine @ np.asarray(labels["camera"]["K"])).tolist()
    area = abs(float(np.linalg.det(affine[:2, :2])))
    for j, label in enumerate(labels["objects"]):
        mask = out["instance"] == j + 1
        pixels = int(np.count_nonzero(mask))
        keypoints = np.asarray(label["keypoints"], dtype=float)
        label["keypoints"] = (keypoints @ affine[:2, :2].T + affine[:2, 2]).tolist()
        if label["visibility"] is not None and label["pixels"]:
            label["visibility"] = min(1.0, label["visibility"] * pixels / (label["pixels"] * area))
        label["box"], label["pixels"] = mask_box(mask), pixels
    previous = np.asarray(labels.get("augment", {}).get("affine", np.eye(3)))
    labels["augment"] = {"affine": (affine @ previous).tolist()}
    out["labels"] = labels
    return out


@dataclass(frozen=True)
class GeometricAugment:
    """A random affine warp per sample (see the module docstring).

    Args:
        max_shift: largest shift, as a fraction of the image width (x) and height (y).
        scale: (low, high) zoom factor, drawn log-uniformly.
        max_rotation: largest rotation, degrees either way.
        flip_probability: probability of a horizontal flip.
    """

    max_shift: float = 0.1
    scale: tuple[float, float] = (0.9, 1.1)
    max_rotation: float = 15.0
    flip_probability: float = 0.5

    def __post_init__(self) -> None:
        if not 0 <= self.max_shift <= 1:
            raise ConfigError(f"max_shift must be a fraction of the image size in [0, 1], got {self.max_shift!r}")
        low, high = self.scale
        if not 0 < low <= high:
            raise ConfigError(f"scale must be (low, high) with 0 < low <= high, got {self.scale!r}")
        if not 0 <= self.max_rotation <= 180:
            raise ConfigError(f"max_rotation must be in [0, 180] degrees, got {self.max_rotation!r}")
        if not 0 <= self.flip_probability <= 1:
            raise ConfigError(f"flip_probability must be in [0, 1], got {self.flip_probability!r}")

    def draw(self, rng: np.random.Generator, width: int, height: int) -> np.ndarray:
        """One random 3x3 affine map for an image of ``width`` x ``height`` pixels."""
        shift = rng.uniform(-self.max_shift, self.max_shift, 2) * [width, height]
        scale = math.exp(rng.uniform(math.log(self.scale[0]), math.log(self.scale[1])))
        rotation = math.radians(rng.uniform(-self.max_rotation, self.max_rotation))
        flip = rng.random() < self.flip_probability
        return affine_matrix(
            width, height, shift=(shift[0], shift[1]), scale=-scale if flip else scale, rotation=rotation
        )

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        height, width = sample["rgb"].shape[:2]
        return warp_sample(sample, self.draw(rng, width, height))


@dataclass(frozen=True)
class PixelAugment:
    """Random brightness, contrast and Gaussian noise on ``rgb`` (values as fractions of 255).

    Args:
        brightness: largest offset either way.
        contrast: (low, high) factor about the image mean.
        noise_std: largest per-sample noise standard deviation (the std is drawn in [0, noise_std]).
    """

    brightness: float = 0.1
    contrast: tuple[float, float] = (0.8, 1.2)
    noise_std: float = 0.02

    def __post_init__(self) -> None:
        if not 0 <= self.brightness <= 1:
            raise ConfigError(f"brightness must be in [0, 1] (a fraction of 255), got {self.brightness!r}")
        low, high = self.contrast
        if not 0 <= low <= high:
            raise ConfigError(f"contrast must be (low, high) with 0 <= low <= high, got {self.contrast!r}")
        if not 0 <= self.noise_std <= 1:
            raise ConfigError(f"noise_std must be in [0, 1] (a fraction of 255), got {self.noise_std!r}")

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        rgb = sample["rgb"].astype(np.float32) / 255.0
        contrast = rng.uniform(*self.contrast)
        offset = rng.uniform(-self.brightness, self.brightness)
        std = rng.uniform(0.0, self.noise_std)
        rgb = (rgb - rgb.mean()) * contrast + rgb.mean() + offset + rng.normal(0.0, std, rgb.shape)
        return {**sample, "rgb": np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)}


@dataclass(frozen=True)
class Compose:
    """Apply ``steps`` in order, all drawing from the one generator."""

    steps: tuple[Augment, ...]

    def __call__(self, sample: Sample, rng: np.random.Generator) -> Sample:
        for step in self.steps:
            sample = step(sample, rng)
        return sample
