"""The modular sim-to-real pipeline (Tobin + Peng): a pose network looks, a state policy acts.

A state policy trained with dynamics randomization reads the object's true position from the simulator;
a real robot has only its camera. ``PerceivedObject`` closes that loop in simulation: at every reset and
step it hands the camera image (the task made with ``obs_type="state+rgb"``, randomized like any image
observation) to a pose network (``PoseEstimator``, trained by ``dr-sim train`` with ``kind: pose``) and
replaces every entry of the state observation that the object's true position fed with the estimate:

- the object's position (m, table plane) and the achieved goal's (x, y);
- the object's velocity (m/s), as the change of the estimate over one control period (0 at a reset,
  where the object rests);
- positions relative to the object, recomputed from the estimate.

The image leaves the observation afterwards, so the policy sees exactly the space it was trained on.
``info["perception_error"]`` holds the distance (m) between the estimate and the true position.

Which entries those are is a property of the task (``OBJECT_ENTRIES``); the pipeline supports the tasks
listed there and names them in its error for any other.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from dr_sim.env_ids import gym_id
from dr_sim.errors import ConfigError
from dr_sim.extras import require
from dr_sim.native_output import quiet_native_stdout
from dr_sim.policies.history import History

IMAGE_KEY = "rgb"


@dataclass(frozen=True)
class ObjectEntries:
    """Where a task's ``observation`` vector holds the object (index ranges ``(start, stop)``).

    ``position`` (m, x and y), ``velocity`` (m/s, x and y), and ``relative``: pairs ``(entry, origin)``
    where ``entry`` holds the object's position minus the position at ``origin`` (a robot's tip, m).
    """

    position: tuple[int, int]
    velocity: tuple[int, int] | None = None
    relative: tuple[tuple[tuple[int, int], tuple[int, int]], ...] = ()


#: The object's entries of each supported task's ``observation`` vector (see each task's docstring).
OBJECT_ENTRIES: dict[str, ObjectEntries] = {
    "dr_sim/PuckPush-v0": ObjectEntries(position=(4, 6), velocity=(6, 8), relative=(((8, 10), (0, 2)),)),
}


def object_entries(env_id: str) -> ObjectEntries:
    """The object's entries of ``env_id``'s observation; one ``ConfigError`` for an unsupported task."""
    name = env_id.rpartition(":")[2]
    if name not in OBJECT_ENTRIES:
        raise ConfigError(
            f"the modular pipeline does not know where {name!r} observes its object; supported: "
            f"{', '.join(OBJECT_ENTRIES)}"
        )
    return OBJECT_ENTRIES[name]


class PoseEstimator:
    """A trained pose network (a ``dr-sim train`` run folder of ``kind: pose``, or its ``model.pt``):
    one RGB image (uint8 HxWx3) in, the target's (x, y) on the table in metres out."""

    def __init__(self, run: str | Path, threads: int = 1) -> None:
        torch = require("torch", "the modular pipeline's pose estimator")
        from dr_sim.policies.pose_net import load_checkpoint  # needs torch (extra: train)

        torch.set_num_threads(threads)
        path = Path(run)
        self.net, self.scaler, self.config = load_checkpoint(path / "model.pt" if path.is_dir() else path)
        self.image_size = self.net.config.image_size

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        from dr_sim.policies.pose_net import images_to_tensor, predict_xy  # needs torch (extra: train)

        return predict_xy(self.net, self.scaler, images_to_tensor(np.asarray(rgb)[None]))[0]


class PerceivedObject(gym.Wrapper[Any, Any, Any, Any]):
    """Replace the object's true position in a Dict state observation by a pose network's estimate.

    Args:
        env: a task made with ``obs_type="state+rgb"`` and the estimator's image size.
        estimator: maps the camera image to the object's (x, y) in metres.
        entries: where the ``observation`` vector holds the object.
        control_dt: the env's control period (s), for the velocity estimate.
    """

    def __init__(self, env: gym.Env[Any, Any], estimator: Any, entries: ObjectEntries, control_dt: float) -> None:
        super().__init__(env)
        space = env.observation_space
        if not isinstance(space, spaces.Dict) or IMAGE_KEY not in space.spaces or "observation" not in space.spaces:
            raise ConfigError(
                "PerceivedObject needs a Dict observation with 'observation' and 'rgb' (make the task with "
                "obs_type='state+rgb')"
            )
        self.observation_space = spaces.Dict({key: sub for key, sub in space.spaces.items() if key != IMAGE_KEY})
        self.estimator, self.entries, self.control_dt = estimator, entries, control_dt
        self._last: np.ndarray | None = None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        observation, info = self.env.reset(seed=seed, options=options)
        self._last = None
        return self._perceive(observation, info)

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict[str, Any]]:
        observation, reward, terminated, truncated, info = self.env.step(action)
        observation, info = self._perceive(observation, info)
        return observation, reward, terminated, truncated, info

    def _perceive(self, observation: dict[str, Any], info: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        estimate = np.asarray(self.estimator(observation[IMAGE_KEY]), dtype=np.float64)
        true = np.asarray(observation["achieved_goal"][:2], dtype=np.float64)
        state = np.array(observation["observation"], copy=True)
        e = self.entries
        state[slice(*e.position)] = estimate
        if e.velocity is not None:
            moved = estimate - self._last if self._last is not None else np.zeros(2)
            state[slice(*e.velocity)] = moved / self.control_dt
        for entry, origin in e.relative:
            state[slice(*entry)] = estimate - state[slice(*origin)]
        achieved = np.array(observation["achieved_goal"], copy=True)
        achieved[:2] = estimate
        self._last = estimate
        perceived = {key: value for key, value in observation.items() if key != IMAGE_KEY}
        perceived["observation"] = state.astype(observation["observation"].dtype)
        perceived["achieved_goal"] = achieved.astype(observation["achieved_goal"].dtype)
        error = float(np.linalg.norm(estimate - true))
        info = {**info, "perceived_object": estimate.tolist(), "perception_error": error}
        return perceived, info


def make_modular_env(
    env_id: str,
    env_kwargs: dict[str, Any],
    randomization: dict[str, Any] | None,
    estimator: PoseEstimator,
    history: int = 0,
    max_episode_steps: int | None = None,
) -> gym.Env[Any, Any]:
    """The task under ``randomization`` observed through ``estimator`` (then the policy's ``History``)."""
    entries = object_entries(env_id)
    kwargs = dict(env_kwargs)
    if max_episode_steps is not None:
        kwargs["max_episode_steps"] = max_episode_steps
    with quiet_native_stdout():  # PyBullet prints on connect
        made = gym.make(
            gym_id(env_id),
            randomization=randomization,
            obs_type="state+rgb",
            image_size=estimator.image_size,
            **kwargs,
        )
    env: gym.Env[Any, Any] = PerceivedObject(made, estimator, entries, float(made.unwrapped.dt))
    if history:
        env = History(env, history)
    return env
