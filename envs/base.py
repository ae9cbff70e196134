"""The base of dr_sim's tabletop tasks: one PyBullet client, a table, a camera, and randomization.

A task subclasses ``TabletopEnv`` and fills in four parts, in the spirit of panda-gym's split between
simulator, robot and task: ``build`` (bodies, once), ``reset_task`` (poses and goal, each episode),
``act`` (an action to motor commands) and ``state``/``evaluate`` (the observation and the outcome).
Everything else is shared:

- randomization goes through a ``RandomizationSession``, the same engine and code path as the
  ``DomainRandomization`` wrapper: ``info["randomization"]`` after every reset, replay through
  ``reset(options={"randomization": params})``, seeds separate from the task's own draws;
- ``obs_type`` adds camera images (``rgb``, ``rgbd``, ``state+rgb``, ``state+rgbd``);
- goal-conditioned tasks observe ``{"observation", "achieved_goal", "desired_goal"}`` and offer
  ``compute_reward`` for hindsight relabelling (HER); their image observations (``rgb``, ``rgbd``)
  keep the two goal entries beside the images;
- ``render_mode="rgb_array"`` renders the observation camera as the agent sees it, randomized;
- ``renderer="tiny"`` (default), ``"egl"`` or ``"auto"``: the EGL plugin renders where it gives the
  same labels and correct randomized images (``dr_sim.scene.egl``); ``"egl"`` falls back to TinyRenderer
  with one warning that says why, ``"auto"`` silently, and also where EGL would be slower;
- ``render_detail="low"`` (default) draws the arm from its collision meshes (the Panda: 3,472 triangles
  instead of 102,759, several times faster to render) with colours taken from its visual meshes, ``"full"``
  from its visual meshes; the physics, and so every state trajectory, is the same (``dr_sim.scene.detail``);
- ``camera="wrist"`` (tasks with an arm) observes through a camera fixed to the hand instead of the
  scene camera; its pose follows the hand (camera randomization moves the scene camera only), while
  lighting, colors, textures, distractors and image noise apply to both;
- pickling rebuilds the env from its constructor arguments (``EzPickle``).

Units: metres, seconds, radians. The table top is the plane z = 0; the workspace is centred at the origin.
"""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Sequence
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import pybullet as p
import pybullet_data
from gymnasium import spaces
from pybullet_utils.bullet_client import BulletClient

from dr_sim.config import ConfigSource, DRConfig, load_config
from dr_sim.config.schema import CameraSpec
from dr_sim.envs.robots import Arm
from dr_sim.errors import ConfigError, did_you_mean
from dr_sim.native_output import quiet_native_stdout
from dr_sim.scene import egl
from dr_sim.scene.camera import Camera, CameraState
from dr_sim.scene.detail import DEFAULT_RENDER_DETAIL, check_render_detail
from dr_sim.session import RandomizationSession
from dr_sim.user_warnings import warn

REWARD_TYPES = ("dense", "sparse")
TABLE_HEIGHT = 0.625  # m, the table URDF's top above its base
CAMERAS = ("scene", "wrist")
WRIST_FOV = 70.0  # deg, vertical
SCENE_CAMERA = CameraSpec(eye=[0.45, 0.4, 0.5], target=[-0.1, 0.0, 0.05], fov=50.0, near=0.05, far=3.0)


def check_reward_type(reward_type: str) -> str:
    """``reward_type`` if it is known, else one clear error."""
    if reward_type not in REWARD_TYPES:
        raise ConfigError(f"reward_type must be one of {REWARD_TYPES}, got {reward_type!r}")
    return reward_type


