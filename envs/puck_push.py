"""Puck push: a two-axis pusher slides a puck across the table to a goal.

The pusher is a small cylinder (the tip) on two prismatic joints, x then y, fixed above the table:
a gantry that keeps the whole task in the table plane, so that dynamics-transfer studies with
reinforcement learning run in minutes on a CPU. PyBullet position motors with explicit gains and force
limits drive the joints, so the ``physics`` preset's gain and force scales, joint damping and link
masses (the bodies' links are ``pusher/link1`` (x carriage) and ``pusher/link2`` (y slider and tip))
all change how the pusher moves.

Action: 2 numbers in [-1, 1]; the joints' position target is the tip's current position plus
``MAX_STEP`` metres per unit, clamped to the workspace (a square of half side ``WORKSPACE``).

Observation (``state``): tip position (m) and velocity (m/s), puck position (m) and velocity (m/s),
puck position relative to the tip (m), all in the table plane: 10 numbers. The achieved goal is the
puck's centre (m), the desired goal a point on the table at the puck's half height.

Reward. ``sparse``: 0 when the puck is within ``success_distance`` of the goal, else -1.
``dense``: minus the puck-to-goal distance (m) minus ``SHAPING`` times the distance (m) from the tip to
the push point, the spot behind the puck, touching it, on the line from the goal through the puck.
Without that shaping term a policy rarely finds the puck, and with a plain tip-to-puck distance it
learns to rest against the puck. The tip's position travels in ``info["pusher_position"]`` and
``compute_reward`` reads it from there, so relabelled goals (HER) get exactly the shaped reward the env
would have given for them: ``compute_reward`` needs the step's ``info`` (a dict, or an array of dicts
for a batch) for the dense reward (stable-baselines3's ``HerReplayBuffer``: ``copy_info_dict=True``;
the sparse reward needs no info). The step reward is ``compute_reward`` of the observed goals.

Success: the puck within ``success_distance`` (0.05 m) of the goal; the episode ends on success.

Option ``puck_range`` (m, default ``PUCK_RANGE``): the half side of the square the puck starts in, up to
``WORKSPACE``. A wider square serves data for perception: a pose network that must follow the puck
wherever a policy pushes it needs images of the puck there (``studies/modular/data.yaml``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import pybullet as p
from gymnasium import spaces
from pybullet_utils.bullet_client import BulletClient

from dr_sim.envs.base import GoalEnv
from dr_sim.envs.objects import PUCK, add_goal_marker, add_object
from dr_sim.errors import ConfigError

TIP_RADIUS = 0.02  # m
TIP_HEIGHT = 0.02  # m
TIP_CLEARANCE = 0.003  # m between the tip's bottom and the table
TIP_COLOR = (0.3, 0.3, 0.35, 1.0)
LINK_MASSES = (0.5, 0.3)  # kg: the x carriage, the y slider with the tip
POSITION_GAIN = 0.2  # PyBullet's positionGain of the joint motors
VELOCITY_GAIN = 1.0  # PyBullet's velocityGain of the joint motors
MAX_FORCE = 20.0  # N per joint
MAX_STEP = 0.03  # m of target displacement per unit action per control step
WORKSPACE = 0.25  # m, half side of the square the tip stays in
PUCK_RANGE = 0.15  # m, half side of the square the puck starts in
GOAL_RANGE = 0.15  # m, half side of the square the goal is drawn in
MIN_GOAL_DISTANCE = 0.1  # m between the puck's start and the goal
MIN_START_GAP = 0.02  # m between the tip and the puck at the start
SHAPING = 1.0  # weight of the tip-to-push-point distance in the dense reward
CONTACT_DISTANCE = TIP_RADIUS + PUCK.size / 2  # m between the centres of tip and puck when touching
JOINTS = [0, 1]  # x, y


def add_pusher(client: BulletClient) -> int:
    """The gantry pusher: a fixed base at the origin and two prismatic links (x, then y) ending in the tip."""
    collision = client.createCollisionShape(p.GEOM_CYLINDER, radius=TIP_RADIUS, height=TIP_HEIGHT)
    visual = client.createVisualShape(p.GEOM_CYLINDER, radius=TIP_RADIUS, length=TIP_HEIGHT, rgbaColor=TIP_COLOR)
    origin = [[0.0, 0.0, 0.0]] * 2
    identity = [[0.0, 0.0, 0.0, 1.0]] * 2
    return int(
        client.createMultiBody(
            baseMass=0.0,
            basePosition=[0.0, 0.0, TIP_CLEARANCE + TIP_HEIGHT / 2],
            linkMasses=list(LINK_MASSES),
            linkCollisionShapeIndices=[-1, collision],
            linkVisualShapeIndices=[-1, visual],
            linkPositions=origin,
            linkOrientations=identity,
            linkInertialFramePositions=origin,
            linkInertialFrameOrientations=identity,
            linkParentIndices=[0, 1],  # 0: the base, 1: the first link
            linkJointTypes=[p.JOINT_PRISMATIC] * 2,
            linkJointAxis=[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]],
        )
    )


def pusher_position(info: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> np.ndarray:
    """``info["pusher_position"]`` (m, table plane) of one info dict or of a batch of them."""
    if isinstance(info, Mapping):
        return np.asarray(info["pusher_position"])
    return np.array([entry["pusher_position"] for entry in info])


class PuckPushEnv(GoalEnv):
    """Push the puck to a random goal on the table with the two-axis pusher."""

    observation_size: ClassVar[int] = 10

    def __init__(self, puck_range: float = PUCK_RANGE, **kwargs: Any) -> None:
        if not 0 < puck_range <= WORKSPACE:
            raise ConfigError(f"puck_range must be a half side in (0, {WORKSPACE}] m, got {puck_range!r}")
        self.puck_range = float(puck_range)
        super().__init__(puck_range=puck_range, **kwargs)

    def build(self, client: BulletClient) -> None:
        self.sim_bodies["pusher"] = add_pusher(client)
        self.sim_bodies["object"] = add_object(client, PUCK)
        self.sim_bodies["goal"] = add_goal_marker(client)

    def make_action_space(self) -> spaces.Box:
        return spaces.Box(-1.0, 1.0, (2,), np.float32)

    def reset_task(self, options: dict[str, Any]) -> None:
        puck = self.np_random.uniform(-self.puck_range, self.puck_range, 2)
        goal = self.draw_apart(np.full(2, -GOAL_RANGE), np.full(2, GOAL_RANGE), puck, MIN_GOAL_DISTANCE)
        tip = self.draw_apart(np.full(2, -WORKSPACE), np.full(2, WORKSPACE), puck, CONTACT_DISTANCE + MIN_START_GAP)
        for joint, position in zip(JOINTS, tip, strict=True):
            self.physics_client.resetJointState(self.sim_bodies["pusher"], joint, float(position), 0.0)
        height = PUCK.height / 2
        self.place_object(np.array([*puck, height]))
        self.place_goal(np.array([*goal, height]))

    def act(self, action: np.ndarray) -> None:
        tip, _ = self.pusher_state()
        target = np.clip(tip + MAX_STEP * np.clip(action, -1.0, 1.0), -WORKSPACE, WORKSPACE)
        self.physics_client.setJointMotorControlArray(
            self.sim_bodies["pusher"],
            JOINTS,
            p.POSITION_CONTROL,
            targetPositions=target.tolist(),
            targetVelocities=[0.0, 0.0],
            positionGains=[POSITION_GAIN] * 2,
            velocityGains=[VELOCITY_GAIN] * 2,
            forces=[MAX_FORCE] * 2,
        )

    def pusher_state(self) -> tuple[np.ndarray, np.ndarray]:
        """The tip's position (m) and velocity (m/s) in the table plane."""
        states = self.physics_client.getJointStates(self.sim_bodies["pusher"], JOINTS)
        return np.array([s[0] for s in states]), np.array([s[1] for s in states])

    def observation(self) -> np.ndarray:
        tip, tip_velocity = self.pusher_state()
        puck = self.achieved_goal()[:2]
        puck_velocity = np.asarray(self.physics_client.getBaseVelocity(self.sim_bodies["object"])[0][:2])
        return np.concatenate([tip, tip_velocity, puck, puck_velocity, puck - tip])

    def achieved_goal(self) -> np.ndarray:
        return self.object_position()

    def task_info(self) -> dict[str, Any]:
        return {"pusher_position": self.pusher_state()[0]}

    def compute_reward(self, achieved_goal: np.ndarray, desired_goal: np.ndarray, info: Any) -> np.ndarray:
        """The base's reward; the dense one minus ``SHAPING`` times the tip's distance to the push point."""
        reward = super().compute_reward(achieved_goal, desired_goal, info)
        if self.reward_type == "sparse":
            return reward
        puck, goal = np.asarray(achieved_goal)[..., :2], np.asarray(desired_goal)[..., :2]
        to_goal = goal - puck
        direction = to_goal / np.maximum(np.linalg.norm(to_goal, axis=-1, keepdims=True), 1e-6)
        push_point = puck - CONTACT_DISTANCE * direction
        shaping = SHAPING * np.linalg.norm(pusher_position(info) - push_point, axis=-1)
        return (reward - shaping).astype(np.float32)
