"""Structure: scenes built by their context (Prakash et al. 2019), the config's ``structure`` section.

Bound to a scene, it measures what sampling needs once: the fixed surfaces (heights by ray casts), the
boxes of the target and of every distractor of the bank (``dr_sim.scene.labels.local_box``), the
camera's size and intrinsics. ``arrange(rng, episode)`` then draws an episode's structure from those
alone, after the other randomizers have drawn theirs (it places the distractors that the ``distractors``
section chose to show); ``apply`` writes it into the scene after them.

Parameters (``info["randomization"]["structure"]``; metres, radians):

- ``camera``: ``{"name", "eye", "target", "roll", "fov"}``, the camera's mount pose and vertical field of
  view (deg; with ``structure.camera``);
- ``light``: ``{"direction"}``, a unit vector towards the light (with ``structure.lights``);
- ``placements``: ``[{"object": "target" | "distractor<k>", "position", "yaw", "surface"}]``, base
  positions of upright bodies (``k`` indexes the distractor bank; a stacked one names its ``support``);
  dynamic bodies start ``settle.drop`` above their surface;
- ``settled``: object -> base pose and velocity after ``settle.steps`` physics steps. ``apply`` writes
  it when it settles an episode; when the parameters hold it already (a replay) it is restored instead of
  simulated, so a replay ends in the same state bit for bit.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pybullet as p

from dr_sim.config.schema import StructureConfig
from dr_sim.errors import ConfigError, SceneError
from dr_sim.randomizers.base import Params, Randomizer
from dr_sim.randomizers.camera import aim_camera
from dr_sim.randomizers.distractors import DistractorRandomizer
from dr_sim.randomizers.lighting import set_direction
from dr_sim.scene.labels import local_box
from dr_sim.scene.scene import Scene
from dr_sim.structure.boxes import UprightBox
from dr_sim.structure.mount import camera_pose, light_direction
from dr_sim.structure.placement import Item, Shape, arrange
from dr_sim.structure.settle import restore, settle
from dr_sim.structure.surfaces import STACK_TOPS, Surface, fixed_surface
from dr_sim.structure.visibility import View

TARGET = "target"


class StructureRandomizer(Randomizer):
    """Places the target and the shown distractors, mounts the camera, lights the scene from above and
    lets it settle (see the module docstring)."""

    section = "structure"

    def __init__(self, config: StructureConfig, distractors: DistractorRandomizer | None) -> None:
        super().__init__()
        self.config = config
        self.distractors = distractors
        self.surfaces: dict[str, Surface] = {}
        self.slabs: list[UprightBox] = []
        self.target: Item | None = None
        self.bank: list[Item] = []
        self.bodies: dict[str, int] = {}
        self.dynamic: set[str] = set()
        self.camera_name = config.camera.camera if config.camera is not None else "main"

    def bind(self, scene: Scene) -> None:
        cid = scene.client_id
        self.surfaces = {}
        for name, spec in self.config.surfaces.items():
            body = None if spec.body is None else _body(scene, spec.body, f"structure.surfaces.{name}.body")
            self.surfaces[name] = fixed_surface(cid, name, spec, body)
        self.slabs = [surface.slab for surface in self.surfaces.values() if surface.slab is not None]
        self.bodies = {}
        self.target = None
        if self.config.target is not None:
            body = _body(scene, self.config.target.body, "structure.target.body")
            self.bodies[TARGET] = body
            self.target = Item(TARGET, Shape(*local_box(cid, body)))
        bank = self.distractors.bank if self.distractors is not None and self.config.distractors else []
        self.bank = [
            Item(f"distractor{k}", Shape(*local_box(cid, item.body)), STACK_TOPS.get(item.kind))
            for k, item in enumerate(bank)
        ]
        self.bodies.update({f"distractor{k}": item.body for k, item in enumerate(bank)})
        self.dynamic = {
            key for key, body in self.bodies.items() if p.getDynamicsInfo(body, -1, physicsClientId=cid)[0] > 0
        }
        if self.camera_name not in scene.cameras:
            raise ConfigError(
                f"structure.camera.camera: no camera named {self.camera_name!r}; cameras: {', '.join(scene.cameras)}"
            )
        self._camera = scene.cameras[self.camera_name]

    def places(self, body: int) -> bool:
        """Whether this structure places ``body`` (a task leaves such a body where it stands)."""
        return body in self.bodies.values()

    def arrange(self, rng: np.random.Generator, episode: dict[str, Any]) -> Params:
        """An episode's structure, given the other randomizers' parameters ``episode`` (JSON-friendly)."""
        shown = (
            [self.bank[item["bank"]] for item in episode.get("distractors", {}).get("items", [])] if self.bank else []
        )
        params: Params = {}
        if self.config.lights is not None:
            params["light"] = {"direction": light_direction(rng, self.config.lights).tolist()}
        view, placed = arrange(rng, self.config, self.surfaces, self.slabs, self._draw_view, self.target, shown)
        if self.config.camera is not None:
            state = view.camera.state
            params["camera"] = {
                "name": self.camera_name,
                "eye": state.eye.tolist(),
                "target": state.target.tolist(),
                "roll": state.roll,
                "fov": state.fov,
            }
        drop = self.config.settle.drop
        params["placements"] = []
        for item in placed:
            position = item.item.shape.base(item.box)
            position[2] += drop if item.item.key in self.dynamic else 0.0
            entry = {
                "object": item.item.key,
                "position": position.tolist(),
                "yaw": item.box.yaw,
                "surface": item.surface,
            }
            params["placements"].append(entry if item.support is None else {**entry, "support": item.support})
        return params

    def _draw_view(self, rng: np.random.Generator) -> View:
        mount = self.config.camera
        if mount is None:
            return View.nominal(self._camera)
        pose = camera_pose(rng, mount, self.config.attempts)
        return View.of(self._camera, pose.eye, pose.target, pose.roll, self._camera.nominal.fov * pose.fov_scale)

    def apply(self, scene: Scene, params: Params) -> None:
        cid = scene.client_id
        if "camera" in params:
            camera = params["camera"]
            aim_camera(scene.cameras[camera["name"]], camera["eye"], camera["target"], camera["roll"], camera["fov"])
        if "light" in params:
            set_direction(scene, params["light"]["direction"])
        placed = {}
        for placement in params.get("placements", []):
            body = self.bodies[placement["object"]]
            orientation = p.getQuaternionFromEuler([0.0, 0.0, placement["yaw"]])
            p.resetBasePositionAndOrientation(body, placement["position"], orientation, physicsClientId=cid)
            p.resetBaseVelocity(body, [0.0, 0.0, 0.0], [0.0, 0.0, 0.0], physicsClientId=cid)
            placed[placement["object"]] = body
        moving = {key: body for key, body in placed.items() if key in self.dynamic}
        if moving and self.config.settle.steps:
            if "settled" not in params:
                params["settled"] = settle(cid, moving, self.config.settle.steps)
            restore(cid, moving, params["settled"])


def _body(scene: Scene, name: str, where: str) -> int:
    try:
        return scene.body(name)
    except SceneError as error:
        raise ConfigError(f"{where}: {error}") from None