class TabletopEnv(gym.Env[Any, np.ndarray], gym.utils.EzPickle):
    """A tabletop task on its own PyBullet client (``p.DIRECT``).

    Args:
        randomization: ``None`` (the nominal scene) or anything ``dr_sim.load_config`` accepts.
        obs_type: ``state`` (default), ``rgb``, ``rgbd``, ``state+rgb`` or ``state+rgbd``.
        image_size: camera image width and height in pixels.
        reward_type: ``dense`` (minus a distance) or ``sparse`` (0 on success, else -1).
        render_mode: ``None`` or ``"rgb_array"``.
        camera: ``scene`` (default) or ``wrist`` (tasks with an arm): which camera images come from.
        renderer: ``tiny`` (default), ``egl`` or ``auto`` (see the module doc); ``self.renderer`` is the one used.
        render_detail: ``low`` (default) draws the arm from its collision meshes, ``full`` from its visual
            meshes; the physics is the same (``dr_sim.scene.detail``).
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 24}
    timestep: ClassVar[float] = 1.0 / 240.0  # s per physics step
    substeps: ClassVar[int] = 10  # physics steps per control step
    camera_spec: ClassVar[CameraSpec] = SCENE_CAMERA
    success_distance: ClassVar[float] = 0.05  # m
    kept_keys: ClassVar[tuple[str, ...]] = ()  # state entries that image observations keep
    arm: Arm | None = None  # set in ``build`` by tasks with an arm
    segment_observations: ClassVar[bool] = False  # image observations keep their segmentation (for labels)

    def __init__(
        self,
        *,
        randomization: ConfigSource | None = None,
        obs_type: str = "state",
        image_size: int = 84,
        reward_type: str = "dense",
        render_mode: str | None = None,
        camera: str = "scene",
        renderer: str = "tiny",
        render_detail: str = DEFAULT_RENDER_DETAIL,
        **task_kwargs: Any,
    ) -> None:
        gym.utils.EzPickle.__init__(
            self,
            randomization=randomization,
            obs_type=obs_type,
            image_size=image_size,
            reward_type=reward_type,
            render_mode=render_mode,
            camera=camera,
            renderer=renderer,
            render_detail=render_detail,
            **task_kwargs,
        )
        self._check_options(task_kwargs)
        self.render_detail = check_render_detail(render_detail)
        self.reward_type = check_reward_type(reward_type)
        if render_mode not in (None, "rgb_array"):
            raise ConfigError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        if obs_type is None:
            raise ConfigError("obs_type must be one of 'state', 'rgb', 'rgbd', 'state+rgb', 'state+rgbd'; got None")
        self.render_mode = render_mode
        self.dt = self.timestep * self.substeps  # s per control step
        config = load_config("none" if randomization is None else randomization)  # read and validated once
        with quiet_native_stdout():  # PyBullet prints its connection options (argv[0]=) on connect
            self.physics_client = BulletClient(connection_mode=p.DIRECT)
        client = self.physics_client
        self.renderer = self._choose_renderer(renderer, config, image_size)
        client.setAdditionalSearchPath(pybullet_data.getDataPath())
        client.setTimeStep(self.timestep)
        client.setGravity(0, 0, -9.81)
        self.sim_bodies: dict[str, int] = {
            "plane": client.loadURDF("plane.urdf", [0, 0, -TABLE_HEIGHT]),
            "table": client.loadURDF("table/table.urdf", [0.1, 0, -TABLE_HEIGHT], useFixedBase=True),
        }
        try:
            self.build(client)
            self.action_space = self.make_action_space()
            self.session = RandomizationSession(
                config,
                client_id=client._client,
                bullet=client,
                body_names=self.sim_bodies,
                observation_space=self.state_space(),
                action_space=self.action_space,
                control_dt=self.dt,
                obs_type=obs_type,
                image_size=image_size,
                default_camera=self.camera_spec,
                kept_keys=self.kept_keys,
                segment_observations=self.segment_observations,
            )
        except Exception:
            client.disconnect()
            raise
        self.observation_space = self.session.observation_space
        self.wrist = self._wrist_camera(camera, image_size)
        self.goal = np.zeros(3)

    def _choose_renderer(self, renderer: str, config: DRConfig, image_size: int) -> str:
        """Load the EGL plugin (before any body) where ``renderer`` asks for it and it renders correctly."""
        client_id = self.physics_client._client
        try:
            choice = egl.choose(renderer, config, client_id, image_size)
        except Exception:
            self.physics_client.disconnect()
            raise
        if renderer == "egl" and choice.renderer != "egl":
            warn(f"renderer='egl' falls back to TinyRenderer: {choice.reason}")
        # An env dropped without close() must not keep the plugin's one client per process.
        self._release_egl = weakref.finalize(self, egl.release, client_id) if choice.renderer == "egl" else None
        return choice.renderer

    def _check_options(self, task_kwargs: dict[str, Any]) -> None:
        """One clear error for an option that no constructor in this task's class chain takes."""
        known = {
            name
            for cls in type(self).__mro__
            if "__init__" in vars(cls)
            for name, parameter in inspect.signature(vars(cls)["__init__"]).parameters.items()
            if parameter.kind not in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)
            and name != "self"
        }
        unknown = sorted(set(task_kwargs) - known)
        if unknown:
            options = ", ".join(sorted(known))
            raise ConfigError(
                f"{type(self).__name__} got unknown option {unknown[0]!r}.{did_you_mean(unknown[0], known)} "
                f"Options: {options}"
            )

    def _wrist_camera(self, camera: str, size: int) -> Camera | None:
        """The hand camera when asked for (it replaces the scene camera for images), else ``None``."""
        if camera not in CAMERAS:
            self.close()
            raise ConfigError(f"camera must be one of {CAMERAS}, got {camera!r}")
        if camera == "scene":
            return None
        if self.arm is None:
            self.close()
            raise ConfigError(f"camera='wrist' needs a task with an arm; {type(self).__name__} has none: use 'scene'")
        eye, target, up = self.arm.wrist_view()
        wrist = Camera(self.session.client_id, size, size, CameraState(eye, target, up, WRIST_FOV, 0.01, 3.0))
        self.session.camera = wrist
        self.session.scene.cameras["wrist"] = wrist
        return wrist

    def _observe(self, state: Any) -> Any:
        """The agent's observation of ``state`` (the wrist camera first follows the hand)."""
        self._follow_hand()
        return self.session.observe(state)

    def _follow_hand(self) -> None:
        if self.wrist is not None and self.arm is not None:
            eye, target, up = self.arm.wrist_view()
            self.wrist.state.eye, self.wrist.state.target, self.wrist.state.up = eye, target, up

    # -- what a task fills in -------------------------------------------------------------------
    def build(self, client: BulletClient) -> None:
        """Load the task's bodies into ``self.sim_bodies`` (once)."""
        raise NotImplementedError

    def make_action_space(self) -> spaces.Box:
        """The action space (normalised to [-1, 1])."""
        raise NotImplementedError

    def state_space(self) -> spaces.Space[Any]:
        """The space of ``state()``."""
        raise NotImplementedError

    def reset_task(self, options: dict[str, Any]) -> None:
        """Place the robot, objects and goal for a new episode, drawing from ``self.np_random``.

        Runs after the episode's randomization is applied (distractors are in place)."""
        raise NotImplementedError

    def act(self, action: np.ndarray) -> None:
        """Send the motor commands of one control step."""
        raise NotImplementedError

    def before_substep(self) -> None:
        """Called before every physics step (torque control recomputes its commands here)."""

    def state(self) -> Any:
        """The true state observation (before sensing noise)."""
        raise NotImplementedError

    def evaluate(self, info: dict[str, Any]) -> tuple[float, bool, bool]:
        """(reward, success, terminated) of the current state; ``info`` is this step's ``task_info()``."""
        raise NotImplementedError

    def task_info(self) -> dict[str, Any]:
        """Extra ``info`` entries (labels, for example) after a reset or a step."""
        return {}

    # -- Gymnasium API --------------------------------------------------------------------------
    def reset_scene(self, seed: int | None = None, options: dict[str, Any] | None = None) -> dict[str, Any]:
        """Start an episode without observing it (no render): seed, randomize, place the task.

        Returns the episode's randomization parameters. ``reset`` is this plus the observation and info.
        """
        options = dict(options or {})
        replay = options.pop("randomization", None)
        # The task's own draws (goal, object and arm poses) are seeded from the episode's record, so an
        # episode replays from info["randomization"] alone, start state included.
        super().reset(seed=self.session.seeds.begin(seed, replay))
        # Randomization first (it places distractors and sets dynamics), then the task's poses and goal,
        # so that a task can place its objects clear of the distractors.
        params = self.session.reset(seed, replay)
        self.reset_task(options)
        return params

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        params = self.reset_scene(seed, options)
        observation = self._observe(self.state())
        info = self.task_info()
        _, success, _ = self.evaluate(info)
        return observation, {"is_success": bool(success), "randomization": params, **info}

    def advance(self, action: np.ndarray) -> None:
        """One control step of ``action`` (through the randomized actuation channel) without observing
        it: no reward, observation or render (``dr-sim calibrate``'s replays track a recording this way)."""
        action = self.session.transmit(np.asarray(action, dtype=np.float64))
        self.act(action)
        for _ in range(self.substeps):
            self.before_substep()
            self.physics_client.stepSimulation()

    def step(self, action: np.ndarray) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        self.advance(action)
        info = self.task_info()
        reward, success, terminated = self.evaluate(info)
        observation = self._observe(self.state())
        return observation, float(reward), bool(terminated), False, {"is_success": bool(success), **info}

    def render(self) -> np.ndarray | None:
        """The scene camera's randomized RGB image (uint8, image_size square) in ``rgb_array`` mode."""
        if self.render_mode != "rgb_array":
            return None
        self._follow_hand()
        return self.session.render_frame(depth=False, segmentation=False).rgb

    def close(self) -> None:
        if self.physics_client._client >= 0:
            if self._release_egl is not None:
                self._release_egl()
            self.session.close()
            self.physics_client.disconnect()


