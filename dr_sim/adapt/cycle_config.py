"""The config of ``dr-sim adapt train`` with ``method: cyclegan``: unpaired translation of simulated
images toward a folder of the user's own unlabelled target images (CycleGAN, Zhu 2017, with CyCADA's
semantic consistency, Hoffman 2018).

A YAML file (or a mapping)::

    method: cyclegan
    sim:                         # the simulated side, a data set of dr-sim generate: a generator config ...
      generator: launch/configs/some_generator.yaml   # YAML path (from the working folder) or a mapping
      n: 2000                    # images to render
      out: runs/adapt/sim        # where (default RUN/sim); rerunning resumes
    # ... or an existing data set folder:  sim: {path: runs/dataset}
    target:
      path: photos/              # unlabelled target images (png, jpg, ...; subfolders too)
      holdout: 0.2               # fraction held back from training: the gap meter's target side
    model:
      generator: {width: 16, blocks: 4, residual: false}   # ResNet generator: first width (doubled twice),
                                 # residual blocks; residual: it learns a change of its input, starting at
                                 # the identity (a short training keeps the scene)
      discriminator: [32, 64, 128]             # PatchGAN widths
      segmenter: [16, 32, 64]                  # U-Net widths of the sim-trained segmenter
    losses:                      # weights (CycleGAN's lambda = 10, identity 0.5 lambda; CyCADA's semantic 1)
      adversarial: 1.0           # LSGAN: mean squared error of the PatchGAN's patch scores
      cycle: 10.0                # L1 of sim -> target -> sim and target -> sim -> target, RGB in [-1, 1]
      identity: 5.0              # L1 of each generator on an image of its own output domain
      semantic: 1.0              # cross-entropy of the frozen segmenter on the translated sim image
                                 # against the sim image's semantic map
      depth: 0.0                 # L1 (m) of the frozen segmenter's depth head on the translation
    segmenter: {epochs: 10, lr: 0.002, balance: true}   # trained on the sim side first, then frozen;
                                 # balance: each category's pixels weigh 1/sqrt(its pixel share) in both
                                 # cross-entropies (normalised to a mean pixel weight of 1), so that a
                                 # target of a few pixels is not a rounding error of the loss
    epochs: 10                   # passes over the sim training images
    batch_size: 8
    lr: 0.0002                   # Adam (beta1 0.5) of generators and discriminators
    val_fraction: 0.1            # of the sim images, never trained on: examples and the gap meter's sim side
    gap: {n: 500, epochs: 15, seed: 0}        # the gap meter in the report (null: no gap measurement)
    seed: 0                      # weights, splits, batch order
    threads: 1                   # torch CPU threads
    out: runs/adapt/cyclegan     # the run folder

The translator works at the sim images' size (px, square); target images are centre-cropped and
resized to it. A missing, empty or unreadable target folder ends in one ``ConfigError``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from dr_sim.config.params import StrictModel
from dr_sim.datasets.render_spec import RenderSpec

CYCLEGAN = "cyclegan"


class SimSpec(RenderSpec):
    """The sim side: an existing data set folder (``path``), or a generator config and ``n`` images."""

    FOLDER = "a data set folder of dr-sim generate"
    ITEMS = "images"


class TargetSpec(StrictModel):
    """The target side: a folder of unlabelled images, ``holdout`` of them kept from training."""

    path: str
    holdout: float = Field(default=0.2, ge=0, lt=1)


class ResnetSpec(StrictModel):
    """The ResNet generator: ``width`` channels at full size (doubled at each of two halvings), ``blocks``
    residual blocks at a quarter of the image size; ``residual``: the output is the input changed by the
    network, which starts at the identity."""

    width: int = Field(default=16, ge=1, le=256)
    blocks: int = Field(default=4, ge=0, le=16)
    residual: bool = False


def _widths(value: list[int]) -> list[int]:
    if any(width < 1 or width > 1024 for width in value):
        raise ValueError(f"widths must be in 1..1024, got {value}")
    return value


class CycleModel(StrictModel):
    """Network sizes (see the module docstring)."""

    generator: ResnetSpec = Field(default_factory=ResnetSpec)
    discriminator: list[int] = Field(default_factory=lambda: [32, 64, 128], min_length=1, max_length=5)
    segmenter: list[int] = Field(default_factory=lambda: [16, 32, 64], min_length=1, max_length=6)

    @field_validator("discriminator", "segmenter")
    @classmethod
    def _checked(cls, value: list[int]) -> list[int]:
        return _widths(value)


class CycleLosses(StrictModel):
    """Loss weights (see the module docstring)."""

    adversarial: float = Field(default=1.0, ge=0)
    cycle: float = Field(default=10.0, ge=0)
    identity: float = Field(default=5.0, ge=0)
    semantic: float = Field(default=1.0, ge=0)
    depth: float = Field(default=0.0, ge=0)


class SegmenterSpec(StrictModel):
    """Training of the segmenter on the sim side: passes, Adam's learning rate, category balance."""

    epochs: int = Field(default=10, ge=1, le=1000)
    lr: float = Field(default=2e-3, gt=0, le=1)
    balance: bool = True


class GapSpec(StrictModel):
    """The gap meter of the report: images per side (at most), training passes, seed."""

    n: int = Field(default=500, ge=20)
    epochs: int = Field(default=15, ge=1)
    seed: int = Field(default=0, ge=0)


class CycleConfig(StrictModel):
    """An unpaired translator training run (see the module docstring for each key and its unit)."""

    method: Literal["cyclegan"]
    sim: SimSpec
    target: TargetSpec
    model: CycleModel = Field(default_factory=CycleModel)
    losses: CycleLosses = Field(default_factory=CycleLosses)
    segmenter: SegmenterSpec = Field(default_factory=SegmenterSpec)
    epochs: int = Field(default=10, ge=1, le=10_000)
    batch_size: int = Field(default=8, ge=1, le=4096)
    lr: float = Field(default=2e-4, gt=0, le=1)
    val_fraction: float = Field(default=0.1, ge=0, lt=1)
    gap: GapSpec | None = Field(default_factory=GapSpec)
    seed: int = Field(default=0, ge=0)
    threads: int = Field(default=1, ge=1, le=256)
    out: str

    @model_validator(mode="after")
    def _something_learns(self) -> CycleConfig:
        if not self.losses.adversarial:
            raise ValueError("losses.adversarial is 0: nothing would pull the translation toward the target look")
        return self

    @property
    def needs_segmenter(self) -> bool:
        """Whether a segmenter is trained (a semantic or depth consistency loss is on)."""
        return self.losses.semantic > 0 or self.losses.depth > 0
