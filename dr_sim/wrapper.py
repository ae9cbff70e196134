"""``DomainRandomization``: a Gymnasium wrapper that randomizes any env running on PyBullet.

The wrapper finds the env's PyBullet client and body names and hands the work to a
``RandomizationSession`` (``dr_sim.session``), the same one dr_sim's tasks use. ``info["randomization"]``
holds the episode's parameters and its ``step_seed``; ``reset(options={"randomization": that_dict})``
replays them exactly. ``reset(seed=s)`` seeds randomization on a stream separate from the env's own.
"""

from __future__ import annotations

from typing import Any, SupportsFloat

import gymnasium as gym
import pybullet as p

from dr_sim.config import ConfigSource
from dr_sim.config.schema import CameraSpec
from dr_sim.engine import EpisodeParams, RandomizationEngine
from dr_sim.errors import SceneError
from dr_sim.scene.camera import Camera, Frame
from dr_sim.scene.motors import MotorHook
from dr_sim.scene.scene import Scene
from dr_sim.session import RandomizationSession

__all__ = ["DomainRandomization", "find_pybullet"]

_CLIENT_ATTRIBUTES = (
    "physics_client",
    "bullet_client",
    "pybullet_client",
    "_p",
    "client",
    "_client",
    "client_id",
)


class DomainRandomization(gym.Wrapper[Any, Any, Any, Any], gym.utils.RecordConstructorArgs):
    """Re-sample physics, actuation, sensing, camera, lighting, appearance, distractors and image
    noise of a PyBullet-based env on every reset (and per step where a parameter asks for it).

    Args:
        env: a Gymnasium env that simulates with PyBullet (dr_sim's, panda-gym's or your own).
        randomization: a preset name (``none``, ``physics``, ``visual``, ``full``), a YAML path, a
            dict or a ``DRConfig``.
        obs_type: ``None``/``"state"`` keeps the env's observation; ``"rgb"`` replaces it with the
            randomized camera image (uint8 HxWx3); ``"rgbd"`` gives ``{"rgb", "depth"}`` (depth in
            metres); ``"state+rgb"``/``"state+rgbd"`` add the image to the state (a Dict).
        image_size: camera image width and height in pixels.
        camera: the nominal camera (``CameraSpec`` or dict); default: the config's ``camera.nominal``.
        client_id: the PyBullet client, when it cannot be found on the env.
        body_names: body name -> id, when the env keeps none (panda-gym's ``sim._bodies_idx`` is found).
    """

    def __init__(
        self,
        env: gym.Env[Any, Any],
        randomization: ConfigSource = "full",
        *,
        obs_type: str | None = None,
        image_size: int = 84,
        camera: CameraSpec | dict[str, Any] | None = None,
        client_id: int | None = None,
        body_names: dict[str, int] | None = None,
    ) -> None:
        gym.utils.RecordConstructorArgs.__init__(
            self,
            randomization=randomization,
            obs_type=obs_type,
            image_size=image_size,
            camera=camera,
            client_id=client_id,
            body_names=body_names,
        )
        gym.Wrapper.__init__(self, env)
        bullet, found_id, found_names = find_pybullet(env.unwrapped)
        if client_id is not None and client_id != found_id:
            bullet = None  # a BulletClient of another client cannot carry this client's motor hook
        client_id = found_id if client_id is None else client_id
        if client_id is None:
            raise SceneError(
                f"could not find the PyBullet client of {env.unwrapped!r} (looked for "
                f"{', '.join(_CLIENT_ATTRIBUTES)}, then any attribute holding a BulletClient or a connected "
                "client id under a name with 'client' or 'cid' in it); pass client_id="
            )
        self.session = RandomizationSession(
            randomization,
            client_id=client_id,
            bullet=bullet,
            body_names=body_names if body_names is not None else found_names,
            observation_space=env.observation_space,
            action_space=env.action_space,
            control_dt=_control_dt(env.unwrapped),
            obs_type=obs_type,
            image_size=image_size,
            camera=camera,
        )
        self.observation_space = self.session.observation_space

    # -- what the session holds, for users and tests ----------------------------------------
    @property
    def client_id(self) -> int:
        return self.session.client_id

    @property
    def engine(self) -> RandomizationEngine:
        return self.session.engine

    @property
    def scene(self) -> Scene:
        return self.session.scene

    @property
    def camera(self) -> Camera:
        return self.session.camera

    @property
    def motors(self) -> MotorHook | None:
        return self.session.motors

    @property
    def obs_type(self) -> str | None:
        return self.session.obs_type

    @property
    def last_frame(self) -> Frame | None:
        return self.session.last_frame

    @property
    def randomization(self) -> EpisodeParams:
        """This episode's parameters, with any per-step re-draws laid over them."""
        return self.session.params

    # -- Gymnasium API ------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        options = dict(options or {})
        replay = options.pop("randomization", None)
        obs, info = self.env.reset(seed=seed, options=options or None)
        info = {**info, "randomization": self.session.reset(seed, replay)}
        return self.session.observe(obs), info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(self.session.transmit(action))
        return self.session.observe(obs), reward, terminated, truncated, info

    def render(self) -> Any:
        """The randomized camera image when this wrapper observes images, else the env's render."""
        if self.obs_type is None:
            return self.env.render()
        return self.render_frame().rgb

    def render_frame(self, *, depth: bool = True, segmentation: bool = True) -> Frame:
        """Render the randomized camera: RGB with image corruption, exact depth and segmentation."""
        return self.session.render_frame(depth=depth, segmentation=segmentation)

    def close(self) -> None:
        self.session.close()
        super().close()


def find_pybullet(env: Any) -> tuple[Any, int | None, dict[str, int] | None]:
    """Find (BulletClient or None, client id, body names) on an env or its ``sim`` attribute: the
    attributes in ``_CLIENT_ATTRIBUTES`` first, then any other attribute that holds a ``BulletClient``,
    or a connected client id under a name that says so (``CLIENT``, ``_pybullet_client_id``, ``cid``)."""
    for holder in (env, getattr(env, "sim", None)):
        if holder is None:
            continue
        names = getattr(holder, "_bodies_idx", None) or getattr(holder, "sim_bodies", None)
        others = [name for name in _attributes(holder) if name not in _CLIENT_ATTRIBUTES]
        for attribute in (*_CLIENT_ATTRIBUTES, *others):
            value = getattr(holder, attribute, None)
            client_id = getattr(value, "_client", None)
            if _is_id(client_id):
                return value, client_id, names
            known = attribute in _CLIENT_ATTRIBUTES
            if _is_id(value) and (known or (_names_a_client(attribute) and p.isConnected(value))):
                return None, value, names
    return None, None, None


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _attributes(holder: Any) -> list[str]:
    """The instance attributes of ``holder`` (none for objects without a ``__dict__``)."""
    return list(getattr(holder, "__dict__", {}))


def _names_a_client(attribute: str) -> bool:
    """Whether an attribute's name says it holds a PyBullet client id."""
    name = attribute.lower().strip("_")
    return "client" in name or name in ("cid", "physics_id", "pb_id")


def _control_dt(env: Any) -> float | None:
    for holder in (env, getattr(env, "sim", None)):
        dt = getattr(holder, "dt", None)
        if isinstance(dt, int | float) and dt > 0:
            return float(dt)
    return None
