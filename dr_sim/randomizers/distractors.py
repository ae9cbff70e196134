"""Distractors: a bank of objects built once, shown, moved and re-colored per episode, else parked.

The bank holds ``2 * max_count`` bodies (primitives and ``pybullet_data/random_urdfs`` meshes, sizes
drawn once from ``size`` with ``bank_seed``). Sizes cannot change in place in PyBullet, so per-episode
size variety comes from which bank items are shown. Each episode shows ``count`` of them upright at
random positions and yaws on the ``region`` at ``height`` (m), with a random color or pool texture,
colliding with probability ``colliding_probability`` (else visual only: no collision pairs).
Unused items are parked far below the scene; nothing is deleted or reloaded. The bank is made of
maximal-coordinate rigid bodies, which PyBullet's ``saveState``/``restoreState`` leave out: an env that saved
its world before dr_sim bound it (the locomotion envs restore that state on every reset) still restores
it, and the restore leaves the bank where it was.

With ``flying``, each shown item floats in front of the scene's ``main`` camera instead, with that
section's probability (Tremblay et al. 2018): its origin at a drawn depth (m, along the viewing axis)
behind a drawn point of the image, at a uniformly random orientation, never colliding. The camera is
taken in its nominal pose, so that applying an episode's parameters places the items the same way
whatever pose the camera randomization gave the camera since (a replay, a canonical re-render).

An item's parameters (``items``): ``bank`` (its index in the bank), ``colliding``, ``color`` and
``texture`` (when drawn), and either ``xy`` (m) and ``yaw`` (rad) of a resting item, or ``flying``:
``{"depth": m, "image": [x, y] as fractions of the image's width and height from its top-left
corner, "orientation": an xyzw quaternion in the world frame}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pybullet as p
import pybullet_data

from dr_sim.config.schema import DistractorConfig, FlyingDistractors
from dr_sim.errors import ConfigError
from dr_sim.randomizers.base import Params, Randomizer, Term
from dr_sim.randomizers.textures import TexturePool
from dr_sim.scene.camera import Camera
from dr_sim.scene.scene import Scene

PRIMITIVES = ("box", "sphere", "cylinder", "capsule")
_PARK_DEPTH = -50.0  # m
_DEFAULT_SIZE = 0.06  # m, when the config draws no size
FLYING_CAMERA = "main"  # the scene camera that flying distractors float in front of


@dataclass(frozen=True)
class BankItem:
    """One distractor body and how high its origin sits above the surface it rests on (m)."""

    body: int
    kind: str
    size: float
    rest_height: float


class DistractorRandomizer(Randomizer):
    """Shows 0..max_count distractors per episode."""

    section = "distractors"

    def __init__(self, config: DistractorConfig) -> None:
        super().__init__()
        self.config = config
        self.bank: list[BankItem] = []
        self.pool: TexturePool | None = None
        self._client: int | None = None

    def bind(self, scene: Scene) -> None:
        if self._client != scene.client_id or not self._bank_alive(scene.client_id):
            self._client = scene.client_id
            self.bank = self._build_bank(scene.client_id)
            scene.hide_bodies({item.body for item in self.bank})
        self.pool = TexturePool.shared(scene.client_id, self.config.textures) if self.config.textures else None
        if self.config.flying is not None and FLYING_CAMERA not in scene.cameras:
            raise ConfigError(
                f"distractors.flying: flying distractors float in front of the scene's {FLYING_CAMERA!r} camera, "
                f"and this scene has none (cameras: {', '.join(scene.cameras) or 'none'}); remove 'flying'"
            )
        self.terms = []
        if self.config.count is not None:
            self.terms.append(Term("count", self.config.count, {"distractors": np.array(0.0)}))

    def adopt_bank(self, other: DistractorRandomizer) -> None:
        """Use ``other``'s bank (same config) instead of building a second one on the same client."""
        self.bank, self._client = other.bank, other._client

    def _bank_alive(self, client_id: int) -> bool:
        try:
            return all(p.getBodyInfo(item.body, physicsClientId=client_id) for item in self.bank)
        except p.error:
            return False

    def _build_bank(self, client_id: int) -> list[BankItem]:
        rng = np.random.default_rng(self.config.bank_seed)
        bank = []
        for i in range(2 * self.config.max_count):
            kind = self.config.kinds[i % len(self.config.kinds)]
            size = float(self.config.size.distribution.sample_array(rng)) if self.config.size else _DEFAULT_SIZE
            size = max(size, 1e-3)
            if kind == "primitive":
                shape = PRIMITIVES[int(rng.integers(len(PRIMITIVES)))]
                bank.append(_make_primitive(client_id, shape, size, i))
            else:
                low, high = self.config.mesh_ids
                bank.append(_make_mesh(client_id, int(rng.integers(low, high + 1)), size, i))
        return bank

    def sample(self, rng: np.random.Generator, step: int | None = None) -> Params:
        if step is not None:
            return {}
        params = super().sample(rng)
        count = params.get("count", {}).get("distractors", 0.0)
        count = int(np.clip(round(count), 0, self.config.max_count))
        chosen: Sequence[int] = rng.choice(len(self.bank), size=count, replace=False).tolist() if count else []
        low, high = np.asarray(self.config.region_low), np.asarray(self.config.region_high)
        items = []
        flying = self.config.flying
        for index in chosen:
            item: dict[str, Any] = {"bank": int(index)}
            if flying is not None and rng.random() < flying.probability:
                item["flying"] = _draw_flight(rng, flying)
                item["colliding"] = False
            else:
                item["xy"] = (low + (high - low) * rng.random(2)).tolist()
                item["yaw"] = float(rng.uniform(-np.pi, np.pi))
                item["colliding"] = bool(rng.random() < self.config.colliding_probability)
            if self.config.color is not None:
                item["color"] = np.clip(self.config.color.distribution.sample_array(rng), 0, 1).tolist()
            if self.pool is not None and rng.random() < self.config.textured_probability:
                item["texture"] = self.pool.draw(rng)
            items.append(item)
        params["items"] = items
        return params

    def apply(self, scene: Scene, params: Params) -> None:
        if "items" not in params:
            return
        cid = scene.client_id
        shown = {item["bank"] for item in params["items"]}
        for index, bank_item in enumerate(self.bank):
            if index not in shown:
                _park(cid, bank_item.body, index)
        for item in params["items"]:
            bank_item = self.bank[item["bank"]]
            if "flying" in item:
                position, orientation = flight_pose(scene.cameras[FLYING_CAMERA], item["flying"])
            else:
                x, y = item["xy"]
                orientation = p.getQuaternionFromEuler([0.0, 0.0, item["yaw"]])
                position = [x, y, self.config.height + bank_item.rest_height]
            p.resetBasePositionAndOrientation(bank_item.body, position, orientation, physicsClientId=cid)
            enabled = 1 if item["colliding"] else 0
            p.setCollisionFilterGroupMask(bank_item.body, -1, enabled, enabled, physicsClientId=cid)
            texture = self.pool.ids[item["texture"]] if self.pool is not None and "texture" in item else -1
            color = item.get("color", [0.6, 0.6, 0.6, 1.0])
            p.changeVisualShape(bank_item.body, -1, rgbaColor=color, textureUniqueId=texture, physicsClientId=cid)

    @property
    def bodies(self) -> list[int]:
        return [item.body for item in self.bank]

    def neutral(self, scene: Scene) -> None:
        """Park every bank item: the env's own reset never meets last episode's distractors."""
        for index, bank_item in enumerate(self.bank):
            _park(scene.client_id, bank_item.body, index)


