"""Probability distributions for randomized parameters.

Every distribution is a frozen dataclass, validated when it is built, and drawn from a
``numpy.random.Generator`` that the caller passes: there is no global random state here.
A distribution is scalar (``shape == ()``) or a vector (``shape == (n,)``); vector bounds are
given as lists and broadcast against scalars.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

import numpy as np

Value = float | list[float]
_STANDARD_NORMAL = NormalDist()
# How many std a normal draw may reach: numpy's standard normal never gets near it (P(|z| > 40) ~ 1e-350).
_NORMAL_REACH = 40.0


class DistributionError(ValueError):
    """A distribution was built with invalid parameters."""


def _as_array(name: str, value: Any) -> np.ndarray:
    array = np.asarray(value, dtype=np.float64)
    if array.ndim > 1:
        raise DistributionError(f"{name} must be a number or a list of numbers, got {value!r}")
    if not np.all(np.isfinite(array)):
        raise DistributionError(f"{name} must be finite, got {value!r}")
    return array


def _broadcast_shape(**arrays: np.ndarray) -> tuple[int, ...]:
    try:
        return tuple(np.broadcast_shapes(*(a.shape for a in arrays.values())))
    except ValueError as error:
        sizes = ", ".join(f"{k} has {a.size}" for k, a in arrays.items())
        raise DistributionError(f"vector bounds differ in length ({sizes})") from error


def _normal_cdf(x: float) -> float:
    """Standard normal CDF via ``erfc``: exact far into the lower tail, unlike ``NormalDist.cdf``."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def _bounds(low: Value, high: Value, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """``low`` and ``high`` as float arrays of ``shape`` (a scalar bound broadcast to a vector's)."""
    return np.broadcast_to(np.asarray(low, float), shape).copy(), np.broadcast_to(np.asarray(high, float), shape).copy()


def _to_python(array: np.ndarray) -> Value:
    """Return a JSON-serialisable float or list of floats."""
    return float(array) if array.ndim == 0 else [float(x) for x in array]


@dataclass(frozen=True)
class Distribution:
    """Base class: ``sample(rng)`` returns a float or a list of floats (JSON-serialisable)."""

    def sample(self, rng: np.random.Generator) -> Value:
        return _to_python(self.sample_array(rng))

    def sample_array(self, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    @property
    def shape(self) -> tuple[int, ...]:
        raise NotImplementedError

    def support(self) -> tuple[np.ndarray, np.ndarray]:
        """Per component, the smallest and largest value a draw can take (``-inf``/``inf`` when unbounded),
        both of the distribution's ``shape``: every draw lies in this box."""
        raise NotImplementedError

    def atoms(self) -> np.ndarray | None:
        """The finite set of values a draw can take, one per row (``constant``, ``choice``, a ``normal`` with
        std 0), or ``None`` when there are infinitely many (then ``support`` bounds them)."""
        return None


@dataclass(frozen=True)
class Constant(Distribution):
    """Always the same value."""

    value: Value

    def __post_init__(self) -> None:
        _as_array("value", self.value)

    @property
    def shape(self) -> tuple[int, ...]:
        return np.shape(self.value)

    def sample_array(self, rng: np.random.Generator) -> np.ndarray:
        return np.asarray(self.value, dtype=np.float64)

    def support(self) -> tuple[np.ndarray, np.ndarray]:
        value = np.asarray(self.value, dtype=np.float64)
        return value, value

    def atoms(self) -> np.ndarray | None:
        return np.asarray([self.value], dtype=np.float64)


@dataclass(frozen=True)
class Uniform(Distribution):
    """Uniform on ``[low, high]``."""

    low: Value
    high: Value

    def __post_init__(self) -> None:
        low, high = _as_array("low", self.low), _as_array("high", self.high)
        _broadcast_shape(low=low, high=high)
        if np.any(low > high):
            raise DistributionError(f"low must be <= high, got low={self.low!r} > high={self.high!r}")
        with np.errstate(over="ignore"):
            span = high - low
        if not np.all(np.isfinite(span)):
            raise DistributionError(
                f"high - low must be a finite number (draws are low + (high - low) u), got low={self.low!r}, "
                f"high={self.high!r}"
            )

    @property
    def shape(self) -> tuple[int, ...]:
        return _broadcast_shape(low=np.asarray(self.low), high=np.asarray(self.high))

    def sample_array(self, rng: np.random.Generator) -> np.ndarray:
        low, high = np.asarray(self.low, float), np.asarray(self.high, float)
        # Guard the support against rounding (numpy documents that high itself may come out): clip to it.
        return np.clip(low + (high - low) * rng.random(self.shape), low, high)

    def support(self) -> tuple[np.ndarray, np.ndarray]:
        return _bounds(self.low, self.high, self.shape)


@dataclass(frozen=True)
class LogUniform(Distribution):
    """Log-uniform on ``[low, high]``, both strictly positive (Peng 2018 samples scales this way)."""

    low: Value
    high: Value

    def __post_init__(self) -> None:
        low, high = _as_array("low", self.low), _as_array("high", self.high)
        _broadcast_shape(low=low, high=high)
        if np.any(low <= 0) or np.any(high <= 0):
            raise DistributionError(f"log_uniform bounds must be > 0, got low={self.low!r}, high={self.high!r}")
        if np.any(low > high):
            raise DistributionError(f"low must be <= high, got low={self.low!r} > high={self.high!r}")

    @property
    def shape(self) -> tuple[int, ...]:
        return _broadcast_shape(low=np.asarray(self.low), high=np.asarray(self.high))

    def sample_array(self, rng: np.random.Generator) -> np.ndarray:
        low, high = np.asarray(self.low, float), np.asarray(self.high, float)
        log_low, log_high = np.log(low), np.log(high)
        # exp(log(x)) may round past x: clip so draws stay inside [low, high].
        return np.clip(np.exp(log_low + (log_high - log_low) * rng.random(self.shape)), low, high)

    def support(self) -> tuple[np.ndarray, np.ndarray]:
        return _bounds(self.low, self.high, self.shape)


@dataclass(frozen=True)
class Normal(Distribution):
    """Gaussian with ``mean`` and standard deviation ``std`` (``std >= 0``)."""

    mean: Value
    std: Value

    def __post_init__(self) -> None:
        mean, std = _as_array("mean", self.mean), _as_array("std", self.std)
        _broadcast_shape(mean=mean, std=std)
        if np.any(std < 0):
            raise DistributionError(f"std must be >= 0, got std={self.std!r}")
        with np.errstate(over="ignore"):
            reach = np.abs(mean) + _NORMAL_REACH * std
        if not np.all(np.isfinite(reach)):
            raise DistributionError(
                f"std is too large: draws mean + std z would overflow a float, got mean={self.mean!r}, std={self.std!r}"
            )

    @property
    def shape(self) -> tuple[int, ...]:
        return _broadcast_shape(mean=np.asarray(self.mean), std=np.asarray(self.std))

    def sample_array(self, rng: np.random.Generator) -> np.ndarray:
        mean, std = np.asarray(self.mean, float), np.asarray(self.std, float)
        return mean + std * rng.standard_normal(self.shape)

    def support(self) -> tuple[np.ndarray, np.ndarray]:
        """Unbounded, except where ``std`` is 0: there every draw is the mean."""
        mean, std = np.broadcast_arrays(np.asarray(self.mean, float), np.asarray(self.std, float))
        fixed = std == 0
        return np.where(fixed, mean, -np.inf), np.where(fixed, mean, np.inf)

    def atoms(self) -> np.ndarray | None:
        if np.any(np.asarray(self.std, float) > 0):
            return None
        return np.broadcast_to(np.asarray(self.mean, float), self.shape)[np.newaxis].copy()


@dataclass(frozen=True)
class TruncatedNormal(Distribution):
    """Gaussian restricted to ``[low, high]`` (exact inverse-CDF sampling, no rejection loop)."""

    mean: Value
    std: Value
    low: Value
    high: Value

    def __post_init__(self) -> None:
        arrays = {k: _as_array(k, getattr(self, k)) for k in ("mean", "std", "low", "high")}
        _broadcast_shape(**arrays)
        if np.any(arrays["std"] <= 0):
            raise DistributionError(f"std must be > 0, got std={self.std!r}")
        if np.any(arrays["low"] >= arrays["high"]):
            raise DistributionError(f"low must be < high, got low={self.low!r} >= high={self.high!r}")

    @property
    def shape(self) -> tuple[int, ...]:
        return _broadcast_shape(**{k: np.asarray(getattr(self, k)) for k in ("mean", "std", "low", "high")})

    def sample_array(self, rng: np.random.Generator) -> np.ndarray:
        with np.errstate(over="ignore", invalid="ignore"):  # far tails: the window's ends may be +-inf
            return self._sample(rng)

    def _sample(self, rng: np.random.Generator) -> np.ndarray:
        mean, std = np.asarray(self.mean, float), np.asarray(self.std, float)
        a = (np.asarray(self.low, float) - mean) / std
        b = (np.asarray(self.high, float) - mean) / std
        # Sample the mirrored window when it lies mostly above the mean: the CDF is exact in the lower tail.
        flip = a + b > 0
        a, b = np.where(flip, -b, a), np.where(flip, -a, b)
        cdf, ppf = np.vectorize(_normal_cdf), np.vectorize(_STANDARD_NORMAL.inv_cdf)
        u = cdf(a) + (cdf(b) - cdf(a)) * rng.random(self.shape)
        z = ppf(np.clip(u, 1e-300, 1.0 - 1e-16))
        return np.clip(mean + std * np.where(flip, -z, z), self.low, self.high)

    def support(self) -> tuple[np.ndarray, np.ndarray]:
        return _bounds(self.low, self.high, self.shape)


@dataclass(frozen=True)
class TruncatedLogNormal(Distribution):
    """A log-normal restricted to ``[low, high]`` (both > 0): ``log(x)`` is a Gaussian of mean ``log(median)``
    and standard deviation ``log_std`` (natural log: ``log_std`` 0.1 is about +-10 %), truncated to
    ``[log(low), log(high)]``. The natural range of a parameter that spans decades, as ``log_uniform`` is;
    ``dr-sim calibrate`` writes its posterior of such a parameter this way."""

    median: Value
    log_std: Value
    low: Value
    high: Value

    def __post_init__(self) -> None:
        arrays = {k: _as_array(k, getattr(self, k)) for k in ("median", "log_std", "low", "high")}
        _broadcast_shape(**arrays)
        for name in ("median", "low", "high"):
            if np.any(arrays[name] <= 0):
                raise DistributionError(f"truncated_log_normal {name} must be > 0, got {name}={getattr(self, name)!r}")
        if np.any(arrays["log_std"] <= 0):
            raise DistributionError(f"log_std must be > 0, got log_std={self.log_std!r}")
        if np.any(arrays["low"] >= arrays["high"]):
            raise DistributionError(f"low must be < high, got low={self.low!r} >= high={self.high!r}")

    @property
    def shape(self) -> tuple[int, ...]:
        return _broadcast_shape(**{k: np.asarray(getattr(self, k)) for k in ("median", "log_std", "low", "high")})

    def _log_normal(self) -> TruncatedNormal:
        logs = [np.log(np.asarray(getattr(self, k), float)) for k in ("median", "low", "high")]
        return TruncatedNormal(_to_python(logs[0]), self.log_std, _to_python(logs[1]), _to_python(logs[2]))

    def sample_array(self, rng: np.random.Generator) -> np.ndarray:
        draws = np.exp(self._log_normal().sample_array(rng))
        return np.clip(draws, self.low, self.high)  # exp(log(x)) may round past x

    def support(self) -> tuple[np.ndarray, np.ndarray]:
        return _bounds(self.low, self.high, self.shape)


@dataclass(frozen=True)
class Choice(Distribution):
    """One of ``values`` (numbers or equal-length lists), with optional ``weights`` (normalised)."""

    values: tuple[Value, ...]
    weights: tuple[float, ...] | None = None
    _probabilities: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.values) == 0:
            raise DistributionError("choice needs at least one value")
        shapes = {np.shape(_as_array("values", v)) for v in self.values}
        if len(shapes) > 1:
            raise DistributionError(f"choice values must all have the same length, got {list(self.values)!r}")
        if self.weights is None:
            probabilities = np.full(len(self.values), 1.0 / len(self.values))
        else:
            weights = _as_array("weights", list(self.weights))
            if weights.shape != (len(self.values),):
                raise DistributionError(
                    f"weights must have one entry per value ({len(self.values)}), got {len(weights)}"
                )
            if np.any(weights < 0) or not np.any(weights > 0):
                raise DistributionError(f"weights must be >= 0 with a positive sum, got {list(self.weights)!r}")
            scaled = weights / weights.max()  # the sum of weights near the largest float would overflow
            probabilities = scaled / scaled.sum()
        object.__setattr__(self, "_probabilities", probabilities)

    @property
    def shape(self) -> tuple[int, ...]:
        return np.shape(self.values[0])

    def sample_array(self, rng: np.random.Generator) -> np.ndarray:
        index = rng.choice(len(self.values), p=self._probabilities)
        return np.asarray(self.values[index], dtype=np.float64)

    def support(self) -> tuple[np.ndarray, np.ndarray]:
        stacked = np.asarray(self.values, dtype=np.float64)
        return stacked.min(axis=0), stacked.max(axis=0)

    def atoms(self) -> np.ndarray | None:
        return np.asarray(self.values, dtype=np.float64)