class GoalEnv(TabletopEnv):
    """A goal-conditioned task: Dict observations for HER and a vectorised ``compute_reward``.

    A subclass gives ``observation_size``, ``observation()`` (the robot and object state) and
    ``achieved_goal()``; the goal (``self.goal``, m) is drawn in ``reset_task``.
    """

    observation_size: ClassVar[int]
    kept_keys = ("achieved_goal", "desired_goal")  # HER relabels image observations too
    goal_bound: ClassVar[float] = 2.0  # m, the bound of goal spaces
    terminate_on_success: ClassVar[bool] = True

    def state_space(self) -> spaces.Dict:
        goal = spaces.Box(-self.goal_bound, self.goal_bound, (3,), np.float32)
        return spaces.Dict(
            {
                "observation": spaces.Box(-10.0, 10.0, (self.observation_size,), np.float32),
                "achieved_goal": goal,
                "desired_goal": goal,
            }
        )

    def observation(self) -> np.ndarray:
        """The robot and object state (float32, ``observation_size``)."""
        raise NotImplementedError

    def draw_apart(self, low: np.ndarray, high: np.ndarray, other: np.ndarray, min_distance: float) -> np.ndarray:
        """A uniform draw in the box [``low``, ``high``] (m) at least ``min_distance`` (m) from ``other``."""
        while True:
            point = self.np_random.uniform(low, high)
            if np.linalg.norm(point - other) >= min_distance:
                return point

    def place_goal(self, goal: np.ndarray) -> None:
        """Set the episode's goal (m, world) and move the body named ``goal`` (the marker) there."""
        self.goal = np.asarray(goal, dtype=np.float64)
        self.physics_client.resetBasePositionAndOrientation(self.sim_bodies["goal"], self.goal.tolist(), [0, 0, 0, 1])

    def place_object(self, position: np.ndarray, orientation: Sequence[float] = (0.0, 0.0, 0.0, 1.0)) -> None:
        """Put the body named ``object`` at rest at ``position`` (m) with ``orientation`` (xyzw)."""
        body = self.sim_bodies["object"]
        self.physics_client.resetBasePositionAndOrientation(body, list(position), list(orientation))
        self.physics_client.resetBaseVelocity(body, [0.0, 0.0, 0.0], [0.0, 0.0, 0.0])

    def object_position(self) -> np.ndarray:
        """The position (m, world) of the body named ``object``."""
        return np.asarray(self.physics_client.getBasePositionAndOrientation(self.sim_bodies["object"])[0])

    def achieved_goal(self) -> np.ndarray:
        """What the goal is compared with (m, world)."""
        raise NotImplementedError

    def state(self) -> dict[str, np.ndarray]:
        return {
            "observation": np.clip(self.observation(), -10.0, 10.0).astype(np.float32),
            "achieved_goal": np.clip(self.achieved_goal(), -self.goal_bound, self.goal_bound).astype(np.float32),
            "desired_goal": self.goal.astype(np.float32),
        }

    def evaluate(self, info: dict[str, Any]) -> tuple[float, bool, bool]:
        # From the float32 goals the agent observes and the step's info, so that HER's relabelled
        # rewards agree exactly with the step's.
        achieved, desired = self.achieved_goal().astype(np.float32), self.goal.astype(np.float32)
        success = bool(self.goal_distance(achieved, desired) < self.success_distance)
        reward = float(self.compute_reward(achieved, desired, info))
        return reward, success, success and self.terminate_on_success

    @staticmethod
    def goal_distance(achieved_goal: np.ndarray, desired_goal: np.ndarray) -> np.ndarray:
        """Euclidean distance (m) over the last axis."""
        return np.linalg.norm(np.asarray(achieved_goal) - np.asarray(desired_goal), axis=-1)

    def compute_reward(self, achieved_goal: np.ndarray, desired_goal: np.ndarray, info: Any) -> np.ndarray:
        """Vectorised reward for hindsight relabelling (HER); float32 of the batch shape."""
        distance = self.goal_distance(achieved_goal, desired_goal)
        if self.reward_type == "dense":
            return (-distance).astype(np.float32)
        return -(distance >= self.success_distance).astype(np.float32)
