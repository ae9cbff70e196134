"""Config models of a single randomized parameter: a distribution plus an operation and a scope.

In YAML a parameter reads ``{type: log_uniform, low: 0.25, high: 4, op: scale}``:

- ``type`` picks the distribution (``uniform``, ``log_uniform``, ``normal``, ``truncated_normal``,
  ``truncated_log_normal``, ``choice``, ``constant``) and the remaining keys are its arguments, scalars or lists;
- ``op`` says how a draw combines with the nominal value: ``set`` (the draw is the value),
  ``scale`` (nominal x draw) or ``add`` (nominal + draw);
- ``scope`` says when it is re-drawn: ``episode`` (every reset, the default), ``step``, or
  ``every_n`` with ``every: N`` control steps;
- ``shared: true`` draws once for all targets of a selector instead of once per target.

Each randomized field of the schema declares its physical ``Domain``: the values the quantity may take
where it acts (in PyBullet, the renderer or the action and observation paths). A parameter is checked
against it through its distribution's support (``Distribution.support``, per component; unbounded for a
``normal``): ``set`` checks the support itself, ``scale`` and ``add`` check the support combined with the
nominal value. Where the nominal is known only when the config is bound to a scene (a link's mass, a
camera's field of view), the static check covers what it can (a ``scale`` factor's sign, an unbounded
``add``) and ``check_nominal`` finishes the check for every target at bind time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, GetCoreSchemaHandler, PrivateAttr, model_validator
from pydantic_core import core_schema

from dr_sim.errors import ConfigError, did_you_mean
from dr_sim.sampling import (
    Choice,
    Constant,
    Distribution,
    DistributionError,
    LogUniform,
    Normal,
    TruncatedLogNormal,
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


class FiniteModel(StrictModel):
    """A ``StrictModel`` whose float fields reject NaN and infinity (every field of a randomization config)."""

    model_config = ConfigDict(allow_inf_nan=False)


Number = Annotated[Any, BeforeValidator(_number_or_vector)]
Op = Literal["set", "scale", "add"]
Scope = Literal["episode", "step", "every_n"]
OPS: tuple[Op, ...] = ("set", "scale", "add")


def _bound(x: float) -> str:
    """A declared bound, as written in a rule: ``0``, ``1``, ``180``."""
    return f"{x:g}"


def _value(x: Any) -> str:
    """An offending value: ``-2.0``, ``-inf``, ``[0.0, 0.0, 0.0]``."""
    array = np.asarray(x, dtype=np.float64)
    return repr(float(array)) if array.ndim == 0 else repr([float(v) for v in array.reshape(-1)])


def _combine(op: str, low: np.ndarray, high: np.ndarray, nominal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The smallest and largest value ``op`` makes of the nominal and a draw in [low, high], per component.

    Rounding is monotone, so every combined draw lies between the combined bounds as computed here. A zero
    nominal scaled stays zero even by an unbounded factor (every draw is finite)."""
    with np.errstate(over="ignore", invalid="ignore"):
        if op == "set":
            return np.broadcast_arrays(low, high)  # type: ignore[return-value]
        if op == "add":
            return np.broadcast_arrays(nominal + low, nominal + high)  # type: ignore[return-value]
        a = np.where(nominal == 0, 0.0, nominal * low)
        b = np.where(nominal == 0, 0.0, nominal * high)
        return np.minimum(a, b), np.maximum(a, b)


