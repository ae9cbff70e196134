"""A classifier two-sample test: how well does a small CNN tell images of A from images of B?

Each side is split at random (seeded) into a train half and a held-out half (``HOLDOUT``); the CNN is
trained on the train halves to output P(B | image), then scored on the held-out halves, which it never
saw:

- ROC AUC: the probability that a held-out B image scores higher than a held-out A image (ties count
  one half), computed exactly from ranks (the Mann-Whitney U statistic over ``n_a * n_b`` pairs);
  0.5 means the CNN cannot tell the sides apart, 1.0 that it separates them perfectly;
- accuracy at the threshold P = 0.5 (the sides are balanced, so chance is 0.5).

95% confidence intervals come from a stratified bootstrap of the held-out predictions
(``RESAMPLES`` resamples of each side with replacement, percentile interval). They hold the trained
CNN fixed: they cover the sampling noise of the held-out images, not the noise of training (another
seed trains another CNN; ``--seed`` shows how much that moves the figures). Images that appear in
both sets break the test: a held-out copy in A of an image that B trained on scores as B, which pushes
the AUC below 0.5 (``dr-sim gap`` refuses two sources of the same images).

The CNN (``GapNet``): three blocks of 3x3 conv + batch norm + ReLU + 2x2 max pool (16, 32, 64
channels), a global average pool (the 64 features of the penultimate layer) and a linear layer to one
logit; trained with Adam and binary cross-entropy for a fixed number of epochs, no augmentation (a
flip or colour jitter could erase the very difference to measure). ``conv_trunk``, ``fit`` and the
bootstrap helpers are shared with ``dr_sim.gap.features``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import torch
from torch import nn

from dr_sim.progress import Progress

HOLDOUT = 0.5  # fraction of each side held out for scoring
RESAMPLES = 1000  # bootstrap resamples
LEVEL = 0.95  # confidence level of the intervals
CHANNELS = (16, 32, 64)
BATCH = 32
LEARNING_RATE = 2e-3
MIN_SIZE = 2 ** len(CHANNELS) * 2  # px: the last block still sees 2 x 2 cells


# -- data -------------------------------------------------------------------------------------------
def to_tensor(images: np.ndarray) -> torch.Tensor:
    """(N, H, W, 3) uint8 RGB to (N, 3, H, W) float32 in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div_(255.0)


@dataclass
class Split:
    """Indices into A and into B of the train and held-out halves (each sorted)."""

    train_a: np.ndarray
    test_a: np.ndarray
    train_b: np.ndarray
    test_b: np.ndarray


def split_sides(n_a: int, n_b: int, rng: np.random.Generator, holdout: float = HOLDOUT) -> Split:
    """Hold out ``round(holdout * n)`` images of each side, drawn at random (at least one each way)."""

    def halves(n: int) -> tuple[np.ndarray, np.ndarray]:
        order = rng.permutation(n)
        k = min(max(round(holdout * n), 1), n - 1)
        return np.sort(order[k:]), np.sort(order[:k])

    train_a, test_a = halves(n_a)
    train_b, test_b = halves(n_b)
    return Split(train_a, test_a, train_b, test_b)


