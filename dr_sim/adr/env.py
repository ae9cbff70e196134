"""The worker side of ADR: a wrapper that makes each episode's randomization from the current ranges.

``AutomaticRandomization(env, adr, base)`` wraps a dr_sim task or an env wrapped in ``DomainRandomization``
(anything with a ``RandomizationSession`` named ``session``). On every reset it draws whether to pin a bound
(``dr_sim.adr.ranges``) from its own generator, seeded by ``reset(seed=s)`` on a stream separate from the
env's and the session's, hands the episode's config to the session (``RandomizationSession.reconfigure``,
only when it differs from the last one), then resets the env, whose session draws the episode's values as
always: ``info["randomization"]`` stays exact and replays with ``reset(options={"randomization": ...})``.

``info["adr"]`` at the reset holds the pinned bound (``{"dimension", "bound", "value"}``) or ``None``;
the last step of a pinned episode repeats it with ``"success"`` (``info["is_success"]`` there), which the
controller in the main process (``dr_sim.adr.callback``) reads. New ranges arrive through
``set_adr_ranges`` (``VecEnv.env_method("set_adr_ranges", bounds)``) and apply from the next reset.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np

from dr_sim.adr.config import AdrConfig
from dr_sim.adr.ranges import Boundary, Ranges
from dr_sim.errors import ConfigError

ADR_INFO = "adr"
_SEED_DOMAIN = 0xADA  # spawn key that separates ADR's stream from the env's and the session's


class AutomaticRandomization(gym.Wrapper[Any, Any, Any, Any]):
    """Episodes drawn from ADR's current ranges laid over the ``base`` randomization (``None``: nominal)."""

    def __init__(self, env: gym.Env[Any, Any], adr: AdrConfig, base: Mapping[str, Any] | None = None) -> None:
        super().__init__(env)
        try:
            self.session = env.get_wrapper_attr("session")
        except AttributeError:
            raise ConfigError(
                f"adr needs a dr_sim task or an env wrapped in dr_sim.DomainRandomization; {env.unwrapped!r} has "
                "no randomization session"
            ) from None
        self.ranges = Ranges(adr)
        self.base = dict(base) if base else None
        self._rng: np.random.Generator | None = None
        self._config: dict[str, Any] | None = None
        self._boundary: Boundary | None = None

    def set_adr_ranges(self, bounds: Mapping[str, Sequence[float]]) -> None:
        """Take new bounds (name -> [low, high]); they apply from the next reset."""
        self.ranges.update(bounds)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        if seed is not None or self._rng is None:
            entropy = seed if seed is not None else np.random.SeedSequence().entropy
            self._rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy, spawn_key=(_SEED_DOMAIN,))))
        boundary = self.ranges.draw_boundary(self._rng)  # drawn even for a replay, to keep the seeded sequence
        replay = options is not None and options.get("randomization") is not None
        self._boundary = None if replay else boundary
        config = self.ranges.episode_randomization(self.base, self._boundary)
        if config != self._config:
            self.session.reconfigure(config)
            self._config = config
        observation, info = self.env.reset(seed=seed, options=options)
        return observation, {**info, ADR_INFO: None if self._boundary is None else self._boundary.as_dict()}

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        observation, reward, terminated, truncated, info = self.env.step(action)
        if (terminated or truncated) and self._boundary is not None:
            success = bool(info.get("is_success", False))
            info = {**info, ADR_INFO: {**self._boundary.as_dict(), "success": success}}
        return observation, reward, terminated, truncated, info
