"""``DomainRandomization``: a Gymnasium wrapper that randomizes any env running on PyBullet.

The wrapper finds the env's PyBullet client and body names and hands the work to a
``RandomizationSession`` (``dr_sim.session``), the same one dr_sim's tasks use. ``info["randomization"]``
holds the episode's parameters and its ``step_seed``; ``reset(options={"randomization": that_dict})``
replays them exactly. ``reset(seed=s)`` seeds randomization on a stream separate from the env's own.
"""

from __future__ import annotations

from typing import Any, SupportsFloat

import gymnasium as gym

from dr_sim.config import ConfigSource, load_config
from dr_sim.config.schema import CameraSpec
from dr_sim.engine import EpisodeParams, RandomizationEngine
from dr_sim.errors import SceneError
from dr_sim.scene.camera import Camera, Frame
from dr_sim.scene.discovery import CLIENT_ATTRIBUTES, LAYER_ATTRIBUTES, control_period, find_pybullet
from dr_sim.scene.motors import MotorHook
from dr_sim.scene.scene import Scene
from dr_sim.session import EpisodeSeeds, RandomizationSession, observed_space

__all__ = ["DomainRandomization"]


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
        client_id: the PyBullet client, when it cannot be found on the env (it is looked for on the env,
            its wrappers and compatibility layers at construction, and again after the first reset for
            envs that make their client there).
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
        self._settings = {
            "randomization": load_config(randomization),  # a bad config fails here, not at the first reset
            "obs_type": obs_type,
            "image_size": image_size,
            "camera": camera,
            "client_id": client_id,
            "body_names": body_names,
        }
        self._session: RandomizationSession | None = None
        self._seeds = EpisodeSeeds()  # drawn before the env's reset: it receives the episode's env seed
        self.observation_space = observed_space(env.observation_space, obs_type, image_size)
        if client_id is not None or find_pybullet(env) is not None:
            self._bind()  # else the env makes its client in its first reset(): bound right after it

    def _bind(self) -> RandomizationSession:
        """Find the env's client and start the session (see ``dr_sim.scene.discovery``)."""
        settings = self._settings
        found, client_id = find_pybullet(self.env), settings["client_id"]
        bullet = found.bullet if found is not None else None
        if client_id is not None and found is not None and client_id != found.client_id:
            bullet = None  # a BulletClient of another client cannot carry this client's motor hook
        client_id = client_id if client_id is not None else (found.client_id if found is not None else None)
        if client_id is None:
            raise SceneError(
                f"could not find the PyBullet client of {self.env.unwrapped!r}, neither at construction nor "
                f"after its first reset (looked through its wrappers and {', '.join(LAYER_ATTRIBUTES)} for "
                f"{', '.join(CLIENT_ATTRIBUTES)}, then any attribute holding a BulletClient or a connected "
                "client id under a name with 'client' or 'cid' in it); pass client_id="
            )
        names = settings["body_names"] if settings["body_names"] is not None else (found and found.body_names)
        self._session = RandomizationSession(
            settings["randomization"],
            client_id=client_id,
            bullet=bullet,
            body_names=names or None,
            observation_space=self.env.observation_space,
            action_space=self.env.action_space,
            control_dt=control_period(self.env),
            obs_type=settings["obs_type"],
            image_size=settings["image_size"],
            camera=settings["camera"],
            seeds=self._seeds,
        )
        return self._session

    @property
    def session(self) -> RandomizationSession:
        """The randomization of the env's client; an env that makes its client in its first ``reset()``
        has it from then on."""
        if self._session is None:
            raise SceneError(
                f"{self.env.unwrapped!r} has no PyBullet client yet: it makes one in its first reset(), and "
                "the wrapper binds to it then; call reset() first"
            )
        return self._session

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
        if isinstance(replay, dict) and "wrapped" in replay:  # a wrapper below records its own episode
            options["randomization"] = replay["wrapped"]
        if self._session is not None:
            self._session.before_env_reset()
        env_seed = self._seeds.begin(seed, replay)
        obs, info = self.env.reset(seed=env_seed, options=options or None)
        session = self._session or self._bind()
        params = session.reset(seed, replay)
        if "randomization" in info:  # wrapped again: the inner wrapper's record goes with this one
            params["wrapped"] = info["randomization"]
        return session.observe(obs), {**info, "randomization": params}

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
        if self._session is not None:
            self._session.close()
        super().close()
