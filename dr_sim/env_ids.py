"""Gymnasium env ids: the default one, checking one, and making an env by one.

An id is a registered Gymnasium id (``dr_sim/PuckPush-v0``, ``PandaPush-v3``) or ``module:id``, which
imports ``module`` first (the module registers the id). dr_sim's own tasks are registered here
(``dr_sim.registration``); panda-gym's ``Panda...-v3`` ids import ``panda_gym`` when it is installed.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
from typing import Any

import gymnasium as gym

from dr_sim.errors import ConfigError, DrSimError, did_you_mean
from dr_sim.native_output import quiet_native_stdout
from dr_sim.registration import register_envs

#: Default env: panda-gym's push task when panda-gym is installed, else dr_sim's own reach task.
PANDA_GYM_ENV = "PandaPush-v3"
FALLBACK_ENV = "dr_sim/PandaReach-v0"


def default_env_id() -> str:
    """``PandaPush-v3`` when panda-gym is importable, else ``dr_sim/PandaReach-v0``."""
    return PANDA_GYM_ENV if importlib.util.find_spec("panda_gym") is not None else FALLBACK_ENV


def make_env(env_id: str | None = None) -> Any:
    """``gymnasium.make`` an env by id (default ``default_env_id()``); ``module:id`` imports ``module``
    first (which registers it).

    panda-gym ids (``Panda...-v3``) import ``panda_gym`` and dr_sim ids are registered on their own.
    Every failure is a ``DrSimError`` with one line of explanation.
    """
    register_envs()
    env_id = env_id or default_env_id()
    module_name, _, name = env_id.rpartition(":")
    if module_name:
        try:
            with quiet_native_stdout():
                importlib.import_module(module_name)
        except ImportError as error:
            raise DrSimError(f"--env {env_id!r}: cannot import module {module_name!r} ({error})") from None
    elif name.startswith("Panda") and name.endswith("-v3") and name not in gym.registry:
        with contextlib.suppress(ImportError), quiet_native_stdout():
            importlib.import_module("panda_gym")
    if name not in gym.registry:
        known = sorted(gym.registry)
        raise DrSimError(
            f"unknown env id {name!r}.{did_you_mean(name, known)} Use a registered Gymnasium id or "
            f"'module:id' to import the module that registers it"
        )
    try:
        with quiet_native_stdout():
            return gym.make(name)
    except gym.error.Error as error:
        raise DrSimError(f"cannot make env {name!r}: {error}") from None


def gym_id(env: str) -> str:
    """``env`` in the ``module:id`` form that also works in freshly spawned processes (they import dr_sim)."""
    return f"dr_sim:{env}" if env.startswith("dr_sim/") and ":" not in env else env


def check_env_id(env: str) -> None:
    """One ``ConfigError`` when ``env`` is not a registered id (``module:id`` imports ``module`` first)."""
    register_envs()
    module, _, name = env.rpartition(":")
    if module:
        try:
            importlib.import_module(module)
        except ImportError as error:
            raise ConfigError(f"env {env!r}: cannot import module {module!r} ({error})") from None
    if name not in gym.registry:
        raise ConfigError(f"env: unknown id {name!r}.{did_you_mean(name, list(gym.registry))}")
