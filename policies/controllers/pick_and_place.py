"""Pick and place: grasp the cube from above, carry it to the goal, hold it there.

Closed loop on the observation: the end effector moves above the cube with the gripper open, descends
around it, and closes; once the fingers stop closing on the cube (the gripper width stops shrinking at
about the cube's size) it carries the cube to the goal, over the table first when the goal is far. If
the fingers close on nothing or the cube slips out, it opens and tries again. ``ee`` control only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dr_sim.envs.robots import EE_STEP
from dr_sim.errors import ConfigError
from dr_sim.policies.controllers.base import toward

OPEN, CLOSE = 1.0, -1.0
HOVER = np.array([0.0, 0.0, 0.08])  # m, the approach point above the cube
ALIGNED = 0.01  # m, the horizontal error above the cube at which the gripper descends
ASIDE = 0.02  # m, the horizontal error at which a low gripper rises to realign (the fingers open 0.08 m)
AT_GRASP = 0.01  # m, the height error at which the gripper closes
DESCENT = 0.5  # the largest action while descending, so as not to overshoot into the table
SETTLED = 2e-4  # m, a change of gripper width per step below which the fingers have stopped
HELD_WIDTH = 0.02  # m, the least gripper width of fingers that hold the cube (it is 0.04 m wide)
OPENED_WIDTH = 0.07  # m, the width at which the gripper counts as open again
SLIPPED = 0.03  # m, the cube's distance from the end effector at which a grasp counts as lost
CARRY_HEIGHT = 0.1  # m, the lowest height of the cube while it travels to a distant goal
OVER_GOAL = 0.02  # m, the horizontal error at which the cube descends to the goal
CARRY = 0.5  # the largest action while carrying the cube, to keep it in the fingers


class PickAndPlaceController:
    """Scripted pick and place for ``dr_sim/PandaPickAndPlace`` (``ee`` control)."""

    def __init__(self, env: Any) -> None:
        self.env = env.unwrapped
        if self.env.arm.control != "ee":
            raise ConfigError(f"the pick-and-place controller drives ee control only, got {self.env.arm.control!r}")
        self.reset()

    def reset(self) -> None:
        self._holding = False
        self._reopening = False
        self._width: float | None = None  # m, the gripper width at the previous step

    def act(self, observation: dict[str, np.ndarray]) -> np.ndarray:
        state = np.asarray(observation["observation"], dtype=np.float64)
        ee, width, cube = state[0:3], float(state[6]), state[7:10]
        goal = np.asarray(observation["desired_goal"], dtype=np.float64)
        settled = self._width is not None and self._width - width < SETTLED
        self._width = width
        if self._holding and np.linalg.norm(cube - ee) > SLIPPED:
            self._holding, self._reopening = False, True
        if self._reopening:  # rise and open after a failed grasp
            self._reopening = width < OPENED_WIDTH
            return np.append(toward(ee, cube + HOVER, EE_STEP), OPEN)
        if self._holding:
            return np.append(CARRY * toward(cube, self._carry_target(cube, goal), EE_STEP), CLOSE)
        aside = np.linalg.norm(ee[:2] - cube[:2])
        if aside > (ALIGNED if ee[2] > cube[2] + HOVER[2] / 2 else ASIDE):
            return np.append(toward(ee, cube + HOVER, EE_STEP), OPEN)
        if abs(ee[2] - cube[2]) > AT_GRASP:
            return np.append(DESCENT * toward(ee, cube, EE_STEP), OPEN)
        if settled and width < OPENED_WIDTH:  # the fingers have closed as far as they go
            self._holding = width > HELD_WIDTH
            self._reopening = not self._holding
        return np.append(toward(ee, cube, EE_STEP), CLOSE)

    @staticmethod
    def _carry_target(cube: np.ndarray, goal: np.ndarray) -> np.ndarray:
        """The cube's next waypoint (m): the goal, reached from ``CARRY_HEIGHT`` when it is far."""
        if np.linalg.norm(goal[:2] - cube[:2]) > OVER_GOAL:
            return np.array([goal[0], goal[1], max(goal[2], CARRY_HEIGHT)])
        return goal
