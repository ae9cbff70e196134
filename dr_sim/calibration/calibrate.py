"""Calibrate dynamics ranges from a target system's trajectories: ``dr-sim calibrate CONFIG TRAJECTORIES --out
DIR [--method cma|posterior|both] [--horizon K [--stride S]] [--budget N] [--posterior-budget M] [--samples K]
[--min-width F] [--compare PART [PART ...]] [--seed S] [--workers W] [--backend local|ray [--address auto|HOST:PORT]]``.

- ``CONFIG``: a randomization config (preset, YAML or mapping). Its physics and actuation ranges are the
  priors of the parameters to infer, its ``op``s say how each acts (``dr_sim.calibration.parameters``).
- ``TRAJECTORIES``: a trajectory folder (``dr_sim.trajectories.format``; ``dr-sim record`` writes one).
  Its env is made under the config's dynamics (without noise) and checked against the recorded spaces
  and control period; each episode needs its start state as an env seed.
- Simulation: each recorded action sequence is replayed from its recorded start state under candidate
  parameters set exactly (``dr_sim.calibration.simulator``), and compared with the recording
  (``dr_sim.calibration.discrepancy``: a Huber loss robust to observation noise; latency is modelled,
  as the actuation randomizer's parameter, not aligned away). ``--compare`` restricts it to parts of the
  observation: whole-episode replays are chaotic in the objects a robot strikes, and the robot's own
  state identifies the robot's parameters where the whole observation leaves a rugged field of dips.
- ``--horizon K`` (DROPO's short-horizon replays): instead of whole episodes, the simulator is set to the
  recorded observation at every ``--stride``-th step and simulates K recorded actions from there
  (``dr_sim.calibration.states``: from the observation alone, so a real robot's trajectories work the
  same; the actuation channel is primed with the actions before, so latency acts as recorded). Errors no
  longer compound over an episode: a contact-rich object whose whole-episode path is chaotic in its mass
  and friction (PuckPush's puck) is identified too. It needs a state setter for the env (PuckPush has
  one) but no start seed.
- Estimators (``dr_sim.calibration.estimators``): ``cma``, a CMA-ES point estimate (``--budget`` replays
  of the set); ``posterior``, DROPO's Gaussian over the parameters (``--posterior-budget`` evaluations of
  ``--samples`` replays each, started at the point estimate with ``both``, the default).
- The point estimate's objective depends on whether replays are stochastic (two replays of the prior's
  mean under different step seeds differ: a latency drawn every step, ``latency_rate``). Deterministic
  replays minimise the discrepancy of one replay. Stochastic ones minimise the negative synthetic
  likelihood (Wood 2010; DROPO's likelihood at one parameter vector) of ``--point-samples`` replays under
  fixed step seeds (common random numbers: a smooth, deterministic function of the parameters), from the
  prior's centre. Not the discrepancy: a replay of the true system's parameters draws other latencies
  than the recording did and matches it worse than a deterministic impostor that lags on average does (a
  weakly driven, light pusher with almost no latency on PuckPush's sticky, laggy target), while the
  replays' spread at every step makes the truth the likelier one. The likelihood's per-step variance of
  a few replays is shrunk towards the variance pooled over all steps (``discrepancy.SHRINKAGE``), so a
  step where two replays happen to agree is not a needle. ``calibration.json`` says which objective ran
  (``point_objective``).
- Replays run on ``--workers W`` workers kept for the whole run: local processes, or Ray actors with
  ``--backend ray``. Every draw comes from ``--seed``: the same seed gives bit-identical outputs for any
  number of workers.

Outputs in ``DIR``: ``calibrated.yaml``, the config with every inferred range replaced by the training
range of the posterior, which ``dr-sim train`` takes as its ``randomization`` (the ``op`` and every other
section kept): within the prior's box, a ``truncated_log_normal`` where the search maps the logarithm, else
a ``truncated_normal``, each at least ``--min-width`` (default ``MIN_WIDTH``) of the prior's std wide in
search coordinates. The floor is there because a posterior of a simulator that cannot match the target
exactly is overconfident: DROPO's Gaussian narrows to a few parts in ten thousand wherever the replays are
sensitive, also around a wrong value that trades off with another (a light pusher driven by weak gains),
and a policy trained on such a sliver meets the true dynamics as a shift. ``calibration.json`` and
``report.md`` (per parameter: prior, point estimate, the training range's mean and std, the posterior's
width against the prior's and whether the data identifies it; the discrepancy at the prior's mean, the point
estimate and the posterior mean); ``plots/``, prior against the training range per parameter. A ``DIR``
holding another calibration is refused; the same settings are computed again (with the same result).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from dr_sim.arguments import fraction, non_negative_int, positive_int, run_command
from dr_sim.backends import Backend, add_backend_arguments, backend_from_args
from dr_sim.calibration.discrepancy import (
    Scales,
    compared_columns,
    discrepancy,
    flatten_steps,
    log_likelihood,
    observation_keys,
    start_error,
)
from dr_sim.calibration.estimators import gaussian_posterior, laplace_std, point_estimate
from dr_sim.calibration.evaluator import Evaluator
from dr_sim.calibration.parameters import (
    Parameter,
    calibrated_mapping,
    config_mapping,
    draws_at,
    find_parameters,
    replay_mapping,
)
from dr_sim.calibration.report import parameter_rows, verdict, write_json, write_markdown, write_plots
from dr_sim.calibration.simulator import Episode, ReplaySetup, ReplayWorker, segment_starts
from dr_sim.calibration.states import state_setter
from dr_sim.config import ConfigSource, DRConfig, load_config
from dr_sim.errors import ConfigError
from dr_sim.extras import require
from dr_sim.file_io import write_atomically
from dr_sim.trajectories.envs import env_control_dt, make_randomized_env
from dr_sim.trajectories.format import TrajectorySet, read_trajectories
from dr_sim.trajectories.spaces import leaves

METHODS = ("cma", "posterior", "both")
BUDGET = 300  # replays of the trajectory set by CMA-ES
POSTERIOR_BUDGET = 60  # evaluations of DROPO's objective
SAMPLES = 8  # parameter samples per evaluation of DROPO's objective
POINT_SAMPLES = 2  # replays per candidate of the point estimate when replays are stochastic
MIN_WIDTH = 0.1  # the training ranges' least std, as a fraction of the prior's (search coordinates)
START_TOLERANCE = 0.5  # spreads: the largest start residual that still counts as the recorded start state
CONFIG_FILE, JSON_FILE, REPORT_FILE = "calibrated.yaml", "calibration.json", "report.md"


def calibrate(
    config: ConfigSource,
    trajectories: str | Path,
    out: str | Path,
    *,
    method: str = "both",
    horizon: int = 0,
    stride: int = 1,
    budget: int = BUDGET,
    posterior_budget: int = POSTERIOR_BUDGET,
    samples: int = SAMPLES,
    point_samples: int = POINT_SAMPLES,
    min_width: float = MIN_WIDTH,
    compare: Sequence[str] | None = None,
    seed: int = 0,
    workers: int = 1,
    backend: Backend | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Calibrate ``config``'s dynamics ranges to ``trajectories``; writes ``out`` (see the module docstring)
    and returns what ``calibration.json`` holds."""
    start = time.perf_counter()
    if method not in METHODS:
        raise ConfigError(f"--method {method!r} is not a method; allowed: {', '.join(METHODS)}")
    for name, value, least in (
        ("--budget", budget, 4),
        ("--posterior-budget", posterior_budget, 4),
        ("--workers", workers, 1),
        ("--horizon", horizon, 0),
        ("--stride", stride, 1),
        ("--point-samples", point_samples, 2),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ConfigError(f"{name} must be an integer >= {least}, got {value!r}")
    if isinstance(min_width, bool) or not isinstance(min_width, int | float) or not 0.0 <= min_width <= 1.0:
        raise ConfigError(
            f"--min-width must be a number from 0 to 1 (a fraction of the prior's width), got {min_width!r}"
        )
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 2 or samples % 2:
        raise ConfigError(f"--samples must be an even number >= 2 (antithetic pairs), got {samples!r}")
    loaded = load_config(config)
    parameters = find_parameters(loaded)
    recorded = read_trajectories(trajectories)
    if horizon > 0:
        state_setter(recorded.env)  # one clear error for an env that cannot be set to an observation
    missing = [i for i, episode in enumerate(recorded.episodes) if episode.start_seed is None]
    if missing and horizon == 0:
        raise ConfigError(
            f"{recorded.root}: episode {missing[0]} has no start state the env can be reset to (start_env_seed, or an "
            "env_seed in start_randomization); calibrate replays each episode from its start state"
        )
    origin = str(config) if isinstance(config, str | Path) else "config"
    settings = {
        "config": config_mapping(loaded),
        "trajectories": str(recorded.root),
        "method": method,
        "horizon": horizon,
        "stride": stride,
        "budget": budget,
        "posterior_budget": posterior_budget,
        "samples": samples,
        "point_samples": point_samples,
        "min_width": float(min_width),
        "compare": None if compare is None else list(compare),
        "seed": int(seed),
    }
    root = Path(out)
    problem = replay_problem(loaded, parameters, recorded, horizon, stride, compare)
    _check_out(root, settings)
    setup, whole, real, scales, columns = problem.setup, problem.whole, problem.real, problem.scales, problem.columns
    rng = np.random.default_rng(seed)
    point_rng, posterior_rng, seed_rng = rng.spawn(3)
    episodes = len(recorded.episodes)
    step_seeds = tuple(int(s) for s in seed_rng.integers(2**63, size=episodes))
    sample_seeds = [tuple(int(s) for s in row) for row in seed_rng.integers(2**63, size=(samples, episodes))]
    point_seeds = [tuple(int(s) for s in row) for row in seed_rng.integers(2**63, size=(point_samples, episodes))]
    prior_z = np.array([p.z_mean for p in parameters])
    prior_std_z = np.array([p.z_std for p in parameters])
    replays = 0

    def values(z: np.ndarray) -> tuple[float, ...]:
        return tuple(p.to_value(float(x)) for p, x in zip(parameters, z, strict=True))

    with Evaluator(ReplayWorker, (setup,), workers, backend) as evaluator:

        def simulate(batch: list[tuple[tuple[float, ...], tuple[int, ...]]]) -> list[list[np.ndarray]]:
            nonlocal replays
            replays += len(batch)
            return [[episode[:, columns] for episode in replayed] for replayed in evaluator.map(batch)]

        def discrepancies(batch: Any) -> list[float]:
            return [discrepancy(sim, real, scales) for sim in simulate([(values(z), step_seeds) for z in batch])]

        before = simulate([(values(prior_z), step_seeds)])[0]
        errors = start_error(before, real, scales) if horizon == 0 else []  # segments start where recorded
        worst = int(np.argmax(errors)) if errors else 0
        if errors and errors[worst] > START_TOLERANCE:
            raise ConfigError(
                f"{recorded.root}: episode {worst} does not start where it was recorded: reset to its start seed, the "
                f"env's first observation is {errors[worst]:.2g} spreads away from the recorded one (at most "
                f"{START_TOLERANCE:g}); record with the same env and env_kwargs"
            )
        result_discrepancy = {"prior_mean": discrepancy(before, real, scales)}
        stochastic = any(
            not np.array_equal(a, b)
            for a, b in zip(before, simulate([(values(prior_z), point_seeds[0])])[0], strict=True)
        )

        def synthetic_likelihoods(batch: Any) -> list[float]:
            """Per candidate, the log-likelihood of the recordings under ``point_samples`` replays of it."""
            simulated = simulate([(values(z), seeds) for z in batch for seeds in point_seeds])
            k = point_samples
            return [log_likelihood(simulated[i * k : (i + 1) * k], real, scales) for i in range(len(batch))]

        def single(batch: Any) -> list[float]:
            """Per candidate, the log-likelihood of the recordings under one replay of it."""
            return [log_likelihood([sim], real, scales) for sim in simulate([(values(z), step_seeds) for z in batch])]

        point_likelihoods = synthetic_likelihoods if stochastic else single
        point: np.ndarray | None = None
        correlation: np.ndarray | None = None
        mean_z, std_z = prior_z, prior_std_z
        if method in ("cma", "both"):
            if stochastic:

                def objective(batch: Any) -> list[float]:
                    return [-value for value in synthetic_likelihoods(batch)]

                search = point_estimate(objective, prior_z, max(budget // point_samples, 2), point_rng)
                result_discrepancy["point_estimate"] = discrepancies([search.x])[0]
            else:
                search = point_estimate(discrepancies, prior_z, budget, point_rng)
                result_discrepancy["point_estimate"] = search.value
            point, correlation = search.x, search.correlation
            mean_z, std_z = point, np.clip(search.width, 1e-4, prior_std_z)
            if progress:
                print(f"calibrate: CMA-ES point estimate after {search.evaluations} replays", file=sys.stderr)
        if method in ("posterior", "both"):

            def likelihoods(batch: Any) -> list[float]:
                units = [(values(z), seeds) for sets in batch for z, seeds in zip(sets, sample_seeds, strict=True)]
                simulated = simulate(units)
                return [
                    log_likelihood(simulated[i * samples : (i + 1) * samples], real, scales) for i in range(len(batch))
                ]

            center = point if point is not None else prior_z
            steps = np.array([p.laplace_step for p in parameters])
            start_std = laplace_std(point_likelihoods, center, prior_std_z, steps)
            posterior = gaussian_posterior(
                likelihoods, prior_z, prior_std_z, center, posterior_budget, samples, posterior_rng, start_std
            )
            mean_z, std_z = posterior.mean, posterior.std
            result_discrepancy["posterior_mean"] = discrepancies([mean_z])[0]
            if progress:
                print(f"calibrate: DROPO posterior after {posterior.search.evaluations} evaluations", file=sys.stderr)
    point_values = None if point is None else list(values(point))
    training_std_z = np.maximum(std_z, min_width * prior_std_z)
    ranges = [p.training_range(float(z), float(w)) for p, z, w in zip(parameters, mean_z, training_std_z, strict=True)]
    calibrated, calibrated_config = calibrated_mapping(loaded, parameters, ranges, str(root / CONFIG_FILE))
    draws = [draws_at(calibrated_config, p) for p in parameters]
    means, stds = [float(d.mean()) for d in draws], [float(d.std()) for d in draws]
    rows = parameter_rows(parameters, point_values, means, stds, std_z / prior_std_z, correlation)
    root.mkdir(parents=True, exist_ok=True)
    write_atomically(root / CONFIG_FILE, _yaml_text(calibrated, recorded.root, method).encode())
    plots = write_plots(root, parameters, rows, [draws_at(loaded, p) for p in parameters], draws)
    result = {
        "settings": settings,
        "config": origin,
        "trajectories": str(recorded.root),
        "env": recorded.env,
        "episodes": episodes,
        "steps": int(sum(len(r) - 1 for r in whole)),
        "method": method,
        "point_objective": "the synthetic likelihood" if stochastic else "discrepancy",
        "replay": "whole episodes" if horizon == 0 else f"{len(real)} segments of {horizon} steps every {stride}",
        "compared": "every observation dimension" if compare is None else " ".join(compare),
        "seed": int(seed),
        "parameters": rows,
        "discrepancy": result_discrepancy,
        "start_error": errors,
        "noise": scales.noise.tolist(),
        "replays": replays,
        "seconds": time.perf_counter() - start,
        "written": {"config": str(root / CONFIG_FILE), "plots": plots},
    }
    write_markdown(root / REPORT_FILE, result)
    write_json(root / JSON_FILE, result)
    return result


@dataclass(frozen=True)
class ReplayProblem:
    """What candidates are replayed against: the replays' ``setup``, the recorded episodes flattened
    (``whole``, (T + 1, D) each), the ``columns`` of those the discrepancy compares, the compared columns
    cut as the replays simulate them (``real``: ``whole``'s own, or short segments) and their ``scales``."""

    setup: ReplaySetup
    whole: list[np.ndarray]
    columns: np.ndarray
    real: list[np.ndarray]
    scales: Scales


def replay_problem(
    loaded: DRConfig,
    parameters: Sequence[Parameter],
    recorded: TrajectorySet,
    horizon: int = 0,
    stride: int = 1,
    compare: Sequence[str] | None = None,
) -> ReplayProblem:
    """The replays of ``recorded`` under ``loaded``'s dynamics with ``parameters`` set per candidate
    (whole episodes, or ``horizon``-step segments every ``stride`` steps), compared on the observation
    ``compare`` names (``compared_columns``; all by default); the recorded env is checked against the
    recording's spaces and control period first."""
    replay = replay_mapping(loaded)
    probe = make_randomized_env(recorded.env, replay, recorded.env_kwargs)
    try:
        recorded.check_env(probe)
        recorded.check_control_dt(env_control_dt(probe), recorded.env)
    finally:
        probe.close()
    keys = observation_keys(recorded.observation_space)
    whole = [flatten_steps(episode.observations, keys) for episode in recorded.episodes]
    parts = leaves(recorded.observation_space)
    columns = compared_columns(compare, keys, [int(np.prod(parts[key]["shape"])) for key in keys])
    compared = [episode[:, columns] for episode in whole]
    real = compared if horizon == 0 else short_segments(compared, horizon, stride)
    episodes = tuple(
        Episode(
            int(episode.start_seed or 0), np.asarray(episode.actions), episode.observations if horizon > 0 else None
        )
        for episode in recorded.episodes
    )
    history = latency_history(loaded) if horizon > 0 else 0
    setup = ReplaySetup(
        recorded.env, recorded.env_kwargs, replay, tuple(parameters), episodes, tuple(keys), horizon, stride, history
    )
    return ReplayProblem(setup, whole, columns, real, Scales.of(whole).select(columns))


def short_segments(episodes: list[np.ndarray], horizon: int, stride: int) -> list[np.ndarray]:
    """The recorded (T + 1, D) episodes cut as a short-horizon replay simulates them: (h + 1, D) each."""
    return [
        episode[start : start + steps + 1]
        for episode in episodes
        for start, steps in segment_starts(len(episode) - 1, horizon, stride)
    ]


def latency_history(config: Any) -> int:
    """How many recorded actions a short-horizon segment pushes through the actuation channel first: the
    largest whole-step latency the config can draw, plus one (the action acting late under
    ``latency_rate``); 0 without latency."""
    actuation = config.actuation
    if actuation is None or (actuation.latency_steps is None and actuation.latency_rate is None):
        return 0
    steps = 0.0
    if actuation.latency_steps is not None:
        steps = float(np.max(actuation.latency_steps.distribution.support()[1]))
    return int(np.ceil(steps if np.isfinite(steps) else 0.0)) + 1


def _yaml_text(mapping: dict[str, Any], trajectories: Path, method: str) -> str:
    header = (
        f"# Calibrated by dr-sim calibrate ({method}) from the trajectories in {trajectories}.\n"
        "# Inferred ranges are the posterior within each prior's box (truncated normals, log-normals where the\n"
        "# prior is log-scaled), at least --min-width of the prior's spread wide; see report.md beside this file.\n"
    )
    return header + yaml.safe_dump(mapping, sort_keys=False)


def _check_out(root: Path, settings: dict[str, Any]) -> None:
    """Refuse an ``out`` folder that holds anything but a calibration of the same settings."""
    if root.exists() and not root.is_dir():
        raise ConfigError(f"--out {root} is a file; give a folder (new, empty, or a calibration of these settings)")
    if not root.is_dir() or not any(root.iterdir()):
        return
    path = root / JSON_FILE
    try:
        previous = json.loads(path.read_text()).get("settings") if path.is_file() else None
    except (json.JSONDecodeError, AttributeError):
        previous = None
    if previous != json.loads(json.dumps(settings)):
        raise ConfigError(
            f"--out {root} holds something else (another calibration, or other files); give a new or empty folder"
        )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``calibrate`` subcommand's arguments."""
    parser.add_argument(
        "config", metavar="CONFIG", help="randomization config whose physics/actuation ranges are the priors"
    )
    parser.add_argument("trajectories", metavar="TRAJECTORIES", help="trajectory folder (dr-sim record writes one)")
    parser.add_argument("--out", required=True, help="output folder: new, empty, or a calibration of the same settings")
    parser.add_argument("--method", choices=METHODS, default="both", help="cma, posterior (DROPO) or both (default)")
    parser.add_argument(
        "--horizon",
        type=non_negative_int,
        default=0,
        help="short-horizon replays of K steps from recorded observations (DROPO); 0: whole episodes (default)",
    )
    parser.add_argument(
        "--stride", type=positive_int, default=1, help="steps between short-horizon segments' starts (default 1)"
    )
    parser.add_argument(
        "--budget", type=positive_int, default=BUDGET, help=f"CMA-ES replays of the set (default {BUDGET})"
    )
    parser.add_argument(
        "--posterior-budget",
        type=positive_int,
        default=POSTERIOR_BUDGET,
        help=f"evaluations of DROPO's objective, --samples replays each (default {POSTERIOR_BUDGET})",
    )
    parser.add_argument(
        "--samples",
        type=positive_int,
        default=SAMPLES,
        help=f"parameter samples per DROPO evaluation (default {SAMPLES})",
    )
    parser.add_argument(
        "--point-samples",
        type=positive_int,
        default=POINT_SAMPLES,
        help=f"replays per CMA-ES candidate when replays are stochastic (default {POINT_SAMPLES})",
    )
    parser.add_argument(
        "--min-width",
        type=fraction,
        default=MIN_WIDTH,
        help=f"the training ranges' least std, a fraction of the prior's (default {MIN_WIDTH:g}; 0: the posterior's)",
    )
    parser.add_argument(
        "--compare",
        nargs="+",
        metavar="PART",
        default=None,
        help="the observation parts the discrepancy compares: KEY, KEY[i] or KEY[a:b] of a Dict observation, "
        "[i] or [a:b] of a Box (default: all); e.g. the robot's own state when objects it strikes move chaotically",
    )
    parser.add_argument("--seed", type=non_negative_int, default=0, help="seed of every draw (default 0)")
    parser.add_argument("--workers", type=positive_int, default=1, help="replay workers, one env each (default 1)")
    add_backend_arguments(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")


def run(args: argparse.Namespace) -> int:
    """Run ``dr-sim calibrate`` and print its summary."""
    for module in ("cma", "matplotlib"):  # the estimators and the plots: named before any work
        require(module, "dr-sim calibrate")
    result = calibrate(
        args.config,
        args.trajectories,
        args.out,
        method=args.method,
        horizon=args.horizon,
        stride=args.stride,
        budget=args.budget,
        posterior_budget=args.posterior_budget,
        samples=args.samples,
        point_samples=args.point_samples,
        min_width=args.min_width,
        compare=args.compare,
        seed=args.seed,
        workers=args.workers,
        backend=backend_from_args(args),
        progress=not args.quiet,
    )
    for row in result["parameters"]:
        posterior = row["posterior"]
        state = "identified" if row["identified"] else verdict(row).removeprefix("no: ")
        if row["trades_off_with"]:
            state += f" (correlated with {', '.join(row['trades_off_with'])})"
        print(
            f"{row['label']}: {posterior['mean']:.4g} ± {posterior['std']:.3g} "
            f"({state}, width ratio {row['width_ratio']:.3f})"
        )
    discrepancy_text = ", ".join(f"{name} {value:.4g}" for name, value in result["discrepancy"].items())
    print(f"discrepancy: {discrepancy_text}; {result['replays']} replays in {result['seconds']:.1f} s")
    print(f"wrote {result['written']['config']} and report.md, calibration.json, plots/ beside it")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m dr_sim.calibration.calibrate``: the same as ``dr-sim calibrate``."""
    return run_command("dr-sim calibrate", add_arguments, run, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
