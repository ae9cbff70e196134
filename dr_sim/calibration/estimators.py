"""The two estimators of ``dr-sim calibrate``, both optimised by CMA-ES (the ``cma`` package).

Both work in the parameters' search coordinates ``z`` in [-1, 1] (``dr_sim.calibration.parameters``) and
take an ``evaluate`` callable that simulates a batch of candidates at once (so a worker pool can run a
generation in parallel) and returns one number per candidate, lower is better.

- ``point_estimate``: CMA-ES on a per-candidate objective, its final mean (``_cma``): the discrepancy of one
  replay when replays are deterministic (Chebotar et al.'s SimOpt and most system-identification work
  minimise such a distance), the negative synthetic likelihood of a few replays when they are not
  (``dr_sim.calibration.calibrate`` chooses). The search's final covariance says which parameters trade
  off: CMA-ES adapts it along the objective's valleys, so a strong correlation between two parameters
  (``Search.correlation``) means the data fits along a line of their combinations.
- ``gaussian_posterior``: DROPO (Tiboni et al. 2023): a Gaussian over the parameters, N(m, diag(s^2)),
  fitted so that replays under parameters sampled from it make the recorded observations likely (the
  likelihood of ``dr_sim.calibration.discrepancy.log_likelihood``); CMA-ES searches (m, log s). The K
  samples are ``m + s * xi_k`` with fixed standard normal ``xi`` in antithetic pairs (common random
  numbers: the objective is a deterministic, smooth function of (m, s)). Unlike DROPO, which leaves a
  parameter the data cannot see wherever the search drifts, the objective subtracts KL(N(m, s^2) || prior)
  (the prior as the Gaussian of its mean and std): a parameter the data pins down gets a narrow
  Gaussian, one it cannot see keeps the prior's width. This is the variational reading of DROPO's fit.

Why not ``sbi`` (NPE, as BayesSim): neural posterior estimation needs thousands of simulations of every
episode and a density network trained on them, minutes on two CPU cores for a handful of parameters,
and torch; DROPO's likelihood works from a few recorded episodes with a few hundred replays and needs
only ``cma`` (pure Python on NumPy).

Randomness: CMA-ES draws its samples from the caller's ``numpy.random.Generator`` (``cma``'s ``randn``
option; it then never touches NumPy's global state), so a seed gives bit-identical results.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dr_sim.extras import require

Evaluate = Callable[[Sequence[np.ndarray]], list[float]]
MIN_LOG_STD = float(np.log(1e-4))  # z units: a width of 1/20,000 of the box is as narrow as it gets
LAPLACE_STEP = 0.02  # z units: the finite-difference step of the Laplace approximation
LAPLACE_GROWTH = 4.0  # the step's growth where the curvature at the last step was not positive
LAPLACE_ROUNDS = 3  # steps tried per axis: 0.02, 0.08, 0.32 z units by default


@dataclass
class Search:
    """What a CMA-ES run found: its answer ``x`` (the final mean), the objective there, the evaluations
    spent, CMA's final search width per coordinate (``x`` units) and the correlation matrix of its final
    search distribution."""

    x: np.ndarray
    value: float
    evaluations: int
    width: np.ndarray
    correlation: np.ndarray


def _cma(
    evaluate: Evaluate,
    x0: np.ndarray,
    stds: np.ndarray,
    bounds: tuple[np.ndarray, np.ndarray],
    budget: int,
    rng: np.random.Generator,
    popsize: int | None = None,
) -> Search:
    """Minimise ``evaluate`` with CMA-ES from ``x0`` (per-coordinate initial steps ``stds``) within ``bounds``,
    spending at most ``budget`` evaluations, the last on the answer: the search distribution's final mean.

    Not the best candidate seen: replays of contact-rich scenes make the objective rugged (a 1 % change
    of the puck's friction can move the discrepancy by 20 %), and the best of hundreds of rugged values is
    a narrow dip, biased by the selection itself; the mean that CMA-ES moved through many generations
    averages the dips away (the estimate ``cma`` itself recommends for noisy objectives)."""
    cma = require("cma", "dr-sim calibrate")

    def randn(*shape: int) -> np.ndarray:
        return rng.standard_normal(shape)

    options: dict[str, Any] = {
        "bounds": [list(bounds[0]), list(bounds[1])],
        "CMA_stds": list(stds),
        "randn": randn,
        "maxfevals": budget,
        "verbose": -9,
        "verb_disp": 0,
        "verb_log": 0,
        "tolfun": 1e-12,
        "tolx": 1e-9,
    }
    if popsize is not None:
        options["popsize"] = popsize
    strategy = cma.CMAEvolutionStrategy(list(x0), 1.0, options)
    spent = 0
    while not strategy.stop() and spent < budget - 1:  # the last evaluation is the answer's
        candidates = [np.asarray(x, dtype=np.float64) for x in strategy.ask()]
        candidates = candidates[: max(budget - 1 - spent, 2)]
        values = evaluate(candidates)
        spent += len(candidates)
        if len(candidates) < strategy.popsize:
            break
        strategy.tell(candidates, values)
    mean = np.clip(np.asarray(strategy.result.xfavorite, dtype=np.float64), bounds[0], bounds[1])  # in bounds
    value = float(evaluate([mean])[0])
    covariance = np.atleast_2d(np.asarray(strategy.C, dtype=np.float64))
    if covariance.shape != (len(x0), len(x0)):  # a diagonal-only CMA keeps a vector
        covariance = np.diag(covariance.ravel())
    scale = np.sqrt(np.diag(covariance))
    width = strategy.sigma * scale
    correlation = covariance / np.outer(scale, scale)
    return Search(mean, value, spent + 1, width, correlation)


def point_estimate(
    objective: Evaluate, x0: np.ndarray, budget: int, rng: np.random.Generator, step: float = 0.4
) -> Search:
    """CMA-ES on ``objective`` (lower is better) from ``x0`` (z units; ``step`` the initial search width),
    ``budget`` evaluations."""
    dimension = len(x0)
    bounds = (np.full(dimension, -1.0), np.full(dimension, 1.0))
    return _cma(objective, np.asarray(x0, float), np.full(dimension, step), bounds, budget, rng)


def laplace_std(
    log_likelihood: Callable[[Sequence[np.ndarray]], list[float]],
    center: np.ndarray,
    prior_std: np.ndarray,
    steps: np.ndarray | None = None,
) -> np.ndarray:
    """Per parameter, the std (z units) of the Laplace approximation at ``center``: the curvature of the
    log-likelihood of one replay along each axis (central differences, ``steps`` z units per axis, default
    ``LAPLACE_STEP``; a whole step for a parameter that acts rounded) plus the prior's precision. Where the
    curvature is not positive at that step (a likelihood flat at its top under observation noise, or
    rugged on that scale), the step grows ``LAPLACE_GROWTH``-fold, up to ``LAPLACE_ROUNDS`` times, so the
    curvature is that of the basin rather than of its noise; a parameter the likelihood does not depend
    on keeps the prior's std. Costs ``2 d + 1`` replays, and 2 more per axis and retry; it starts DROPO's
    search near its answer."""
    center = np.asarray(center, float)
    steps = np.full(len(center), LAPLACE_STEP) if steps is None else np.asarray(steps, float)
    top = log_likelihood([center])[0]
    curvature = np.zeros(len(center))
    pending = list(range(len(center)))
    for _ in range(LAPLACE_ROUNDS):
        points = []
        for i in pending:
            for sign in (1.0, -1.0):
                shifted = center.copy()
                shifted[i] = np.clip(shifted[i] + sign * steps[i], -1.0, 1.0)
                points.append(shifted)
        values = log_likelihood(points) if points else []
        for k, i in enumerate(pending):
            up, down = points[2 * k][i] - center[i], center[i] - points[2 * k + 1][i]
            width = max(up, down, 1e-12)
            curvature[i] = -(values[2 * k] - 2.0 * top + values[2 * k + 1]) / width**2
        pending = [i for i in pending if curvature[i] <= 0.0]
        steps = steps * LAPLACE_GROWTH
    return 1.0 / np.sqrt(np.maximum(curvature, 0.0) + 1.0 / prior_std**2)


def antithetic_normals(samples: int, dimension: int, rng: np.random.Generator) -> np.ndarray:
    """(samples, dimension) standard normals in pairs ``xi, -xi`` (``samples`` even)."""
    half = rng.standard_normal((samples // 2, dimension))
    return np.concatenate([half, -half])


def kl_to_prior(mean: np.ndarray, std: np.ndarray, prior_mean: np.ndarray, prior_std: np.ndarray) -> float:
    """KL(N(mean, std^2) || N(prior_mean, prior_std^2)), diagonal, summed over dimensions."""
    ratio = (std / prior_std) ** 2
    return float(0.5 * np.sum(ratio + ((mean - prior_mean) / prior_std) ** 2 - 1.0 - np.log(ratio)))


@dataclass
class Posterior:
    """DROPO's Gaussian in z units: ``mean`` and ``std`` per parameter, and its search."""

    mean: np.ndarray
    std: np.ndarray
    search: Search


def gaussian_posterior(
    log_likelihood: Callable[[Sequence[np.ndarray]], list[float]],
    prior_mean: np.ndarray,
    prior_std: np.ndarray,
    start: np.ndarray,
    budget: int,
    samples: int,
    rng: np.random.Generator,
    start_std: np.ndarray | None = None,
) -> Posterior:
    """Fit DROPO's Gaussian (see the module docstring).

    Args:
        log_likelihood: given a batch of parameter-sample sets (each (samples, d) in z units), the
            log-likelihood of the recordings under each set.
        prior_mean, prior_std: the prior's moments in z units.
        start: the initial mean (z units), e.g. the point estimate.
        budget: evaluations of the objective (each simulates ``samples`` parameter vectors).
        samples: K, even.
        start_std: the initial std (z units); default the prior's.
    """
    dimension = len(prior_mean)
    xi = antithetic_normals(samples, dimension, rng)
    initial_std = np.asarray(prior_std if start_std is None else start_std, float)

    def sample_sets(x: np.ndarray) -> np.ndarray:
        mean, std = x[:dimension], np.exp(x[dimension:])
        return np.clip(mean + std * xi, -1.0, 1.0)

    def objective(batch: Sequence[np.ndarray]) -> list[float]:
        likelihoods = log_likelihood([sample_sets(x) for x in batch])
        return [
            -(value - kl_to_prior(x[:dimension], np.exp(x[dimension:]), prior_mean, prior_std))
            for x, value in zip(batch, likelihoods, strict=True)
        ]

    upper = np.log(np.maximum(prior_std, initial_std) * 2.0)
    # A Laplace width narrower than the narrowest the search allows starts at that narrowest one.
    x0 = np.concatenate([np.clip(start, -1.0, 1.0), np.clip(np.log(initial_std), MIN_LOG_STD, upper)])
    stds = np.concatenate([np.maximum(initial_std, 0.02), np.full(dimension, 1.0)])
    bounds = (
        np.concatenate([np.full(dimension, -1.0), np.full(dimension, MIN_LOG_STD)]),
        np.concatenate([np.full(dimension, 1.0), upper]),
    )
    search = _cma(objective, x0, stds, bounds, budget, rng)
    return Posterior(search.x[:dimension], np.exp(search.x[dimension:]), search)
