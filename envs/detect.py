"""Detect: several objects of several classes on the table, for object detection (Tremblay et al. 2018).

Each class (``classes``: name -> mesh) has ``instances_per_class`` bodies, built once and named
``f"{class}_{k}"`` (``duck_0``, ``duck_1``, ...: the names a generator config lists as its ``objects``).
Each episode shows between ``min_objects`` and ``max_objects`` of them (how many, and which, drawn from
the task's seeded generator, so the classes shown are random too), upright at random positions and
yaws on the table in ``OBJECT_LOW``..``OBJECT_HIGH`` (m); the others are parked out of view at
``dr_sim.scene.labels.PARK_HEIGHT`` (so a data set labels them with no box). Objects may stand close
enough to hide one another, never inside one another: their collision boxes (each mesh's own bounding
box, see ``dr_sim.envs.named_meshes``) keep at least ``OBJECT_GAP`` apart. With probability
``overlap_probability`` an object is tucked behind one placed before it, as the camera sees it (within
``OCCLUDE_SPREAD`` of the camera's line of sight through that object and at most ``OCCLUDE_REACH``
beyond touching it), so that occlusion between objects is common; the others stand at uniform spots.
Every object keeps ``clearance`` (m) from the distractors where there is room (else it takes the spot
with the most room). Objects are static: the episode runs no physics.

Default classes: pybullet_data's duck, teddy bear and mug, and a held-out ``random_urdfs`` shape (the
randomizer's mesh distractors come from ``random_urdfs`` 000-899 by default), each 6-12 cm.

``backdrop`` (on by default) stands a vertical board named ``backdrop`` behind the objects, across the
table's far half (``BACKDROP_POSITION``; visual only, it never collides), filling the top of the
camera's view, where the floor beyond the table would show. Appearance randomization selects it by
name, so that backgrounds can come from photo folders::

    appearance:
      - select: "backdrop/*"
        textures: {folders: [my_photos/], probability: 1.0}

``backdrop=False`` leaves it out (the table and the floor beyond it show, as in Localize).

One step per episode, as Localize: the action is the estimated number of objects of each class (in
``classes`` order), ``Box(-1, 1, (len(classes),))``, count = (a + 1) / 2 * ``max_objects``. Dense
reward: minus the summed absolute count error; sparse: 0 when every rounded count is right, else -1.
Observation: the camera image by default; the ``state`` part is Localize's camera calibration (16
numbers), never the answer.

``info`` (from the reset on): ``objects``, one entry per shown object in placement order (``name``,
``class``, ``position`` m world, ``orientation`` xyzw, and with an image observation ``box``, the
[x_min, y_min, x_max, y_max] pixel edges of its visible pixels or ``None``, and ``pixels``, their
number), and ``counts`` (class -> objects shown); after the step ``count_error``. A state observation
renders nothing, so it gives no boxes: ``dr-sim generate`` renders and labels its own images.

The camera looks down at 45 degrees from 0.71 m (Localize's from 0.86 m), so that the objects span
about 15-40 px of a 128 px image.

Why a subclass of Localize: the table scene, the one-step episode, the camera-calibration state and
the named-mesh distractors are Localize's; its single target is replaced by the class instances, so
Localize's target options (``target_shape``, ``target_mesh``, ...) are refused here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import pybullet as p
from gymnasium import spaces
from pybullet_utils.bullet_client import BulletClient

from dr_sim.config.schema import CameraSpec
from dr_sim.envs.localize import CANDIDATES, LocalizeEnv
from dr_sim.envs.named_meshes import NamedMesh, add_named_mesh, load_mesh
from dr_sim.errors import ConfigError, DrSimError, did_you_mean
from dr_sim.scene.labels import PARK_HEIGHT, mask_box

#: Default classes: name -> mesh spec (``path``, ``scale``, ``rpy`` rad; see ``load_mesh``).
DEFAULT_CLASSES: dict[str, dict[str, Any]] = {
    "duck": {"path": "duck_vhacd.urdf", "rpy": [1.5708, 0.0, 0.0]},  # 8 x 6 x 8 cm, y-up in its file
    "teddy": {"path": "teddy_vhacd.urdf", "rpy": [1.5708, 0.0, 0.0]},  # 8 x 6 x 9 cm
    "mug": {"path": "objects/mug.urdf"},  # 8 x 12 x 10 cm
    "shape": {"path": "random_urdfs/990/990.obj", "scale": 0.015},  # 8 x 12 x 9 cm, not in the distractor bank
}
MESH_KEYS = ("path", "scale", "rpy")
CLASS_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")  # no '/' (the selectors' separator), no glob characters
OBJECT_LOW = np.array([-0.2, -0.2])  # m, where object centres may lie
OBJECT_HIGH = np.array([0.2, 0.2])
OBJECT_GAP = 0.001  # m, the least gap between two objects' collision boxes
OCCLUDE_SPREAD = 0.6  # rad, half-angle about the camera's line of sight behind the object hiding a tucked one
OCCLUDE_REACH = 0.06  # m, how far beyond touching the object in front a tucked object may stand
MAX_FILL = 0.35  # the most of the table region that max_objects of the largest footprints may cover
PLACEMENT_ROUNDS = 8  # rounds of CANDIDATES uniform spots drawn before a crowded placement gives up
MAX_INSTANCES = 64  # object bodies built at most
OBJECT_COLOR = (0.8, 0.55, 0.2, 1.0)  # of a class whose file gives no color
BACKDROP_POSITION = (-0.33, 0.0, 0.2)  # m, the board's centre: just behind the object region, on the table
BACKDROP_HALF_EXTENTS = (0.005, 1.5, 0.85)  # m: 1 cm thick, 3 m wide, from below the floor up to 1.05 m
BACKDROP_COLOR = (0.8, 0.8, 0.8, 1.0)
TARGET_OPTIONS = ("target_shape", "target_mesh", "target_scale", "target_rpy")


@dataclass(frozen=True)
class Instance:
    """One object body: its ``name`` (``f"{label}_{k}"``), class ``label`` and ``mesh``."""

    name: str
    label: str
    mesh: NamedMesh


class DetectEnv(LocalizeEnv):
    """Several objects of several classes among distractors, for detection (see the module doc).

    Args:
        classes: class name -> mesh spec, a path or ``{"path", "scale", "rpy"}`` (``rpy`` in rad; paths
            also looked up in pybullet_data); ``None`` takes ``DEFAULT_CLASSES``.
        instances_per_class: bodies built per class (the most of one class shown at once).
        min_objects: the fewest objects shown per episode.
        max_objects: the most objects shown per episode.
        overlap_probability: the chance that an object is tucked behind one placed before it.
        backdrop: stand the vertical board ``backdrop`` behind the objects.
        clearance: the least gap (m) kept from the distractors where there is room.
        obs_type: ``rgb`` (default), ``rgbd``, ``state``, ``state+rgb`` or ``state+rgbd``.
        distractor_meshes, distractor_mesh_scale, distractor_mesh_count: named-mesh distractors, as Localize.
        **kwargs: as ``TabletopEnv``.
    """

    camera_spec: ClassVar[CameraSpec] = CameraSpec(eye=[0.5, 0.0, 0.5], target=[0.0, 0.0, 0.0], fov=45.0)

    def __init__(
        self,
        classes: Mapping[str, Any] | None = None,
        instances_per_class: int = 2,
        min_objects: int = 1,
        max_objects: int = 6,
        overlap_probability: float = 0.5,
        backdrop: bool = True,
        clearance: float = 0.01,
        obs_type: str = "rgb",
        distractor_meshes: Sequence[str] = (),
        distractor_mesh_scale: float = 1.0,
        distractor_mesh_count: int = 3,
        **kwargs: Any,
    ) -> None:
        given = [name for name in TARGET_OPTIONS if name in kwargs]
        if given:
            raise ConfigError(
                f"Detect has no single target: {given[0]!r} is an option of Localize; name Detect's objects "
                f"with 'classes' (class name -> mesh)"
            )
        self.classes = class_meshes(DEFAULT_CLASSES if classes is None else classes)
        _check_count("instances_per_class", instances_per_class, 1)
        self.instances = [
            Instance(f"{label}_{k}", label, mesh)
            for label, mesh in self.classes.items()
            for k in range(instances_per_class)
        ]
        if len(self.instances) > MAX_INSTANCES:
            raise ConfigError(
                f"classes x instances_per_class = {len(self.instances)} object bodies; at most {MAX_INSTANCES} are "
                f"built (name fewer classes or lower instances_per_class)"
            )
        _check_count("min_objects", min_objects, 0)
        _check_count("max_objects", max_objects, 0)
        if not min_objects <= max_objects <= len(self.instances):
            raise ConfigError(
                f"min_objects and max_objects must satisfy 0 <= min_objects <= max_objects <= {len(self.instances)} "
                f"(the bodies built: classes x instances_per_class), got {min_objects} and {max_objects}"
            )
        _check_fill(self.instances, max_objects)
        if (
            not isinstance(overlap_probability, int | float)
            or isinstance(overlap_probability, bool)
            or not (0 <= overlap_probability <= 1)
        ):
            raise ConfigError(f"overlap_probability must be a probability in [0, 1], got {overlap_probability!r}")
        if not isinstance(backdrop, bool):
            raise ConfigError(f"backdrop must be true or false, got {backdrop!r}")
        self.min_objects, self.max_objects = min_objects, max_objects
        self.overlap_probability = float(overlap_probability)
        self.backdrop = backdrop
        #: The objects shown this episode, in placement order.
        self.shown: list[Instance] = []
        options = {
            "classes": classes,
            "instances_per_class": instances_per_class,
            "min_objects": min_objects,
            "max_objects": max_objects,
            "overlap_probability": overlap_probability,
            "backdrop": backdrop,
            "clearance": clearance,
            "obs_type": obs_type,
            "distractor_meshes": list([distractor_meshes] if isinstance(distractor_meshes, str) else distractor_meshes),
            "distractor_mesh_scale": distractor_mesh_scale,
            "distractor_mesh_count": distractor_mesh_count,
        }
        super().__init__(**options, **kwargs)
        # Pickling rebuilds a Detect from its own options, without the Localize target ones it refuses.
        gym.utils.EzPickle.__init__(self, **options, **kwargs)

    # -- the task -------------------------------------------------------------------------------
    def build(self, client: BulletClient) -> None:
        for i, instance in enumerate(self.instances):  # static bodies: placed, never simulated
            self.sim_bodies[instance.name] = add_named_mesh(
                client, instance.mesh, 0.0, OBJECT_COLOR, _object_parking(i)
            )
        self._build_mesh_distractors(client)
        if self.backdrop:
            board = client.createVisualShape(
                p.GEOM_BOX, halfExtents=list(BACKDROP_HALF_EXTENTS), rgbaColor=list(BACKDROP_COLOR)
            )
            self.sim_bodies["backdrop"] = int(client.createMultiBody(0.0, -1, board, list(BACKDROP_POSITION)))

    def make_action_space(self) -> spaces.Box:
        return spaces.Box(-1.0, 1.0, (len(self.classes),), np.float32)

    def reset_task(self, options: dict[str, Any]) -> None:
        """Show between ``min_objects`` and ``max_objects`` random objects (the distractors are in place
        already) and park the others."""
        self.estimate = None
        self._labels: dict[str, Any] = {}
        self._place_mesh_distractors()
        client = self.physics_client
        for i, instance in enumerate(self.instances):
            client.resetBasePositionAndOrientation(self.sim_bodies[instance.name], _object_parking(i), [0, 0, 0, 1])
        count = int(self.np_random.integers(self.min_objects, self.max_objects + 1))
        self.shown = [self.instances[int(i)] for i in self.np_random.choice(len(self.instances), count, replace=False)]
        placed: list[tuple[np.ndarray, float, np.ndarray]] = []  # (centre, footprint radius, corners) each
        for instance in self.shown:
            yaw = float(self.np_random.uniform(-np.pi, np.pi))
            centre = self._spot(instance.mesh, yaw, placed)
            orientation = client.getQuaternionFromEuler([0.0, 0.0, yaw])
            position = [float(centre[0]), float(centre[1]), instance.mesh.height / 2]
            client.resetBasePositionAndOrientation(self.sim_bodies[instance.name], position, orientation)
            corners = footprints(centre[None], yaw, instance.mesh.half_extents[:2])[0]
            placed.append((centre, instance.mesh.footprint_radius, corners))

    def _spot(self, mesh: NamedMesh, yaw: float, placed: list[tuple[np.ndarray, float, np.ndarray]]) -> np.ndarray:
        """Where (m, x-y) an object of ``mesh`` at ``yaw`` (rad) stands: tucked behind a placed object with
        ``overlap_probability``, else (or when no tucked spot is free) at the first free uniform spot clear
        of the distractors, or the free one with the most room from them."""
        if placed and self.np_random.random() < self.overlap_probability:
            anchor, radius, _ = placed[int(self.np_random.integers(len(placed)))]
            spot = self._choose(self._behind(anchor, radius + mesh.footprint_radius), mesh, yaw, placed)
            if spot is not None:
                return spot
        for _ in range(PLACEMENT_ROUNDS):
            spot = self._choose(self.np_random.uniform(OBJECT_LOW, OBJECT_HIGH, (CANDIDATES, 2)), mesh, yaw, placed)
            if spot is not None:
                return spot
        raise DrSimError(
            f"Detect found no free spot for object {len(placed) + 1} of max_objects={self.max_objects} on the table "
            f"region {OBJECT_LOW.tolist()}..{OBJECT_HIGH.tolist()} m; lower max_objects or use smaller classes"
        )

    def _behind(self, anchor: np.ndarray, reach: float) -> np.ndarray:
        """Candidate spots (CANDIDATES x 2, m) behind ``anchor`` as the camera sees it: within
        ``OCCLUDE_SPREAD`` of the camera's horizontal line of sight through it, up to ``reach`` +
        ``OCCLUDE_REACH`` m away (``reach``: the centre distance at which two footprints may first touch)."""
        sight = anchor - self.session.camera.state.eye[:2]
        heading = np.arctan2(sight[1], sight[0])
        angles = heading + self.np_random.uniform(-OCCLUDE_SPREAD, OCCLUDE_SPREAD, CANDIDATES)
        distances = self.np_random.uniform(0.0, reach + OCCLUDE_REACH, CANDIDATES)
        return anchor + distances[:, None] * np.stack([np.cos(angles), np.sin(angles)], axis=1)

    def _choose(
        self, spots: np.ndarray, mesh: NamedMesh, yaw: float, placed: list[tuple[np.ndarray, float, np.ndarray]]
    ) -> np.ndarray | None:
        """Of ``spots`` (N x 2, m), those on the region whose footprint keeps ``OBJECT_GAP`` from every
        placed object: the first clear of the distractors by ``clearance``, else the one with the most
        room; ``None`` when none is free."""
        free = np.all((spots >= OBJECT_LOW) & (spots <= OBJECT_HIGH), axis=1)
        corners = footprints(spots, yaw, mesh.half_extents[:2])
        for _, _, other in placed:
            free &= apart(corners, other, OBJECT_GAP)
        if not free.any():
            return None
        spots = spots[free]
        room = self._room(spots, mesh.footprint_radius)
        clear = np.flatnonzero(room >= self.clearance)
        return spots[clear[0] if clear.size else int(np.argmax(room))]

    def counts(self) -> dict[str, int]:
        """Objects shown this episode per class (every class, in ``classes`` order)."""
        return {label: sum(instance.label == label for instance in self.shown) for label in self.classes}

    def estimated_counts(self) -> np.ndarray:
        """The action's count of each class (objects; ``None`` before the step is an error)."""
        if self.estimate is None:
            raise DrSimError("Detect has no estimate before its step")
        return (np.clip(self.estimate, -1.0, 1.0) + 1.0) / 2.0 * self.max_objects

    def count_error(self) -> float:
        """The summed absolute error (objects) of the estimated counts; infinite before the step."""
        if self.estimate is None:
            return float("inf")
        return float(np.abs(self.estimated_counts() - np.array(list(self.counts().values()))).sum())

    def evaluate(self, info: dict[str, Any]) -> tuple[float, bool, bool]:
        error = self.count_error()
        success = self.estimate is not None and bool(
            np.array_equal(np.rint(self.estimated_counts()), list(self.counts().values()))
        )
        reward = -error if self.reward_type == "dense" else -float(not success)
        return reward, success, self.estimate is not None

    def task_info(self) -> dict[str, Any]:
        """The shown objects and the counts (see the module doc), and after the step the count error."""
        if not self._labels:
            self._labels = self.object_labels()
        info = {"objects": [dict(entry) for entry in self._labels["objects"]], "counts": dict(self._labels["counts"])}
        if self.estimate is not None:
            info["count_error"] = self.count_error()
        return info

    def object_labels(self) -> dict[str, Any]:
        """Labels of the shown objects; boxes and pixel counts from the observed frame's segmentation when
        the observation rendered one (never rendered here)."""
        frame = self.session.last_frame
        seen = None if frame is None else frame.body
        objects = []
        for instance in self.shown:
            body = self.sim_bodies[instance.name]
            position, orientation = self.physics_client.getBasePositionAndOrientation(body)
            entry: dict[str, Any] = {
                "name": instance.name,
                "class": instance.label,
                "position": [float(v) for v in position],
                "orientation": [float(v) for v in orientation],
            }
            if seen is not None:
                mask = seen == body
                box = mask_box(mask)
                entry["box"] = None if box is None else [int(edge) for edge in box]
                entry["pixels"] = int(np.count_nonzero(mask))
            objects.append(entry)
        return {"objects": objects, "counts": self.counts()}


