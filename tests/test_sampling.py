"""Tests of the probability distributions in ``dr_sim.sampling``."""

from __future__ import annotations

import json
import math
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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

SEEDS = st.integers(min_value=0, max_value=2**63 - 1)
DRAWS = 50

DISTRIBUTIONS: dict[str, Distribution] = {
    "uniform": Uniform(-1.0, 2.0),
    "uniform_vector": Uniform([0.0, -1.0, 5.0], [1.0, 1.0, 6.0]),
    "uniform_vector_scalar_high": Uniform([0.0, -1.0], 2.0),
    "log_uniform": LogUniform(0.25, 4.0),
    "log_uniform_vector": LogUniform([0.1, 1.0], [10.0, 2.0]),
    "normal": Normal(1.0, 0.5),
    "normal_vector": Normal([0.0, 10.0, -3.0], 0.1),
    "truncated_normal": TruncatedNormal(0.0, 1.0, -0.5, 2.0),
    "truncated_normal_vector": TruncatedNormal([0.0, 1.0], [1.0, 0.1], [-1.0, 0.9], [1.0, 1.5]),
    "truncated_log_normal": TruncatedLogNormal(1.0, 0.5, 0.2, 3.0),
    "truncated_log_normal_vector": TruncatedLogNormal([1.0, 40.0], [0.1, 1.0], [0.1, 20.0], [10.0, 1000.0]),
    "choice": Choice((1.0, 2.0, 3.0)),
    "choice_weighted": Choice((1.0, 2.0, 3.0), (0.2, 0.0, 0.8)),
    "choice_vector": Choice(([0.0, 0.0], [1.0, 2.0], [3.0, 4.0]), (1.0, 1.0, 2.0)),
    "constant": Constant(0.5),
    "constant_vector": Constant([1.0, 2.0, 3.0]),
}
EXPECTED_SHAPES = {
    "uniform_vector": (3,),
    "uniform_vector_scalar_high": (2,),
    "log_uniform_vector": (2,),
    "normal_vector": (3,),
    "truncated_normal_vector": (2,),
    "truncated_log_normal_vector": (2,),
    "choice_vector": (2,),
    "constant_vector": (3,),
}


def draws(dist: Distribution, seed: int, n: int = DRAWS) -> list[float | list[float]]:
    rng = np.random.default_rng(seed)
    return [dist.sample(rng) for _ in range(n)]


@pytest.mark.parametrize("name", list(DISTRIBUTIONS))
def test_same_seed_gives_same_draws(name: str) -> None:
    dist = DISTRIBUTIONS[name]
    assert draws(dist, 7) == draws(dist, 7)


@pytest.mark.parametrize("name", [n for n in DISTRIBUTIONS if not n.startswith("constant")])
def test_different_seeds_give_different_draws(name: str) -> None:
    dist = DISTRIBUTIONS[name]
    assert draws(dist, 1) != draws(dist, 2)


@pytest.mark.parametrize("name", list(DISTRIBUTIONS))
def test_draws_are_json_floats_of_the_declared_shape(name: str) -> None:
    """A draw is a plain float (scalar) or a list of floats (vector), so it can be logged as JSON."""
    dist = DISTRIBUTIONS[name]
    expected = EXPECTED_SHAPES.get(name, ())
    assert dist.shape == expected
    draw = dist.sample(np.random.default_rng(0))
    if expected == ():
        assert type(draw) is float
    else:
        assert isinstance(draw, list)
        assert len(draw) == expected[0]
        assert all(type(x) is float for x in draw)
    assert json.loads(json.dumps(draw)) == draw
    assert dist.sample_array(np.random.default_rng(0)).shape == expected


@pytest.mark.parametrize("name", list(DISTRIBUTIONS))
def test_sampling_leaves_global_numpy_state_alone(name: str) -> None:
    """Draws come only from the generator passed in; the legacy global state is checked on purpose."""
    np.random.seed(1234)  # noqa: NPY002
    before = np.random.get_state()[1].copy()  # noqa: NPY002
    draws(DISTRIBUTIONS[name], 0, n=5)
    assert np.array_equal(np.random.get_state()[1], before)  # noqa: NPY002


@pytest.mark.parametrize("name", list(DISTRIBUTIONS))
def test_draws_stay_inside_declared_support(name: str) -> None:
    dist = DISTRIBUTIONS[name]
    low, high = dist.support()
    rng = np.random.default_rng(3)
    for _ in range(500):
        x = dist.sample_array(rng)
        assert np.all(low <= x)
        assert np.all(x <= high)


