"""Goal tasks driven by an arm: the arm, the goal marker and the gripper policy in one place.

``ArmGoalEnv`` builds ``arm_spec`` at ``ARM_BASE`` in the ``control`` mode, then the task's objects
(``build_objects``), then a goal marker; it turns actions into motor commands, and keeps the fingers
``open`` or ``closed`` when the task does not hand the gripper to the agent (``gripper = "action"``).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces
from pybullet_utils.bullet_client import BulletClient

from dr_sim.envs.base import GoalEnv
from dr_sim.envs.objects import add_goal_marker
from dr_sim.envs.robots import ARM_BASE, PANDA, Arm, ArmSpec

GRIPPER_POLICIES = {"open": 1.0, "closed": -1.0, "action": None}  # the finger command each policy holds


class ArmGoalEnv(GoalEnv):
    """A goal-conditioned task with an arm (``control``: ``ee``, ``joint_velocity`` or ``joint_torque``)."""

    arm_spec: ClassVar[ArmSpec] = PANDA
    gripper: ClassVar[str] = "action"  # "open" or "closed": held, and the action drives the arm only

    def __init__(self, control: str = "ee", **kwargs: Any) -> None:
        self.control = control
        super().__init__(control=control, **kwargs)

    def build(self, client: BulletClient) -> None:
        self.arm = Arm(client, self.arm_spec, self.control, ARM_BASE, self.render_detail)
        self.sim_bodies[self.arm_spec.name] = self.arm.body
        self.build_objects(client)
        self.sim_bodies["goal"] = add_goal_marker(client)

    def build_objects(self, client: BulletClient) -> None:
        """Load the task's objects into ``self.sim_bodies`` (none by default)."""

    @property
    def _held_finger_command(self) -> float | None:
        return GRIPPER_POLICIES[self.gripper] if self.arm is not None and self.arm.has_gripper else None

    def make_action_space(self) -> spaces.Box:
        assert self.arm is not None
        size = self.arm.action_size - int(self._held_finger_command is not None)
        return spaces.Box(-1.0, 1.0, (size,), np.float32)

    def act(self, action: np.ndarray) -> None:
        assert self.arm is not None
        held = self._held_finger_command
        self.arm.act(action if held is None else np.append(action, held))

    def before_substep(self) -> None:
        assert self.arm is not None
        self.arm.before_substep()