# -- the network ------------------------------------------------------------------------------------
def conv_trunk(channels: Sequence[int] = CHANNELS) -> nn.Sequential:
    """Blocks of 3x3 conv + batch norm + ReLU + 2x2 max pool from 3 input channels (RGB in [0, 1])."""
    layers: list[nn.Module] = []
    previous = 3
    for width in channels:
        layers += [
            nn.Conv2d(previous, width, 3, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
        ]
        previous = width
    return nn.Sequential(*layers)


class GapNet(nn.Module):
    """``conv_trunk``, global average pool, linear: one logit of P(B | image) per image."""

    def __init__(self, channels: Sequence[int] = CHANNELS) -> None:
        super().__init__()
        self.trunk = conv_trunk(channels)
        self.head = nn.Linear(channels[-1], 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The penultimate layer: (N, channels[-1]) averages of the last feature maps."""
        return self.trunk(x).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).squeeze(1)


def torch_seed(rng: np.random.Generator) -> int:
    """A seed for ``torch.manual_seed`` drawn from ``rng``."""
    return int(rng.integers(0, 2**62))


ModuleT = TypeVar("ModuleT", bound=nn.Module)


def build(factory: Callable[[], ModuleT], rng: np.random.Generator) -> ModuleT:
    """``factory()`` with weights initialised from a seed drawn from ``rng`` (global torch RNG untouched)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(torch_seed(rng))
        return factory()


def fit(
    model: nn.Module,
    count: int,
    batch_loss: Callable[[torch.Tensor], torch.Tensor],
    epochs: int,
    rng: np.random.Generator,
    learning_rate: float = LEARNING_RATE,
    progress: Progress | None = None,
) -> None:
    """Train ``model`` with Adam for ``epochs`` passes over ``count`` samples in shuffled batches;
    ``progress`` (if given) advances by one per epoch.

    ``batch_loss(indices)`` returns the loss of the samples at ``indices`` (a LongTensor); the order of
    the batches comes from ``rng``. The model is left in eval mode, its batch norm statistics those of
    the final weights (``refresh_batch_norm``).
    """
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    model.train()
    for _ in range(epochs):
        order = torch.from_numpy(rng.permutation(count))
        for start in range(0, count, BATCH):
            indices = order[start : start + BATCH]
            if len(indices) < 2:  # batch norm needs two samples
                continue
            optimizer.zero_grad()
            batch_loss(indices).backward()
            optimizer.step()
        if progress is not None:
            progress.advance()
    refresh_batch_norm(model, count, batch_loss)
    model.eval()


def refresh_batch_norm(model: nn.Module, count: int, batch_loss: Callable[[torch.Tensor], torch.Tensor]) -> None:
    """Recompute the batch norm statistics of the final weights over all ``count`` samples.

    The running averages of training mix the statistics of earlier weights; scored with them, a
    network that ranks every image right (AUC 1) can still put some on the wrong side of P = 0.5.
    """
    norms = [module for module in model.modules() if isinstance(module, nn.modules.batchnorm._BatchNorm)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # a cumulative average over the batches below
    with torch.no_grad():
        for start in range(0, count, BATCH):
            indices = torch.arange(start, min(start + BATCH, count))
            if len(indices) >= 2:
                batch_loss(indices)


@torch.no_grad()
def apply(function: Callable[[torch.Tensor], torch.Tensor], inputs: torch.Tensor, batch: int = 256) -> torch.Tensor:
    """``function`` over ``inputs`` in batches (no gradients), concatenated."""
    return torch.cat([function(inputs[start : start + batch]) for start in range(0, len(inputs), batch)])


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-logits)), float64."""
    return 1.0 / (1.0 + np.exp(-np.clip(np.asarray(logits, dtype=np.float64), -500.0, 500.0)))


# -- statistics -------------------------------------------------------------------------------------
def bootstrap_counts(n: int, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """(resamples, n) int64: how often each of ``n`` items is drawn in each resample with replacement."""
    return rng.multinomial(n, np.full(n, 1.0 / n), size=resamples)


def percentile_ci(values: np.ndarray, level: float = LEVEL) -> list[float]:
    """The central ``level`` percentile interval [low, high] of bootstrap ``values``."""
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(values, [tail, 100.0 - tail])
    return [float(low), float(high)]


def weighted_auc(scores_a: np.ndarray, scores_b: np.ndarray, counts_a: np.ndarray, counts_b: np.ndarray) -> np.ndarray:
    """ROC AUC of B against A (P(score_B > score_A) + P(tie) / 2) with each item weighted by a count.

    ``counts_a`` (R, n_a) and ``counts_b`` (R, n_b) give R weightings (all ones: the plain AUC); exact,
    by ranks: every B score is placed among the sorted A scores (``searchsorted``), so the cost is
    O(R * (n_a + n_b)), not O(n_a * n_b).
    """
    order = np.argsort(scores_a, kind="stable")
    sorted_a = scores_a[order]
    below = np.searchsorted(sorted_a, scores_b, side="left")
    below_or_tied = np.searchsorted(sorted_a, scores_b, side="right")
    cumulative = np.concatenate([np.zeros((len(counts_a), 1)), np.cumsum(counts_a[:, order], axis=1)], axis=1)
    less = cumulative[:, below]  # weight of A scores below each B score
    tied = cumulative[:, below_or_tied] - less
    wins = (counts_b * (less + 0.5 * tied)).sum(axis=1)
    return wins / (counts_a.sum(axis=1) * counts_b.sum(axis=1))


def roc_auc(scores_a: np.ndarray, scores_b: np.ndarray) -> float:
    """ROC AUC of B (positive) against A (negative): the Mann-Whitney U over ``n_a * n_b``, exact."""
    ones_a, ones_b = np.ones((1, len(scores_a))), np.ones((1, len(scores_b)))
    return float(weighted_auc(np.asarray(scores_a), np.asarray(scores_b), ones_a, ones_b)[0])


@dataclass
class ClassifierResult:
    """What the classifier found on the held-out halves.

    Attributes:
        auc, auc_ci: ROC AUC of B against A and its 95% bootstrap interval.
        accuracy, accuracy_ci: accuracy at P(B) = 0.5 and its interval.
        p_a, p_b: P(B | image) of each held-out image of A and of B (in ``split.test_a/test_b`` order).
        split: the indices of the train and held-out halves.
        seconds: wall time of training and scoring, s.
    """

    auc: float
    auc_ci: list[float]
    accuracy: float
    accuracy_ci: list[float]
    p_a: np.ndarray
    p_b: np.ndarray
    split: Split
    seconds: float

    def most_telling(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Indices into A and into B of up to ``k`` held-out images each side classified right with
        the highest confidence (A: lowest P(B) below 0.5; B: highest P(B) at or above 0.5)."""
        right_a = np.flatnonzero(self.p_a < 0.5)
        right_b = np.flatnonzero(self.p_b >= 0.5)
        best_a = right_a[np.argsort(self.p_a[right_a], kind="stable")][:k]
        best_b = right_b[np.argsort(-self.p_b[right_b], kind="stable")][:k]
        return self.split.test_a[best_a], self.split.test_b[best_b]


def classify(
    images_a: np.ndarray,
    images_b: np.ndarray,
    split: Split,
    epochs: int,
    rng: np.random.Generator,
    progress: Progress | None = None,
) -> ClassifierResult:
    """Train ``GapNet`` on the train halves of A (label 0) and B (label 1); score the held-out halves.

    Args:
        images_a, images_b: (N, S, S, 3) uint8 RGB, one common size S.
        split: which images train and which are held out.
        epochs: passes over the train halves.
        rng: the source of the weights' seed, the batch order and the bootstrap.
        progress: advanced by one per epoch.
    """
    start = time.perf_counter()
    inputs = torch.cat([to_tensor(images_a[split.train_a]), to_tensor(images_b[split.train_b])])
    labels = torch.cat([torch.zeros(len(split.train_a)), torch.ones(len(split.train_b))])
    model = build(GapNet, rng)
    loss = nn.BCEWithLogitsLoss()
    fit(model, len(inputs), lambda idx: loss(model(inputs[idx]), labels[idx]), epochs, rng, progress=progress)
    logit_a = apply(model, to_tensor(images_a[split.test_a])).double().numpy()
    logit_b = apply(model, to_tensor(images_b[split.test_b])).double().numpy()
    p_a, p_b = sigmoid(logit_a), sigmoid(logit_b)
    counts_a = bootstrap_counts(len(p_a), RESAMPLES, rng)
    counts_b = bootstrap_counts(len(p_b), RESAMPLES, rng)
    right_a, right_b = (p_a < 0.5).astype(float), (p_b >= 0.5).astype(float)
    accuracies = (counts_a @ right_a + counts_b @ right_b) / (len(p_a) + len(p_b))
    return ClassifierResult(
        auc=roc_auc(logit_a, logit_b),  # logits: no ties where probabilities round to 0 or 1
        auc_ci=percentile_ci(weighted_auc(logit_a, logit_b, counts_a, counts_b)),
        accuracy=float((right_a.sum() + right_b.sum()) / (len(p_a) + len(p_b))),
        accuracy_ci=percentile_ci(accuracies),
        p_a=p_a,
        p_b=p_b,
        split=split,
        seconds=time.perf_counter() - start,
    )
