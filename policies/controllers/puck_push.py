"""Puck push: get behind the puck on the line from the goal through the puck, then push it to the goal.

Closed loop and without memory: every step the controller reads the tip, the puck and the goal from
the observation and picks a waypoint by where the tip is relative to the puck, in the frame of the
push direction (``along`` it, toward the goal, and ``lateral`` to it):

- behind the puck and on the line: push, the tip's target just inside the puck's far side;
- well behind: go to the approach point behind the puck;
- beside the puck: go back along its side, clear of it;
- in front of it or close beside it: step sideways, clear of the puck, keeping ``along``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dr_sim.envs.puck_push import CONTACT_DISTANCE, MAX_STEP
from dr_sim.policies.controllers.base import toward

APPROACH = 0.07  # m behind the puck's centre where the tip lines up
CLEARANCE = 0.075  # m from the puck's centre to the tip's path around it
ALIGNED = 0.02  # m of lateral error below which the tip pushes
PUSH_DEPTH = 0.03  # m, at most, that the push target lies inside the contact point


class PuckPushController:
    """Scripted pushing for ``dr_sim/PuckPush``."""

    def __init__(self, env: Any) -> None:
        self.env = env.unwrapped

    def reset(self) -> None:
        """Nothing to forget: the controller decides from each observation alone."""

    def act(self, observation: dict[str, np.ndarray]) -> np.ndarray:
        state = np.asarray(observation["observation"], dtype=np.float64)
        tip, puck = state[0:2], state[4:6]
        to_goal = np.asarray(observation["desired_goal"], dtype=np.float64)[:2] - puck
        distance = float(np.linalg.norm(to_goal))
        direction = to_goal / max(distance, 1e-9)
        normal = np.array([-direction[1], direction[0]])
        along, lateral = float((tip - puck) @ direction), float((tip - puck) @ normal)
        side = normal if lateral >= 0.0 else -normal
        if along < -CONTACT_DISTANCE / 2 and abs(lateral) < ALIGNED:
            target = puck - direction * (CONTACT_DISTANCE - min(distance, PUSH_DEPTH))
        elif along < -APPROACH + 0.01:
            target = puck - direction * APPROACH
        elif abs(lateral) > CLEARANCE - 0.01:
            target = puck + side * CLEARANCE - direction * APPROACH
        else:
            target = puck + side * CLEARANCE + direction * along
        return toward(tip, target, MAX_STEP)
