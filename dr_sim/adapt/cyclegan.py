"""Fit an unpaired translator: CycleGAN (Zhu 2017) with CyCADA's semantic consistency (Hoffman 2018).

Two ``ResnetGenerator``s translate sim to target (``G``) and target to sim (``F``); two PatchGANs judge
target images (``D_T``: real target, or ``G(sim)``?) and sim images (``D_S``). Per batch of sim images
``s`` (with semantic maps and depth) and target images ``t``, RGB in [-1, 1], the generators take one
Adam step on the weighted sum of

- ``adversarial``: LSGAN (Mao 2017), mean over patches of ``(D_T(G(s)) - 1)^2 + (D_S(F(t)) - 1)^2``;
- ``cycle``: ``|F(G(s)) - s| + |G(F(t)) - t|``, mean absolute error;
- ``identity``: ``|G(t) - t| + |F(s) - s|`` (each generator leaves an image of its own output domain
  alone, which keeps colours from drifting);
- ``semantic``: cross-entropy of the frozen sim-trained segmenter on ``G(s)`` against the semantic
  map of ``s`` (categories weighted as in the segmenter's training): objects keep their identity and
  place;
- ``depth``: L1 (m) of the segmenter's depth head on ``G(s)`` against the depth of ``s``;

then the discriminators one Adam step each on ``((D(real) - 1)^2 + D(fake)^2) / 2`` (the fakes of the
generators' step, detached). The segmenter is trained on the sim training images first
(``dr_sim.adapt.segmenter``) and frozen. Weights, the splits and the batch order come from seeds drawn
from the config's ``seed``: a run is a function of its config.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.nn import functional

from dr_sim.adapt.cycle_config import CycleConfig
from dr_sim.adapt.cycle_networks import ResnetGenerator, Segmenter
from dr_sim.adapt.networks import PatchGAN
from dr_sim.adapt.segmenter import balance_weights, train_segmenter
from dr_sim.adapt.training import BETAS, CLASSES, split, to_signed
from dr_sim.adapt.unpaired_data import SimImages
from dr_sim.errors import ConfigError
from dr_sim.gap.classifier import build

Log = Callable[[str], None]
MIN_TRAIN = 2  # images of each side to train on, at least


def make_translator(config: CycleConfig) -> ResnetGenerator:
    """A generator of the config's size (either direction)."""
    spec = config.model.generator
    return ResnetGenerator(spec.width, spec.blocks, residual=spec.residual)


def make_segmenter(config: CycleConfig) -> Segmenter:
    """The config's segmenter, with a depth head when the depth loss is on."""
    return Segmenter(config.model.segmenter, CLASSES, depth=config.losses.depth > 0)


@dataclass
class CycleNets:
    """The networks of one run (see the module docstring); ``segmenter`` is ``None`` when neither the
    semantic nor the depth loss is on."""

    config: CycleConfig
    sim_to_target: ResnetGenerator
    target_to_sim: ResnetGenerator
    judge_target: PatchGAN
    judge_sim: PatchGAN
    segmenter: Segmenter | None
    class_weights: torch.Tensor | None = None  # of the semantic cross-entropy (None: unweighted)

    @classmethod
    def build(cls, config: CycleConfig, rng: np.random.Generator) -> CycleNets:
        """Fresh networks, initialised from seeds drawn from ``rng``."""
        return cls(
            config,
            build(lambda: make_translator(config), rng),
            build(lambda: make_translator(config), rng),
            build(lambda: PatchGAN(3, config.model.discriminator), rng),
            build(lambda: PatchGAN(3, config.model.discriminator), rng),
            build(lambda: make_segmenter(config), rng) if config.needs_segmenter else None,
        )

    def train(self) -> None:
        """Generators and discriminators in training mode (the frozen segmenter stays in eval mode)."""
        for net in (self.sim_to_target, self.target_to_sim, self.judge_target, self.judge_sim):
            net.train()

    def eval(self) -> None:
        """Every network in eval mode."""
        for net in (self.sim_to_target, self.target_to_sim, self.judge_target, self.judge_sim):
            net.eval()


