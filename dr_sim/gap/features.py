"""A feature-distribution distance between A and B: the kernel inception distance (KID) of features
learnt here, with a bootstrap 95% interval.

Features. No pretrained network can be downloaded, so the features come from a network trained in
this run: a convolutional autoencoder (``conv_trunk`` as the encoder, the same blocks as the
classifier's; nearest-neighbour upsampling + 3x3 conv + ReLU blocks back to RGB as the decoder),
trained to reconstruct the train halves of A and B together (mean squared error, no A-vs-B label).
The feature of an image is its encoder output averaged over space (64 numbers), standardised with
the mean and standard deviation of the train halves' features (per dimension).

Why not the classifier's penultimate layer: features trained to separate A from B make any two sets
look apart (the classifier finds noise that happens to differ in the train halves, and the distance
grows with its training), so the distance would measure the classifier as much as the sets. The
autoencoder only learns what it takes to redraw the images of both sets; the caveat that remains is
that its features are this run's: distances from two runs (two pairs of sets, or two seeds) come
from two networks and compare only roughly (rerun with a few seeds before ranking candidates by it);
the AUC is on a fixed scale.

Distance. KID (Binkowski et al. 2018): the unbiased estimate of the squared maximum mean discrepancy
with the polynomial kernel k(x, y) = (x . y / d + 1) ** 3 over the held-out halves. Unlike the
Fréchet distance it is unbiased at small sample sizes (about 0 for two samples of one distribution,
and it may then be slightly negative). The interval is a stratified bootstrap of the held-out
features (``RESAMPLES`` resamples with replacement); within a side, pairs of copies of one image are
left out of the within-side means, as the diagonal is in the plain estimate (no image is compared
with itself).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from dr_sim.gap.classifier import (
    CHANNELS,
    RESAMPLES,
    Split,
    apply,
    bootstrap_counts,
    build,
    conv_trunk,
    fit,
    percentile_ci,
    to_tensor,
)
from dr_sim.progress import Progress

KIND = "kid"
DEGREE = 3  # of the polynomial kernel


class AutoEncoder(nn.Module):
    """``conv_trunk`` down to 1/8 of the size, then upsampling blocks back to RGB in [0, 1]."""

    def __init__(self, channels: Sequence[int] = CHANNELS) -> None:
        super().__init__()
        self.encoder = conv_trunk(channels)
        layers: list[nn.Module] = []
        widths = [*reversed(channels), channels[0]]
        for wide, narrow in itertools.pairwise(widths):
            layers += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(wide, narrow, 3, padding=1), nn.ReLU()]
        layers += [nn.Conv2d(channels[0], 3, 3, padding=1), nn.Sigmoid()]
        self.decoder = nn.Sequential(*layers)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, channels[-1]): the encoder output averaged over space."""
        return self.encoder(x).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.decoder(self.encoder(x))
        if out.shape[-2:] != x.shape[-2:]:  # a size that is not a multiple of 8 loses its last rows
            out = nn.functional.interpolate(out, size=x.shape[-2:], mode="nearest")
        return out


def polynomial_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """k(x, y) = (x . y / d + 1) ** DEGREE for every row pair of (m, d) ``x`` and (n, d) ``y``."""
    return (x @ y.T / x.shape[1] + 1.0) ** DEGREE


def weighted_mmd2(x: np.ndarray, y: np.ndarray, counts_x: np.ndarray, counts_y: np.ndarray) -> np.ndarray:
    """Unbiased squared MMD of ``x`` and ``y`` (rows: samples) under R weightings of their rows.

    ``counts_x`` (R, m) and ``counts_y`` (R, n) say how often each row is drawn (all ones: the plain
    unbiased estimate). Within a side, pairs of one row with itself (or a copy of itself) are left out.
    """

    def within(kernel: np.ndarray, counts: np.ndarray) -> np.ndarray:
        counts = counts.astype(np.float64)
        pairs = ((counts @ kernel) * counts).sum(axis=1) - (counts**2) @ np.diag(kernel)
        return pairs / (counts.sum(axis=1) ** 2 - (counts**2).sum(axis=1))

    cross = ((counts_x.astype(np.float64) @ polynomial_kernel(x, y)) * counts_y).sum(axis=1)
    cross /= counts_x.sum(axis=1) * counts_y.sum(axis=1)
    return within(polynomial_kernel(x, x), counts_x) + within(polynomial_kernel(y, y), counts_y) - 2.0 * cross


@dataclass
class FeatureResult:
    """The feature distance of the held-out halves: ``distance`` (KID, unitless, squared feature
    standard deviations cubed) with its 95% bootstrap interval ``ci``, the autoencoder's final
    reconstruction error ``reconstruction_mse`` (mean squared error of held-out pixels in [0, 1]) and
    ``seconds`` of training and scoring."""

    distance: float
    ci: list[float]
    reconstruction_mse: float
    seconds: float
    kind: str = KIND


def feature_distance(
    images_a: np.ndarray,
    images_b: np.ndarray,
    split: Split,
    epochs: int,
    rng: np.random.Generator,
    progress: Progress | None = None,
) -> FeatureResult:
    """Train the autoencoder on the train halves of A and B together; KID of the held-out halves.

    Args:
        images_a, images_b: (N, S, S, 3) uint8 RGB, one common size S.
        split: the train and held-out halves (the classifier's, so both figures score the same images).
        epochs: passes over the train halves.
        rng: the source of the weights' seed, the batch order and the bootstrap.
        progress: advanced by one per epoch.
    """
    start = time.perf_counter()
    train = torch.cat([to_tensor(images_a[split.train_a]), to_tensor(images_b[split.train_b])])
    model = build(AutoEncoder, rng)
    loss = nn.MSELoss()
    fit(model, len(train), lambda idx: loss(model(train[idx]), train[idx]), epochs, rng, progress=progress)
    test_a, test_b = to_tensor(images_a[split.test_a]), to_tensor(images_b[split.test_b])
    with torch.no_grad():
        test = torch.cat([test_a, test_b])
        mse = float(((apply(model, test) - test) ** 2).mean())
    reference = apply(model.features, train).double().numpy()
    mean, std = reference.mean(axis=0), reference.std(axis=0) + 1e-8
    x = (apply(model.features, test_a).double().numpy() - mean) / std
    y = (apply(model.features, test_b).double().numpy() - mean) / std
    ones_x, ones_y = np.ones((1, len(x))), np.ones((1, len(y)))
    counts_x, counts_y = bootstrap_counts(len(x), RESAMPLES, rng), bootstrap_counts(len(y), RESAMPLES, rng)
    return FeatureResult(
        distance=float(weighted_mmd2(x, y, ones_x, ones_y)[0]),
        ci=percentile_ci(weighted_mmd2(x, y, counts_x, counts_y)),
        reconstruction_mse=mse,
        seconds=time.perf_counter() - start,
    )
