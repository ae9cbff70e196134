"""One labelled image of a generator config: the env, its reset by index seed, the render and the labels.

``ImageSource(config).render(i)`` resets the scene with ``seed_for(config seed, i)`` and renders it once
with depth and segmentation; ``shard(k, count)`` renders a whole shard. Labels: the config's ``objects``
first (category 1, ``target``), then every distractor shown (category 2, in bank order); ``visibility``
is the visible fraction of an object's unoccluded silhouette, rendered (others moved away, the table and
floor kept) only when another body shows inside the object's image window, and then only that window.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import pybullet as p
from gymnasium.envs.registration import load_env_creator

from dr_sim.datasets.config import GeneratorConfig
from dr_sim.datasets.shards import (
    DISTRACTOR,
    FLOOR,
    OTHER,
    TABLE,
    TARGET,
    Shard,
    depth_to_mm,
    shard_range,
)
from dr_sim.envs.base import TabletopEnv
from dr_sim.errors import ConfigError, DrSimError, did_you_mean
from dr_sim.native_output import quiet_native_stdout
from dr_sim.registration import register_envs
from dr_sim.scene.camera import Camera
from dr_sim.scene.detail import loading_detail
from dr_sim.scene.labels import (
    PARK_HEIGHT,
    body_pose,
    box_corners,
    local_box,
    object_label,
    project_points,
    semantic_map,
    unoccluded_pixels,
)
from dr_sim.wrapper import DomainRandomization


def seed_for(seed: int, index: int) -> int:
    """The reset seed of image ``index`` (a 64-bit integer drawn from ``SeedSequence([seed, index])``)."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1, np.uint64)[0])


# -- one env that renders images ------------------------------------------------------------------
class ImageSource:
    """One env of the generator config, rendering image ``i`` on demand (``render(i)``).

    dr_sim tasks are built with the randomization (state observations: a reset renders nothing);
    other registered envs are wrapped in ``DomainRandomization``.
    """

    def __init__(self, config: GeneratorConfig) -> None:
        with quiet_native_stdout():
            self.env, self.session, self._reset = _make_env(config)
        self.config = config
        try:
            names = self.session.scene.bodies
            missing = [name for name in config.objects if name not in names]
            if missing:
                hint = did_you_mean(missing[0], names)
                raise ConfigError(
                    f"objects: {config.env} has no body named {missing[0]!r}.{hint} Its bodies: {', '.join(names)}"
                )
            self.objects = [(name, names[name]) for name in config.objects]
            labelled = {body for _, body in self.objects}
            #: Bodies that may hide an object besides the shown distractors (a robot); the table and the
            #: floor are what objects rest on, never in front of them.
            self.others = [b for n, b in names.items() if n not in ("table", "plane") and b not in labelled]
            self.categories = {body: OTHER for body in names.values()}
            self.categories.update({names[n]: c for n, c in (("table", TABLE), ("plane", FLOOR)) if n in names})
            self.categories.update({body: TARGET for _, body in self.objects})
            # Measuring a local box moves the body and puts it back through a quaternion round trip
            # (last-bit changes): measure every box once, before the first image, so that an image never
            # depends on which images this env rendered before it. A first reset builds the distractors.
            self._reset(0)
            self._corners = {
                body: box_corners(*local_box(self.session.client_id, body))
                for body in [body for _, body in self.objects] + self._distractors()
            }
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Close the env (once; later calls do nothing)."""
        if self.env is not None:
            self.env.close()
            self.env = None

    def _distractors(self) -> list[int]:
        engine = self.session.engine
        return [] if engine.distractors is None else engine.distractors.bodies

    def render(self, index: int) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Image ``index``: arrays (``rgb``, ``depth_mm``, ``instance``, ``semantic``) and its labels."""
        seed = seed_for(self.config.seed, index)
        params = self._reset(seed)
        frame = self.session.render_frame(depth=True, segmentation=True)
        assert frame.body is not None
        assert frame.depth is not None
        camera = FrozenCamera(self.session.camera)
        client = camera.client_id

        def parked(body: int) -> bool:
            """Whether ``body`` waits out of view (a scene's object or a distractor not shown this image)."""
            return p.getBasePositionAndOrientation(body, physicsClientId=client)[0][2] < PARK_HEIGHT / 2

        shown = [(f"distractor{k}", body) for k, body in enumerate(self._distractors()) if not parked(body)]
        entries = [(name, body, TARGET) for name, body in self.objects] + [(n, b, DISTRACTOR) for n, b in shown]
        if len(entries) > 255:
            raise DrSimError(f"image {index} has {len(entries)} objects; instance maps hold at most 255")
        visibility = {"none": (), "target": (TARGET,), "all": (TARGET, DISTRACTOR)}[self.config.visibility]
        movable = [body for _, body, _ in entries] + self.others
        objects = []
        for name, body, category in entries:
            corners = self._corners[body]
            unoccluded = None
            if category in visibility and parked(body):
                unoccluded = 0  # out of view: no silhouette to render
            elif category in visibility:
                occluders = [other for other in movable if other != body]
                unoccluded = silhouette_pixels(camera, frame.body, body, corners, occluders)
            label = object_label(camera, frame, name, body, category, corners, unoccluded).to_dict()
            position, orientation = p.getBasePositionAndOrientation(body, physicsClientId=client)
            label["position"], label["orientation"] = list(position), list(orientation)
            objects.append(label)
        categories = {**self.categories, **{body: DISTRACTOR for body in self._distractors()}}
        arrays = {
            "rgb": frame.rgb,
            "depth_mm": depth_to_mm(frame.depth),
            "instance": semantic_map(frame.body, {body: j + 1 for j, (_, body, _) in enumerate(entries)}),
            "semantic": semantic_map(frame.body, categories),
        }
        labels = {
            "index": index,
            "seed": seed,
            "randomization": params,
            "camera": {
                "K": camera.intrinsics().tolist(),
                "pose": camera.pose().tolist(),
                "width": camera.width,
                "height": camera.height,
            },
            "objects": objects,
            "target": {"position": objects[0]["position"]},
        }
        return arrays, labels

    def shard(self, shard: int, count: int, on_image: Callable[[], None] | None = None) -> Shard:
        """The images of ``shard`` (of a data set of ``count`` images) stacked into a ``Shard``."""
        indices = shard_range(shard, self.config.shard_size, count)
        rendered = []
        for index in indices:
            rendered.append(self.render(index))
            if on_image is not None:
                on_image()
        stacked = {key: np.stack([arrays[key] for arrays, _ in rendered]) for key in rendered[0][0]}
        return Shard(index=np.array(indices, dtype=np.int64), **stacked, labels=[labels for _, labels in rendered])


