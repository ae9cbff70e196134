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

Short-horizon replays (``ReplaySetup.horizon`` = k > 0, DROPO's way): the episode is reset once under the
candidate and then tracks the recording: at every recorded step t the simulator is set to the recorded
observation (``dr_sim.calibration.states``: from the observation alone, as for a real robot; what it does
not hold, such as a puck's tilt and spin, stays as the simulator predicted it) and advances the recorded
action without observing it (the env's ``advance``, where it has one). The tracking pushes every recorded
action through the actuation channel, so its latency queue holds what the robot's held. At every
``stride``-th step a segment branches off (``saveState``/``restoreState`` in memory), and k recorded
actions are stepped (fewer at the episode's end); the engine's state then goes back, and the actuation
channel is primed again with the ``history`` recorded actions before t (zeros before the episode's
start). Each segment comes back as a (h + 1, D) array whose first row is the recorded observation it
started from, in the order of ``segment_starts``, episode after episode. Errors no longer compound over a
whole episode, so a contact-rich object (a pushed puck, whose whole-episode path is chaotic in its mass)
is identified too, and an episode needs no start seed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dr_sim.calibration.discrepancy import flatten
from dr_sim.calibration.parameters import Parameter, pinned_mapping
from dr_sim.calibration.states import state_setter
from dr_sim.scene.contacts import forget_contacts
from dr_sim.trajectories.envs import find_session, make_randomized_env

NO_TRUNCATION = 1_000_000  # control steps: replays are never cut short by the env's time limit


@dataclass(frozen=True)
class Episode:
    """What a replay needs of a recorded episode: its start seed, its actions and (short-horizon replays)
    its recorded observations in the env's own format (an array, or a dict of arrays)."""

    env_seed: int
    actions: np.ndarray
    observations: Any = None

    def observation(self, step: int) -> Any:
        """The recorded observation after ``step`` control steps."""
        if isinstance(self.observations, dict):
            return {key: value[step] for key, value in self.observations.items()}
        return self.observations[step]


def segment_starts(steps: int, horizon: int, stride: int) -> list[tuple[int, int]]:
    """(start step, steps simulated) of every short-horizon segment of an episode of ``steps`` steps: one
    every ``stride`` steps, each ``horizon`` long or up to the episode's end."""
    return [(t, min(horizon, steps - t)) for t in range(0, steps, stride)]


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
    horizon: int = 0  # control steps per short-horizon segment; 0 replays whole episodes
    stride: int = 1  # control steps between segment starts
    history: int = 0  # recorded actions pushed through the actuation channel before a segment


#: A unit: the candidate's values (draw units) and one step seed per episode.
Unit = tuple[tuple[float, ...], tuple[int, ...]]


class ReplayWorker:
    """Replays every recorded episode under one candidate per call (see the module docstring)."""

    def __init__(self, setup: ReplaySetup) -> None:
        self.setup = setup
        self.env = make_randomized_env(setup.env, setup.replay, setup.env_kwargs, NO_TRUNCATION)
        self.session = find_session(self.env)
        self.setter = state_setter(setup.env) if setup.horizon > 0 else None

    def __call__(self, unit: Unit, tick: Callable[[], None]) -> list[np.ndarray]:
        values, step_seeds = unit
        setup = self.setup
        self.session.reconfigure(pinned_mapping(setup.replay, setup.parameters, values))
        record = self.session.engine.sample_episode(np.random.default_rng(0))  # constants: the values themselves
        keys = list(setup.keys)
        results = []
        for episode, step_seed in zip(setup.episodes, step_seeds, strict=True):
            forget_contacts(self.env.unwrapped.physics_client)  # a replay must not depend on the one before
            observation, _ = self.env.reset(
                options={"randomization": {**record, "env_seed": episode.env_seed, "step_seed": int(step_seed)}}
            )
            if self.setter is not None:
                results += self._segments(episode, keys)
                tick()
                continue
            observations = [flatten(observation, keys)]
            for action in episode.actions:
                observation, *_ = self.env.step(action)
                observations.append(flatten(observation, keys))
            results.append(np.stack(observations))
            tick()
        return results

    def _segments(self, episode: Episode, keys: list[str]) -> list[np.ndarray]:
        """The short-horizon segments of one episode (see the module docstring)."""
        assert self.setter is not None
        setup, unwrapped = self.setup, self.env.unwrapped
        client = unwrapped.physics_client
        starts = dict(segment_starts(len(episode.actions), setup.horizon, setup.stride))
        advance = getattr(unwrapped, "advance", None) or self.env.step  # tracking needs no observation
        segments = []
        self._prime(episode, 0)
        for t, action in enumerate(episode.actions):
            recorded = episode.observation(t)
            self.setter(unwrapped, recorded)  # the observed part; the rest as tracked so far
            if t in starts:
                saved = client.saveState()
                observations = [flatten(recorded, keys)]
                for segment_action in episode.actions[t : t + starts[t]]:
                    observation, *_ = self.env.step(segment_action)
                    observations.append(flatten(observation, keys))
                segments.append(np.stack(observations))
                client.restoreState(stateId=saved)
                client.removeState(saved)
                self._prime(episode, t)  # the segment moved the actuation channel on; the engine's state is back
            advance(action)  # tracking: the unobserved state follows the recorded past
        return segments

    def _prime(self, episode: Episode, start: int) -> None:
        """Push the ``history`` recorded actions before ``start`` through the actuation channel (zeros
        before the episode's start), so that its latency queue holds what the recorded system's held."""
        neutral = np.zeros_like(episode.actions[0], dtype=np.float64)
        for i in range(start - self.setup.history, start):
            self.session.transmit(np.asarray(episode.actions[i], dtype=np.float64) if i >= 0 else neutral)

    def close(self) -> None:
        self.env.close()


def replay(setup: ReplaySetup, candidates: Sequence[Unit]) -> list[list[np.ndarray]]:
    """Replay ``candidates`` in this process (for tests and small runs)."""
    worker = ReplayWorker(setup)
    try:
        return [worker(unit, lambda: None) for unit in candidates]
    finally:
        worker.close()
