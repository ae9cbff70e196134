"""One PyBullet scene randomized episode by episode: what the wrapper and dr_sim's tasks share.

A ``RandomizationSession`` owns the engine, the scene handle, the camera and the seed streams.
``reset(seed, replay)`` draws (or replays) an episode's parameters and writes them into PyBullet;
``transmit(action)`` re-draws per-step parameters and passes the action through the actuation channel
(latency, noise); ``observe(obs)`` corrupts the state and adds camera images as ``obs_type`` asks.

Seeding: ``reset(seed=s)`` seeds the session's own generator (a stream separate from the env's, so
randomization never shifts the env's own draws). Each episode draws one ``episode_seed``; from it two
independent streams are spawned, one for the episode's parameters and one for per-step draws
(action noise, observation noise, image noise, per-step scopes), so per-step draws never shift the
next episode. The parameters carry their ``step_seed``, so that replaying them replays every draw.
"""

from __future__ import annotations

import copy
import weakref
from typing import Any

import numpy as np
from gymnasium import spaces

from dr_sim.config import ConfigSource, DRConfig, load_config
from dr_sim.config.schema import CameraSpec
from dr_sim.engine import EpisodeParams, RandomizationEngine, merge_step
from dr_sim.errors import ConfigError
from dr_sim.randomizers.textures import TexturePool
from dr_sim.scene.camera import Camera, CameraState, Frame
from dr_sim.scene.motors import MotorHook
from dr_sim.scene.scene import Scene
from dr_sim.user_warnings import warn

OBS_TYPES = (None, "state", "rgb", "rgbd", "state+rgb", "state+rgbd")
ENV_CHANGE_CHECKS = 3  # resets after binding on which the env's own changes to dynamics are looked for
DEFAULT_CAMERA = CameraSpec(eye=[0.9, 0.6, 0.7], target=[0.0, 0.0, 0.0])
_SEED_DOMAIN = 0xD15A  # spawn key that separates the randomization stream from the env's own


class EpisodeSeeds:
    """The randomization's own seed stream, separate from the env's.

    ``begin(seed, replay)`` starts an episode: it re-seeds the stream when ``seed`` is given (or on first
    use) and draws the episode's seed (even when replaying, so that the episodes after a replay continue
    the seeded sequence), from which the episode's parameters and per-step draws come. It also gives the
    **env seed** that the env's own ``reset(seed=...)`` receives, recorded with the episode: ``seed``
    itself when one is given (the env's goals are what they would be unwrapped), else a seed from the
    episode's own stream (an auto-reset episode of a vector env), else a replayed record's. So the task's
    start state (goal, object and arm poses) replays from the record alone. ``take()`` hands the pending
    (episode seed, env seed) to the session.
    """

    def __init__(self) -> None:
        self._stream: np.random.Generator | None = None
        self._pending: tuple[int, int | None] | None = None

    @property
    def pending(self) -> bool:
        return self._pending is not None

    def begin(self, seed: int | None = None, replay: EpisodeParams | None = None) -> int | None:
        """Draw the next episode's seed; returns the env seed (the replay's own when it has one)."""
        if seed is not None or self._stream is None:
            entropy = seed if seed is not None else np.random.SeedSequence().entropy
            self._stream = np.random.Generator(
                np.random.PCG64(np.random.SeedSequence(entropy, spawn_key=(_SEED_DOMAIN,)))
            )
        episode_seed = int(self._stream.integers(2**63))
        if replay is not None:
            env_seed = replay.get("env_seed") if isinstance(replay, dict) else None
        elif seed is not None:
            env_seed = seed
        else:
            # The third child of the episode's seed: the first two (parameters, steps) are as they always were.
            env_stream = np.random.SeedSequence(episode_seed).spawn(3)[2]
            env_seed = int(np.random.default_rng(env_stream).integers(2**31))  # old Gym envs take < 2**32
        self._pending = (episode_seed, env_seed)
        return env_seed

    def take(self) -> tuple[int, int | None]:
        """The pending episode's (episode seed, env seed), once."""
        if self._pending is None:
            raise RuntimeError("begin() an episode before taking its seeds")
        pending, self._pending = self._pending, None
        return pending