def _draw_flight(rng: np.random.Generator, flying: FlyingDistractors) -> dict[str, Any]:
    """A flying item's placement: depth (m), point of the image (fractions of width and height) and a
    uniformly random orientation (xyzw; Shoemake's method)."""
    near, far = flying.depth
    depth = float(rng.uniform(near, far))
    image = rng.random(2).tolist()
    u1, u2, u3 = rng.random(3)
    a, b = np.sqrt(1.0 - u1), np.sqrt(u1)
    orientation = [
        a * np.sin(2 * np.pi * u2),
        a * np.cos(2 * np.pi * u2),
        b * np.sin(2 * np.pi * u3),
        b * np.cos(2 * np.pi * u3),
    ]
    return {"depth": depth, "image": image, "orientation": [float(v) for v in orientation]}


def flight_pose(camera: Camera, flight: dict[str, Any]) -> tuple[list[float], list[float]]:
    """World position (m) and orientation (xyzw) of a flying item: ``flight["depth"]`` m along the viewing
    axis of ``camera`` in its nominal pose, behind the point ``flight["image"]`` (fractions of the image's
    width and height) of its nominal image."""
    nominal = Camera(camera.client_id, camera.width, camera.height, camera.nominal)
    x, y = flight["image"]
    pixel = np.array([x * camera.width, y * camera.height, 1.0])
    in_camera = np.linalg.solve(nominal.intrinsics(), pixel) * flight["depth"]
    pose = nominal.pose()
    position = pose[:3, :3] @ in_camera + pose[:3, 3]
    return position.tolist(), list(flight["orientation"])


