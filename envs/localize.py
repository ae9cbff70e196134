"""Localize: estimate where a target object lies on the table from one camera image (Tobin et al. 2017).

A target (``target_shape``: ``cube`` or ``puck``, red, named ``object``) rests at a random position and
yaw in ``TARGET_LOW``..``TARGET_HIGH`` (m) on the table; a fixed camera looks down at that region at an
angle. Randomization adds 0-10 distractors (the ``distractors`` section, e.g. the ``visual`` and
``full`` presets); the target is placed after them, clear of every one (``clearance`` m). A
``structure`` section whose target is ``object`` places it instead (on its surfaces, in view, with the
distractors in context; ``launch/configs/sdr_localize.yaml``).

One step per episode. Action: the estimated (x, y) of the target's centre in metres, world frame,
``Box(-1, 1, (2,))`` (it covers the table top). Dense reward: minus the error (m); sparse: 0 within
``success_distance`` (0.03 m), else -1. The episode ends after the one step.

Observation: the camera image by default (``obs_type="rgb"``). The ``state`` part (``state``,
``state+rgb``, ...) is the camera calibration, never the answer: the intrinsics normalised by the image
size (fx/W, fy/H, cx/W, cy/H) and the camera-to-world pose (OpenCV frame, rows of its top 3x4 part,
m): 16 numbers.

``info`` carries exact labels of the observed image from the reset on (``target_labels``).

Named meshes (options, not a new task id): ``target_mesh`` names the target by path (an OBJ, or a URDF
whose visual is an OBJ mesh; relative paths are also looked up in pybullet_data, e.g.
``duck_vhacd.urdf``), with ``target_scale`` and ``target_rpy`` (the rotation, rad, that stands it upright;
see ``dr_sim.envs.named_meshes`` for its frame). Its collision shape is its own bounding box, so the box-corner
keypoints of the labels are the mesh's own box, and its centre is the object's origin: the 6-DoF pose
that the labels carry (``objects[0].pose`` of ``dr-sim generate``) is the pose of that box. It replaces
``target_shape``. ``distractor_meshes`` (files or folders of them) adds named-mesh distractors besides the
randomizer's: built once, up to ``distractor_mesh_count`` shown per episode (drawn from the task's seeded
generator, so an episode replays), resting upright at random yaw, the rest parked out of view.

Why options of Localize and not a new task: the scene, the camera, the one-step episode, the labels and
the (x, y) score are Localize's; only the object differs. The 6-DoF pose is read from the labels of a
generated data set (``dr_sim.pose``), not scored through the action, so a new id would only duplicate
this class. One mesh per env (as DOPE trains one network per object): several training meshes are
several data sets, and held-out meshes are data sets of other meshes.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces
from pybullet_utils.bullet_client import BulletClient

from dr_sim.config.schema import CameraSpec
from dr_sim.envs.base import TabletopEnv
from dr_sim.envs.named_meshes import NamedMesh, add_named_mesh, load_mesh, mesh_files
from dr_sim.envs.objects import OBJECT_COLOR, OBJECTS, add_object
from dr_sim.errors import ConfigError
from dr_sim.scene.labels import PARK_HEIGHT, mask_box

TARGET_LOW = np.array([-0.2, -0.2])  # m, where the target's centre may lie
TARGET_HIGH = np.array([0.2, 0.2])
CANDIDATES = 64  # target spots drawn per episode; the first clear of the distractors is taken
STATE_SIZE = 16
MESH_DISTRACTOR_LOW = np.array([-0.3, -0.3])  # m, where named-mesh distractors' centres may lie
MESH_DISTRACTOR_HIGH = np.array([0.3, 0.3])
MAX_MESH_DISTRACTORS = 64  # named-mesh distractor bodies built at most
TARGET_MASS = 0.1  # kg, of a named-mesh target
DISTRACTOR_COLOR = (0.6, 0.6, 0.6, 1.0)  # of a named-mesh distractor whose file gives none


class LocalizeEnv(TabletopEnv):
    """Estimate the (x, y) of a target among distractors from a camera image.

    Args:
        target_shape: ``cube`` (4 cm) or ``puck`` (6 cm across); see ``dr_sim.envs.objects``.
        clearance: the least gap (m) between the target and any distractor.
        obs_type: ``rgb`` (default), ``rgbd``, ``state``, ``state+rgb`` or ``state+rgbd``.
        target_mesh: the target as a named mesh (.obj or .urdf path; see the module doc); replaces
            ``target_shape``.
        target_scale: the mesh's scale (1.0: the file's units, taken as metres).
        target_rpy: roll, pitch, yaw (rad) from the mesh's axes to the object frame (upright).
        distractor_meshes: mesh files or folders of them, built once as distractors.
        distractor_mesh_scale: their scale.
        distractor_mesh_count: the most of them shown per episode (0 to this many, uniformly).
        **kwargs: as ``TabletopEnv``.
    """

    camera_spec: ClassVar[CameraSpec] = CameraSpec(eye=[0.5, 0.0, 0.7], target=[0.0, 0.0, 0.0], fov=45.0)
    success_distance: ClassVar[float] = 0.03  # m
    segment_observations = True  # the labels in info come from the observed frame's segmentation

    def __init__(
        self,
        target_shape: str = "cube",
        clearance: float = 0.01,
        obs_type: str = "rgb",
        target_mesh: str | None = None,
        target_scale: float = 1.0,
        target_rpy: Sequence[float] = (0.0, 0.0, 0.0),
        distractor_meshes: Sequence[str] = (),
        distractor_mesh_scale: float = 1.0,
        distractor_mesh_count: int = 3,
        **kwargs: Any,
    ) -> None:
        if target_shape not in OBJECTS:
            raise ConfigError(f"target_shape must be one of {tuple(OBJECTS)}, got {target_shape!r}")
        if not clearance >= 0:
            raise ConfigError(f"clearance must be a distance >= 0 m, got {clearance!r}")
        if isinstance(distractor_meshes, str):
            distractor_meshes = [distractor_meshes]
        if (
            isinstance(distractor_mesh_count, bool)
            or not isinstance(distractor_mesh_count, int)
            or distractor_mesh_count < 0
        ):
            raise ConfigError(f"distractor_mesh_count must be an integer >= 0, got {distractor_mesh_count!r}")
        self.target_spec = OBJECTS[target_shape]
        #: The named-mesh target (``None``: the primitive ``target_shape``).
        self.target_mesh: NamedMesh | None = (
            None if target_mesh is None else load_mesh(target_mesh, target_scale, target_rpy, "target_mesh")
        )
        files = mesh_files(distractor_meshes, "distractor_meshes")
        if len(files) > MAX_MESH_DISTRACTORS:
            raise ConfigError(
                f"distractor_meshes names {len(files)} mesh files; at most {MAX_MESH_DISTRACTORS} are built "
                f"(name fewer files or a smaller folder)"
            )
        self.distractor_meshes = [load_mesh(file, distractor_mesh_scale, what="distractor_meshes") for file in files]
        self.distractor_mesh_count = distractor_mesh_count
        self.clearance = float(clearance)
        self.estimate: np.ndarray | None = None
        self._labels: dict[str, Any] = {}
        self._observation: Any = None
        self._mesh_distractor_bodies: list[int] = []
        super().__init__(
            target_shape=target_shape,
            clearance=clearance,
            obs_type=obs_type,
            target_mesh=target_mesh,
            target_scale=target_scale,
            target_rpy=list(target_rpy),
            distractor_meshes=list(distractor_meshes),
            distractor_mesh_scale=distractor_mesh_scale,
            distractor_mesh_count=distractor_mesh_count,
            **kwargs,
        )

    # -- the task -------------------------------------------------------------------------------
    def build(self, client: BulletClient) -> None:
        if self.target_mesh is None:
            self.sim_bodies["object"] = add_object(client, self.target_spec)
        else:
            self.sim_bodies["object"] = add_named_mesh(
                client, self.target_mesh, TARGET_MASS, OBJECT_COLOR, [0.0, 0.0, self.target_height]
            )
        self._build_mesh_distractors(client)

    def _build_mesh_distractors(self, client: BulletClient) -> None:
        """The named-mesh distractors: static bodies (placed, never simulated), parked until shown."""
        for i, mesh in enumerate(self.distractor_meshes):
            body = add_named_mesh(client, mesh, 0.0, DISTRACTOR_COLOR, _parking(i))
            self.sim_bodies[f"mesh_distractor{i}"] = body
            self._mesh_distractor_bodies.append(body)

    def make_action_space(self) -> spaces.Box:
        return spaces.Box(-1.0, 1.0, (2,), np.float32)

    def state_space(self) -> spaces.Box:
        return spaces.Box(-10.0, 10.0, (STATE_SIZE,), np.float32)

    def reset_task(self, options: dict[str, Any]) -> None:
        """Put the target at the first candidate spot clear of the distractors (the one with the most
        room if none is), at a random yaw; the distractors must be in place already. A ``structure``
        section that places the target has placed it already: it stays."""
        self.estimate = None
        self._labels = {}
        self._place_mesh_distractors()
        structure = self.session.engine.structure
        if structure is not None and structure.places(self.sim_bodies["object"]):
            return
        candidates = self.np_random.uniform(TARGET_LOW, TARGET_HIGH, (CANDIDATES, 2))
        yaw = self.np_random.uniform(-np.pi, np.pi)
        room = self._room(candidates, self.target_radius)
        clear = np.flatnonzero(room >= self.clearance)
        x, y = candidates[clear[0] if clear.size else int(np.argmax(room))]
        client = self.physics_client
        orientation = client.getQuaternionFromEuler([0.0, 0.0, yaw])
        client.resetBasePositionAndOrientation(self.sim_bodies["object"], [x, y, self.target_height], orientation)
        client.resetBaseVelocity(self.sim_bodies["object"], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0])

    def _place_mesh_distractors(self) -> None:
        """Show up to ``distractor_mesh_count`` named-mesh distractors (how many and which drawn from the
        task's generator), each resting upright at a random yaw at the first candidate spot clear of the
        bodies placed before it; park the others."""
        bodies = self._mesh_distractor_bodies
        if not bodies:
            return
        client = self.physics_client
        for i, body in enumerate(bodies):
            client.resetBasePositionAndOrientation(body, _parking(i), [0.0, 0.0, 0.0, 1.0])
        count = int(self.np_random.integers(0, min(self.distractor_mesh_count, len(bodies)) + 1))
        for i in self.np_random.choice(len(bodies), size=count, replace=False):
            mesh = self.distractor_meshes[int(i)]
            candidates = self.np_random.uniform(MESH_DISTRACTOR_LOW, MESH_DISTRACTOR_HIGH, (CANDIDATES, 2))
            yaw = self.np_random.uniform(-np.pi, np.pi)
            room = self._room(candidates, mesh.footprint_radius)
            clear = np.flatnonzero(room >= self.clearance)
            x, y = candidates[clear[0] if clear.size else int(np.argmax(room))]
            orientation = client.getQuaternionFromEuler([0.0, 0.0, yaw])
            client.resetBasePositionAndOrientation(bodies[int(i)], [x, y, mesh.height / 2], orientation)

    def _room(self, spots: np.ndarray, radius: float) -> np.ndarray:
        """Gap (m) between a body of footprint ``radius`` (m) centred at each of ``spots`` (N x 2, m) and
        the nearest distractor in view, taken as its bounding box on the table plane; infinite without."""
        room = np.full(len(spots), np.inf)
        for body in self.distractor_bodies:
            low, high = (np.asarray(corner) for corner in self.physics_client.getAABB(body))
            if high[2] < PARK_HEIGHT / 2:  # parked out of view
                continue
            outside = np.maximum(np.maximum(low[:2] - spots, spots - high[:2]), 0.0)
            room = np.minimum(room, np.linalg.norm(outside, axis=1) - radius)
        return room

    @property
    def target_radius(self) -> float:
        """Half the diagonal (m) of the target's footprint: its reach on the table at any yaw."""
        if self.target_mesh is not None:
            return self.target_mesh.footprint_radius
        return float(np.hypot(self.target_spec.size, self.target_spec.size) / 2)  # a cube's half diagonal

    @property
    def distractor_bodies(self) -> list[int]:
        """Body ids of the distractors, the randomizer's then the named meshes (shown or parked far away)."""
        distractors = self.session.engine.distractors
        return ([] if distractors is None else list(distractors.bodies)) + self._mesh_distractor_bodies

    @property
    def target_height(self) -> float:
        """Height (m) of the target's centre above the table top when it rests upright."""
        if self.target_mesh is not None:
            return self.target_mesh.height / 2
        return self.target_spec.height / 2

    def act(self, action: np.ndarray) -> None:
        self.estimate = np.asarray(action, dtype=np.float64)

    def state(self) -> np.ndarray:
        camera = self.session.camera
        k = camera.intrinsics()
        intrinsics = [k[0, 0] / camera.width, k[1, 1] / camera.height, k[0, 2] / camera.width, k[1, 2] / camera.height]
        state = np.concatenate([intrinsics, camera.pose()[:3].reshape(-1)])
        return np.clip(state, -10.0, 10.0).astype(np.float32)

    def target_position(self) -> np.ndarray:
        """The target's centre (m, world)."""
        return np.asarray(self.physics_client.getBasePositionAndOrientation(self.sim_bodies["object"])[0])

    def error(self) -> float:
        """Distance (m) on the table plane between the estimate and the target's centre."""
        if self.estimate is None:
            return float("inf")
        return float(np.linalg.norm(self.estimate - self.target_position()[:2]))

    def evaluate(self, info: dict[str, Any]) -> tuple[float, bool, bool]:
        error = self.error()
        success = error < self.success_distance
        reward = -error if self.reward_type == "dense" else -float(not success)
        return reward, success, self.estimate is not None

    def task_info(self) -> dict[str, Any]:
        """The labels of the observed image, rendered once per episode, and the estimate's error (m)."""
        if not self._labels:
            self._labels = self.target_labels()
        info = copy.deepcopy(self._labels)
        if self.estimate is not None:
            info["error"] = self.error()
        return info

    def target_labels(self) -> dict[str, Any]:
        """Exact labels of the current scene as the camera sees it (JSON-friendly):

        - ``target_position`` (m, world) and ``target_orientation`` (xyzw quaternion);
        - ``target_box``: [x_min, y_min, x_max, y_max] of the target's visible pixels, pixel edges (a
          single pixel (u, v) gives [u, v, u + 1, v + 1]); ``None`` when no pixel is visible;
        - ``target_pixels``: the number of visible target pixels;
        - ``mask_ids``: the segmentation ids (PyBullet body ids) of the target and of each visible
          distractor;
        - ``camera_intrinsics`` (3x3 K, pixels) and ``camera_pose`` (4x4 camera-to-world, OpenCV frame, m).
        """
        camera, frame = self.session.camera, self.session.last_frame
        if frame is None or frame.body is None:  # state observations render no image: render one here
            frame = camera.render(self.session.scene.light, depth=False, segmentation=True)
        assert frame.body is not None
        target = self.sim_bodies["object"]
        mask = frame.body == target
        box = mask_box(mask)
        seen = set(np.unique(frame.body).tolist())
        position, orientation = self.physics_client.getBasePositionAndOrientation(target)
        return {
            "target_position": [float(v) for v in position],
            "target_orientation": [float(v) for v in orientation],
            "target_box": None if box is None else [int(edge) for edge in box],
            "target_pixels": int(np.count_nonzero(mask)),
            "mask_ids": {"target": target, "distractors": [b for b in self.distractor_bodies if b in seen]},
            "camera_intrinsics": camera.intrinsics().tolist(),
            "camera_pose": camera.pose().tolist(),
        }

    # -- Gymnasium API --------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        self._observation, info = super().reset(seed=seed, options=options)
        return self._observation, info

    def step(self, action: np.ndarray) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Score the estimate ``action`` (m) and end the episode.

        The estimate is a report, not a motor command: it bypasses the actuation channel (latency and
        noise would only blur the report), no physics runs, and the terminal observation is a copy of the
        reset's (the scene has not changed).
        """
        self.act(np.asarray(action, dtype=np.float64))
        info = self.task_info()
        reward, success, terminated = self.evaluate(info)
        observation = copy.deepcopy(self._observation)
        info = {"is_success": bool(success), **info}
        return observation, float(reward), bool(terminated), False, info


def _parking(index: int) -> list[float]:
    """Where named-mesh distractor ``index`` waits, out of every camera's view (m)."""
    return [100.0 + 2.0 * index, -100.0, PARK_HEIGHT]
