"""Plain image statistics of each side, and how they differ.

Per image (at the common size, so sharpness depends on ``--size``):

- brightness: mean luminance Y = 0.299 R + 0.587 G + 0.114 B, in 8-bit levels (0-255);
- contrast: standard deviation of the luminance, levels;
- sharpness: variance of the Laplacian of the luminance (``cv2.Laplacian``, 3x3), levels squared.

Per set: each figure's mean and standard deviation over the images, the mean of each channel
(levels), and per channel a histogram of all pixel values (``BINS`` bins over 0-255, densities).
``compare`` gives the differences B - A of the means and, per channel, the Wasserstein-1 (earth
mover's) distance between the two histograms, in levels: how far, on average, B's values would have
to move to match A's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

BINS = 32
LEVELS = 256
CHANNELS = ("red", "green", "blue")
LUMA = np.array([0.299, 0.587, 0.114])
FIGURES = ("brightness", "contrast", "sharpness")


@dataclass
class SetStats:
    """Statistics of one image set.

    Attributes:
        brightness, contrast, sharpness: per-image values (N,), levels / levels / levels squared.
        channel_mean: mean of each RGB channel over all pixels, levels (3,).
        histograms: (3, BINS) densities of the RGB channels (each row sums to 1).
    """

    brightness: np.ndarray
    contrast: np.ndarray
    sharpness: np.ndarray
    channel_mean: np.ndarray
    histograms: np.ndarray

    def summary(self) -> dict[str, Any]:
        """JSON-ready: mean and std of each figure, and the channel means."""
        summary: dict[str, Any] = {
            name: {"mean": float(np.mean(values)), "std": float(np.std(values))}
            for name, values in ((name, getattr(self, name)) for name in FIGURES)
        }
        summary["channel_mean"] = dict(zip(CHANNELS, map(float, self.channel_mean), strict=True))
        return summary


def luminance(images: np.ndarray) -> np.ndarray:
    """(N, H, W) float64 luminance of (N, H, W, 3) uint8 RGB images, levels."""
    return images.astype(np.float64) @ LUMA


def image_stats(images: np.ndarray) -> SetStats:
    """The statistics of (N, H, W, 3) uint8 RGB images."""
    luma = luminance(images)
    sharpness = np.array([cv2.Laplacian(plane, cv2.CV_64F, ksize=1).var() for plane in luma])
    histograms = np.stack(
        [np.bincount(images[..., c].ravel() // (LEVELS // BINS), minlength=BINS) for c in range(3)]
    ).astype(np.float64)
    return SetStats(
        brightness=luma.mean(axis=(1, 2)),
        contrast=luma.std(axis=(1, 2)),
        sharpness=sharpness,
        channel_mean=images.reshape(-1, 3).mean(axis=0),
        histograms=histograms / histograms.sum(axis=1, keepdims=True),
    )


def wasserstein(histogram_a: np.ndarray, histogram_b: np.ndarray) -> float:
    """Wasserstein-1 distance of two densities over the ``BINS`` equal bins of 0-255, in levels."""
    width = LEVELS / BINS
    return float(np.abs(np.cumsum(histogram_a) - np.cumsum(histogram_b)).sum() * width)


def compare(a: SetStats, b: SetStats) -> dict[str, Any]:
    """JSON-ready: both summaries, the differences B - A of the means, per-channel Wasserstein-1."""
    summary_a, summary_b = a.summary(), b.summary()
    difference: dict[str, Any] = {name: summary_b[name]["mean"] - summary_a[name]["mean"] for name in FIGURES}
    difference["channel_mean"] = {c: summary_b["channel_mean"][c] - summary_a["channel_mean"][c] for c in CHANNELS}
    difference["histogram_wasserstein"] = {
        c: wasserstein(a.histograms[i], b.histograms[i]) for i, c in enumerate(CHANNELS)
    }
    return {"a": summary_a, "b": summary_b, "difference": difference}
