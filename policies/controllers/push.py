"""Push: a closed-loop end-effector pusher for ``dr_sim/PandaPush``.

Each step the controller takes the line from the goal through the object's current position and the point
behind the object on it. It travels above the object to that point, descends to pushing height and pushes
toward the goal along the line, steering back onto it as the object drifts. When the object drifts too far
off the line, or the end effector gets beside or in front of it (an overshoot), it lifts and approaches
again. ``ee`` control only: the task's default.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dr_sim.envs.robots import EE_STEP
from dr_sim.errors import ConfigError
from dr_sim.policies.controllers.base import toward

CLEARANCE = 0.05  # m above the object's top while travelling
FINGER_DEPTH = 0.02  # m, from the end effector's axis to the fingers' pushing face, with a margin
APPROACH_TOLERANCE = 0.01  # m, how close to the point behind the object before descending and pushing
LINE_TOLERANCE = 0.03  # m, the object's distance from the push line that ends a push
TRAVEL_STEP = 0.04  # m per control step, travelling
PUSH_STEP = 0.015  # m per control step, pushing


class PushController:
    """Scripted pushing for ``dr_sim/PandaPush`` in ``ee`` control: approach, descend, push."""

    def __init__(self, env: Any) -> None:
        self.env = env.unwrapped
        if self.env.arm.control != "ee":
            raise ConfigError(f"the push controller drives ee control only, got {self.env.arm.control!r}")
        spec = self.env.object_spec
        self._standoff = spec.size / 2 + FINGER_DEPTH  # m, end effector to object centre before a push
        self._push_z = spec.height / 2  # m, the fingertips a few millimetres above the table
        self._travel_z = spec.height + CLEARANCE  # m
        self._phase = "approach"

    def reset(self) -> None:
        self._phase = "approach"

    def act(self, observation: dict[str, np.ndarray]) -> np.ndarray:
        ee = np.asarray(observation["observation"][:3], dtype=np.float64)
        obj = np.asarray(observation["achieved_goal"], dtype=np.float64)
        goal = np.asarray(observation["desired_goal"], dtype=np.float64)
        to_goal = goal[:2] - obj[:2]
        remaining = float(np.linalg.norm(to_goal))
        direction = to_goal / max(remaining, 1e-6)
        across = np.array([-direction[1], direction[0]])
        offset = ee[:2] - obj[:2]
        along, lateral = float(offset @ direction), float(offset @ across)
        behind = obj[:2] - self._standoff * direction
        off_behind = float(np.linalg.norm(ee[:2] - behind))
        off_line = abs(lateral) > LINE_TOLERANCE or along > -self._standoff / 2  # drifted, or beside or in front
        if (self._phase == "push" and off_line) or (self._phase == "descend" and off_behind > LINE_TOLERANCE):
            self._phase = "approach"
        elif self._phase == "approach" and off_behind < APPROACH_TOLERANCE:
            self._phase = "descend"
        if self._phase == "descend" and ee[2] < self._push_z + APPROACH_TOLERANCE:
            self._phase = "push"
        if self._phase == "push":
            target = np.array([*(ee[:2] + PUSH_STEP * direction - lateral * across), self._push_z])  # onto the line
            return self._move(ee, target, PUSH_STEP)
        if self._phase == "descend":
            return self._move(ee, np.array([*behind, self._push_z]), TRAVEL_STEP)
        if ee[2] < self._travel_z - APPROACH_TOLERANCE:
            return self._move(ee, np.array([*ee[:2], self._travel_z]), TRAVEL_STEP)  # lift clear first
        return self._move(ee, np.array([*behind, self._travel_z]), TRAVEL_STEP)

    @staticmethod
    def _move(ee: np.ndarray, target: np.ndarray, max_step: float) -> np.ndarray:
        """The action toward ``target`` (m), at most ``max_step`` metres this step."""
        step = target - ee
        distance = float(np.linalg.norm(step))
        if distance > max_step:
            step *= max_step / distance
        return toward(ee, ee + step, EE_STEP)
