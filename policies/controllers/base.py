"""Scripted controllers: hand-written policies that prove a task is solvable and its success signal right.

A controller is made for one env (``make(env)``, with ``env.unwrapped`` a dr_sim task) and maps an
observation to an action. It may read the robot's kinematics from the env (a controller of a real
robot knows its own arm), and the object and goal positions from the observation.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np


class Controller(Protocol):
    """One episode's policy: ``reset()`` at the start of an episode, then ``act(observation)`` each step."""

    def reset(self) -> None: ...

    def act(self, observation: Any) -> np.ndarray: ...


def toward(current: np.ndarray, target: np.ndarray, step: float) -> np.ndarray:
    """A normalised end-effector action in [-1, 1] that moves ``current`` toward ``target`` (m),
    ``step`` metres per unit action."""
    return np.clip((np.asarray(target) - np.asarray(current)) / step, -1.0, 1.0)
