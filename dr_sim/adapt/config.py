"""The config of ``dr-sim adapt train``: which translator, trained on which paired renders, how long.

A YAML file (or a mapping)::

    method: rcan                 # rcan (James 2019) or pix2pix (Isola 2017); cyclegan (unpaired,
                                 # toward the user's own images) has its own keys: dr_sim.adapt.cycle_config
    data:                        # paired renders (dr_sim.datasets.paired): a generator config ...
      generator: launch/configs/some_generator.yaml   # YAML path (from the working folder) or a mapping
      n: 6000                    # pairs to render
      out: runs/adapt/pairs      # where (default RUN/pairs); rerunning resumes
    # ... or an existing pair folder:  data: {path: runs/adapt/pairs}
    model: {channels: [16, 32, 64, 128]}     # U-Net widths, one per halving of the image
    losses:                      # weights; the defaults depend on the method (below)
      l1: 1.0                    # mean absolute error of the canonical RGB in [-1, 1]
      object_weight: 0.0         # an object's pixel (target or distractor, from the segmentation)
                                 # counts 1 + object_weight background pixels in that L1: a 3 px
                                 # target is otherwise too small a share of the loss to be kept
      segmentation: 0.1          # RCAN: cross-entropy of the semantic map (0: no segmentation head)
      depth: 0.1                 # RCAN: mean absolute error of the metric depth, m (0: no depth head)
      adversarial: 0.0           # PatchGAN loss (RCAN: on the output alone; pix2pix: on the pair)
    epochs: 20
    batch_size: 32
    lr: 0.001                    # Adam (beta1 0.5) of the generator and of the discriminator
    val_fraction: 0.05           # of the pairs, kept aside to report the validation L1
    seed: 0                      # weights, split, batch order
    threads: 1                   # torch CPU threads (on 2 shared cores one is faster than two)
    out: runs/adapt/rcan         # the run folder

Default losses: ``rcan`` l1 1, segmentation 0.1, depth 0.1, adversarial 0 (James 2019's
auxiliary heads; an adversarial weight of about 0.01 adds the optional PatchGAN); ``pix2pix`` l1 100,
adversarial 1 (Isola 2017's lambda = 100) and no auxiliary heads. Unknown keys and bad values end
in one ``ConfigError`` naming the key, the value and what is allowed.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from dr_sim.adapt.cycle_config import CYCLEGAN, CycleConfig
from dr_sim.config.loader import read_yaml_mapping, validated
from dr_sim.config.params import StrictModel
from dr_sim.datasets.render_spec import RenderSpec

METHODS = ("rcan", "pix2pix")
DEFAULT_LOSSES = {
    "rcan": {"l1": 1.0, "object_weight": 0.0, "segmentation": 0.1, "depth": 0.1, "adversarial": 0.0},
    "pix2pix": {"l1": 100.0, "object_weight": 0.0, "segmentation": 0.0, "depth": 0.0, "adversarial": 1.0},
}


class PairSpec(RenderSpec):
    """Paired renders: an existing pair folder (``path``), or a generator config and ``n`` pairs."""

    FOLDER = "a pair folder"
    ITEMS = "pairs"


class ModelSpec(StrictModel):
    """U-Net widths, one per halving of the image (64 px and 4 widths: 4 x 4 cells at the bottom)."""

    channels: list[int] = Field(default_factory=lambda: [16, 32, 64, 128], min_length=1, max_length=6)

    @field_validator("channels")
    @classmethod
    def _widths(cls, value: list[int]) -> list[int]:
        if any(width < 1 or width > 1024 for width in value):
            raise ValueError(f"channels must be widths in 1..1024, got {value}")
        return value


class Losses(StrictModel):
    """Loss weights (see the module docstring)."""

    l1: float = Field(ge=0)
    object_weight: float = Field(ge=0)
    segmentation: float = Field(ge=0)
    depth: float = Field(ge=0)
    adversarial: float = Field(ge=0)


class AdaptConfig(StrictModel):
    """A translator training run (see the module docstring for each key and its unit)."""

    method: Literal["rcan", "pix2pix", "cyclegan"]  # cyclegan never gets here: it is a CycleConfig
    data: PairSpec
    model: ModelSpec = Field(default_factory=ModelSpec)
    losses: Losses
    epochs: int = Field(default=20, ge=1, le=10_000)
    batch_size: int = Field(default=32, ge=2, le=4096)
    lr: float = Field(default=1e-3, gt=0, le=1)
    val_fraction: float = Field(default=0.05, ge=0, lt=1)
    seed: int = Field(default=0, ge=0)
    threads: int = Field(default=1, ge=1, le=256)
    out: str

    @model_validator(mode="before")
    @classmethod
    def _method_losses(cls, data: Any) -> Any:
        """Fill the losses the config leaves out with the method's defaults."""
        if isinstance(data, Mapping) and data.get("method") in METHODS:
            given = data.get("losses")
            if given is None or isinstance(given, Mapping):
                return {**data, "losses": {**DEFAULT_LOSSES[data["method"]], **(given or {})}}
        return data

    @model_validator(mode="after")
    def _method_heads(self) -> AdaptConfig:
        if self.method == "pix2pix" and (self.losses.segmentation or self.losses.depth):
            raise ValueError(
                "pix2pix has no segmentation or depth heads: set losses.segmentation and "
                "losses.depth to 0, or use method: rcan"
            )
        if self.method == "pix2pix" and not self.losses.adversarial:
            raise ValueError("pix2pix is a conditional GAN: losses.adversarial must be > 0 (for L1 alone use rcan)")
        if not (self.losses.l1 or self.losses.adversarial):
            raise ValueError("losses.l1 and losses.adversarial are both 0: nothing would learn the image")
        return self


AnyAdaptConfig = AdaptConfig | CycleConfig


def load_adapt_config(
    source: str | Path | Mapping[str, Any] | AdaptConfig | CycleConfig, origin: str | None = None
) -> AnyAdaptConfig:
    """A validated config from a YAML path, a mapping or a config: a ``CycleConfig`` for ``method:
    cyclegan``, else an ``AdaptConfig``; one ``ConfigError`` if bad, naming ``origin`` (default: the path,
    or "adapt config")."""
    if isinstance(source, AdaptConfig | CycleConfig):
        return source
    origin = origin or (str(source) if isinstance(source, str | Path) else "adapt config")
    data = read_yaml_mapping(source, "adapt config") if isinstance(source, str | Path) else dict(source)
    unpaired_keys = "sim" in data or "target" in data  # a misspelt method is judged by the keys it comes with
    if data.get("method") == CYCLEGAN or (data.get("method") not in METHODS and unpaired_keys):
        return validated(CycleConfig, data, origin)
    return validated(AdaptConfig, data, origin)