def class_meshes(classes: Mapping[str, Any]) -> dict[str, NamedMesh]:
    """The mesh of each class (see ``DetectEnv``); one ``ConfigError`` for a bad name or spec."""
    if not isinstance(classes, Mapping) or not classes:
        raise ConfigError(
            f"classes must map class names to meshes (for example {{duck: duck_vhacd.urdf}}), got {classes!r}"
        )
    meshes = {}
    for name, spec in classes.items():
        if not isinstance(name, str) or not CLASS_NAME.fullmatch(name):
            raise ConfigError(
                f"classes: class name {name!r} must be a letter followed by letters, digits, '_' or '-' "
                f"(it names the bodies '<class>_<k>' that selectors and generator configs refer to)"
            )
        where = f"classes.{name}"
        if isinstance(spec, str):
            spec = {"path": spec}
        if not isinstance(spec, Mapping) or "path" not in spec:
            raise ConfigError(f"{where} must be a mesh path or {{path, scale, rpy}}, got {spec!r}")
        unknown = [key for key in spec if key not in MESH_KEYS]
        if unknown:
            raise ConfigError(
                f"{where}: unknown key {unknown[0]!r}.{did_you_mean(str(unknown[0]), MESH_KEYS)} "
                f"Allowed keys: {', '.join(MESH_KEYS)}"
            )
        meshes[name] = load_mesh(spec["path"], spec.get("scale", 1.0), spec.get("rpy", (0.0, 0.0, 0.0)), where)
    return meshes


