"""ADR's distribution P_phi: the current [low, high] of every dimension, what one episode trains on, and
its entropy.

Each dimension is uniform on its range. An episode pins one bound with probability ``boundary_probability``
(p_b): a bound drawn uniformly among those that can move (a side whose hard limit is the nominal value never
moves), its dimension set to exactly that value while the others stay uniform. The episode's randomization
is the base config with each dimension laid in at its path (``dr_sim.adr.paths``).

Entropy, in nats per dimension, is the mean over dimensions of ln(high - low) in each dimension's own unit:
the differential entropy of the product of uniforms divided by the number of dimensions (OpenAI 2019). A
range of zero width (every range at the start) would give minus infinity; it counts as a width of
``ENTROPY_FLOOR`` times the span of its hard limits, so the entropy starts finite and grows as ranges open.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dr_sim.adr.config import BOUNDS, AdrConfig
from dr_sim.adr.paths import set_param
from dr_sim.config import load_config
from dr_sim.errors import ConfigError

ENTROPY_FLOOR = 1e-3  # a zero-width range counts as this fraction of its hard-limit span


@dataclass(frozen=True)
class Boundary:
    """An episode pinned at one bound: the dimension, which bound (``low``/``high``) and its value."""

    dimension: str
    bound: str
    value: float

    def as_dict(self) -> dict[str, Any]:
        return {"dimension": self.dimension, "bound": self.bound, "value": self.value}


class Ranges:
    """The current bounds of every dimension of ``config`` (all at nominal unless ``bounds`` gives them)."""

    def __init__(self, config: AdrConfig, bounds: Mapping[str, Sequence[float]] | None = None) -> None:
        self.config = config
        self.bounds = {name: [d.nominal, d.nominal] for name, d in config.dimensions.items()}
        if bounds is not None:
            self.update(bounds)

    def as_dict(self) -> dict[str, list[float]]:
        """name -> [low, high] (a copy, JSON-serialisable)."""
        return {name: list(bounds) for name, bounds in self.bounds.items()}

    def update(self, bounds: Mapping[str, Sequence[float]]) -> None:
        """Take new bounds for every dimension; one ``ConfigError`` when a name or value does not fit."""
        if set(bounds) != set(self.config.dimensions):
            raise ConfigError(
                f"ADR bounds name {sorted(bounds)}, but the dimensions are {sorted(self.config.dimensions)}"
            )
        for name, dimension in self.config.dimensions.items():
            low, high = (float(value) for value in bounds[name])
            if not dimension.limits[0] <= low <= dimension.nominal <= high <= dimension.limits[1]:
                raise ConfigError(
                    f"ADR bounds of {name!r}: [{low}, {high}] must hold the nominal {dimension.nominal} and stay "
                    f"within the hard limits {dimension.limits}"
                )
            self.bounds[name] = [low, high]

    def value(self, dimension: str, bound: str) -> float:
        """The current value of one bound."""
        return self.bounds[dimension][BOUNDS.index(bound)]

    def movable(self) -> list[tuple[str, str]]:
        """(dimension, bound) of every bound whose hard limit differs from the nominal value."""
        return [
            (name, bound)
            for name, dimension in self.config.dimensions.items()
            for bound in BOUNDS
            if dimension.limit(bound) != dimension.nominal
        ]

    def entropy(self) -> float:
        """Nats per dimension (see the module docstring for zero-width ranges)."""
        logs = []
        for name, dimension in self.config.dimensions.items():
            low, high = self.bounds[name]
            floor = ENTROPY_FLOOR * (dimension.limits[1] - dimension.limits[0])
            logs.append(math.log(max(high - low, floor)))
        return float(np.mean(logs))

    def draw_boundary(self, rng: np.random.Generator) -> Boundary | None:
        """With probability p_b a bound to pin (uniform over the movable ones), else ``None``."""
        movable = self.movable()
        if rng.random() >= self.config.boundary_probability:
            return None
        name, bound = movable[int(rng.integers(len(movable)))]
        return Boundary(name, bound, self.value(name, bound))

    def episode_randomization(self, base: Mapping[str, Any] | None, boundary: Boundary | None = None) -> dict[str, Any]:
        """The randomization of one episode: ``base`` with every dimension uniform on its range, or the
        pinned one constant at its bound."""
        config = dict(base) if base else {}
        for name, dimension in self.config.dimensions.items():
            if boundary is not None and boundary.dimension == name:
                param: dict[str, Any] = {"type": "constant", "value": boundary.value}
            else:
                low, high = self.bounds[name]
                param = {"type": "uniform", "low": low, "high": high}
            config = set_param(config, dimension.path, {**param, "op": dimension.op})
        return config


def check_randomization(config: AdrConfig, base: Mapping[str, Any] | None) -> None:
    """One ``ConfigError`` when the episode configs that ``config`` builds over ``base`` are not valid
    randomization configs (a path to no parameter, an op the parameter does not take)."""
    widest = Ranges(config)
    widest.bounds = {name: list(dimension.limits) for name, dimension in config.dimensions.items()}
    try:
        load_config(widest.episode_randomization(base))
    except ConfigError as error:
        raise ConfigError(f"adr: the randomization its dimensions build is invalid: {error}") from None
