"""A history of the last k observations and actions, for a feed-forward policy (Peng et al. 2018, arm c).

``History(env, k)`` replaces the observation (or, for a Dict observation, its ``key`` entry, by default
``"observation"``, so that the goals stay apart for HER) with one flat vector::

    [o_t, o_{t-1}, ..., o_{t-k+1}, a_{t-1}, a_{t-2}, ..., a_{t-k}]

newest first: the ``k`` latest observations (``o_t`` is the current one) and the ``k`` actions that
led to them (``a_{t-1}`` produced ``o_t``). After a reset the observation history is the first
observation repeated and the action history is zeros (the neutral action, clipped to the action space).
The actions are the policy's, as the wrapper received them (before any actuation noise or latency).
"""

from __future__ import annotations

from collections import deque
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from dr_sim.errors import ConfigError


class History(gym.Wrapper[Any, np.ndarray, Any, np.ndarray]):
    """Stack the last ``k`` observations and actions (see the module docstring for the layout).

    Args:
        env: an env with a flat ``Box`` observation, or a ``Dict`` one whose ``key`` entry is a flat ``Box``,
            and a ``Box`` action space.
        k: how many observations and actions to keep (>= 1).
        key: the ``Dict`` entry to replace.
    """

    def __init__(self, env: gym.Env[Any, np.ndarray], k: int, key: str = "observation") -> None:
        super().__init__(env)
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise ConfigError(f"history must be a positive number of steps, got {k!r}")
        self.k, self.key = k, key
        base = env.observation_space
        self.is_dict = isinstance(base, spaces.Dict)
        if self.is_dict and key not in base.spaces:  # type: ignore[union-attr]
            raise ConfigError(f"history: the Dict observation has no entry {key!r} (it has {', '.join(base.spaces)})")
        inner = base[key] if self.is_dict else base  # type: ignore[index]
        action = env.action_space
        if not isinstance(inner, spaces.Box) or len(inner.shape) != 1 or not isinstance(action, spaces.Box):
            raise ConfigError(f"history needs flat Box observations and actions, got {inner} and {action}")
        self.action_dim = int(np.prod(action.shape))
        stacked = spaces.Box(
            np.concatenate([np.tile(inner.low, k), np.tile(action.low.ravel(), k)]).astype(np.float32),
            np.concatenate([np.tile(inner.high, k), np.tile(action.high.ravel(), k)]).astype(np.float32),
            dtype=np.float32,
        )
        self.observation_space = spaces.Dict({**base.spaces, key: stacked}) if self.is_dict else stacked  # type: ignore[union-attr]
        self.neutral = np.clip(np.zeros(self.action_dim), action.low.ravel(), action.high.ravel())
        self.observations: deque[np.ndarray] = deque(maxlen=k)
        self.actions: deque[np.ndarray] = deque(maxlen=k)

    def _stacked(self, observation: Any) -> Any:
        vector = np.concatenate([*self.observations, *self.actions]).astype(np.float32)
        return {**observation, self.key: vector} if self.is_dict else vector

    def _latest(self, observation: Any) -> np.ndarray:
        return np.asarray(observation[self.key] if self.is_dict else observation, dtype=np.float32).ravel()

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        observation, info = self.env.reset(seed=seed, options=options)
        first = self._latest(observation)
        self.observations.clear()
        self.actions.clear()
        self.observations.extend([first] * self.k)
        self.actions.extend([self.neutral] * self.k)
        return self._stacked(observation), info

    def step(self, action: np.ndarray) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        observation, reward, terminated, truncated, info = self.env.step(action)
        self.observations.appendleft(self._latest(observation))
        self.actions.appendleft(np.asarray(action, dtype=np.float64).ravel())
        return self._stacked(observation), float(reward), terminated, truncated, info