def footprints(centres: np.ndarray, yaw: float, half: np.ndarray) -> np.ndarray:
    """Corners (N x 4 x 2, m) of rectangles of half extents ``half`` (m) turned by ``yaw`` (rad) about
    ``centres`` (N x 2, m), in order around the rectangle."""
    signs = np.array([[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]])
    c, s = np.cos(yaw), np.sin(yaw)
    rotation = np.array([[c, -s], [s, c]])
    return centres[:, None, :] + (signs * half) @ rotation.T


def apart(rectangles: np.ndarray, other: np.ndarray, gap: float) -> np.ndarray:
    """Whether each of ``rectangles`` (N x 4 x 2, m) keeps at least ``gap`` (m) from the rectangle
    ``other`` (4 x 2) along one of their edge normals (separating axes): (N,) booleans."""
    n = len(rectangles)
    edges = np.concatenate(
        [rectangles[:, [1, 3]] - rectangles[:, [0, 0]], np.broadcast_to(other[[1, 3]] - other[[0, 0]], (n, 2, 2))],
        axis=1,
    )
    axes = edges / np.linalg.norm(edges, axis=2, keepdims=True)
    mine = np.einsum("nkd,ncd->nkc", axes, rectangles)
    theirs = np.einsum("nkd,cd->nkc", axes, other)
    separated = (mine.max(axis=2) + gap <= theirs.min(axis=2)) | (theirs.max(axis=2) + gap <= mine.min(axis=2))
    return separated.any(axis=1)


def _check_count(name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")


def _check_fill(instances: list[Instance], max_objects: int) -> None:
    """One ``ConfigError`` when ``max_objects`` of the largest footprints would crowd the table region."""
    areas = sorted(4 * instance.mesh.half_extents[0] * instance.mesh.half_extents[1] for instance in instances)
    region = float(np.prod(OBJECT_HIGH - OBJECT_LOW))
    fill = sum(areas[len(areas) - max_objects :]) / region
    if fill > MAX_FILL:
        raise ConfigError(
            f"max_objects={max_objects} objects of these classes may cover {fill:.0%} of the table region "
            f"({region:.2f} m^2); at most {MAX_FILL:.0%} leaves room to place them apart: lower max_objects or "
            f"use smaller classes"
        )


def _object_parking(index: int) -> list[float]:
    """Where object ``index`` waits, out of every camera's view (m)."""
    return [100.0 + 2.0 * index, -110.0, PARK_HEIGHT]
