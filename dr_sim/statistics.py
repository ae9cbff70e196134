"""Summary statistics with intervals, for evaluations and studies.

- ``Success``: successes out of episodes, with the Wilson score 95% interval;
- ``pooled_success``: several domains' episodes counted together;
- ``bootstrap_interval``: a percentile bootstrap interval of a statistic of one sample;
- ``paired_ratio_interval``: a paired bootstrap interval of ``mean(a) / mean(b)`` over the same items;
- ``rank_correlation``: Spearman's rank correlation.

Every random draw comes from a ``numpy.random.Generator`` seeded by the caller's ``seed``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

Z95 = 1.96  # the normal quantile of a two-sided 95% interval


@dataclass(frozen=True)
class Success:
    """``successes`` of ``episodes``, with the Wilson score 95% interval."""

    successes: int
    episodes: int

    @property
    def rate(self) -> float:
        return self.successes / self.episodes

    @property
    def interval(self) -> tuple[float, float]:
        z, n, rate = Z95, self.episodes, self.rate
        centre = (rate + z * z / (2 * n)) / (1 + z * z / n)
        half = z * math.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        return max(0.0, centre - half), min(1.0, centre + half)

    def as_dict(self) -> dict[str, Any]:
        """``{"successes", "episodes", "success_rate", "ci_low", "ci_high"}``."""
        low, high = self.interval
        return {
            "successes": self.successes,
            "episodes": self.episodes,
            "success_rate": self.rate,
            "ci_low": low,
            "ci_high": high,
        }

    def __str__(self) -> str:
        low, high = self.interval
        return f"{self.rate:.0%} [{low:.0%}, {high:.0%}]"


def pooled_success(rows: Iterable[Mapping[str, Any]]) -> dict[str, Any] | None:
    """Rows that each hold ``successes`` and ``episodes`` counted together (``Success.as_dict``), or
    ``None`` when there are none."""
    rows = list(rows)
    if not rows:
        return None
    return Success(sum(int(row["successes"]) for row in rows), sum(int(row["episodes"]) for row in rows)).as_dict()


def bootstrap_interval(
    values: Sequence[float] | np.ndarray,
    statistic: Callable[[np.ndarray], np.ndarray] = lambda x: x.mean(axis=-1),
    resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float]:
    """The percentile bootstrap 95% interval of ``statistic`` (applied along the last axis) of ``values``."""
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        raise ValueError("a bootstrap interval needs at least one value")
    picks = np.random.default_rng(seed).integers(0, len(values), size=(resamples, len(values)))
    stats = statistic(values[picks])
    return float(np.quantile(stats, 0.025)), float(np.quantile(stats, 0.975))


def paired_ratio_interval(
    a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, resamples: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """A paired bootstrap 95% interval of ``mean(a) / mean(b)``: item ``i`` of both is resampled together."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.size == 0:
        raise ValueError(f"paired samples need the same non-zero length, got {a.shape} and {b.shape}")
    picks = np.random.default_rng(seed).integers(0, len(a), size=(resamples, len(a)))
    ratios = a[picks].mean(axis=1) / b[picks].mean(axis=1)
    return float(np.quantile(ratios, 0.025)), float(np.quantile(ratios, 0.975))


def _ranks(values: Sequence[float]) -> np.ndarray:
    """Ranks 0..n-1 in ascending order; tied values get the mean of their ranks."""
    values = np.asarray(values, dtype=float)
    ranked = np.empty(len(values))
    ranked[values.argsort(kind="stable")] = np.arange(len(values), dtype=float)
    for value in np.unique(values):
        ranked[values == value] = ranked[values == value].mean()
    return ranked


def rank_correlation(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Spearman's rank correlation, or ``None`` for fewer than 3 points or no spread in either."""
    if len(x) < 3:
        return None
    rx, ry = _ranks(x), _ranks(y)
    if np.std(rx) == 0 or np.std(ry) == 0:
        return None
    return float(np.corrcoef(rx, ry)[0, 1])
