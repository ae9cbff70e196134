"""The arms of dr_sim's tasks: the Franka Panda and the KUKA iiwa from ``pybullet_data``.

An ``Arm`` loads its URDF once and turns a normalised action in [-1, 1] into motor commands, in one of
three control modes:

- ``ee``: end-effector displacement, ``EE_STEP`` metres per unit per control step, through PyBullet's
  inverse kinematics (orientation held at the home pose's) and position motors. Convenient, but the
  position loop hides much of the arm's dynamics from a policy.
- ``joint_velocity``: joint velocity targets, ``max_velocity`` rad/s per unit, through velocity motors.
- ``joint_torque``: joint torques, ``max_force`` N m per unit, on top of gravity compensation computed
  from the simulated (randomized) model each substep.

The two joint modes keep masses, damping, gains and motor strength visible to a policy. Arms with a
gripper (the Panda) take one more action dimension: +1 opens the fingers fully, -1 closes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pybullet as p

from dr_sim.errors import ConfigError
from dr_sim.scene.detail import DEFAULT_RENDER_DETAIL, urdf_for

CONTROL_MODES = ("ee", "joint_velocity", "joint_torque")
ARM_BASE = (-0.6, 0.0, 0.0)  # m, where the tasks fix an arm's base on the table top
EE_STEP = 0.05  # m of end-effector displacement per unit action per control step


@dataclass(frozen=True)
class ArmSpec:
    """What the tasks need to know about an arm. Angles in radians, forces in N m (N for fingers)."""

    name: str
    urdf: str
    joints: tuple[int, ...]
    ee_link: int
    home: tuple[float, ...]
    max_force: tuple[float, ...]
    max_velocity: tuple[float, ...]
    fingers: tuple[int, ...] = ()
    finger_force: float = 20.0  # N per finger
    finger_open: float = 0.04  # m per finger
    wrist_camera: tuple[float, float] = (0.12, 0.05)  # m behind and beside the end effector, on its x axis


PANDA = ArmSpec(
    name="panda",
    urdf="franka_panda/panda.urdf",
    joints=(0, 1, 2, 3, 4, 5, 6),
    ee_link=11,
    home=(0.0, 0.41, 0.0, -1.85, 0.0, 2.26, 0.79),
    max_force=(87.0, 87.0, 87.0, 87.0, 12.0, 12.0, 12.0),
    max_velocity=(2.175, 2.175, 2.175, 2.175, 2.61, 2.61, 2.61),
    fingers=(9, 10),
)
KUKA = ArmSpec(
    name="kuka",
    urdf="kuka_iiwa/model.urdf",
    joints=(0, 1, 2, 3, 4, 5, 6),
    ee_link=6,
    home=(0.0, 0.55, 0.0, -1.55, 0.0, 1.05, 0.0),
    max_force=(300.0, 300.0, 300.0, 300.0, 300.0, 300.0, 300.0),
    max_velocity=(1.71, 1.71, 1.75, 2.27, 2.44, 3.14, 3.14),
    wrist_camera=(-0.1, 0.08),  # the flange is past link 7's origin: mount the camera in front of it
)


def check_control(control: str) -> str:
    """``control`` if it is a known mode, else one clear error."""
    if control not in CONTROL_MODES:
        raise ConfigError(f"control must be one of {CONTROL_MODES}, got {control!r}")
    return control


class Arm:
    """One arm on a ``BulletClient``, fixed at ``base_position`` (m), drawn at ``render_detail`` (``low`` or
    ``full``, see ``dr_sim.scene.detail``)."""

    def __init__(
        self,
        client: Any,
        spec: ArmSpec,
        control: str,
        base_position: tuple[float, float, float],
        render_detail: str = DEFAULT_RENDER_DETAIL,
    ) -> None:
        self.client = client
        self.spec = spec
        self.control = check_control(control)
        # Low render detail draws the arm from its collision meshes; its physics is the same (dr_sim.scene.detail).
        self.body = client.loadURDF(urdf_for(spec.urdf, render_detail), base_position, useFixedBase=True)
        self._joints = list(spec.joints)
        self._max_force = np.array(spec.max_force)
        self._max_velocity = np.array(spec.max_velocity)
        self._torque = np.zeros(len(self._joints))  # N m, the last torque command (torque mode)
        count = client.getNumJoints(self.body)
        infos = [client.getJointInfo(self.body, j) for j in range(count)]
        self._movable = [info[0] for info in infos if info[2] != p.JOINT_FIXED]  # inverse dynamics takes them all
        self.reset()
        self._ee_orientation = self.ee_pose()[1]
        limits = [client.getJointInfo(self.body, j)[8:10] for j in self._joints]
        self._ik_limits = ([lo for lo, _ in limits], [hi for _, hi in limits], [hi - lo for lo, hi in limits])

    @property
    def has_gripper(self) -> bool:
        return bool(self.spec.fingers)

    @property
    def action_size(self) -> int:
        size = 3 if self.control == "ee" else len(self._joints)
        return size + int(self.has_gripper)

    def reset(self, gripper_width: float | None = None) -> None:
        """Joints to the home pose at rest; fingers at ``gripper_width`` (m, both fingers; default open)."""
        client = self.client
        for joint, angle in zip(self._joints, self.spec.home, strict=True):
            client.resetJointState(self.body, joint, angle)
        width = 2 * self.spec.finger_open if gripper_width is None else gripper_width
        for joint in self.spec.fingers:
            client.resetJointState(self.body, joint, width / 2)
        self._torque = np.zeros(len(self._joints))
        if self.control == "joint_torque":  # free the joints from PyBullet's default velocity motors
            client.setJointMotorControlArray(
                self.body, self._joints, p.VELOCITY_CONTROL, forces=[0.0] * len(self._joints)
            )
        else:
            self._hold(list(self.spec.home))
        self._grip(width / 2)

    def act(self, action: np.ndarray) -> None:
        """Send the motor commands of one control step (call before stepping the simulation)."""
        action = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        arm = action[: len(action) - int(self.has_gripper)]
        if self.has_gripper:
            self._grip(float((action[-1] + 1.0) / 2.0 * self.spec.finger_open))
        if self.control == "ee":
            self._hold(self.inverse_kinematics(self.ee_pose()[0] + EE_STEP * arm))
        elif self.control == "joint_velocity":
            self.client.setJointMotorControlArray(
                self.body,
                self._joints,
                p.VELOCITY_CONTROL,
                targetVelocities=(arm * self._max_velocity).tolist(),
                forces=self._max_force.tolist(),
            )
        else:
            self._torque = arm * self._max_force

    def before_substep(self) -> None:
        """Torque mode: the commanded torque plus gravity compensation at the current configuration."""
        if self.control != "joint_torque":
            return
        client = self.client
        positions = [state[0] for state in client.getJointStates(self.body, self._movable)]
        zeros = [0.0] * len(positions)
        gravity = client.calculateInverseDynamics(self.body, positions, zeros, zeros)
        torque = self._torque + np.asarray(gravity)[: len(self._joints)]
        client.setJointMotorControlArray(self.body, self._joints, p.TORQUE_CONTROL, forces=torque.tolist())

    def inverse_kinematics(self, position: np.ndarray) -> list[float]:
        """Arm joint angles (rad) that put the end effector at ``position`` (m), home orientation."""
        lower, upper, ranges = self._ik_limits
        angles = self.client.calculateInverseKinematics(
            self.body,
            self.spec.ee_link,
            np.asarray(position).tolist(),
            self._ee_orientation,
            lowerLimits=lower,
            upperLimits=upper,
            jointRanges=ranges,
            restPoses=list(self.spec.home),
            maxNumIterations=50,
            residualThreshold=1e-4,
        )
        return list(angles[: len(self._joints)])

    def ee_pose(self) -> tuple[np.ndarray, tuple[float, ...]]:
        """End-effector position (m, world) and orientation (xyzw quaternion)."""
        state = self.client.getLinkState(self.body, self.spec.ee_link, computeForwardKinematics=1)
        return np.asarray(state[4]), tuple(state[5])

    def wrist_view(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Eye, target and up vector (world, m) of a camera fixed to the hand, looking along the gripper."""
        position, orientation = self.ee_pose()
        rotation = np.asarray(self.client.getMatrixFromQuaternion(orientation)).reshape(3, 3)
        forward, side = rotation[:, 2], rotation[:, 0]
        back, beside = self.spec.wrist_camera
        eye = position - back * forward + beside * side
        return eye, position + 0.3 * forward, side

    def ee_velocity(self) -> np.ndarray:
        """End-effector linear velocity (m/s, world)."""
        state = self.client.getLinkState(
            self.body, self.spec.ee_link, computeLinkVelocity=1, computeForwardKinematics=1
        )
        return np.asarray(state[6])

    def joint_state(self) -> tuple[np.ndarray, np.ndarray]:
        """Arm joint angles (rad) and velocities (rad/s)."""
        states = self.client.getJointStates(self.body, self._joints)
        return np.array([s[0] for s in states]), np.array([s[1] for s in states])

    def mass_matrix(self) -> np.ndarray:
        """The arm joints' joint-space inertia matrix (kg m^2) at the current configuration."""
        positions = [state[0] for state in self.client.getJointStates(self.body, self._movable)]
        matrix = np.asarray(self.client.calculateMassMatrix(self.body, positions))
        arm = [self._movable.index(joint) for joint in self._joints]
        return matrix[np.ix_(arm, arm)]

    def gripper_width(self) -> float:
        """Distance between the fingers (m); 0 for an arm without a gripper."""
        if not self.has_gripper:
            return 0.0
        states = self.client.getJointStates(self.body, list(self.spec.fingers))
        return float(sum(s[0] for s in states))

    def _hold(self, angles: list[float]) -> None:
        self.client.setJointMotorControlArray(
            self.body, self._joints, p.POSITION_CONTROL, targetPositions=angles, forces=self._max_force.tolist()
        )

    def _grip(self, finger_position: float) -> None:
        if not self.has_gripper:
            return
        fingers = list(self.spec.fingers)
        self.client.setJointMotorControlArray(
            self.body,
            fingers,
            p.POSITION_CONTROL,
            targetPositions=[finger_position] * len(fingers),
            forces=[self.spec.finger_force] * len(fingers),
        )
