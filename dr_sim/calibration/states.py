"""Setting an env's simulated state from one recorded observation: what short-horizon replays start from.

A short-horizon replay (``dr_sim.calibration.simulator``, DROPO's way) resets the simulator to a recorded
state and simulates a few steps of the recorded actions. The state comes from the recorded
*observation* alone, never from a simulator snapshot, so that a real robot's trajectories (which carry
observations only) calibrate the same way as simulated ones. That needs an observation that carries the
dynamic state that matters, and a task-specific function that writes it into PyBullet: a ``StateSetter``,
``setter(env, observation)`` with ``env`` the unwrapped task and ``observation`` the env's own observation
(as recorded: an array, or a dict of arrays for a Dict space). A setter overwrites what the observation
holds and keeps what it does not as the simulator has it: the replay tracks the recording step by step
(``dr_sim.calibration.simulator``), so the unobserved rest (PuckPush: the puck's tilt and spin) is the
simulator's own prediction from the recorded past, as an observer would estimate it.

dr_sim ships one for ``dr_sim/PuckPush-v0``, whose observation holds the tip's position and velocity and the
puck's planar position and velocity (``puck_push_state``). A task whose observation does not (an arm
task observes the end effector, not every joint) has none: calibrate replays whole episodes there. A user
registers a setter for their own env with ``register_state_setter(env_id, setter)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from dr_sim.envs.puck_push import JOINTS
from dr_sim.errors import ConfigError

StateSetter = Callable[[Any, Any], None]

_SETTERS: dict[str, StateSetter] = {}


def _bare(env_id: str) -> str:
    """``dr_sim/PuckPush-v0`` from ``module:dr_sim/PuckPush-v0``."""
    return env_id.rpartition(":")[2]


def register_state_setter(env_id: str, setter: StateSetter) -> None:
    """Make ``setter`` the state setter of ``env_id`` (a Gymnasium id, with or without ``module:``)."""
    _SETTERS[_bare(env_id)] = setter


def state_setter(env_id: str) -> StateSetter:
    """The state setter of ``env_id``; one ``ConfigError`` when it has none."""
    setter = _SETTERS.get(_bare(env_id))
    if setter is None:
        known = ", ".join(sorted(_SETTERS)) or "none"
        raise ConfigError(
            f"{env_id}: short-horizon replays set the simulator to each recorded observation, and this env has no "
            f"state setter (envs with one: {known}); replay whole episodes (no --horizon), or register one with "
            "dr_sim.calibration.states.register_state_setter"
        )
    return setter


def has_state_setter(env_id: str) -> bool:
    """Whether ``env_id`` has a state setter."""
    return _bare(env_id) in _SETTERS


def puck_push_state(env: Any, observation: Any) -> None:
    """PuckPush: the tip's position (m) and velocity (m/s) into the two prismatic joints; the puck's centre
    (``achieved_goal``, m) and planar velocity (m/s); the goal (m) from ``desired_goal``. What the
    observation does not hold (the puck's tilt, spin and vertical velocity) is kept as the simulator has it.
    """
    state = np.asarray(observation["observation"], dtype=np.float64)
    tip, tip_velocity, puck_velocity = state[0:2], state[2:4], state[6:8]
    centre = np.asarray(observation["achieved_goal"], dtype=np.float64)
    client, bodies = env.physics_client, env.sim_bodies
    for joint, position, velocity in zip(JOINTS, tip, tip_velocity, strict=True):
        client.resetJointState(bodies["pusher"], joint, float(position), float(velocity))
    puck = bodies["object"]
    _, orientation = client.getBasePositionAndOrientation(puck)
    linear, angular = client.getBaseVelocity(puck)
    client.resetBasePositionAndOrientation(puck, centre.tolist(), orientation)
    client.resetBaseVelocity(puck, [*map(float, puck_velocity), linear[2]], angular)
    env.place_goal(np.asarray(observation["desired_goal"], dtype=np.float64))


register_state_setter("dr_sim/PuckPush-v0", puck_push_state)
