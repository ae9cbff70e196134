"""The policies ``dr-sim record`` runs: a task's scripted controller, or a ``dr-sim train`` run's model.

``policy_for(name, env_id)`` gives a ``RecordingPolicy``: ``wrap(env)`` lays whatever the policy observes
through over the recording env (a run trained with ``history: k`` sees the last k observations and
actions), ``reset()`` starts an episode and ``act(observation)`` maps what it observes to an action. The
recorded observations are always the env's own, below any such wrapper.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from dr_sim.errors import ConfigError
from dr_sim.policies.controllers import CONTROLLERS, make_controller
from dr_sim.policies.history import History

SCRIPTED = "scripted"


class RecordingPolicy:
    """What ``record`` needs of a policy (see the module docstring)."""

    #: Identifies the policy in the recording's settings (``scripted``, or the run and its model's hash).
    identity: dict[str, Any]
    env_kwargs: dict[str, Any] = {}

    def wrap(self, env: gym.Env[Any, Any]) -> gym.Env[Any, Any]:
        return env

    def reset(self) -> None:
        raise NotImplementedError

    def act(self, observation: Any) -> np.ndarray:
        raise NotImplementedError


class ScriptedPolicy(RecordingPolicy):
    """The task's scripted controller (``dr_sim.policies.controllers``)."""

    def __init__(self, env_id: str) -> None:
        name = env_id.rpartition(":")[2]
        if name not in CONTROLLERS:
            raise ConfigError(
                f"--policy scripted: no scripted controller for {env_id!r} (there are for {', '.join(CONTROLLERS)}); "
                "give a dr-sim train run folder instead"
            )
        self.name = name
        self.identity = {"kind": SCRIPTED}
        self.controller: Any = None

    def wrap(self, env: gym.Env[Any, Any]) -> gym.Env[Any, Any]:
        self.controller = make_controller(self.name, env)
        return env

    def reset(self) -> None:
        self.controller.reset()

    def act(self, observation: Any) -> np.ndarray:
        return np.asarray(self.controller.act(observation))


class RunPolicy(RecordingPolicy):
    """The final model of a ``dr-sim train`` run folder (deterministic actions)."""

    def __init__(self, run: str | Path, env_id: str) -> None:
        from dr_sim.policies.rl_evaluation import SavedPolicy  # needs torch (extra: train)

        saved = SavedPolicy.read(run)
        if saved.config.env.rpartition(":")[2] != env_id.rpartition(":")[2]:
            raise ConfigError(
                f"--policy {run}: the run was trained on {saved.config.env!r}, not {env_id!r}; record on its env"
            )
        self.policy = saved.load()
        self.history = saved.config.history
        self.env_kwargs = dict(saved.config.env_kwargs)
        digest = hashlib.sha256(saved.model + (saved.normalize or b"")).hexdigest()[:12]
        self.identity = {"kind": "run", "run": str(run), "model": digest}
        self.state: Any = None
        self.start = True

    def wrap(self, env: gym.Env[Any, Any]) -> gym.Env[Any, Any]:
        return History(env, self.history) if self.history else env

    def reset(self) -> None:
        self.state, self.start = None, True

    def act(self, observation: Any) -> np.ndarray:
        action, self.state = self.policy.act(observation, self.state, self.start)
        self.start = False
        return np.asarray(action)


def policy_for(name: str, env_id: str) -> RecordingPolicy:
    """``scripted`` (the task's controller) or the path of a ``dr-sim train`` run folder."""
    if name == SCRIPTED:
        return ScriptedPolicy(env_id)
    if not Path(name).is_dir():
        raise ConfigError(f"--policy must be 'scripted' or a dr-sim train run folder; {name!r} is neither")
    return RunPolicy(name, env_id)
