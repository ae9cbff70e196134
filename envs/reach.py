"""PandaReach: move the Franka Panda's gripper to a goal above the table.

A goal-conditioned task (Dict observation with ``observation``, ``achieved_goal`` and
``desired_goal``) on a PyBullet ``BulletClient`` of its own, so ``dr_sim.DomainRandomization`` finds
the client, the body names (``sim_bodies``) and the control period (``dt``). Two control modes:
``ee`` (end-effector displacement in metres through inverse kinematics, position control) and
``joints`` (joint velocity targets in rad/s, which keep the arm's dynamics visible to randomization).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pybullet as p
import pybullet_data
from gymnasium import spaces
from pybullet_utils.bullet_client import BulletClient

from dr_sim.errors import ConfigError

ARM_JOINTS = list(range(7))
FINGER_JOINTS = [9, 10]
EE_LINK = 11
HOME = np.array([0.0, 0.41, 0.0, -1.85, 0.0, 2.26, 0.79])
MAX_FORCES = np.array([87.0, 87.0, 87.0, 87.0, 12.0, 12.0, 12.0])  # N m
GOAL_LOW, GOAL_HIGH = np.array([-0.15, -0.15, 0.05]), np.array([0.15, 0.15, 0.3])  # m, around the workspace centre
WORKSPACE_CENTRE = np.array([0.0, 0.0, 0.0])
SUCCESS_DISTANCE = 0.05  # m


class PandaReachEnv(gym.Env[dict[str, np.ndarray], np.ndarray]):
    """Reach a random goal. Reward: minus the distance (dense) or 0/-1 at the success distance (sparse)."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 25}

    def __init__(
        self, control: str = "ee", reward_type: str = "dense", render_mode: str | None = None, image_size: int = 84
    ) -> None:
        if control not in ("ee", "joints"):
            raise ConfigError(f"control must be 'ee' or 'joints', got {control!r}")
        if reward_type not in ("dense", "sparse"):
            raise ConfigError(f"reward_type must be 'dense' or 'sparse', got {reward_type!r}")
        if render_mode not in (None, "rgb_array"):
            raise ConfigError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.control, self.reward_type = control, reward_type
        self.render_mode, self.image_size = render_mode, image_size
        self.physics_client = BulletClient(connection_mode=p.DIRECT)
        self.timestep, self.substeps = 1.0 / 240.0, 10
        self.dt = self.timestep * self.substeps  # s per control step
        self.sim_bodies = self._build_scene()
        self.action_space = spaces.Box(-1.0, 1.0, (3 if control == "ee" else 7,), np.float32)
        goal_space = spaces.Box(-10.0, 10.0, (3,), np.float32)
        self.observation_space = spaces.Dict(
            {
                "observation": spaces.Box(-10.0, 10.0, (6,), np.float32),
                "achieved_goal": goal_space,
                "desired_goal": goal_space,
            }
        )
        self.goal = np.zeros(3)

    def _build_scene(self) -> dict[str, int]:
        client = self.physics_client
        client.setAdditionalSearchPath(pybullet_data.getDataPath())
        client.setTimeStep(self.timestep)
        client.setGravity(0, 0, -9.81)
        bodies = {
            "plane": client.loadURDF("plane.urdf", [0, 0, -0.625]),
            "table": client.loadURDF("table/table.urdf", [0.1, 0, -0.625], useFixedBase=True),
            "panda": client.loadURDF("franka_panda/panda.urdf", [-0.6, 0, 0], useFixedBase=True),
        }
        goal_shape = client.createVisualShape(p.GEOM_SPHERE, radius=0.02, rgbaColor=[0.1, 0.9, 0.1, 0.5])
        bodies["goal"] = client.createMultiBody(0.0, -1, goal_shape, [0, 0, 0.1])
        return bodies

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        super().reset(seed=seed)
        client, panda = self.physics_client, self.sim_bodies["panda"]
        for joint, angle in zip(ARM_JOINTS, HOME, strict=True):
            client.resetJointState(panda, joint, angle)
        for joint in FINGER_JOINTS:
            client.resetJointState(panda, joint, 0.02)
        self.goal = WORKSPACE_CENTRE + self.np_random.uniform(GOAL_LOW, GOAL_HIGH)
        client.resetBasePositionAndOrientation(self.sim_bodies["goal"], self.goal.tolist(), [0, 0, 0, 1])
        return self._observation(), {"is_success": False}

    def step(self, action: np.ndarray) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        action = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        client, panda = self.physics_client, self.sim_bodies["panda"]
        if self.control == "ee":
            target = self._ee_position() + 0.05 * action
            angles = client.calculateInverseKinematics(panda, EE_LINK, target.tolist())[:7]
            client.setJointMotorControlArray(
                panda, ARM_JOINTS, p.POSITION_CONTROL, targetPositions=angles, forces=MAX_FORCES.tolist()
            )
        else:
            client.setJointMotorControlArray(
                panda,
                ARM_JOINTS,
                p.VELOCITY_CONTROL,
                targetVelocities=(action * 1.5).tolist(),
                forces=MAX_FORCES.tolist(),
            )
        for _ in range(self.substeps):
            client.stepSimulation()
        observation = self._observation()
        distance = float(np.linalg.norm(observation["achieved_goal"] - self.goal))
        success = distance < SUCCESS_DISTANCE
        reward = -distance if self.reward_type == "dense" else -float(not success)
        return observation, float(reward), bool(success), False, {"is_success": bool(success)}

    def compute_reward(self, achieved_goal: np.ndarray, desired_goal: np.ndarray, info: Any) -> np.ndarray:
        """Vectorised reward for hindsight relabelling (HER)."""
        distance = np.linalg.norm(np.asarray(achieved_goal) - np.asarray(desired_goal), axis=-1)
        if self.reward_type == "dense":
            return -distance.astype(np.float32)
        return -(distance >= SUCCESS_DISTANCE).astype(np.float32)

    def _ee_position(self) -> np.ndarray:
        return np.asarray(self.physics_client.getLinkState(self.sim_bodies["panda"], EE_LINK)[4])

    def _observation(self) -> dict[str, np.ndarray]:
        state = self.physics_client.getLinkState(self.sim_bodies["panda"], EE_LINK, computeLinkVelocity=1)
        position, velocity = np.asarray(state[4]), np.asarray(state[6])
        return {
            "observation": np.concatenate([position, velocity]).astype(np.float32),
            "achieved_goal": position.astype(np.float32),
            "desired_goal": self.goal.astype(np.float32),
        }

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array":
            return None
        size = self.image_size
        view = p.computeViewMatrix([0.6, 0.7, 0.6], [-0.1, 0.0, 0.0], [0, 0, 1])
        projection = p.computeProjectionMatrixFOV(50, 1.0, 0.01, 5.0)
        _, _, rgba, _, _ = self.physics_client.getCameraImage(
            size, size, view, projection, renderer=p.ER_TINY_RENDERER, flags=p.ER_NO_SEGMENTATION_MASK
        )
        return np.asarray(rgba, dtype=np.uint8).reshape(size, size, 4)[:, :, :3]

    def close(self) -> None:
        if self.physics_client._client >= 0:
            self.physics_client.disconnect()