@dataclass(frozen=True)
class Domain:
    """The physical domain of one randomized field, declared in the schema as ``Annotated[Param | None,
    Domain(...)]``: the values the quantity may take where it acts.

    ``low``/``high`` bound every component (open with ``low_open``/``high_open``); ``min_length`` asks for a
    vector of at least that (non-zero) length instead, and a finite one (a direction). ``shape`` is the
    value's shape where it is known before binding: a draw must broadcast to it (be exactly it with
    ``exact_shape``: drawn values used as they are).
    ``nominal`` is the value ``scale`` and ``add`` start from where it is known before binding (else the
    scene's value at bind time). ``ops`` are the operations that make sense (``ops_why`` says why others do
    not). ``why`` is the consequence of leaving the domain, ``where`` the config section, both for messages.
    """

    quantity: str
    unit: str = ""
    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False
    min_length: float | None = None
    shape: tuple[int, ...] | None = None
    exact_shape: bool = False
    nominal: float | tuple[float, ...] | None = None
    ops: tuple[Op, ...] = OPS
    why: str = ""
    ops_why: str = ""
    where: str = ""

    # -- pydantic: validate the field's parameter, then keep the domain on it for the bind-time check --------
    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self._validate, handler(source))

    def _validate(self, value: Any) -> Any:
        if not isinstance(value, _ParamBase):
            return value
        problem = self.problem(value)
        if problem is not None:
            raise ValueError(problem)
        checked = value.model_copy()  # never change a parameter the caller holds (it may sit in two fields)
        checked._domain = self
        return checked

    # -- the rule -----------------------------------------------------------------------------------------
    def rule(self) -> str:
        """``mass must be > 0 kg (a body with mass 0 is static)``."""
        unit = f" {self.unit}" if self.unit else ""
        if self.min_length is not None:
            text = f"{self.quantity} must be a vector of non-zero length, at least {_bound(self.min_length)}{unit}"
        elif self.low > -math.inf and self.high < math.inf:
            left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
            text = f"{self.quantity} must lie in {left}{_bound(self.low)}, {_bound(self.high)}{right}{unit}"
        elif self.low > -math.inf:
            text = f"{self.quantity} must be {'>' if self.low_open else '>='} {_bound(self.low)}{unit}"
        elif self.high < math.inf:
            text = f"{self.quantity} must be {'<' if self.high_open else '<='} {_bound(self.high)}{unit}"
        else:
            text = f"{self.quantity} may take any finite value" + (f" in {self.unit}" if self.unit else "")
        return f"{text} ({self.why})" if self.why else text

    def bounds(self, param: _ParamBase) -> tuple[np.ndarray, np.ndarray]:
        """Per component, the smallest and largest value ``param`` gives on the nominal known before binding
        (0 where there is none: then only ``set`` is meaningful)."""
        nominal = np.asarray(0.0 if self.nominal is None else self.nominal, dtype=np.float64)
        return _combine(param.op, *param.distribution.support(), nominal)

    @property
    def bounded(self) -> bool:
        return self.min_length is not None or self.low > -math.inf or self.high < math.inf

    def contains(self, value: Any) -> bool:
        """Whether one value (a number or a vector) lies in the domain."""
        array = np.asarray(value, dtype=np.float64)
        if not np.all(np.isfinite(array)):
            return False
        if self.min_length is not None:
            with np.errstate(over="ignore"):
                return bool(self.min_length <= np.linalg.norm(array) < math.inf)
        above = array > self.low if self.low_open else array >= self.low
        below = array < self.high if self.high_open else array <= self.high
        return bool(np.all(above & below))

    # -- static check (the config alone) ------------------------------------------------------------------
    def problem(self, param: _ParamBase) -> str | None:
        """Why ``param`` can leave the domain whatever the scene, or ``None``."""
        distribution = param.distribution
        shape = distribution.shape
        if self.shape is not None and not _fits(shape, self.shape, self.exact_shape):
            return f"{self.quantity} takes {_shape_text(self.shape, self.exact_shape)}; got {_shape_text(shape)}"
        if param.op not in self.ops:
            return f"op {param.op!r} cannot act on {self.quantity}: {self.ops_why}; use op: {' or '.join(self.ops)}"
        if not self.bounded:
            return None
        if param.op == "set" or self.nominal is not None:
            nominal = np.asarray(0.0 if self.nominal is None else self.nominal, dtype=np.float64)
            found = self._reach(param, nominal)
            return None if found is None else f"{self.rule()}; {found}"
        if self.min_length is not None:
            return None  # a direction's nominal is known before binding: not reached
        # op scale or add on a nominal known only at bind time: check what holds for every nominal.
        low, high = distribution.support()
        if param.op == "scale" and self.low >= 0:
            strict = self.low > 0 or self.low_open
            bad = low <= 0 if strict else low < 0
            if np.any(bad):
                index = _first(bad)
                sign = ">" if strict else ">="
                return (
                    f"{self.rule()}; op scale multiplies the nominal by the draw, so the factor must be {sign} 0, "
                    f"but the distribution's support reaches {_value(low.flat[index])}{_component(low, index)}"
                    f"{_unbounded_hint(param, f'low {sign} 0')}"
                )
        down = self.low > -math.inf and bool(np.any(np.isneginf(low)))
        up = self.high < math.inf and bool(np.any(np.isposinf(high)))
        if param.op == "scale":  # the nominal's sign decides which end an unbounded factor reaches
            down = up = bool(np.any(np.isinf(low) | np.isinf(high)))
        if down or up:
            return (
                f"{self.rule()}; op {param.op} of an unbounded distribution reaches {'-inf' if down else 'inf'} "
                f"whatever the nominal{_unbounded_hint(param, 'finite bounds')}"
            )
        return None

    # -- bind-time check (a nominal read from the scene) --------------------------------------------------
    def nominal_problem(self, param: _ParamBase, target: str, nominal: np.ndarray) -> str | None:
        """Why ``param`` combined with ``target``'s nominal value can leave the domain, or ``None``."""
        if param.op == "set" or self.nominal is not None or not self.bounded:
            return None  # decided by the config alone, when it was loaded
        found = self._reach(param, np.asarray(nominal, dtype=np.float64), target=target)
        if found is None:
            return None
        outside = "" if self.contains(nominal) else "; the nominal itself lies outside, so give the value with op: set"
        return f"{self.rule()}; {found}{outside}"

    # -- shared -------------------------------------------------------------------------------------------
    def _reach(self, param: _ParamBase, nominal: np.ndarray, target: str | None = None) -> str | None:
        """Where the values ``param`` gives (its op on ``nominal``) leave the domain, or ``None``. At bind time
        (``target`` given) a component the op leaves at the scene's own value (a static body's mass 0 scaled)
        is not the config's doing and passes."""
        distribution = param.distribution
        op = param.op
        unit = f" {self.unit}" if self.unit else ""
        of = "" if target is None else f" of {target!r}"
        source = "the distribution's support" if op == "set" else f"op {op} on the nominal {_value(nominal)}{unit}{of}"
        if self.min_length is not None:
            return self._length_problem(param, nominal, source)
        low, high = _combine(op, *distribution.support(), nominal)
        too_low = low <= self.low if self.low_open else low < self.low
        too_high = high >= self.high if self.high_open else high > self.high
        bad = too_low | too_high
        if target is not None:
            bad &= ~((low == high) & (low == nominal))
        if not np.any(bad):
            return None
        index = _first(bad)
        value = low.flat[index] if too_low.flat[index] else high.flat[index]
        hint = "" if np.isfinite(value) else _unbounded_hint(param, self._suggested_bounds())
        return f"{source} reaches {_value(value)}{unit}{_component(low, index)}{hint}"

    def _length_problem(self, param: _ParamBase, nominal: np.ndarray, source: str) -> str | None:
        """Where a vector's length leaves [``min_length``, a finite float], or ``None``."""
        minimum = self.min_length or 0.0
        shape = self.shape if self.shape is not None else param.distribution.shape
        atoms = param.distribution.atoms()
        with np.errstate(over="ignore"):
            if atoms is not None:
                for atom in atoms:
                    value = np.broadcast_to(_combine(param.op, atom, atom, nominal)[0], shape)
                    length = float(np.linalg.norm(value))
                    if not minimum <= length < math.inf:
                        drawn = "the distribution can draw" if param.op == "set" else f"{source} gives"
                        return f"{drawn} {_value(value)}, of length {length!r}"
                return None
            ends = _combine(param.op, *param.distribution.support(), nominal)
            low, high = (np.broadcast_to(end, shape) for end in ends)
            straddles = (low <= 0) & (high >= 0)
            nearest = np.where(straddles, 0.0, np.minimum(np.abs(low), np.abs(high)))
            farthest = np.maximum(np.abs(low), np.abs(high))
            shortest, longest = float(np.linalg.norm(nearest)), float(np.linalg.norm(farthest))
        if shortest < minimum:
            holds = "the zero vector" if np.all(straddles) else f"vectors shorter than {_bound(minimum)}"
            return (
                f"{source} spans the box from {_value(low)} to {_value(high)}, which holds {holds}: keep one "
                "component away from 0 over the whole support"
            )
        if not longest < math.inf:
            return f"{source} spans the box from {_value(low)} to {_value(high)}, whose length overflows a float"
        return None

    def _suggested_bounds(self) -> str:
        parts = []
        if self.low > -math.inf:
            parts.append(f"low {'>' if self.low_open else '>='} {_bound(self.low)}")
        if self.high < math.inf:
            parts.append(f"high {'<' if self.high_open else '<='} {_bound(self.high)}")
        return " and ".join(parts)


