"""Making the env that records or replays trajectories, and finding its randomization session.

dr_sim's tasks (``dr_sim/...`` ids) take ``randomization=`` themselves; any other Gymnasium id (or
``module:id``) is made with ``gymnasium.make`` and wrapped in ``DomainRandomization``, as ``dr-sim train``
does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym

from dr_sim.config import ConfigSource
from dr_sim.env_ids import check_env_id, gym_id
from dr_sim.errors import ConfigError
from dr_sim.native_output import quiet_native_stdout
from dr_sim.scene.discovery import control_period
from dr_sim.session import RandomizationSession
from dr_sim.wrapper import DomainRandomization


def is_own(env_id: str) -> bool:
    """Whether ``env_id`` is one of dr_sim's tasks (``dr_sim/...``, with or without ``module:``)."""
    return env_id.rpartition(":")[2].startswith("dr_sim/")


def make_randomized_env(
    env_id: str,
    randomization: ConfigSource,
    env_kwargs: Mapping[str, Any] | None = None,
    max_episode_steps: int | None = None,
) -> gym.Env[Any, Any]:
    """``env_id`` under ``randomization``: a dr_sim task takes it itself, any other env is wrapped."""
    check_env_id(env_id)
    kwargs = dict(env_kwargs or {})
    if max_episode_steps is not None:
        kwargs["max_episode_steps"] = max_episode_steps
    own = is_own(env_id)
    try:
        with quiet_native_stdout():  # PyBullet prints on connect
            env = gym.make(gym_id(env_id), **({"randomization": randomization} if own else {}), **kwargs)
    except gym.error.Error as error:
        raise ConfigError(f"cannot make env {env_id!r}: {error}") from None
    return env if own else DomainRandomization(env, randomization)


def find_session(env: gym.Env[Any, Any]) -> RandomizationSession:
    """The randomization session of ``env`` (a dr_sim task's, or the outermost ``DomainRandomization``'s)."""
    layer: Any = env
    while layer is not None:
        if isinstance(layer, DomainRandomization):
            return layer.session
        session = getattr(layer, "__dict__", {}).get("session")
        if isinstance(session, RandomizationSession):
            return session
        layer = getattr(layer, "env", None)
    raise ConfigError(f"{env!r} has no dr_sim randomization: make it with make_randomized_env")


def env_control_dt(env: gym.Env[Any, Any]) -> float | None:
    """The env's control period in seconds, where it declares one (``dt`` and the like), else ``None``."""
    return control_period(env)