class RandomizationSession:
    """The randomization of one PyBullet client.

    Args:
        randomization: a preset name, a YAML path, a dict or a ``DRConfig``.
        client_id: the PyBullet client.
        bullet: the env's ``BulletClient``, or ``None`` when the env calls the pybullet module (motor scales
            hook the client or the module, see ``dr_sim.scene.motors``).
        body_names: body name -> id; a live mapping is read again whenever bodies change.
        observation_space, action_space: the env's own spaces.
        control_dt: the env's control period in seconds (Peng's latency model needs it).
        obs_type: ``None``/``"state"`` keeps the state; ``"rgb"`` replaces it with the camera image
            (uint8 HxWx3); ``"rgbd"`` gives ``{"rgb", "depth"}`` (depth in metres, HxWx1);
            ``"state+rgb"``/``"state+rgbd"`` add the images to the state (a Dict).
        image_size: camera image width and height in pixels.
        camera: the nominal camera; ``None`` takes the config's ``camera.nominal``, then ``default_camera``.
        default_camera: the nominal camera when neither ``camera`` nor the config gives one.
        kept_keys: Dict state entries that image observations keep (a goal-conditioned task keeps
            ``achieved_goal`` and ``desired_goal``, so that HER can relabel image observations too).
        segment_observations: render image observations with segmentation too, so that ``last_frame``
            serves labels of the observed image without a second render.
        seeds: the seed stream (``EpisodeSeeds``), when the caller drew the episode's env seed before the
            session existed (a wrapper bound at the env's first reset).
    """

    def __init__(
        self,
        randomization: ConfigSource,
        *,
        client_id: int,
        bullet: Any = None,
        body_names: dict[str, int] | None = None,
        observation_space: spaces.Space[Any],
        action_space: spaces.Space[Any],
        control_dt: float | None = None,
        obs_type: str | None = None,
        image_size: int = 84,
        camera: CameraSpec | dict[str, Any] | None = None,
        default_camera: CameraSpec = DEFAULT_CAMERA,
        kept_keys: tuple[str, ...] = (),
        segment_observations: bool = False,
        seeds: EpisodeSeeds | None = None,
    ) -> None:
        self.observation_space = observed_space(observation_space, obs_type, image_size, kept_keys)
        self.client_id = client_id
        self._bullet = bullet
        self._spaces = (observation_space, action_space)
        self._control_dt = control_dt
        self.motors: MotorHook | None = None
        config = load_config(randomization)
        self.engine = self._build_engine(config)
        self.obs_type = obs_type if obs_type != "state" else None
        self.kept_keys = kept_keys
        self.segment_observations = segment_observations
        self.scene = Scene(client_id, body_names)
        nominal = camera if camera is not None else (config.camera.nominal if config.camera else None)
        self.camera = _make_camera(client_id, nominal or default_camera, image_size)
        self.scene.cameras["main"] = self.camera
        self.seeds = seeds if seeds is not None else EpisodeSeeds()
        self._step_params: EpisodeParams = {}
        self._step_rng = np.random.default_rng(0)
        self._step_count = 0
        self._channel: Any = None
        self.last_frame: Frame | None = None
        self._checks_left = 0
        self._neutral = False  # whether the scene was set back to nominal since the last episode's apply
        self._warned: set[str] = set()
        # A session dropped without close() must not leave its textures to a later client with the same id.
        self._forget_textures = weakref.finalize(self, TexturePool.forget, client_id)

    def _build_engine(self, config: DRConfig) -> RandomizationEngine:
        """An engine for ``config``; installs the motor hook when the config is the first to scale motors."""
        scales_motors = config.actuation is not None and (
            config.actuation.gain_scale is not None or config.actuation.force_scale is not None
        )
        # The hook costs a Python call per motor command: install it only where a config scales motors.
        if self.motors is None and scales_motors:
            self.motors = MotorHook(self.client_id, self._bullet)
            weakref.finalize(self, self.motors.remove)  # a session dropped without close() unhooks too
        observation_space, action_space = self._spaces
        return RandomizationEngine(
            config,
            observation_space=observation_space,
            action_space=action_space,
            control_dt=self._control_dt,
            motors=self.motors,
        )

    def reconfigure(self, randomization: ConfigSource) -> None:
        """Draw the next episodes from ``randomization`` instead (automatic randomization moves its ranges
        this way). It must randomize the same parameters of the same targets as the config it replaces, only
        from other distributions, so that every parameter is still drawn each episode and recorded
        parameters replay under either config, and keep its distractors section (the bank of bodies is built
        once and handed over); otherwise one ``ConfigError``. The running episode keeps its parameters."""
        engine = self._build_engine(load_config(randomization))
        if engine.config.distractors != self.engine.config.distractors:
            raise ConfigError(
                "reconfigure: the new randomization config changes the distractors section; its bank of "
                "bodies is built once per scene, so keep that section as it is"
            )
        if engine.distractors is not None and self.engine.distractors is not None:
            engine.distractors.adopt_bank(self.engine.distractors)
        engine.ensure_bound(self.scene)
        self.engine.ensure_bound(self.scene)
        if _randomized(engine) != _randomized(self.engine):
            raise ConfigError(
                "reconfigure: the new randomization config randomizes other parameters than the current one "
                f"({sorted(_randomized(engine) ^ _randomized(self.engine))[:4]} differ); only distributions may change"
            )
        self.engine = engine

    # -- episodes and steps -------------------------------------------------------------------
    def before_env_reset(self) -> None:
        """Call before the env's own ``reset()``: it then runs on the nominal scene, with nominal dynamics,
        unscaled motors and no distractors shown, whatever the last episode drew (``RandomizationEngine.neutral``)."""
        self.engine.neutral()
        self._neutral = True

    def reset(self, seed: int | None = None, replay: EpisodeParams | None = None) -> EpisodeParams:
        """Start an episode: draw its parameters (or replay ``replay``) and write them into PyBullet.

        Returns a copy of the parameters (JSON-serialisable, with their ``step_seed``).
        """
        if not self.seeds.pending:
            self.seeds.begin(seed, replay)
        episode_seed, env_seed = self.seeds.take()
        if self.engine.ensure_bound(self.scene):
            self._checks_left = ENV_CHANGE_CHECKS
        elif self._checks_left > 0:  # the env's own reset ran on an unchanged world: did it move our values?
            self._checks_left -= 1
            self.engine.note_env_changes(self.scene, None if self._neutral else self._step_params)
        self._neutral = False
        self._warn_env_changes()
        if replay is not None:
            params = copy.deepcopy(replay)
            if not isinstance(params, dict) or "step_seed" not in params:
                raise ConfigError(
                    "options['randomization'] must be an info['randomization'] dict (it has no 'step_seed')"
                )
        else:
            episode_stream, step_stream = np.random.SeedSequence(episode_seed).spawn(2)
            params = self.engine.sample_episode(np.random.default_rng(episode_stream))
            params["step_seed"] = int(np.random.default_rng(step_stream).integers(2**63))
            params["env_seed"] = env_seed
        self.camera.reset()
        self.last_frame = None  # a frame of the previous episode
        self.engine.apply(self.scene, params)
        self._step_params = params
        self._step_rng = np.random.default_rng(params["step_seed"])
        self._step_count = 0
        self._channel = self.engine.action_channel(params)
        return copy_params(params)

    def _warn_env_changes(self) -> None:
        """One warning per session when the env changes dynamics itself (``RandomizationEngine.changed_by_env``)."""
        bodies = sorted({target.split("/")[0] for target in self.engine.changed_by_env} - self._warned)
        if not bodies or self._warned:
            self._warned.update(bodies)
            return
        self._warned.update(bodies)
        warn(
            f"the env changes dynamics itself between resets (bodies: {', '.join(bodies)}): those draws are not "
            "seeded by dr_sim, so a seed no longer fixes the episode's dynamics (and where the env rebuilds its "
            "world, dr_sim's scales apply to the env's draws); switch the env's own randomization off "
            "(pybullet_envs' Minitaur: env_randomizer=None) and randomize through dr_sim's config instead",
        )

    def transmit(self, action: Any) -> Any:
        """Before a control step: re-draw per-step parameters, then pass ``action`` through the
        actuation channel (latency, noise). Returns the action the robot receives."""
        self._step_count += 1
        if self.engine.has_step_terms:
            drawn = self.engine.sample_step(self._step_rng, self._step_count)
            if drawn:
                self.engine.apply(self.scene, drawn)
                self._step_params = merge_step(self._step_params, drawn)
        if self._channel is not None:
            action = self._channel.transmit(action, self._step_rng)
        return action

    def observe(self, obs: Any) -> Any:
        """The observation as the agent sees it: the state with sensing noise, plus camera images."""
        obs = self.engine.corrupt_observation(obs, self._step_params, self._step_rng)
        if self.obs_type is None:
            return obs
        with_depth = self.obs_type in ("rgbd", "state+rgbd")
        frame = self.render_frame(depth=with_depth, segmentation=self.segment_observations)
        images: dict[str, np.ndarray] = {"rgb": frame.rgb}
        if with_depth and frame.depth is not None:
            images["depth"] = frame.depth[..., None]
        state = dict(obs) if isinstance(obs, dict) else {"state": obs}
        kept = {key: state[key] for key in self.kept_keys}
        if self.obs_type == "rgb" and not kept:
            return frame.rgb
        if self.obs_type in ("rgb", "rgbd"):
            return {**kept, **images}
        return {**state, **images}

    def render_frame(self, *, depth: bool = True, segmentation: bool = True) -> Frame:
        """Render the randomized camera: RGB with image corruption, exact depth and segmentation."""
        frame = self.camera.render(self.scene.light, depth=depth, segmentation=segmentation)
        rgb = self.engine.corrupt_image(frame.rgb, self._step_params, self._step_rng)
        self.last_frame = Frame(rgb, frame.depth, frame.body, frame.link)
        return self.last_frame

    @property
    def params(self) -> EpisodeParams:
        """This episode's parameters, with any per-step re-draws laid over them."""
        return copy_params(self._step_params)

    def close(self) -> None:
        """Restore the client's motor functions and free the texture pools of this client."""
        if self.motors is not None:
            self.motors.remove()
            self.motors = None
        self._forget_textures()  # a later connection may get the same client id


