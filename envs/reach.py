"""Reach tasks: move the end effector of a Franka Panda or a KUKA iiwa to a goal above the table.

Observation (``state``): end-effector position (m) and velocity (m/s), then the arm's joint angles
(rad) and velocities (rad/s): 20 numbers; the achieved goal is the end-effector position. Dense
reward: minus the distance to the goal (m); sparse: 0 within ``success_distance``, else -1. The episode
ends on success. Control modes: see ``dr_sim.envs.robots``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from dr_sim.envs.arm_env import ArmGoalEnv
from dr_sim.envs.robots import KUKA, PANDA

GOAL_LOW = np.array([-0.15, -0.15, 0.05])  # m, around the workspace centre
GOAL_HIGH = np.array([0.15, 0.15, 0.3])


class ReachEnv(ArmGoalEnv):
    """Reach a random goal with the arm (``control``: ``ee``, ``joint_velocity`` or ``joint_torque``)."""

    observation_size: ClassVar[int] = 20
    gripper = "open"  # a gripper does nothing in reaching: the action drives the arm only

    def reset_task(self, options: dict[str, Any]) -> None:
        assert self.arm is not None
        self.arm.reset()
        self.place_goal(self.np_random.uniform(GOAL_LOW, GOAL_HIGH))

    def observation(self) -> np.ndarray:
        assert self.arm is not None
        angles, velocities = self.arm.joint_state()
        return np.concatenate([self.arm.ee_pose()[0], self.arm.ee_velocity(), angles, velocities])

    def achieved_goal(self) -> np.ndarray:
        assert self.arm is not None
        return self.arm.ee_pose()[0]


class PandaReachEnv(ReachEnv):
    """Reach with the Franka Panda (fingers held open)."""

    arm_spec = PANDA


class KukaReachEnv(ReachEnv):
    """Reach with the KUKA iiwa."""

    arm_spec = KUKA
