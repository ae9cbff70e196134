"""Reach: drive the end effector straight at the goal.

``ee`` control steps toward the goal; the joint modes solve the goal's joint angles once per episode
by inverse kinematics and close the joint error with a P law on velocities, or with computed-torque
PD on torques (``M(q) (kp e - kd qdot)``, critically damped at ``TORQUE_BANDWIDTH``, slow enough for
the control period).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dr_sim.envs.robots import EE_STEP
from dr_sim.policies.controllers.base import toward

VELOCITY_GAIN = 3.0  # 1/s: joint velocity per radian of error
TORQUE_BANDWIDTH = 8.0  # rad/s, natural frequency of the computed-torque loop


class ReachController:
    """Scripted reach for ``dr_sim/PandaReach`` and ``dr_sim/KukaReach`` in every control mode."""

    def __init__(self, env: Any) -> None:
        self.env = env.unwrapped
        self._target_angles: np.ndarray | None = None

    def reset(self) -> None:
        self._target_angles = None

    def act(self, observation: dict[str, np.ndarray]) -> np.ndarray:
        arm = self.env.arm
        goal = np.asarray(observation["desired_goal"], dtype=np.float64)
        if arm.control == "ee":
            return toward(observation["achieved_goal"], goal, EE_STEP)
        if self._target_angles is None:
            self._target_angles = np.asarray(arm.inverse_kinematics(goal))
        angles, velocities = arm.joint_state()
        error = self._target_angles - angles
        if arm.control == "joint_velocity":
            return np.clip(VELOCITY_GAIN * error / np.asarray(arm.spec.max_velocity), -1.0, 1.0)
        acceleration = TORQUE_BANDWIDTH**2 * error - 2.0 * TORQUE_BANDWIDTH * velocities
        torque = arm.mass_matrix() @ acceleration
        return np.clip(torque / np.asarray(arm.spec.max_force), -1.0, 1.0)
