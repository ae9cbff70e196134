"""``DomainRandomization``: a Gymnasium wrapper that randomizes any env running on PyBullet.

Seeding: ``reset(seed=s)`` seeds the wrapper's own generator (a stream separate from the env's, so
randomization never shifts the env's own draws). Each episode draws one ``episode_seed``; from it two
independent streams are spawned, one for the episode's parameters and one for per-step draws
(action noise, observation noise, image noise, per-step scopes), so per-step draws never shift the
next episode. ``info["randomization"]`` holds the episode's parameters and its ``step_seed``;
``reset(options={"randomization": that_dict})`` replays them exactly.
"""

from __future__ import annotations

import copy
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from dr_sim.config import ConfigSource, load_config
from dr_sim.config.schema import CameraSpec
from dr_sim.engine import EpisodeParams, RandomizationEngine, merge_step
from dr_sim.errors import ConfigError, SceneError
from dr_sim.randomizers.textures import TexturePool
from dr_sim.scene.camera import Camera, CameraState, Frame
from dr_sim.scene.motors import MotorHook
from dr_sim.scene.scene import Scene

OBS_TYPES = (None, "state", "rgb", "rgbd", "state+rgb", "state+rgbd")
_CLIENT_ATTRIBUTES = (
    "physics_client",
    "bullet_client",
    "pybullet_client",
    "_p",
    "client",
    "_client",
    "client_id",
)
_SEED_DOMAIN = 0xD15A  # spawn key that separates the wrapper's stream from the env's own


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
        if obs_type not in OBS_TYPES:
            raise ConfigError(f"obs_type must be one of {OBS_TYPES}, got {obs_type!r}")
        if not isinstance(image_size, int) or image_size <= 0:
            raise ConfigError(f"image_size must be a positive number of pixels, got {image_size!r}")
        bullet, found_id, found_names = find_pybullet(env.unwrapped)
        self.client_id = found_id if client_id is None else client_id
        if self.client_id is None:
            raise SceneError(
                f"could not find the PyBullet client of {env.unwrapped!r} (looked for "
                f"{', '.join(_CLIENT_ATTRIBUTES)}); pass client_id="
            )
        config = load_config(randomization)
        scales_motors = config.actuation is not None and (
            config.actuation.gain_scale is not None or config.actuation.force_scale is not None
        )
        # The hook costs a Python call per motor command: install it only where a config scales motors.
        self.motors = MotorHook(bullet) if bullet is not None and scales_motors else None
        self.engine = RandomizationEngine(
            config,
            observation_space=env.observation_space,
            action_space=env.action_space,
            control_dt=_control_dt(env.unwrapped),
            motors=self.motors,
        )
        self.obs_type = obs_type if obs_type != "state" else None
        self.scene = Scene(self.client_id, body_names if body_names is not None else found_names)
        nominal_camera = camera if camera is not None else (self.engine.config.camera or None)
        self.camera = self._make_camera(nominal_camera, image_size)
        self.scene.cameras["main"] = self.camera
        if self.obs_type is not None:
            self.observation_space = self._camera_space(env.observation_space, image_size)
        self._seed_stream: np.random.Generator | None = None
        self._params: EpisodeParams = {}
        self._step_params: EpisodeParams = {}
        self._step_rng = np.random.default_rng(0)
        self._step_count = 0
        self._channel: Any = None
        self.last_frame: Frame | None = None

    # -- construction helpers -----------------------------------------------------------------
    def _make_camera(self, spec: Any, size: int) -> Camera:
        if isinstance(spec, dict):
            spec = CameraSpec.model_validate(spec)
        elif hasattr(spec, "nominal"):
            spec = spec.nominal
        spec = spec or CameraSpec(eye=[0.9, 0.6, 0.7], target=[0.0, 0.0, 0.0])
        state = CameraState(
            np.array(spec.eye, float),
            np.array(spec.target, float),
            np.array(spec.up, float),
            spec.fov,
            spec.near,
            spec.far,
        )
        return Camera(self.client_id, size, size, state)

    def _camera_space(self, state_space: spaces.Space[Any], size: int) -> spaces.Space[Any]:
        rgb = spaces.Box(0, 255, (size, size, 3), np.uint8)
        depth = spaces.Box(0.0, np.inf, (size, size, 1), np.float32)
        images = {"rgb": rgb} if self.obs_type in ("rgb", "state+rgb") else {"rgb": rgb, "depth": depth}
        if self.obs_type == "rgb":
            return rgb
        if self.obs_type == "rgbd":
            return spaces.Dict(images)
        state = dict(state_space.spaces) if isinstance(state_space, spaces.Dict) else {"state": state_space}
        return spaces.Dict({**state, **images})

    # -- Gymnasium API ------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        options = dict(options or {})
        replay = options.pop("randomization", None)
        obs, info = self.env.reset(seed=seed, options=options or None)
        if seed is not None or self._seed_stream is None:
            entropy = seed if seed is not None else np.random.SeedSequence().entropy
            self._seed_stream = np.random.Generator(
                np.random.PCG64(np.random.SeedSequence(entropy, spawn_key=(_SEED_DOMAIN,)))
            )
        self.engine.ensure_bound(self.scene)
        # Drawn even when replaying, so the episodes after a replay continue the seeded sequence.
        episode_seed = int(self._seed_stream.integers(2**63))
        if replay is not None:
            params = copy.deepcopy(replay)
        else:
            episode_stream, step_stream = np.random.SeedSequence(episode_seed).spawn(2)
            params = self.engine.sample_episode(np.random.default_rng(episode_stream))
            params["step_seed"] = int(np.random.default_rng(step_stream).integers(2**63))
        self._start_episode(params)
        info = dict(info)
        info["randomization"] = copy.deepcopy(params)
        return self._observe(obs), info

    def _start_episode(self, params: EpisodeParams) -> None:
        if "step_seed" not in params:
            raise ConfigError("options['randomization'] must be an info['randomization'] dict (it has no 'step_seed')")
        self.camera.reset()
        self.engine.apply(self.scene, params)
        self._params = params
        self._step_params = params
        self._step_rng = np.random.default_rng(params["step_seed"])
        self._step_count = 0
        self._channel = self.engine.action_channel(params)

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        self._step_count += 1
        if self.engine.has_step_terms:
            drawn = self.engine.sample_step(self._step_rng, self._step_count)
            if drawn:
                self.engine.apply(self.scene, drawn)
                self._step_params = merge_step(self._step_params, drawn)
        if self._channel is not None:
            action = self._channel.transmit(action, self._step_rng)
        obs, reward, terminated, truncated, info = self.env.step(action)
        return self._observe(obs), reward, terminated, truncated, info

    def render(self) -> Any:
        """The randomized camera image when this wrapper observes images, else the env's render."""
        if self.obs_type is None:
            return self.env.render()
        return self.render_frame().rgb

    def render_frame(self, *, depth: bool = True, segmentation: bool = True) -> Frame:
        """Render the randomized camera: RGB with image corruption, exact depth and segmentation."""
        frame = self.camera.render(self.scene.light, depth=depth, segmentation=segmentation)
        rgb = self.engine.corrupt_image(frame.rgb, self._step_params, self._step_rng)
        self.last_frame = Frame(rgb, frame.depth, frame.body, frame.link)
        return self.last_frame

    def close(self) -> None:
        if self.motors is not None:
            self.motors.remove()
        TexturePool.forget(self.client_id)  # a later connection may get the same client id
        super().close()

    # -- observations -------------------------------------------------------------------------
    def _observe(self, obs: Any) -> Any:
        obs = self.engine.corrupt_observation(obs, self._step_params, self._step_rng)
        if self.obs_type is None:
            return obs
        with_depth = self.obs_type in ("rgbd", "state+rgbd")
        frame = self.render_frame(depth=with_depth, segmentation=False)
        images: dict[str, np.ndarray] = {"rgb": frame.rgb}
        if with_depth and frame.depth is not None:
            images["depth"] = frame.depth[..., None]
        if self.obs_type == "rgb":
            return frame.rgb
        if self.obs_type == "rgbd":
            return images
        state = dict(obs) if isinstance(obs, dict) else {"state": obs}
        return {**state, **images}

    @property
    def randomization(self) -> EpisodeParams:
        """This episode's parameters, with any per-step re-draws laid over them."""
        return copy.deepcopy(self._step_params)


def find_pybullet(env: Any) -> tuple[Any, int | None, dict[str, int] | None]:
    """Find (BulletClient or None, client id, body names) on an env or its ``sim`` attribute."""
    for holder in (env, getattr(env, "sim", None)):
        if holder is None:
            continue
        names = getattr(holder, "_bodies_idx", None) or getattr(holder, "sim_bodies", None)
        for attribute in _CLIENT_ATTRIBUTES:
            value = getattr(holder, attribute, None)
            if isinstance(value, int) and not isinstance(value, bool):
                return None, value, names
            client_id = getattr(value, "_client", None)
            if isinstance(client_id, int):
                return value, client_id, names
    return None, None, None


def _control_dt(env: Any) -> float | None:
    for holder in (env, getattr(env, "sim", None)):
        dt = getattr(holder, "dt", None)
        if isinstance(dt, int | float) and dt > 0:
            return float(dt)
    return None