def _make_env(config: GeneratorConfig) -> tuple[Any, Any, Callable[[int], dict[str, Any]]]:
    """(env, its RandomizationSession, reset(seed) -> the episode's randomization parameters)."""
    register_envs()
    name = _registered_id(config.env)
    entry_point = gym.spec(name).entry_point
    creator = load_env_creator(entry_point) if isinstance(entry_point, str) else entry_point
    is_task = isinstance(creator, type) and issubclass(creator, TabletopEnv)
    try:
        if is_task:
            env: Any = gym.make(
                name,
                randomization=config.randomization,
                obs_type="state",
                image_size=config.image_size,
                render_detail=config.render_detail,
                disable_env_checker=True,
                **config.env_kwargs,
            ).unwrapped
            return env, env.session, env.reset_scene
        with loading_detail(config.render_detail):  # the env loads its own URDFs: choose their detail there
            env = gym.make(name, disable_env_checker=True, **config.env_kwargs)
        wrapped = DomainRandomization(
            env,
            config.randomization,
            obs_type=None,
            image_size=config.image_size,
        )
    except TypeError as error:
        raise ConfigError(f"env_kwargs of {name!r}: {error}") from None
    return wrapped, wrapped.session, lambda seed: wrapped.reset(seed=seed)[1]["randomization"]


def _registered_id(env_id: str) -> str:
    """The Gymnasium id of ``env`` (``module:id`` imports the module first); one error if unknown."""
    module, _, name = env_id.rpartition(":")
    try:
        if module:
            with quiet_native_stdout():
                importlib.import_module(module)
        elif name.startswith("Panda") and name.endswith("-v3") and name not in gym.registry:
            with quiet_native_stdout():
                importlib.import_module("panda_gym")
    except ImportError as error:
        raise ConfigError(f"env {env_id!r}: cannot import {module or 'panda_gym'!r} ({error})") from None
    if name not in gym.registry:
        hint = did_you_mean(name, list(gym.registry))
        raise ConfigError(
            f"env: unknown env id {name!r}.{hint} Use a registered Gymnasium id (for example "
            f"dr_sim/Localize-v0) or 'module:id' to import the module that registers it"
        )
    return name


# -- labels that need the camera many times --------------------------------------------------------
class FrozenCamera(Camera):
    """A camera's pose and intrinsics computed once: the labels of a frame ask for them per object."""

    def __init__(self, camera: Camera) -> None:
        super().__init__(camera.client_id, camera.width, camera.height, camera.state)
        self._pose = camera.pose()
        self._k = camera.intrinsics()

    def pose(self) -> np.ndarray:
        return self._pose.copy()

    def intrinsics(self) -> np.ndarray:
        return self._k.copy()


def silhouette_pixels(camera: Camera, seen: np.ndarray, body: int, corners: np.ndarray, occluders: list[int]) -> int:
    """Pixels of ``body``'s whole silhouette in ``camera`` with ``occluders`` moved away: the count of
    ``dr_sim.scene.labels.unoccluded_pixels``, rendering at most the image window that holds it.

    ``seen`` is the frame's body map (rendered in the current state). The silhouette lies inside the
    bounding rectangle of the projected local-box ``corners`` (plus a pixel): when no occluder shows
    in that window, nothing hides the body and its visible pixels are its silhouette (no render);
    else a camera with the same focal length and a shifted principal point renders exactly those
    pixels of the full image. When a corner lies behind the near plane the whole image is the window.
    """
    to_world = body_pose(camera.client_id, body)
    pixels, depth = project_points(camera, (to_world[:3, :3] @ corners.T).T + to_world[:3, 3])
    if np.any(depth <= camera.state.near):
        x0, y0, x1, y1 = 0, 0, camera.width, camera.height
    else:
        x0, y0 = (max(math.floor(value) - 1, 0) for value in pixels.min(axis=0))
        x1 = min(math.ceil(pixels[:, 0].max()) + 1, camera.width)
        y1 = min(math.ceil(pixels[:, 1].max()) + 1, camera.height)
    if x1 <= x0 or y1 <= y0:
        return 0
    window = seen[y0:y1, x0:x1]
    if not np.isin(window, occluders).any():
        return int(np.count_nonzero(window == body))
    k = camera.intrinsics()
    state = camera.state.copy()
    width, height = x1 - x0, y1 - y0
    state.fov = math.degrees(2 * math.atan(0.5 * height / k[1, 1]))
    state.principal_point = np.array([k[0, 2] - x0 - width / 2, k[1, 2] - y0 - height / 2])
    return unoccluded_pixels(Camera(camera.client_id, width, height, state), body, occluders)
