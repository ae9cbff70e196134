"""The ``adr:`` section of a training config: OpenAI et al. 2019's automatic domain randomization.

::

    adr:
      boundary_probability: 0.5   # p_b: chance that an episode pins one bound
      buffer_size: 10             # m: results per bound before it is judged
      low_threshold: 0.3          # t_L: mean success at or below it shrinks the bound
      high_threshold: 0.7         # t_H: mean success at or above it widens the bound (checked first)
      dimensions:                 # name -> one scalar parameter of the randomization config
        puck_mass:
          path: physics.links[object/*].mass   # where it goes (dr_sim.adr.paths)
          op: set                 # set | scale | add, as in the randomization config
          nominal: 0.2            # both bounds start here (the parameter's unit: kg here)
          limits: [0.04, 1.0]     # hard limits the bounds never pass
          step: 0.1               # Delta: how far a bound moves per update

Units are the parameter's own (kg, 1/s, a scale factor). Every bad key or value is one ``ConfigError``.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, model_validator

from dr_sim.adr.paths import parse_path
from dr_sim.config.params import StrictModel
from dr_sim.errors import ConfigError

BOUNDS = ("low", "high")


class AdrDimension(StrictModel):
    """One randomized scalar: its config path, nominal value, hard limits and step (its own units)."""

    path: str
    op: Literal["set", "scale", "add"] = "set"
    nominal: float
    limits: list[float] = Field(min_length=2, max_length=2)
    step: float = Field(gt=0)

    @model_validator(mode="after")
    def _check(self) -> AdrDimension:
        try:
            parse_path(self.path)
        except ConfigError as error:
            raise ValueError(str(error)) from None
        low, high = self.limits
        if not all(math.isfinite(value) for value in (low, high, self.nominal, self.step)):
            raise ValueError(f"nominal, limits and step must be finite numbers, got {self.limits} and {self.step}")
        if not low <= self.nominal <= high:
            raise ValueError(f"limits must hold the nominal value: need {low} <= {self.nominal} <= {high}")
        if low == high:
            raise ValueError(f"limits {self.limits} leave no room to randomize: widen one side of {self.nominal}")
        return self

    def limit(self, bound: str) -> float:
        """The hard limit of ``bound`` (``low`` or ``high``)."""
        return self.limits[BOUNDS.index(bound)]


class AdrConfig(StrictModel):
    """Algorithm 1's settings and its dimensions (see the module docstring)."""

    boundary_probability: float = Field(default=0.5, ge=0, le=1)
    buffer_size: int = Field(default=10, ge=1)
    low_threshold: float = Field(default=0.3, ge=0, le=1)
    high_threshold: float = Field(default=0.7, ge=0, le=1)
    dimensions: dict[str, AdrDimension] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> AdrConfig:
        if self.low_threshold > self.high_threshold:
            raise ValueError(
                f"low_threshold ({self.low_threshold}) must not exceed high_threshold ({self.high_threshold})"
            )
        seen: dict[str, str] = {}
        for name, dimension in self.dimensions.items():
            if dimension.path in seen:
                raise ValueError(f"dimensions {seen[dimension.path]!r} and {name!r} share the path {dimension.path!r}")
            seen[dimension.path] = name
        return self