def _fits(shape: tuple[int, ...], expected: tuple[int, ...], exact: bool) -> bool:
    if exact:
        return shape == expected
    try:
        return np.broadcast_shapes(shape, expected) == expected
    except ValueError:
        return False


def _shape_text(shape: tuple[int, ...], exact: bool = True) -> str:
    if shape == ():
        return "one number"
    vector = f"a vector of {shape[0]}"
    return vector if exact else f"{vector} (or one number for every component)"


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def _component(array: np.ndarray, index: int) -> str:
    return f" (component {index})" if np.ndim(array) > 0 else ""


def _unbounded_hint(param: _ParamBase, bounds: str) -> str:
    if not isinstance(param.distribution, Normal):
        return ""
    return f": a normal distribution is unbounded, use truncated_normal with {bounds}"


class _ParamBase(FiniteModel):
    op: Op = "set"
    scope: Scope = "episode"
    every: int | None = Field(default=None, gt=0)
    shared: bool = False
    _distribution: Distribution = PrivateAttr()
    _domain: Domain | None = PrivateAttr(default=None)

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

    @property
    def domain(self) -> Domain | None:
        """The physical domain of the schema field this parameter was validated in (``None`` outside one)."""
        return self._domain

    def check_nominal(self, name: str, target: str, nominal: np.ndarray) -> None:
        """One ``ConfigError`` when ``op`` on ``target``'s nominal value (read from the scene when the config is
        bound) can leave the field's domain; what the config alone decides was checked when it was loaded."""
        domain = self._domain
        if domain is None:
            return
        problem = domain.nominal_problem(self, target, nominal)
        if problem is not None:
            key = f"{domain.where}.{name}" if domain.where else name
            raise ConfigError(f"{key}: {problem}")

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


class TruncatedLogNormalParam(_ParamBase):
    type: Literal["truncated_log_normal"]
    median: Number
    log_std: Number
    low: Number
    high: Number

    def _build(self) -> Distribution:
        return TruncatedLogNormal(self.median, self.log_std, self.low, self.high)


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


PARAM_TYPES = ("uniform", "log_uniform", "normal", "truncated_normal", "truncated_log_normal", "choice", "constant")

Param = Annotated[
    UniformParam
    | LogUniformParam
    | NormalParam
    | TruncatedNormalParam
    | TruncatedLogNormalParam
    | ChoiceParam
    | ConstantParam,
    Field(discriminator="type"),
]
