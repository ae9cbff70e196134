"""Actuation: action noise, latency, and motor gain / force-limit scales.

Per episode it draws a noise level, a whole-step latency, Peng 2018's latency rate lambda, and the
gain and force scales. Per step, ``ActionChannel.transmit`` turns the policy's action into the action
the env receives: delayed by whole steps, late by ``Exp(lambda)`` seconds within the control period
(the previous action acts for that fraction of the period, a time average of the two), plus noise,
clipped to the action space.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np
from gymnasium import spaces

from dr_sim.config.schema import ActuationConfig
from dr_sim.errors import ConfigError
from dr_sim.randomizers.base import Params, Randomizer, Term, resolve
from dr_sim.scene.motors import MotorHook
from dr_sim.scene.scene import Scene
from dr_sim.user_warnings import warn

NEUTRAL = {  # each field's value when the config leaves it out: the env's own actuation
    "action_noise_std": 0.0,
    "latency_steps": 0.0,
    "latency_rate": np.inf,
    "gain_scale": 1.0,
    "force_scale": 1.0,
}
_ACTION_FIELDS = ("action_noise_std", "latency_steps", "latency_rate")  # act on the actions themselves
TARGET = "action"


class ActuationRandomizer(Randomizer):
    """Randomizes how actions reach the motors."""

    section = "actuation"

    def __init__(
        self,
        config: ActuationConfig,
        action_space: spaces.Space[Any],
        control_dt: float | None,
        motors: MotorHook | None,
    ) -> None:
        super().__init__()
        self.config = config
        self.motors = motors
        self.control_dt = config.control_dt or control_dt
        self.action_space = action_space
        unusable = self._unusable()
        if unusable and config.required:
            reason = next(iter(unusable.values()))
            raise ConfigError(f"actuation: {reason} (or set actuation.required: false to leave such parts out)")
        if unusable:
            left_out = ", ".join(f"actuation.{field}" for field in unusable)
            warn(f"{left_out}: left out, {'; '.join(dict.fromkeys(unusable.values()))}")
        #: The fields this env is randomized in: the configured ones that can act on it.
        self.fields = [f for f in NEUTRAL if getattr(config, f) is not None and f not in unusable]
        if (config.gain_scale or config.force_scale) is not None and motors is None:
            raise ConfigError(
                "actuation.gain_scale/force_scale need a motor hook on the env's client: build the engine "
                "with motors=MotorHook(client_id) (dr_sim.scene.motors), or let a RandomizationSession or "
                "the DomainRandomization wrapper build it"
            )

    def _unusable(self) -> dict[str, str]:
        """The configured fields that cannot act on this env, each with the reason."""
        configured = [f for f in _ACTION_FIELDS if getattr(self.config, f) is not None]
        if configured and not isinstance(self.action_space, spaces.Box):
            why = f"action noise and latency need a Box action space, got {self.action_space}"
            return dict.fromkeys(configured, why)
        if self.config.latency_rate is not None and self.control_dt is None:
            why = "latency_rate needs the control period: set actuation.control_dt (s) or give the env a 'dt'"
            return {"latency_rate": why + " attribute"}
        return {}

    def bind(self, scene: Scene) -> None:
        self.terms = [
            Term(name, getattr(self.config, name), {TARGET: np.asarray(NEUTRAL[name])}) for name in self.fields
        ]
        if self.motors is not None and (self.config.gain_scale or self.config.force_scale) is not None:
            joints = resolve(scene.select_joints, self.config.select, self.config.required, "actuation")
            self.motors.select({(j.body, j.index) for j in joints})

    def neutral(self, scene: Scene) -> None:
        """Motor commands pass unscaled until the next episode's scales are applied."""
        if self.motors is not None:
            self.motors.neutral()

    def apply(self, scene: Scene, params: Params) -> None:
        if self.motors is None:
            return
        if "gain_scale" in params:
            self.motors.gain_scale = float(params["gain_scale"][TARGET])
        if "force_scale" in params:
            self.motors.force_scale = float(params["force_scale"][TARGET])

    def channel(self, params: Params) -> ActionChannel | None:
        """A fresh per-episode action channel for the sampled ``params`` (``None`` without a Box action
        space: then nothing acts on the actions)."""

        def value(name: str) -> float:
            return float(params.get(name, {}).get(TARGET, NEUTRAL[name]))

        if not isinstance(self.action_space, spaces.Box):
            return None
        return ActionChannel(
            self.action_space,
            noise_std=max(value("action_noise_std"), 0.0),
            delay_steps=max(round(value("latency_steps")), 0),
            latency_rate=value("latency_rate"),
            control_dt=self.control_dt or 1.0,
        )


class ActionChannel:
    """Per-episode state of the path from policy to env: the latency queue and the last action."""

    def __init__(
        self, space: spaces.Box, noise_std: float, delay_steps: int, latency_rate: float, control_dt: float
    ) -> None:
        self.space = space
        self.noise_std = noise_std
        self.latency_rate = latency_rate
        self.control_dt = control_dt
        neutral = np.clip(np.zeros(space.shape), space.low, space.high)
        self.queue: deque[np.ndarray] = deque([neutral] * delay_steps)
        self.last = neutral

    def transmit(self, action: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The action the env receives this step (same dtype and shape as the space)."""
        self.queue.append(np.asarray(action, dtype=np.float64))
        command = self.queue.popleft()
        if np.isfinite(self.latency_rate):
            late = min(rng.exponential(1.0 / self.latency_rate) / self.control_dt, 1.0)
            command = late * self.last + (1.0 - late) * command
        self.last = command
        if self.noise_std > 0:
            command = command + rng.normal(0.0, self.noise_std, size=command.shape)
        return np.clip(command, self.space.low, self.space.high).astype(self.space.dtype)
