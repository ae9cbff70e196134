"""Config models of a single randomized parameter: a distribution plus an operation and a scope.

In YAML a parameter reads ``{type: log_uniform, low: 0.25, high: 4, op: scale}``:

- ``type`` picks the distribution (``uniform``, ``log_uniform``, ``normal``, ``truncated_normal``,
  ``choice``, ``constant``) and the remaining keys are its arguments, scalars or lists;
- ``op`` says how a draw combines with the nominal value: ``set`` (the draw is the value),
  ``scale`` (nominal x draw) or ``add`` (nominal + draw);
- ``scope`` says when it is re-drawn: ``episode`` (every reset, the default), ``step``, or
  ``every_n`` with ``every: N`` control steps;
- ``shared: true`` draws once for all targets of a selector instead of once per target.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, model_validator

from dr_sim.errors import did_you_mean
from dr_sim.sampling import (
    Choice,
    Constant,
    Distribution,
    DistributionError,
    LogUniform,
    Normal,
    TruncatedNormal,
    Uniform,
)


class StrictModel(BaseModel):
    """Base of every config model: unknown keys are errors with a close-match suggestion."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _reject_unknown_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            allowed = list(cls.model_fields)
            for key in data:
                if key not in allowed:
                    hint = did_you_mean(str(key), allowed)
                    raise ValueError(f"unknown key {key!r}.{hint} Allowed keys: {', '.join(allowed)}")
        elif not isinstance(data, BaseModel):
            raise ValueError(f"expected a mapping of keys ({', '.join(cls.model_fields)}), got {data!r}")
        return data


def _number_or_vector(value: Any) -> float | list[float]:
    def is_number(x: Any) -> bool:
        return isinstance(x, int | float) and not isinstance(x, bool)

    try:
        if is_number(value):
            return float(value)
        if isinstance(value, list | tuple) and value and all(is_number(x) for x in value):
            return [float(x) for x in value]
    except OverflowError:  # an int too large for a float
        pass
    raise ValueError(f"must be a number or a non-empty list of numbers, got {value!r}")


Number = Annotated[Any, BeforeValidator(_number_or_vector)]
Op = Literal["set", "scale", "add"]
Scope = Literal["episode", "step", "every_n"]


class _ParamBase(StrictModel):
    op: Op = "set"
    scope: Scope = "episode"
    every: int | None = Field(default=None, gt=0)
    shared: bool = False
    _distribution: Distribution = PrivateAttr()

    def _build(self) -> Distribution:
        raise NotImplementedError

    @model_validator(mode="after")
    def _check(self) -> _ParamBase:
        if self.scope == "every_n" and self.every is None:
            raise ValueError("scope 'every_n' needs 'every: N' (a positive number of control steps)")
        if self.scope != "every_n" and self.every is not None:
            raise ValueError(f"'every' only applies to scope 'every_n', but scope is {self.scope!r}")
        try:
            self._distribution = self._build()
        except DistributionError as error:
            raise ValueError(str(error)) from None
        return self

    @property
    def distribution(self) -> Distribution:
        return self._distribution

    def due(self, step: int) -> bool:
        """Whether a per-step draw happens at control step ``step`` (1-based, after reset)."""
        if self.scope == "step":
            return True
        return self.scope == "every_n" and self.every is not None and step % self.every == 0

    def combine(self, nominal: np.ndarray, draw: np.ndarray) -> np.ndarray:
        """Apply ``op`` to the nominal value and a draw."""
        if self.op == "scale":
            return nominal * draw
        if self.op == "add":
            return nominal + draw
        return np.broadcast_to(draw, np.broadcast_shapes(np.shape(nominal), np.shape(draw))).copy()


class UniformParam(_ParamBase):
    type: Literal["uniform"]
    low: Number
    high: Number

    def _build(self) -> Distribution:
        return Uniform(self.low, self.high)


class LogUniformParam(_ParamBase):
    type: Literal["log_uniform"]
    low: Number
    high: Number

    def _build(self) -> Distribution:
        return LogUniform(self.low, self.high)


class NormalParam(_ParamBase):
    type: Literal["normal"]
    mean: Number
    std: Number

    def _build(self) -> Distribution:
        return Normal(self.mean, self.std)


class TruncatedNormalParam(_ParamBase):
    type: Literal["truncated_normal"]
    mean: Number
    std: Number
    low: Number
    high: Number

    def _build(self) -> Distribution:
        return TruncatedNormal(self.mean, self.std, self.low, self.high)


class ChoiceParam(_ParamBase):
    type: Literal["choice"]
    values: list[Number] = Field(min_length=1)
    weights: list[float] | None = None

    def _build(self) -> Distribution:
        weights = None if self.weights is None else tuple(self.weights)
        return Choice(tuple(self.values), weights)


class ConstantParam(_ParamBase):
    type: Literal["constant"]
    value: Number

    def _build(self) -> Distribution:
        return Constant(self.value)


PARAM_TYPES = ("uniform", "log_uniform", "normal", "truncated_normal", "choice", "constant")

Param = Annotated[
    UniformParam | LogUniformParam | NormalParam | TruncatedNormalParam | ChoiceParam | ConstantParam,
    Field(discriminator="type"),
]
