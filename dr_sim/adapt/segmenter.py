"""The sim-trained segmenter of CyCADA's semantic consistency: train it, freeze it, score it.

``train_segmenter`` fits a ``Segmenter`` on sim images (RGB in [-1, 1]) against their semantic maps
(cross-entropy, each category optionally weighted by ``balance_weights``) and, with a depth head,
their metric depth (L1, m), with Adam for a fixed number of passes in a seeded order. ``freeze`` then
fixes its weights and batch-norm statistics, so that the translator's semantic loss can only move
the translation, never the judge. ``mean_iou`` scores it: per category, intersection over union of
its arg-max map and the labels, summed over all the images, averaged over the categories present in
the labels.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch.nn import functional

from dr_sim.adapt.cycle_networks import Segmenter
from dr_sim.adapt.training import BETAS, to_signed

Log = Callable[[str], None]


def balance_weights(semantic: torch.Tensor, classes: int) -> torch.Tensor:
    """Per-category weights (``classes``,) of a cross-entropy: ``1 / sqrt(pixel share)`` of each category
    in the maps ``semantic`` (N, H, W), scaled so that the mean weight of a pixel is 1; a category with
    no pixels gets the largest weight of the others."""
    counts = torch.bincount(semantic.reshape(-1), minlength=classes)[:classes].double()
    share = counts / counts.sum()
    weights = torch.zeros(classes, dtype=torch.float64)
    present = share > 0
    weights[present] = share[present].rsqrt()
    weights = weights / (weights * share).sum()
    weights[~present] = weights[present].max()
    return weights.float()


def segmenter_loss(
    segmenter: Segmenter,
    images: torch.Tensor,
    semantic: torch.Tensor,
    depth: torch.Tensor | None,
    weights: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """(cross-entropy (per-category ``weights``, if given) + depth L1 in m when ``depth`` is given, its
    terms) of signed ``images`` (B, 3, H, W)."""
    out = segmenter.heads(images)
    loss = functional.cross_entropy(out["segmentation"], semantic, weight=weights)
    terms = {"segmentation": float(loss.detach())}
    if depth is not None and "depth" in out:
        depth_loss = functional.l1_loss(out["depth"], depth)
        terms["depth"] = float(depth_loss.detach())
        loss = loss + depth_loss
    return loss, terms


def train_segmenter(
    segmenter: Segmenter,
    rgb: torch.Tensor,
    semantic: torch.Tensor,
    depth: torch.Tensor | None,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    rng: np.random.Generator,
    weights: torch.Tensor | None = None,
    log: Log | None = None,
) -> list[dict[str, float]]:
    """Fit ``segmenter`` on uint8 ``rgb`` (N, 3, H, W), ``semantic`` (N, H, W) and optionally ``depth``
    (N, H, W, m), the cross-entropy weighted per category by ``weights`` (if given); returns the mean loss
    terms of each pass."""
    optimizer = torch.optim.Adam(segmenter.parameters(), lr=lr, betas=BETAS)
    batch = min(batch_size, len(rgb))
    steps = max(len(rgb) // batch, 1)
    history = []
    segmenter.train()
    for epoch in range(epochs):
        order = torch.from_numpy(rng.permutation(len(rgb)))
        sums: dict[str, float] = {}
        for step in range(steps):
            index = order[step * batch : (step + 1) * batch]
            loss, terms = segmenter_loss(
                segmenter, to_signed(rgb[index]), semantic[index], None if depth is None else depth[index], weights
            )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            for name, value in terms.items():
                sums[name] = sums.get(name, 0.0) + value
        history.append({"epoch": epoch + 1, **{name: value / steps for name, value in sums.items()}})
        if log is not None:
            log(f"segmenter pass {epoch + 1}/{epochs}: cross-entropy {history[-1]['segmentation']:.3f}")
    freeze(segmenter)
    return history


def freeze(segmenter: Segmenter) -> Segmenter:
    """Eval mode (fixed batch-norm statistics) and no gradients for its weights; gradients still flow
    through it to its input."""
    segmenter.eval()
    for parameter in segmenter.parameters():
        parameter.requires_grad_(False)
    return segmenter


@torch.no_grad()
def predict(segmenter: Segmenter, rgb: torch.Tensor, batch: int = 256) -> torch.Tensor:
    """The arg-max category map (N, H, W) int64 of uint8 images (N, 3, H, W)."""
    segmenter.eval()
    return torch.cat([segmenter(to_signed(rgb[i : i + batch])).argmax(1) for i in range(0, len(rgb), batch)])


def mean_iou(predicted: torch.Tensor, labels: torch.Tensor) -> tuple[float, dict[int, float]]:
    """(mean, per category) intersection over union of two category maps (N, H, W), over the categories
    present in ``labels`` (each summed over all the images)."""
    per_class = {}
    for category in torch.unique(labels).tolist():
        truth, guess = labels == category, predicted == category
        union = int((truth | guess).sum())
        per_class[int(category)] = int((truth & guess).sum()) / union
    return float(np.mean(list(per_class.values()))), per_class