def observed_space(
    state_space: spaces.Space[Any], obs_type: str | None, size: int, kept_keys: tuple[str, ...] = ()
) -> spaces.Space[Any]:
    """The observation space a session gives for ``obs_type`` (see ``RandomizationSession``): the env's
    state space, an RGB image (``size`` px, uint8), RGB and depth, or the state with images beside it.
    A bad ``obs_type`` or ``size`` is one ``ConfigError``."""
    if obs_type not in OBS_TYPES:
        raise ConfigError(f"obs_type must be one of {OBS_TYPES}, got {obs_type!r}")
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
        raise ConfigError(f"image_size must be a positive number of pixels, got {size!r}")
    if obs_type in (None, "state"):
        return state_space
    rgb = spaces.Box(0, 255, (size, size, 3), np.uint8)
    depth = spaces.Box(0.0, np.inf, (size, size, 1), np.float32)
    images = {"rgb": rgb} if obs_type in ("rgb", "state+rgb") else {"rgb": rgb, "depth": depth}
    state = dict(state_space.spaces) if isinstance(state_space, spaces.Dict) else {"state": state_space}
    kept = {key: state[key] for key in kept_keys}
    if obs_type == "rgb" and not kept:
        return rgb
    if obs_type in ("rgb", "rgbd"):
        return spaces.Dict({**kept, **images})
    return spaces.Dict({**state, **images})


def _randomized(engine: RandomizationEngine) -> set[tuple[str, str, str]]:
    """(randomizer, parameter, target) of every term a bound engine draws."""
    return {
        (key, term.name, target)
        for key, randomizer in engine.randomizers.items()
        for term in randomizer.terms
        for target in term.nominal
    }


def _make_camera(client_id: int, spec: CameraSpec | dict[str, Any], size: int) -> Camera:
    if isinstance(spec, dict):
        spec = CameraSpec.model_validate(spec)
    state = CameraState(
        np.array(spec.eye, float),
        np.array(spec.target, float),
        np.array(spec.up, float),
        spec.fov,
        spec.near,
        spec.far,
    )
    return Camera(client_id, size, size, state)


def copy_params(params: Any) -> Any:
    """A copy of sampled parameters (nested dicts and lists of JSON scalars) that shares nothing mutable;
    about 3x faster than ``copy.deepcopy`` on a ``full`` episode (0.04 ms against 0.10 ms)."""
    if isinstance(params, dict):
        return {key: copy_params(value) for key, value in params.items()}
    if isinstance(params, list):
        return [copy_params(value) for value in params]
    return params
