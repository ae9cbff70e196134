"""Pick and place: the Franka Panda picks a cube up from the table and places it at a goal.

The cube starts at rest at a random spot of the workspace (x, y within ``WORKSPACE`` metres of its centre).
The goal lies over the same region, on the table (at the cube's half height) in half the episodes and up to
``GOAL_LIFT`` metres above it in the other half, as in panda-gym's PickAndPlace and Fetch's; it never
starts within ``success_distance`` of the cube.

Observation (``state``, 22 numbers): end-effector position (m) and velocity (m/s), gripper width (m),
cube position (m), orientation (roll, pitch, yaw in rad), linear velocity (m/s) and angular velocity
(rad/s), and the cube's position relative to the end effector (m). The achieved goal is the cube's
position. Action: the arm's (``ee``: dx, dy, dz; joint modes: one per joint), then the gripper (+1 open,
-1 closed); see ``dr_sim.envs.robots``. Dense reward: minus the cube's distance to the goal (m); sparse:
0 within ``success_distance``, else -1. The episode ends on success.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from pybullet_utils.bullet_client import BulletClient

from dr_sim.envs.arm_env import ArmGoalEnv
from dr_sim.envs.objects import CUBE, add_object

WORKSPACE = 0.15  # m, cube and goal x, y in [-WORKSPACE, WORKSPACE]
GOAL_LIFT = 0.2  # m, the highest goal above the resting cube


class PandaPickAndPlaceEnv(ArmGoalEnv):
    """Pick the cube up and place it at the goal (``control``: ``ee``, ``joint_velocity`` or ``joint_torque``)."""

    observation_size: ClassVar[int] = 22

    def build_objects(self, client: BulletClient) -> None:
        self.sim_bodies["object"] = add_object(client, CUBE)

    def reset_task(self, options: dict[str, Any]) -> None:
        assert self.arm is not None
        self.arm.reset()
        cube = np.array([*self.np_random.uniform(-WORKSPACE, WORKSPACE, 2), CUBE.height / 2])
        self.place_object(cube)
        self.place_goal(self._draw_goal(cube))

    def _draw_goal(self, cube: np.ndarray) -> np.ndarray:
        """A goal (m) on the table or, in half the draws, in the air; never within ``success_distance`` of ``cube``."""
        while True:
            lift = self.np_random.uniform(0.0, GOAL_LIFT) if self.np_random.random() < 0.5 else 0.0
            goal = np.array([*self.np_random.uniform(-WORKSPACE, WORKSPACE, 2), CUBE.height / 2 + lift])
            if np.linalg.norm(goal - cube) >= self.success_distance:
                return goal

    def observation(self) -> np.ndarray:
        assert self.arm is not None
        client = self.physics_client
        cube = self.sim_bodies["object"]
        ee = self.arm.ee_pose()[0]
        position, orientation = client.getBasePositionAndOrientation(cube)
        linear, angular = client.getBaseVelocity(cube)
        return np.concatenate(
            [
                ee,
                self.arm.ee_velocity(),
                [self.arm.gripper_width()],
                position,
                client.getEulerFromQuaternion(orientation),
                linear,
                angular,
                np.asarray(position) - ee,
            ]
        )

    def achieved_goal(self) -> np.ndarray:
        return self.object_position()