def _park(client_id: int, body: int, index: int) -> None:
    position = [100.0 + 2.0 * index, 100.0, _PARK_DEPTH]
    p.resetBasePositionAndOrientation(body, position, [0, 0, 0, 1], physicsClientId=client_id)
    p.setCollisionFilterGroupMask(body, -1, 0, 0, physicsClientId=client_id)


def _make_primitive(client_id: int, shape: str, size: float, index: int) -> BankItem:
    half = size / 2
    geometry: dict[str, Any]
    if shape == "box":
        geometry = {"shapeType": p.GEOM_BOX, "halfExtents": [half, half, half]}
    elif shape == "sphere":
        geometry = {"shapeType": p.GEOM_SPHERE, "radius": half}
    else:
        geometry = {
            "shapeType": p.GEOM_CYLINDER if shape == "cylinder" else p.GEOM_CAPSULE,
            "radius": half / 2,
        }
    visual_geometry = dict(geometry)
    if shape in ("cylinder", "capsule"):
        geometry["height"] = size / 2 if shape == "capsule" else size
        visual_geometry["length"] = geometry["height"]
    collision = p.createCollisionShape(**geometry, physicsClientId=client_id)
    visual = p.createVisualShape(**visual_geometry, physicsClientId=client_id)
    body = p.createMultiBody(0.0, collision, visual, useMaximalCoordinates=True, physicsClientId=client_id)
    _park(client_id, body, index)
    return BankItem(body, shape, size, half)


def _make_mesh(client_id: int, mesh_id: int, size: float, index: int) -> BankItem:
    path = str(Path(pybullet_data.getDataPath()) / "random_urdfs" / f"{mesh_id:03d}" / f"{mesh_id:03d}.urdf")
    probe = p.loadURDF(path, physicsClientId=client_id)
    low, high = (np.asarray(v) for v in p.getAABB(probe, -1, physicsClientId=client_id))
    p.removeBody(probe, physicsClientId=client_id)
    scale = size / max(float(np.max(high - low)), 1e-6)
    body = p.loadURDF(
        path, useFixedBase=True, globalScaling=scale, useMaximalCoordinates=True, physicsClientId=client_id
    )
    origin = np.asarray(p.getBasePositionAndOrientation(body, physicsClientId=client_id)[0])
    bottom = p.getAABB(body, -1, physicsClientId=client_id)[0][2]
    _park(client_id, body, index)
    return BankItem(body, f"mesh{mesh_id:03d}", size, float(origin[2] - bottom))
