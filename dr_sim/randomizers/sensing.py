"""Sensing: a per-episode bias and per-step Gaussian noise on observations.

Targets are observation entries: ``"observation"`` for a Box observation space, else the keys of a
Dict space (by default every float Box entry except the goals: ``desired_goal`` is the task's command
rather than a sensor reading, and ``achieved_goal`` is what the reward is computed from, so that HER's
relabelled rewards agree with the env's; name them in ``keys`` to corrupt them too).
Bias and noise std are drawn per episode in the units of each entry; noise is drawn again every step.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from dr_sim.config.schema import SensingConfig
from dr_sim.errors import ConfigError
from dr_sim.randomizers.base import Params, Randomizer, Term
from dr_sim.scene.scene import Scene
from dr_sim.user_warnings import warn

BOX_KEY = "observation"


def float_entries(space: spaces.Space[Any]) -> dict[str, spaces.Box]:
    """Float Box entries of an observation space, by name."""
    if isinstance(space, spaces.Box):
        return {BOX_KEY: space} if np.issubdtype(space.dtype, np.floating) else {}
    if isinstance(space, spaces.Dict):
        return {
            k: s for k, s in space.spaces.items() if isinstance(s, spaces.Box) and np.issubdtype(s.dtype, np.floating)
        }
    return {}


GOAL_KEYS = ("achieved_goal", "desired_goal")


class SensingRandomizer(Randomizer):
    """Observation bias and noise; ``corrupt`` applies them to one observation."""

    section = "sensing"

    def __init__(self, config: SensingConfig, observation_space: spaces.Space[Any]) -> None:
        super().__init__()
        self.config = config
        entries = float_entries(observation_space)
        if config.keys is None:
            self.entries = {k: s for k, s in entries.items() if k not in GOAL_KEYS}
        else:
            unknown = [k for k in config.keys if k not in entries]
            if unknown:
                raise ConfigError(
                    f"sensing.keys: {unknown} are not float Box entries of the observation; "
                    f"choose from {sorted(entries)}"
                )
            self.entries = {k: entries[k] for k in config.keys}
        if not self.entries and (config.bias or config.noise_std) is not None:
            why = f"the observation space {observation_space} has no float Box entry to corrupt"
            if config.required:
                raise ConfigError(f"sensing: {why} (or set sensing.required: false to leave sensing out)")
            warn(f"sensing: left out, {why}")

    def bind(self, scene: Scene) -> None:
        zeros = {key: np.zeros(space.shape) for key, space in self.entries.items()}
        self.terms = []
        for name in ("bias", "noise_std"):
            spec = getattr(self.config, name)
            if spec is not None and self.entries:
                self._check_shape(name, spec.distribution.shape)
                self.terms.append(Term(name, spec, zeros))

    def _check_shape(self, name: str, shape: tuple[int, ...]) -> None:
        for key, space in self.entries.items():
            try:
                np.broadcast_shapes(space.shape, shape)
            except ValueError:
                raise ConfigError(
                    f"sensing.{name}: a vector of shape {shape} does not fit observation {key!r} of shape {space.shape}"
                ) from None

    def apply(self, scene: Scene, params: Params) -> None:
        """Sensing changes no scene state; ``corrupt`` uses the params."""

    def corrupt(self, observation: Any, params: Params, rng: np.random.Generator) -> Any:
        """Return ``observation`` with this episode's bias and fresh noise (dtype kept)."""
        bias, std = params.get("bias", {}), params.get("noise_std", {})
        if not bias and not std:
            return observation
        if isinstance(observation, dict):
            out = dict(observation)
            for key in self.entries:
                out[key] = self._corrupt_one(observation[key], bias.get(key), std.get(key), rng)
            return out
        return self._corrupt_one(observation, bias.get(BOX_KEY), std.get(BOX_KEY), rng)

    @staticmethod
    def _corrupt_one(value: np.ndarray, bias: Any, std: Any, rng: np.random.Generator) -> np.ndarray:
        result = np.asarray(value, dtype=np.float64)
        if bias is not None:
            result = result + np.asarray(bias)
        if std is not None:
            result = result + np.maximum(np.asarray(std), 0.0) * rng.standard_normal(result.shape)
        return result.astype(value.dtype)
