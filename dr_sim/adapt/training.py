"""Fit a translator on paired renders: RCAN (James 2019) or pix2pix (Isola 2017).

Both learn a ``UNet`` from randomized RGB to canonical RGB (in [-1, 1]) with an L1 loss (object pixels
weighted ``1 + losses.object_weight``):

- ``rcan``: plus, with their weights, the cross-entropy of a segmentation head against the canonical
  render's semantic map and the L1 error (m) of a depth head against its metric depth, and optionally
  a PatchGAN that judges the output image alone (is it a real canonical image?);
- ``pix2pix``: plus a PatchGAN on (input, output) pairs (a conditional GAN): real pairs are (randomized,
  canonical render), fake ones (randomized, translation).

The adversarial losses are binary cross-entropy on the patch logits; the generator and the
discriminator take alternate Adam steps (beta1 0.5) on every batch. Weights come from seeds drawn from
the config's ``seed`` and so does the batch order: a run is a function of its config.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.nn import functional

from dr_sim.adapt.config import AdaptConfig
from dr_sim.adapt.data import Pairs
from dr_sim.adapt.networks import PatchGAN, UNet
from dr_sim.datasets.shards import CATEGORIES, DISTRACTOR, TARGET
from dr_sim.errors import ConfigError
from dr_sim.gap.classifier import build

CLASSES = len(CATEGORIES) + 1  # the categories and the background (0)
BETAS = (0.5, 0.999)
Log = Callable[[str], None]


def to_signed(images: torch.Tensor) -> torch.Tensor:
    """uint8 images (levels 0-255) to float32 in [-1, 1]."""
    return images.float().div_(127.5).sub_(1.0)


def to_levels(images: torch.Tensor) -> torch.Tensor:
    """Float images in [-1, 1] to uint8 levels, rounded and clipped."""
    return images.add(1.0).mul_(127.5).round_().clamp_(0, 255).to(torch.uint8)


def make_generator(config: AdaptConfig) -> UNet:
    """The config's U-Net, with the heads its losses use."""
    classes = CLASSES if config.losses.segmentation > 0 else 0
    return UNet(config.model.channels, classes=classes, depth=config.losses.depth > 0)


