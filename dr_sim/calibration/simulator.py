"""Replays of recorded action sequences under candidate parameters: the simulator of ``dr-sim calibrate``.

A ``ReplayWorker`` (a ``dr_sim.backends.Worker``) builds the recorded env once, under the replay config
(``dr_sim.calibration.parameters.replay_mapping``: the calibration config's dynamics, without noise). A
unit is one candidate: its parameter values (draw units) and one step seed per episode. For each, the
session is reconfigured to constants at those values (``RandomizationSession.reconfigure``: the same
terms, pinned), the episode's parameters are drawn from it (exactly the values), and the env is reset
with that record (``reset(options={"randomization": ...})``, the recorded ``env_seed`` giving the recorded
start state, the unit's step seed driving per-step draws such as Peng's latency). Then the recorded actions
are stepped through, all of them (a simulated episode that ends early keeps going: the recorded one did),
and the observations come back as (T + 1, D) float64 arrays.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dr_sim.calibration.discrepancy import flatten
from dr_sim.calibration.parameters import Parameter, pinned_mapping
from dr_sim.trajectories.envs import find_session, make_randomized_env

NO_TRUNCATION = 1_000_000  # control steps: replays are never cut short by the env's time limit


@dataclass(frozen=True)
class Episode:
    """What a replay needs of a recorded episode: its start seed and its actions."""

    env_seed: int
    actions: np.ndarray


@dataclass(frozen=True)
class ReplaySetup:
    """Everything a worker builds from (picklable): the env, the replay config, the parameters, the episodes
    and the observation entries to flatten."""

    env: str
    env_kwargs: dict[str, Any]
    replay: dict[str, Any]
    parameters: tuple[Parameter, ...]
    episodes: tuple[Episode, ...]
    keys: tuple[str, ...]


#: A unit: the candidate's values (draw units) and one step seed per episode.
Unit = tuple[tuple[float, ...], tuple[int, ...]]


class ReplayWorker:
    """Replays every recorded episode under one candidate per call (see the module docstring)."""

    def __init__(self, setup: ReplaySetup) -> None:
        self.setup = setup
        self.env = make_randomized_env(setup.env, setup.replay, setup.env_kwargs, NO_TRUNCATION)
        self.session = find_session(self.env)

    def __call__(self, unit: Unit, tick: Callable[[], None]) -> list[np.ndarray]:
        values, step_seeds = unit
        setup = self.setup
        self.session.reconfigure(pinned_mapping(setup.replay, setup.parameters, values))
        record = self.session.engine.sample_episode(np.random.default_rng(0))  # constants: the values themselves
        keys = list(setup.keys)
        results = []
        for episode, step_seed in zip(setup.episodes, step_seeds, strict=True):
            observation, _ = self.env.reset(
                options={"randomization": {**record, "env_seed": episode.env_seed, "step_seed": int(step_seed)}}
            )
            observations = [flatten(observation, keys)]
            for action in episode.actions:
                observation, *_ = self.env.step(action)
                observations.append(flatten(observation, keys))
            results.append(np.stack(observations))
            tick()
        return results

    def close(self) -> None:
        self.env.close()


def replay(setup: ReplaySetup, candidates: Sequence[Unit]) -> list[list[np.ndarray]]:
    """Replay ``candidates`` in this process (for tests and small runs)."""
    worker = ReplayWorker(setup)
    try:
        return [worker(unit, lambda: None) for unit in candidates]
    finally:
        worker.close()
