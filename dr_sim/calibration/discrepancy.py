"""How far simulated trajectories are from recorded ones, and how likely the recorded ones are.

Observations are flattened to vectors (a Dict's entries in the order of its recorded space) and every
dimension is measured in units of its spread over the recorded data (``Scales.spread``: its standard
deviation, floored), so positions in metres, velocities in m/s and angles weigh alike.

- ``discrepancy``: the mean Huber loss (``HUBER_DELTA`` spreads) of the residuals over every step after the
  start, dimension and episode. Observation noise adds a constant floor that does not move the minimum (it
  averages out over hundreds of residuals), and the Huber loss keeps a few outliers (a sensor glitch, a
  contact the simulator resolves differently) from dominating. Latency is not aligned away: it is a
  parameter of the actuation randomizer (``latency_steps``, ``latency_rate``), so replays model it.
- ``log_likelihood``: DROPO's likelihood (Tiboni et al. 2023): at every step, the simulated observations
  under K sampled parameter vectors give a Gaussian (their mean and variance, per dimension), widened
  by the observation noise ``Scales.noise``; the recorded observation's log density under it, summed.
  The variance of a few samples is itself noisy, and the Gaussian log density punishes a step where the
  samples happen to agree without mercy, so each step's variance is shrunk halfway (``SHRINKAGE``)
  towards that dimension's variance pooled over all steps. Shrinkage is what makes synthetic likelihood
  work from few simulations (Priddle et al. 2022 shrink its covariance); the target here is the pooled
  variance, which a few replays estimate well where they estimate each step's poorly. On PuckPush's
  sticky, laggy target this turns the likelihood of 4 replays at the true parameters from +11,808 under
  one set of step seeds and -155,660 under another into +7,095 and +6,994, while a deterministic
  impostor's stays far below (-8,318 and -29,820).
- ``compared_columns``: which flattened dimensions the two compare (``--compare``; all by default). A
  whole-episode replay of a contact-rich scene is chaotic in the objects the robot strikes (a 2 % change
  of a pusher's damping moves where a puck ends up by centimetres, one way or the other), so a discrepancy
  over those dimensions is a field of narrow dips that no search lands in reliably, while the robot's own
  state responds smoothly to its mass, damping, gains and latency. Comparing the robot's own state then
  identifies the robot's parameters; an object's parameters need its dimensions (and short-horizon
  replays, ``--horizon``).
- ``Scales.noise`` is estimated from the recordings themselves: the median absolute second difference per
  dimension (robust to the trajectory's own motion and to outliers), which for white noise of std s is
  ``0.6745 * sqrt(6) * s``; floored at ``NOISE_FLOOR`` spreads.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dr_sim.errors import ConfigError
from dr_sim.trajectories.spaces import leaves

HUBER_DELTA = 1.0  # spreads
SPREAD_FLOOR = 1e-3  # of the largest spread: a dimension that never moves still counts, on that scale
NOISE_FLOOR = 0.01  # spreads
SHRINKAGE = 0.5  # weight of the pooled variance in the synthetic likelihood's per-step variance
MAD_TO_STD = 1.0 / (0.6745 * np.sqrt(6.0))  # median |second difference| of white noise -> its std


def observation_keys(observation_space: dict[str, Any]) -> list[str]:
    """The flattened entries of a recorded observation space (``[""]`` for a plain Box); Discrete
    entries are left out (they are not measured)."""
    return [key for key, part in leaves(observation_space).items() if part["type"] == "Box"]


def flatten(observation: Any, keys: Sequence[str]) -> np.ndarray:
    """One observation as a float64 vector (Dict entries in ``keys`` order)."""
    if keys == [""]:
        return np.asarray(observation, dtype=np.float64).ravel()
    parts = []
    for key in keys:
        value = observation
        for part in key.split("."):
            value = value[part]
        parts.append(np.asarray(value, dtype=np.float64).ravel())
    return np.concatenate(parts)


def flatten_steps(observations: Any, keys: Sequence[str]) -> np.ndarray:
    """(T + 1, D) float64 of a recorded episode's observations (an array or a dict of arrays)."""
    if keys == [""]:
        return np.asarray(observations, dtype=np.float64).reshape(len(observations), -1)
    parts = []
    for key in keys:
        value = observations
        for part in key.split("."):
            value = value[part]
        parts.append(np.asarray(value, dtype=np.float64).reshape(len(value), -1))
    return np.concatenate(parts, axis=1)


COMPONENT = re.compile(r"^(?P<key>[A-Za-z_][\w.]*)?(?:\[(?P<start>-?\d+)?(?P<colon>:)?(?P<stop>-?\d+)?\])?$")


