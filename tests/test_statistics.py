"""Summary statistics with intervals (dr_sim.statistics)."""

from __future__ import annotations

import numpy as np
import pytest

from dr_sim.statistics import Success, bootstrap_interval, paired_ratio_interval, pooled_success, rank_correlation


def test_wilson_interval_matches_the_textbook_values() -> None:
    low, high = Success(8, 10).interval  # Wilson score interval of 8/10 at 95 %: [0.490, 0.943]
    assert (low, high) == pytest.approx((0.4902, 0.9433), abs=1e-4)
    assert Success(0, 20).interval[0] == 0.0
    assert Success(20, 20).interval[1] == 1.0
    assert str(Success(17, 20)) == "85% [64%, 95%]"


def test_pooled_success_counts_the_episodes_together() -> None:
    rows = [Success(3, 10).as_dict(), Success(9, 10).as_dict()]
    pooled = pooled_success(rows)
    assert pooled is not None
    assert (pooled["successes"], pooled["episodes"], pooled["success_rate"]) == (12, 20, 0.6)
    assert pooled_success([]) is None


def test_bootstrap_interval_holds_the_mean_and_repeats_for_a_seed() -> None:
    values = np.random.default_rng(1).normal(5.0, 1.0, 400)
    low, high = bootstrap_interval(values, seed=3)
    assert low < values.mean() < high
    assert high - low < 0.3
    assert bootstrap_interval(values, seed=3) == (low, high)


def test_paired_ratio_interval_resamples_items_together() -> None:
    a = np.array([2.0, 4.0, 6.0, 8.0])
    assert paired_ratio_interval(a, a / 2) == pytest.approx((2.0, 2.0))  # every resample has the ratio 2
    low, high = paired_ratio_interval(a, np.array([4.0, 2.0, 6.0, 8.0]))
    assert low < 1.0 < high
    with pytest.raises(ValueError, match="same non-zero length"):
        paired_ratio_interval(a, a[:2])


def test_rank_correlation_with_ties_and_degenerate_inputs() -> None:
    assert rank_correlation([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert rank_correlation([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert rank_correlation([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(0.9487, abs=1e-4)
    assert rank_correlation([1, 2], [1, 2]) is None
    assert rank_correlation([1, 1, 1], [1, 2, 3]) is None