def lsgan(scores: torch.Tensor, real: bool) -> torch.Tensor:
    """Least-squares GAN loss: mean of (score - 1)^2 for ``real``, of score^2 otherwise."""
    return (scores - 1.0).pow(2).mean() if real else scores.pow(2).mean()


def generator_loss(nets: CycleNets, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
    """The generators' weighted loss on a batch and its terms (unweighted, and ``generator``: the weighted
    total); the fakes go into ``batch`` for the discriminators' step."""
    weights = nets.config.losses
    sim, target = batch["sim"], batch["target"]
    fake_target, fake_sim = nets.sim_to_target(sim), nets.target_to_sim(target)
    terms = {
        "adversarial": lsgan(nets.judge_target(fake_target), True) + lsgan(nets.judge_sim(fake_sim), True),
        "cycle": functional.l1_loss(nets.target_to_sim(fake_target), sim)
        + functional.l1_loss(nets.sim_to_target(fake_sim), target),
    }
    if weights.identity > 0:
        terms["identity"] = functional.l1_loss(nets.sim_to_target(target), target) + functional.l1_loss(
            nets.target_to_sim(sim), sim
        )
    if nets.segmenter is not None:
        heads = nets.segmenter.heads(fake_target)
        if weights.semantic > 0:
            terms["semantic"] = functional.cross_entropy(
                heads["segmentation"], batch["semantic"], weight=nets.class_weights
            )
        if weights.depth > 0:
            terms["depth"] = functional.l1_loss(heads["depth"], batch["depth"])
    loss = sum(getattr(weights, name) * value for name, value in terms.items())
    assert isinstance(loss, torch.Tensor)
    batch["fake_target"], batch["fake_sim"] = fake_target, fake_sim
    return loss, {**{name: float(value.detach()) for name, value in terms.items()}, "generator": float(loss.detach())}


def discriminator_losses(nets: CycleNets, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``discriminator_target`` and ``discriminator_sim``: LSGAN, real images 1, the fakes 0."""
    return {
        "discriminator_target": 0.5
        * (
            lsgan(nets.judge_target(batch["target"]), True)
            + lsgan(nets.judge_target(batch["fake_target"].detach()), False)
        ),
        "discriminator_sim": 0.5
        * (lsgan(nets.judge_sim(batch["sim"]), True) + lsgan(nets.judge_sim(batch["fake_sim"].detach()), False)),
    }


class CycleOptimizers:
    """Adam (beta1 0.5) for both generators together and for each discriminator."""

    def __init__(self, nets: CycleNets) -> None:
        lr = nets.config.lr
        self.nets = nets
        generators = [*nets.sim_to_target.parameters(), *nets.target_to_sim.parameters()]
        self.generators = torch.optim.Adam(generators, lr=lr, betas=BETAS)
        self.judge_target = torch.optim.Adam(nets.judge_target.parameters(), lr=lr, betas=BETAS)
        self.judge_sim = torch.optim.Adam(nets.judge_sim.parameters(), lr=lr, betas=BETAS)

    def step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One generator step, then one step of each discriminator; returns the loss terms of the batch."""
        loss, terms = generator_loss(self.nets, batch)
        self.generators.zero_grad(set_to_none=True)
        loss.backward()
        self.generators.step()
        losses = discriminator_losses(self.nets, batch)
        self.judge_target.zero_grad(set_to_none=True)
        self.judge_sim.zero_grad(set_to_none=True)
        (losses["discriminator_target"] + losses["discriminator_sim"]).backward()  # disjoint weights
        self.judge_target.step()
        self.judge_sim.step()
        return {**terms, **{name: float(value.detach()) for name, value in losses.items()}}


def batch_of(sim: SimImages, sim_index: torch.Tensor, target: torch.Tensor, target_index: torch.Tensor) -> dict:
    """The training tensors of the sim images at ``sim_index`` and target images at ``target_index``."""
    return {
        "sim": to_signed(sim.rgb[sim_index]),
        "semantic": sim.semantic[sim_index],
        "depth": sim.depth[sim_index],
        "target": to_signed(target[target_index]),
    }


@dataclass
class Splits:
    """Indices (sorted) of the sim training and validation images and of the target training and
    held-back images."""

    sim_train: np.ndarray
    sim_val: np.ndarray
    target_train: np.ndarray
    target_held: np.ndarray


def make_splits(config: CycleConfig, sims: int, targets: int, rng: np.random.Generator) -> Splits:
    """The seeded splits; one ``ConfigError`` when a side is too small to train on."""
    for side, count in (("sim", sims), ("target", targets)):
        if count < MIN_TRAIN + 2:
            raise ConfigError(f"{side} holds {count} images; unpaired training needs at least {MIN_TRAIN + 2}")
    sim_train, sim_val = split(sims, config.val_fraction, rng)
    target_train, target_held = split(targets, config.target.holdout, rng)
    return Splits(sim_train, sim_val, target_train, target_held)


def fit(
    config: CycleConfig, sim: SimImages, target: torch.Tensor, splits: Splits, log: Log | None = None
) -> tuple[CycleNets, dict[str, Any]]:
    """Train the segmenter (when a consistency loss is on), then the translator, as ``config`` says;
    returns the networks (in eval mode) and the metrics: the segmenter's per-pass losses, the
    translator's per-step and per-epoch loss terms, seconds and training images/s."""
    if sim.image_size % ResnetGenerator.factor:
        raise ConfigError(f"sim images are {sim.image_size} px; the translator needs a multiple of 4 px")
    rng = np.random.default_rng([config.seed, 1])
    nets = CycleNets.build(config, rng)
    metrics: dict[str, Any] = {"segmenter_history": [], "segmenter_seconds": 0.0}
    if nets.segmenter is not None:
        start = time.perf_counter()
        index = torch.from_numpy(splits.sim_train)
        if config.segmenter.balance:
            nets.class_weights = balance_weights(sim.semantic[index], CLASSES)
        metrics["segmenter_history"] = train_segmenter(
            nets.segmenter,
            sim.rgb[index],
            sim.semantic[index],
            sim.depth[index] if config.losses.depth > 0 else None,
            epochs=config.segmenter.epochs,
            batch_size=config.batch_size,
            lr=config.segmenter.lr,
            rng=rng,
            weights=nets.class_weights,
            log=log,
        )
        metrics["segmenter_seconds"] = time.perf_counter() - start
    optimizers = CycleOptimizers(nets)
    batch = min(config.batch_size, len(splits.sim_train), len(splits.target_train))
    steps = len(splits.sim_train) // batch
    steps_log, history, seconds = [], [], 0.0
    target_order = np.empty(0, dtype=np.int64)
    for epoch in range(config.epochs):
        start = time.perf_counter()
        nets.train()
        order = splits.sim_train[rng.permutation(len(splits.sim_train))]
        sums: dict[str, float] = {}
        for step in range(steps):
            if len(target_order) < batch:  # the target images cycle in their own seeded order
                target_order = np.concatenate(
                    [target_order, splits.target_train[rng.permutation(len(splits.target_train))]]
                )
            target_index, target_order = target_order[:batch], target_order[batch:]
            terms = optimizers.step(
                batch_of(
                    sim,
                    torch.from_numpy(order[step * batch : (step + 1) * batch]),
                    target,
                    torch.from_numpy(target_index),
                )
            )
            steps_log.append(terms)
            for name, value in terms.items():
                sums[name] = sums.get(name, 0.0) + value
        elapsed = time.perf_counter() - start
        seconds += elapsed
        history.append({"epoch": epoch + 1, **{k: v / steps for k, v in sums.items()}, "seconds": elapsed})
        if log is not None:
            row = history[-1]
            semantic = f", semantic {row['semantic']:.3f}" if "semantic" in row else ""
            log(
                f"epoch {epoch + 1}/{config.epochs}: cycle {row['cycle']:.3f}, adversarial {row['adversarial']:.3f}"
                f"{semantic} ({elapsed:.0f} s)"
            )
    nets.eval()
    metrics.update(
        history=history,
        steps=steps_log,
        train_seconds=seconds,
        images_per_s=config.epochs * steps * batch / seconds if seconds > 0 else float("nan"),
        sim_train=len(splits.sim_train),
        sim_val=len(splits.sim_val),
        target_train=len(splits.target_train),
        target_held=len(splits.target_held),
    )
    return nets, metrics