@dataclass
class Translator:
    """The networks of one run: the generator, and the discriminator when the adversarial loss is on."""

    config: AdaptConfig
    generator: UNet
    discriminator: PatchGAN | None

    @classmethod
    def build(cls, config: AdaptConfig, rng: np.random.Generator) -> Translator:
        """Fresh networks, initialised from seeds drawn from ``rng``."""
        generator = build(lambda: make_generator(config), rng)
        discriminator = None
        if config.losses.adversarial > 0:
            inputs = 6 if config.method == "pix2pix" else 3
            discriminator = build(lambda: PatchGAN(inputs), rng)
        return cls(config, generator, discriminator)

    def judged(self, inputs: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
        """What the discriminator sees: the image alone (RCAN) or stacked after its input (pix2pix)."""
        return torch.cat([inputs, images], dim=1) if self.config.method == "pix2pix" else images


def _bce(logits: torch.Tensor, real: bool) -> torch.Tensor:
    target = torch.ones_like(logits) if real else torch.zeros_like(logits)
    return functional.binary_cross_entropy_with_logits(logits, target)


def generator_loss(translator: Translator, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
    """The generator's weighted loss on a batch and its terms (unweighted), with the output image in
    ``batch["output"]`` for the discriminator's step."""
    weights = translator.config.losses
    out = translator.generator.forward_all(batch["inputs"])
    terms = {"l1": weighted_l1(out["rgb"], batch["targets"], batch["semantic"], weights.object_weight)}
    if "segmentation" in out:
        terms["segmentation"] = functional.cross_entropy(out["segmentation"], batch["semantic"])
    if "depth" in out:
        terms["depth"] = functional.l1_loss(out["depth"], batch["depth"])
    if translator.discriminator is not None:
        logits = translator.discriminator(translator.judged(batch["inputs"], out["rgb"]))
        terms["adversarial"] = _bce(logits, real=True)
    loss = sum(getattr(weights, name) * value for name, value in terms.items())
    batch["output"] = out["rgb"]
    return loss, {name: float(value.detach()) for name, value in terms.items()}


def weighted_l1(
    output: torch.Tensor, target: torch.Tensor, semantic: torch.Tensor, object_weight: float
) -> torch.Tensor:
    """Mean absolute error of (B, 3, H, W) images, a pixel of an object (the target or a distractor in the
    ``semantic`` (B, H, W) category map) weighing ``1 + object_weight`` other pixels; the plain L1 when
    ``object_weight`` is 0."""
    error = (output - target).abs()
    if not object_weight:
        return error.mean()
    objects = (semantic == TARGET) | (semantic == DISTRACTOR)
    weight = 1.0 + object_weight * objects.to(error.dtype).unsqueeze(1)
    return (error * weight).sum() / (weight.sum() * error.shape[1])


def discriminator_loss(translator: Translator, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Binary cross-entropy of the discriminator: canonical renders real, translations fake."""
    assert translator.discriminator is not None
    real = translator.discriminator(translator.judged(batch["inputs"], batch["targets"]))
    fake = translator.discriminator(translator.judged(batch["inputs"], batch["output"].detach()))
    return 0.5 * (_bce(real, real=True) + _bce(fake, real=False))


def batch_of(pairs: Pairs, index: torch.Tensor) -> dict[str, torch.Tensor]:
    """The training tensors of the pairs at ``index``."""
    return {
        "inputs": to_signed(pairs.inputs[index]),
        "targets": to_signed(pairs.targets[index]),
        "semantic": pairs.semantic[index],
        "depth": pairs.depth[index],
    }


class Optimizers:
    """Adam for the generator and, if there is one, for the discriminator."""

    def __init__(self, translator: Translator) -> None:
        lr = translator.config.lr
        self.translator = translator
        self.generator = torch.optim.Adam(translator.generator.parameters(), lr=lr, betas=BETAS)
        self.discriminator = (
            torch.optim.Adam(translator.discriminator.parameters(), lr=lr, betas=BETAS)
            if translator.discriminator is not None
            else None
        )

    def step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One generator step, then one discriminator step; returns the loss terms of the batch."""
        loss, terms = generator_loss(self.translator, batch)
        self.generator.zero_grad(set_to_none=True)
        loss.backward()
        self.generator.step()
        if self.discriminator is not None:
            d_loss = discriminator_loss(self.translator, batch)
            self.discriminator.zero_grad(set_to_none=True)
            d_loss.backward()
            self.discriminator.step()
            terms["discriminator"] = float(d_loss.detach())
        return terms


@torch.no_grad()
def translate(generator: UNet, images: torch.Tensor, batch: int = 256) -> torch.Tensor:
    """uint8 (N, 3, H, W) images through the generator (eval mode) to uint8 (N, 3, H, W)."""
    generator.eval()
    return torch.cat([to_levels(generator(to_signed(images[i : i + batch]))) for i in range(0, len(images), batch)])


def mean_abs_levels(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean absolute difference of two uint8 image tensors, in 8-bit levels."""
    return float((a.float() - b.float()).abs().mean())


def split(count: int, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(train, validation) indices, each sorted: ``round(fraction * count)`` drawn for validation."""
    order = rng.permutation(count)
    held = min(round(count * fraction), count - 2)
    return np.sort(order[held:]), np.sort(order[:held])


def fit(config: AdaptConfig, pairs: Pairs, log: Log | None = None) -> tuple[Translator, dict[str, Any]]:
    """Train a translator as ``config`` says on ``pairs``; returns it (generator in eval mode) and the
    metrics: per-epoch loss terms and validation L1 (levels), seconds, training images/s, and the
    validation L1 of the untranslated inputs (what translating has to beat)."""
    if len(pairs) < 4:
        raise ConfigError(f"training needs at least 4 pairs, got {len(pairs)}")
    if pairs.image_size % 2 ** len(config.model.channels):
        factor = 2 ** len(config.model.channels)
        raise ConfigError(
            f"model.channels has {len(config.model.channels)} levels: images must be a multiple of {factor} px, "
            f"the pairs are {pairs.image_size} px (use fewer channels or another image_size)"
        )
    rng = np.random.default_rng(config.seed)
    translator = Translator.build(config, rng)
    train_index, val_index = split(len(pairs), config.val_fraction, rng)
    optimizers = Optimizers(translator)
    batch = min(config.batch_size, len(train_index))
    steps = len(train_index) // batch
    val_inputs, val_targets = pairs.inputs[val_index], pairs.targets[val_index]
    history, seconds = [], 0.0
    for epoch in range(config.epochs):
        start = time.perf_counter()
        translator.generator.train()
        if translator.discriminator is not None:
            translator.discriminator.train()
        order = torch.from_numpy(train_index[rng.permutation(len(train_index))])
        sums: dict[str, float] = {}
        for step in range(steps):
            terms = optimizers.step(batch_of(pairs, order[step * batch : (step + 1) * batch]))
            for name, value in terms.items():
                sums[name] = sums.get(name, 0.0) + value
        elapsed = time.perf_counter() - start
        seconds += elapsed
        row: dict[str, Any] = {"epoch": epoch + 1, **{k: v / steps for k, v in sums.items()}, "seconds": elapsed}
        if len(val_index):
            row["val_l1_levels"] = mean_abs_levels(translate(translator.generator, val_inputs), val_targets)
        history.append(row)
        if log is not None:
            shown = f", validation L1 {row['val_l1_levels']:.1f} levels" if "val_l1_levels" in row else ""
            log(f"epoch {epoch + 1}/{config.epochs}: L1 {row['l1']:.4f}{shown} ({elapsed:.0f} s)")
    translator.generator.eval()
    return translator, {
        "history": history,
        "train_seconds": seconds,
        "images_per_s": config.epochs * steps * batch / seconds if seconds > 0 else float("nan"),
        "train_pairs": len(train_index),
        "val_pairs": len(val_index),
        "val_index": val_index.tolist(),
        "val_l1_levels": history[-1].get("val_l1_levels"),
        "val_l1_untranslated_levels": mean_abs_levels(val_inputs, val_targets) if len(val_index) else None,
    }