# ---- property tests: random bounds --------------------------------------------------------------

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
width = st.floats(min_value=0.0, max_value=1e6, allow_nan=False, allow_infinity=False)
positive = st.floats(min_value=1e-6, max_value=1e6, allow_nan=False, allow_infinity=False)
ratio = st.floats(min_value=1.0, max_value=1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(low=finite, span=width, seed=SEEDS)
def test_uniform_scalar_draws_inside_bounds(low: float, span: float, seed: int) -> None:
    high = low + span
    rng = np.random.default_rng(seed)
    dist = Uniform(low, high)
    for _ in range(20):
        assert low <= dist.sample(rng) <= high


@settings(max_examples=100, deadline=None)
@given(bounds=st.lists(st.tuples(finite, width), min_size=1, max_size=6), seed=SEEDS)
def test_uniform_vector_draws_inside_bounds(bounds: list[tuple[float, float]], seed: int) -> None:
    low = [lo for lo, _ in bounds]
    high = [lo + span for lo, span in bounds]
    rng = np.random.default_rng(seed)
    dist = Uniform(low, high)
    for _ in range(20):
        x = np.asarray(dist.sample(rng))
        assert x.shape == (len(bounds),)
        assert np.all(np.asarray(low) <= x)
        assert np.all(x <= np.asarray(high))


@settings(max_examples=200, deadline=None)
@given(low=positive, factor=ratio, seed=SEEDS)
def test_log_uniform_draws_inside_bounds(low: float, factor: float, seed: int) -> None:
    high = low * factor
    rng = np.random.default_rng(seed)
    dist = LogUniform([low, low], [high, low])
    for _ in range(20):
        x, fixed = dist.sample(rng)
        assert low <= x <= high
        assert fixed == low


@pytest.mark.parametrize("value", [0.1, 0.3, 0.7, 3.3, 123.456])
def test_log_uniform_with_equal_bounds_returns_that_value(value: float) -> None:
    """``exp(log(x))`` is not always ``x``: a degenerate range must still give exactly ``x``."""
    assert LogUniform(value, value).sample(np.random.default_rng(0)) == value


def assert_finite_draws_inside(dist: Distribution, seed: int, low: float, high: float) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(10):
        x = dist.sample(rng)
        assert low <= x <= high
        assert math.isfinite(x)


@settings(max_examples=200, deadline=None)
@given(
    mean=st.floats(min_value=-100, max_value=100),
    std=st.floats(min_value=1e-3, max_value=100),
    low=st.floats(min_value=-1000, max_value=1000),
    span=st.floats(min_value=1e-3, max_value=1000),
    seed=SEEDS,
)
def test_truncated_normal_draws_inside_bounds(mean: float, std: float, low: float, span: float, seed: int) -> None:
    assert_finite_draws_inside(TruncatedNormal(mean, std, low, low + span), seed, low, low + span)


@settings(max_examples=200, deadline=None)
@given(
    median=positive,
    log_std=st.floats(min_value=1e-3, max_value=10),
    low=positive,
    factor=st.floats(min_value=1.001, max_value=1e6),
    seed=SEEDS,
)
def test_truncated_log_normal_draws_inside_bounds(
    median: float, log_std: float, low: float, factor: float, seed: int
) -> None:
    """Inside the box and finite wherever the median sits, also decades outside it."""
    assert_finite_draws_inside(TruncatedLogNormal(median, log_std, low, low * factor), seed, low, low * factor)


def test_truncated_log_normal_is_symmetric_in_the_logarithm() -> None:
    """Half the draws fall below the median, and a factor k above it is as likely as a factor k below."""
    dist = TruncatedLogNormal(2.0, 0.3, 0.02, 200.0)
    rng = np.random.default_rng(3)
    logs = np.log([dist.sample(rng) for _ in range(N)]) - math.log(2.0)
    assert abs(np.mean(logs < 0) - 0.5) < 0.03
    assert abs(np.mean(logs > math.log(1.5)) - np.mean(logs < -math.log(1.5))) < 0.03
    assert np.std(logs) == pytest.approx(0.3, rel=0.05)


@settings(max_examples=100, deadline=None)
@given(mean=finite, seed=SEEDS)
def test_normal_with_zero_std_is_its_mean(mean: float, seed: int) -> None:
    assert Normal(mean, 0.0).sample(np.random.default_rng(seed)) == mean


@settings(max_examples=100, deadline=None)
@given(
    values=st.lists(finite, min_size=1, max_size=8),
    data=st.data(),
    seed=SEEDS,
)
def test_choice_only_returns_values_with_positive_weight(values: list[float], data: st.DataObject, seed: int) -> None:
    weights = data.draw(
        st.lists(st.sampled_from([0.0, 0.5, 1.0, 3.0]), min_size=len(values), max_size=len(values)).filter(
            lambda w: sum(w) > 0
        )
    )
    allowed = {v for v, w in zip(values, weights, strict=True) if w > 0}
    rng = np.random.default_rng(seed)
    dist = Choice(tuple(values), tuple(weights))
    for _ in range(30):
        assert dist.sample(rng) in allowed


def test_zero_weight_is_never_chosen() -> None:
    dist = Choice((1.0, 2.0, 3.0), (0.0, 1.0, 1e-3))
    rng = np.random.default_rng(0)
    picks = [dist.sample(rng) for _ in range(5000)]
    assert 1.0 not in picks
    assert set(picks) == {2.0, 3.0}


def test_vector_choice_returns_whole_vectors() -> None:
    values = ([0.0, 0.0, 1.0], [1.0, 0.0, 0.0])
    dist = Choice(values)
    rng = np.random.default_rng(0)
    picks = {tuple(dist.sample(rng)) for _ in range(200)}
    assert picks == {tuple(v) for v in values}


# ---- sample means -------------------------------------------------------------------------------

N = 4000


def _phi(x: float) -> float:
    return math.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


def _upper_tail(x: float) -> float:
    """P(Z > x), accurate far into the tail."""
    return 0.5 * math.erfc(x / math.sqrt(2))


def truncated_normal_moments(mean: float, std: float, low: float, high: float) -> tuple[float, float]:
    a, b = (low - mean) / std, (high - mean) / std
    if a >= 0:
        mass = _upper_tail(a) - _upper_tail(b)
    elif b <= 0:
        mass = _upper_tail(-b) - _upper_tail(-a)
    else:
        mass = 1 - _upper_tail(b) - _upper_tail(-a)
    ratio = (_phi(a) - _phi(b)) / mass
    variance = 1 + (a * _phi(a) - b * _phi(b)) / mass - ratio**2
    return mean + std * ratio, std * math.sqrt(variance)


def log_uniform_mean(low: float, high: float) -> float:
    return (high - low) / math.log(high / low)


def truncated_log_normal_mean(median: float, log_std: float, low: float, high: float) -> float:
    """E[exp(Y)] for Y ~ N(log median, log_std^2) truncated to [log low, log high]."""
    mu = math.log(median)
    a, b = (math.log(low) - mu) / log_std, (math.log(high) - mu) / log_std
    mass = _upper_tail(a) - _upper_tail(b)
    shifted = _upper_tail(a - log_std) - _upper_tail(b - log_std)
    return math.exp(mu + 0.5 * log_std**2) * shifted / mass


MEAN_CASES: list[tuple[str, Callable[[], Distribution], float | list[float]]] = [
    ("uniform", lambda: Uniform(-1.0, 3.0), 1.0),
    ("uniform_vector", lambda: Uniform([0.0, 10.0], [1.0, 20.0]), [0.5, 15.0]),
    ("log_uniform", lambda: LogUniform(0.25, 4.0), log_uniform_mean(0.25, 4.0)),
    (
        "log_uniform_vector",
        lambda: LogUniform([1.0, 0.2], [2.0, 20.0]),
        [log_uniform_mean(1, 2), log_uniform_mean(0.2, 20)],
    ),
    ("normal", lambda: Normal(2.0, 0.5), 2.0),
    ("normal_vector", lambda: Normal([-1.0, 5.0], [0.1, 2.0]), [-1.0, 5.0]),
    ("truncated_normal", lambda: TruncatedNormal(0.0, 1.0, -0.5, 2.0), truncated_normal_moments(0, 1, -0.5, 2)[0]),
    ("truncated_normal_one_sided", lambda: TruncatedNormal(1.0, 2.0, 1.0, 100.0), 1.0 + 2.0 * math.sqrt(2 / math.pi)),
    (
        "truncated_normal_vector",
        lambda: TruncatedNormal([0.0, 5.0], [1.0, 3.0], [0.0, -5.0], [3.0, 6.0]),
        [truncated_normal_moments(0, 1, 0, 3)[0], truncated_normal_moments(5, 3, -5, 6)[0]],
    ),
    (
        "truncated_log_normal",
        lambda: TruncatedLogNormal(2.0, 0.8, 0.5, 20.0),
        truncated_log_normal_mean(2.0, 0.8, 0.5, 20.0),
    ),
    (
        "truncated_log_normal_vector",
        lambda: TruncatedLogNormal([1.0, 100.0], [0.2, 1.5], [0.1, 20.0], [10.0, 1000.0]),
        [truncated_log_normal_mean(1.0, 0.2, 0.1, 10.0), truncated_log_normal_mean(100.0, 1.5, 20.0, 1000.0)],
    ),
    ("choice", lambda: Choice((0.0, 1.0, 10.0)), 11.0 / 3),
    ("choice_weighted", lambda: Choice((0.0, 1.0, 10.0), (1.0, 3.0, 0.0)), 0.75),
    ("choice_vector", lambda: Choice(([0.0, 4.0], [2.0, 0.0]), (3.0, 1.0)), [0.5, 3.0]),
    ("constant", lambda: Constant(-2.5), -2.5),
]


@pytest.mark.parametrize(("name", "make", "expected"), MEAN_CASES, ids=[c[0] for c in MEAN_CASES])
def test_sample_mean_is_near_analytic_mean(
    name: str, make: Callable[[], Distribution], expected: float | list[float]
) -> None:
    rng = np.random.default_rng(2024)
    samples = np.array([make().sample(rng) for _ in range(N)])
    mean, std = samples.mean(axis=0), samples.std(axis=0)
    # Six standard errors plus a little slack: fails for a biased sampler, not by bad luck.
    tolerance = 6 * std / math.sqrt(N) + 1e-9
    assert np.all(np.abs(mean - np.asarray(expected)) <= tolerance), (name, mean, expected)


@pytest.mark.parametrize(("low", "high"), [(4.0, 5.0), (8.0, 9.0), (12.0, 13.0), (-9.0, -8.0), (-13.0, -12.0)])
def test_truncated_normal_far_in_a_tail_is_not_piled_on_a_bound(low: float, high: float) -> None:
    """A window many std away from the mean still gets a proper (exponential-like) distribution."""
    dist = TruncatedNormal(0.0, 1.0, low, high)
    rng = np.random.default_rng(5)
    samples = np.array([dist.sample(rng) for _ in range(N)])
    expected_mean, expected_std = truncated_normal_moments(0.0, 1.0, low, high)
    assert np.mean((samples == low) | (samples == high)) < 0.01
    assert abs(samples.mean() - expected_mean) <= 6 * expected_std / math.sqrt(N)
    assert abs(samples.std() - expected_std) <= 0.1 * expected_std


def test_choice_frequencies_follow_weights() -> None:
    dist = Choice((0.0, 1.0, 2.0), (1.0, 2.0, 7.0))
    rng = np.random.default_rng(11)
    picks = np.array([dist.sample(rng) for _ in range(N)])
    frequencies = np.array([np.mean(picks == v) for v in (0.0, 1.0, 2.0)])
    assert np.allclose(frequencies, [0.1, 0.2, 0.7], atol=0.03)


# ---- invalid parameters -------------------------------------------------------------------------

NAN, INF = float("nan"), float("inf")
INVALID: list[tuple[str, Callable[[], Distribution], str]] = [
    ("uniform_low_above_high", lambda: Uniform(2.0, 1.0), r"low must be <= high.*low=2\.0.*high=1\.0"),
    ("uniform_vector_low_above_high", lambda: Uniform([0.0, 3.0], [1.0, 2.0]), r"low must be <= high"),
    (
        "uniform_length_mismatch",
        lambda: Uniform([0.0, 0.0, 0.0], [1.0, 1.0]),
        r"differ in length.*low has 3.*high has 2",
    ),
    ("uniform_nan", lambda: Uniform(NAN, 1.0), r"low must be finite"),
    ("uniform_inf", lambda: Uniform(0.0, INF), r"high must be finite"),
    ("uniform_nested_list", lambda: Uniform([[0.0]], 1.0), r"low must be a number or a list of numbers"),
    ("log_uniform_zero_low", lambda: LogUniform(0.0, 1.0), r"log_uniform bounds must be > 0.*low=0\.0"),
    ("log_uniform_negative", lambda: LogUniform(-1.0, 1.0), r"log_uniform bounds must be > 0"),
    ("log_uniform_negative_high", lambda: LogUniform(1.0, -2.0), r"log_uniform bounds must be > 0.*high=-2\.0"),
    ("log_uniform_vector_zero", lambda: LogUniform([1.0, 0.0], [2.0, 2.0]), r"log_uniform bounds must be > 0"),
    ("log_uniform_low_above_high", lambda: LogUniform(4.0, 2.0), r"low must be <= high"),
    ("log_uniform_length_mismatch", lambda: LogUniform([1.0, 1.0], [2.0, 2.0, 2.0]), r"differ in length"),
    ("normal_negative_std", lambda: Normal(0.0, -0.1), r"std must be >= 0.*-0\.1"),
    ("normal_vector_negative_std", lambda: Normal([0.0, 0.0], [1.0, -1.0]), r"std must be >= 0"),
    ("normal_nan_mean", lambda: Normal(NAN, 1.0), r"mean must be finite"),
    ("normal_length_mismatch", lambda: Normal([0.0, 0.0], [1.0, 1.0, 1.0]), r"differ in length.*mean has 2.*std has 3"),
    ("truncated_normal_zero_std", lambda: TruncatedNormal(0.0, 0.0, -1.0, 1.0), r"std must be > 0"),
    ("truncated_normal_negative_std", lambda: TruncatedNormal(0.0, -1.0, -1.0, 1.0), r"std must be > 0"),
    ("truncated_normal_equal_bounds", lambda: TruncatedNormal(0.0, 1.0, 1.0, 1.0), r"low must be < high"),
    ("truncated_normal_low_above_high", lambda: TruncatedNormal(0.0, 1.0, 2.0, 1.0), r"low must be < high"),
    ("truncated_normal_inf_high", lambda: TruncatedNormal(0.0, 1.0, 0.0, INF), r"high must be finite"),
    (
        "truncated_normal_length_mismatch",
        lambda: TruncatedNormal([0.0, 0.0], 1.0, [-1.0, -1.0, -1.0], 1.0),
        r"differ in length",
    ),
    (
        "truncated_log_normal_zero_low",
        lambda: TruncatedLogNormal(1.0, 0.1, 0.0, 2.0),
        r"truncated_log_normal low must be > 0.*low=0\.0",
    ),
    ("truncated_log_normal_zero_median", lambda: TruncatedLogNormal(0.0, 0.1, 0.5, 2.0), r"median must be > 0"),
    ("truncated_log_normal_zero_log_std", lambda: TruncatedLogNormal(1.0, 0.0, 0.5, 2.0), r"log_std must be > 0"),
    ("truncated_log_normal_low_above_high", lambda: TruncatedLogNormal(1.0, 0.1, 2.0, 0.5), r"low must be < high"),
    ("truncated_log_normal_inf_high", lambda: TruncatedLogNormal(1.0, 0.1, 0.5, INF), r"high must be finite"),
    ("choice_empty", lambda: Choice(()), r"at least one value"),
    ("choice_mixed_lengths", lambda: Choice(([1.0, 2.0], [1.0, 2.0, 3.0])), r"same length"),
    ("choice_scalar_and_vector", lambda: Choice((1.0, [1.0, 2.0])), r"same length"),
    ("choice_nan_value", lambda: Choice((1.0, NAN)), r"values must be finite"),
    ("choice_too_few_weights", lambda: Choice((1.0, 2.0), (1.0,)), r"one entry per value \(2\), got 1"),
    ("choice_too_many_weights", lambda: Choice((1.0, 2.0), (1.0, 1.0, 1.0)), r"one entry per value \(2\), got 3"),
    ("choice_negative_weight", lambda: Choice((1.0, 2.0), (-1.0, 2.0)), r"weights must be >= 0.*-1\.0"),
    ("choice_all_zero_weights", lambda: Choice((1.0, 2.0), (0.0, 0.0)), r"positive sum"),
    ("choice_nan_weight", lambda: Choice((1.0, 2.0), (NAN, 1.0)), r"weights must be finite"),
    ("choice_inf_weight", lambda: Choice((1.0, 2.0), (INF, 1.0)), r"weights must be finite"),
    ("constant_nan", lambda: Constant(NAN), r"value must be finite"),
    ("constant_vector_inf", lambda: Constant([0.0, -INF]), r"value must be finite"),
]


@pytest.mark.parametrize(("name", "make", "pattern"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_parameters_raise_distribution_error(name: str, make: Callable[[], Distribution], pattern: str) -> None:
    with pytest.raises(DistributionError, match=pattern) as info:
        make()
    assert "\n" not in str(info.value)


def test_distribution_error_is_a_value_error() -> None:
    """Callers that catch ``ValueError`` (pydantic validators do) also catch bad distributions."""
    assert issubclass(DistributionError, ValueError)