def compared_columns(components: Sequence[str] | None, keys: Sequence[str], widths: Sequence[int]) -> np.ndarray:
    """The flattened dimensions that ``components`` name, in order: each ``KEY`` (a Dict entry, nested
    ones as ``a.b``), ``KEY[i]`` or ``KEY[a:b]`` (Python indexing into that entry's flattened vector); a
    plain Box observation is ``[i]`` or ``[a:b]``. ``None``: every dimension. ``widths``: each key's
    flattened size."""
    offsets = np.concatenate([[0], np.cumsum(widths)]).astype(int)
    if components is None:
        return np.arange(offsets[-1])
    plain = list(keys) == [""]
    form = "[i] or [a:b]" if plain else f"KEY, KEY[i] or KEY[a:b] with KEY one of {', '.join(keys)}"
    columns: list[int] = []
    for component in components:
        match = COMPONENT.match(component.strip())
        key = (match.group("key") or "") if match else None
        if match is None or key not in keys or (not key and not plain):
            raise ConfigError(f"--compare {component!r} names no part of the recorded observation; give {form}")
        index = list(keys).index(key)
        span = range(offsets[index], offsets[index + 1])
        start, stop = match.group("start"), match.group("stop")
        if match.group("colon"):
            chosen = span[slice(None if start is None else int(start), None if stop is None else int(stop))]
        elif start is not None:
            if not -len(span) <= int(start) < len(span):
                raise ConfigError(
                    f"--compare {component!r}: index {start} is outside {key or 'the observation'}'s "
                    f"{len(span)} dimensions"
                )
            chosen = span[int(start) : int(start) + 1 or None]
        else:
            chosen = span
        if not chosen:
            raise ConfigError(
                f"--compare {component!r} selects no dimension of {key or 'the observation'}'s {len(span)}"
            )
        columns.extend(chosen)
    if len(set(columns)) != len(columns):
        raise ConfigError(f"--compare {' '.join(components)} names a dimension twice")
    return np.array(columns, dtype=int)


@dataclass(frozen=True)
class Scales:
    """Per dimension: the spread of the recorded data and its estimated observation noise (spreads)."""

    spread: np.ndarray
    noise: np.ndarray

    @staticmethod
    def of(recorded: Sequence[np.ndarray]) -> Scales:
        stacked = np.concatenate(recorded, axis=0)
        spread = stacked.std(axis=0)
        spread = np.maximum(spread, SPREAD_FLOOR * max(float(spread.max()), 1e-12))
        seconds = [np.diff(episode, n=2, axis=0) for episode in recorded if len(episode) >= 3]
        if seconds:
            second = np.concatenate(seconds, axis=0)
            mad = np.median(np.abs(second - np.median(second, axis=0)), axis=0)
            noise = np.maximum(MAD_TO_STD * mad / spread, NOISE_FLOOR)
        else:
            noise = np.full_like(spread, NOISE_FLOOR)
        return Scales(spread, noise)

    def select(self, columns: np.ndarray) -> Scales:
        """The scales of ``columns`` alone."""
        return Scales(self.spread[columns], self.noise[columns])


def _huber(residual: np.ndarray) -> np.ndarray:
    magnitude = np.abs(residual)
    return np.where(magnitude <= HUBER_DELTA, 0.5 * residual**2, HUBER_DELTA * (magnitude - 0.5 * HUBER_DELTA))


def discrepancy(simulated: Sequence[np.ndarray], recorded: Sequence[np.ndarray], scales: Scales) -> float:
    """The mean Huber loss of the residuals (spreads) after the start state, over episodes, steps and
    dimensions; 0 for identical trajectories."""
    total, count = 0.0, 0
    for sim, real in zip(simulated, recorded, strict=True):
        residual = (sim[1:] - real[1:]) / scales.spread
        total += float(_huber(residual).sum())
        count += residual.size
    return total / max(count, 1)


def start_error(simulated: Sequence[np.ndarray], recorded: Sequence[np.ndarray], scales: Scales) -> list[float]:
    """Per episode, the largest residual of the start observation (spreads)."""
    return [
        float(np.max(np.abs((sim[0] - real[0]) / scales.spread))) for sim, real in zip(simulated, recorded, strict=True)
    ]


def log_likelihood(samples: Sequence[Sequence[np.ndarray]], recorded: Sequence[np.ndarray], scales: Scales) -> float:
    """DROPO's log-likelihood of the recorded episodes: ``samples[k][e]`` is episode ``e`` simulated under
    the k-th parameter sample, (T + 1, D). Per step and dimension, the recorded value's log density under
    the Gaussian of the K simulated values: their mean, and their unbiased variance shrunk towards that
    dimension's variance pooled over every step (``SHRINKAGE``), plus the noise variance."""
    residuals, variances = [], []
    for e, real in enumerate(recorded):
        sims = np.stack([sample[e] for sample in samples]) / scales.spread  # (K, T + 1, D)
        residuals.append(real[1:] / scales.spread - sims.mean(axis=0)[1:])
        variances.append(sims.var(axis=0, ddof=1)[1:] if len(sims) > 1 else np.zeros_like(residuals[-1]))
    pooled = np.concatenate(variances).mean(axis=0) if variances else 0.0
    total = 0.0
    for residual, spread in zip(residuals, variances, strict=True):
        variance = (1.0 - SHRINKAGE) * spread + SHRINKAGE * pooled + scales.noise**2
        total += float(-0.5 * np.sum(residual**2 / variance + np.log(2.0 * np.pi * variance)))
    return total
