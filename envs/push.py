"""PandaPush: the Franka Panda pushes an object across the table to a goal on the table (Peng et al. 2018).

The fingers are held closed, so the action drives the arm only (3 numbers in ``ee`` control; see
``dr_sim.envs.robots`` for the control modes). The object, a ``puck`` (Peng's, default) or a ``cube``, starts
at a random spot and yaw in front of the arm; the goal lies on the table at least ``MIN_GOAL_DISTANCE`` from it.

Observation (``state``), 18 numbers: end-effector position (m) and velocity (m/s); object position (m),
sine and cosine of its yaw, linear velocity (m/s) and angular velocity about z (rad/s); object position
relative to the end effector (m). The achieved goal is the object position; the goal's height is the
object's rest height, so while the object rests on the table its distance to the goal is the distance in
the table plane. Dense reward: minus that distance (m); sparse: 0 within ``success_distance``, else -1.
The episode ends on success.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from pybullet_utils.bullet_client import BulletClient

from dr_sim.envs.arm_env import ArmGoalEnv
from dr_sim.envs.objects import OBJECTS, add_object
from dr_sim.errors import ConfigError

OBJECT_LOW = np.array([-0.15, -0.15])  # m, the object's and the goal's (x, y) range
OBJECT_HIGH = np.array([0.15, 0.15])
MIN_GOAL_DISTANCE = 0.1  # m, between the object's start and the goal


class PandaPushEnv(ArmGoalEnv):
    """Push an ``object_shape`` object (``puck`` or ``cube``) to a goal with the Panda (``control``: see ``Arm``)."""

    observation_size: ClassVar[int] = 18
    gripper = "closed"  # pushing: the action drives the arm only

    def __init__(self, control: str = "ee", object_shape: str = "puck", **kwargs: Any) -> None:
        if object_shape not in tuple(OBJECTS):
            raise ConfigError(f"object_shape must be one of {tuple(OBJECTS)}, got {object_shape!r}")
        self.object_spec = OBJECTS[object_shape]
        super().__init__(control=control, object_shape=object_shape, **kwargs)

    def build_objects(self, client: BulletClient) -> None:
        self.sim_bodies["object"] = add_object(client, self.object_spec)

    def reset_task(self, options: dict[str, Any]) -> None:
        assert self.arm is not None
        rest_height = self.object_spec.height / 2
        self.arm.reset(gripper_width=0.0)
        start = self.np_random.uniform(OBJECT_LOW, OBJECT_HIGH)
        goal = self.draw_apart(OBJECT_LOW, OBJECT_HIGH, start, MIN_GOAL_DISTANCE)
        yaw = self.np_random.uniform(-np.pi, np.pi)
        self.place_object(np.array([*start, rest_height]), self.physics_client.getQuaternionFromEuler([0.0, 0.0, yaw]))
        self.place_goal(np.array([*goal, rest_height]))

    def observation(self) -> np.ndarray:
        assert self.arm is not None
        client, body = self.physics_client, self.sim_bodies["object"]
        ee = self.arm.ee_pose()[0]
        position, orientation = client.getBasePositionAndOrientation(body)
        yaw = client.getEulerFromQuaternion(orientation)[2]
        linear, angular = client.getBaseVelocity(body)
        position = np.asarray(position)
        return np.concatenate(
            [ee, self.arm.ee_velocity(), position, [np.sin(yaw), np.cos(yaw)], linear, [angular[2]], position - ee]
        )

    def achieved_goal(self) -> np.ndarray:
        return self.object_position()
