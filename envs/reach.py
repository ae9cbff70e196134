"""Reach tasks: move the end effector of a Franka Panda or a KUKA iiwa to a goal above the table.

Observation (``state``): end-effector position (m) and velocity (m/s), then the arm's joint angles
(rad) and velocities (rad/s): 20 numbers; the achieved goal is the end-effector position. Dense
reward: minus the distance to the goal (m); sparse: 0 within ``success_distance``, else -1. The episode
ends on success. Control modes: see ``dr_sim.envs.robots``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces
from pybullet_utils.bullet_client import BulletClient

from dr_sim.envs.base import GoalEnv
from dr_sim.envs.robots import KUKA, PANDA, Arm, ArmSpec

ARM_BASE = (-0.6, 0.0, 0.0)  # m, on the table top
GOAL_LOW = np.array([-0.15, -0.15, 0.05])  # m, around the workspace centre
GOAL_HIGH = np.array([0.15, 0.15, 0.3])


def add_goal_marker(client: BulletClient, radius: float = 0.02) -> int:
    """A translucent green sphere without collision, showing the goal (``radius`` m)."""
    shape = client.createVisualShape(client.GEOM_SPHERE, radius=radius, rgbaColor=[0.1, 0.9, 0.1, 0.5])
    return int(client.createMultiBody(0.0, -1, shape, [0.0, 0.0, 0.1]))


class ReachEnv(GoalEnv):
    """Reach a random goal with ``arm`` (``control``: ``ee``, ``joint_velocity`` or ``joint_torque``)."""

    arm_spec: ClassVar[ArmSpec]
    observation_size: ClassVar[int] = 20

    def __init__(self, control: str = "ee", **kwargs: Any) -> None:
        self.control = control
        super().__init__(control=control, **kwargs)

    def build(self, client: BulletClient) -> None:
        self.arm = Arm(client, self.arm_spec, self.control, ARM_BASE)
        self.sim_bodies[self.arm_spec.name] = self.arm.body
        self.sim_bodies["goal"] = add_goal_marker(client)

    def make_action_space(self) -> spaces.Box:
        # A gripper does nothing in reaching: the reach tasks drive the arm only.
        size = self.arm.action_size - int(self.arm.has_gripper)
        return spaces.Box(-1.0, 1.0, (size,), np.float32)

    def reset_task(self, options: dict[str, Any]) -> None:
        self.arm.reset()
        self.goal = self.np_random.uniform(GOAL_LOW, GOAL_HIGH)
        self.physics_client.resetBasePositionAndOrientation(self.sim_bodies["goal"], self.goal.tolist(), [0, 0, 0, 1])

    def act(self, action: np.ndarray) -> None:
        if self.arm.has_gripper:
            action = np.append(action, 1.0)  # fingers held open
        self.arm.act(action)

    def before_substep(self) -> None:
        self.arm.before_substep()

    def observation(self) -> np.ndarray:
        angles, velocities = self.arm.joint_state()
        return np.concatenate([self.arm.ee_pose()[0], self.arm.ee_velocity(), angles, velocities])

    def achieved_goal(self) -> np.ndarray:
        return self.arm.ee_pose()[0]


class PandaReachEnv(ReachEnv):
    """Reach with the Franka Panda (fingers held open)."""

    arm_spec = PANDA


class KukaReachEnv(ReachEnv):
    """Reach with the KUKA iiwa."""

    arm_spec = KUKA
