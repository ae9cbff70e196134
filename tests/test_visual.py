"""Visual randomizers, checked on pixels rendered by PyBullet's TinyRenderer (DIRECT, no mocks)."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pybullet as p
import pytest
from gymnasium import spaces

from dr_sim import DomainRandomization
from dr_sim.engine import RandomizationEngine
from dr_sim.errors import ConfigError
from dr_sim.randomizers.textures import TexturePool
from dr_sim.scene.camera import Camera, CameraState, Frame
from dr_sim.scene.scene import Scene

TABLE_TOP = 0.0  # m
BALL_RADIUS = 0.025  # m
BALL_POSITION = np.array([0.12, 0.1, 0.12])
# An oblique camera that sees the whole table top.
OBLIQUE = {"eye": [0.75, 0.25, 0.65], "target": [0.0, 0.0, 0.05], "up": [0.0, 0.0, 1.0], "fov": 50.0}
# Straight down onto the table, 1 m above it.
TOP_DOWN = {"eye": [0.0, 0.0, 1.0], "target": [0.0, 0.0, 0.0], "up": [0.0, 1.0, 0.0], "fov": 45.0}


@dataclass
class World:
    client: int
    bodies: dict[str, int]

    def scene(self, camera: dict[str, Any] = OBLIQUE, width: int = 64, height: int = 48) -> Scene:
        scene = Scene(self.client, self.bodies)
        scene.cameras["main"] = make_camera(self.client, camera, width, height)
        return scene


def make_camera(client: int, spec: dict[str, Any], width: int, height: int) -> Camera:
    state = CameraState(
        np.array(spec["eye"], float),
        np.array(spec["target"], float),
        np.array(spec["up"], float),
        spec["fov"],
        0.01,
        5.0,
    )
    return Camera(client, width, height, state)


def _box(client: int, half: list[float], position: list[float], rgba: list[float], mass: float = 0.0) -> int:
    collision = p.createCollisionShape(p.GEOM_BOX, halfExtents=half, physicsClientId=client)
    visual = p.createVisualShape(p.GEOM_BOX, halfExtents=half, rgbaColor=rgba, physicsClientId=client)
    return p.createMultiBody(mass, collision, visual, basePosition=position, physicsClientId=client)


def build_world(client: int) -> dict[str, int]:
    """A table (a flat box whose top is at z=0), a two-part tower, a cube and a ball."""
    table = _box(client, [0.4, 0.4, 0.02], [0.0, 0.0, TABLE_TOP - 0.02], [0.8, 0.8, 0.75, 1.0])
    half = [0.04, 0.04, 0.04]
    collision = p.createCollisionShape(p.GEOM_BOX, halfExtents=half, physicsClientId=client)
    base_visual = p.createVisualShape(
        p.GEOM_BOX, halfExtents=half, rgbaColor=[0.2, 0.3, 0.9, 1], physicsClientId=client
    )
    top_visual = p.createVisualShape(p.GEOM_BOX, halfExtents=half, rgbaColor=[0.9, 0.6, 0.1, 1], physicsClientId=client)
    tower = p.createMultiBody(
        0.0,
        collision,
        base_visual,
        basePosition=[-0.1, -0.1, 0.04],
        linkMasses=[0.0],
        linkCollisionShapeIndices=[collision],
        linkVisualShapeIndices=[top_visual],
        linkPositions=[[0.0, 0.0, 0.08]],
        linkOrientations=[[0, 0, 0, 1]],
        linkInertialFramePositions=[[0, 0, 0]],
        linkInertialFrameOrientations=[[0, 0, 0, 1]],
        linkParentIndices=[0],
        linkJointTypes=[p.JOINT_FIXED],
        linkJointAxis=[[0, 0, 1]],
        physicsClientId=client,
    )
    cube = _box(client, [0.03, 0.03, 0.03], [0.1, -0.15, 0.03], [0.9, 0.2, 0.2, 1.0])
    ball_visual = p.createVisualShape(
        p.GEOM_SPHERE, radius=BALL_RADIUS, rgbaColor=[0.1, 0.8, 0.2, 1.0], physicsClientId=client
    )
    ball = p.createMultiBody(0.0, -1, ball_visual, basePosition=BALL_POSITION.tolist(), physicsClientId=client)
    return {"table": table, "tower": tower, "cube": cube, "ball": ball}


@pytest.fixture
def world():
    client = p.connect(p.DIRECT)
    p.setGravity(0, 0, -9.81, physicsClientId=client)
    yield World(client, build_world(client))
    TexturePool.forget(client)  # the id is reused by the next connection
    p.disconnect(client)


def run_episode(config: dict[str, Any], scene: Scene, seed: int = 0) -> tuple[dict[str, Any], Frame]:
    """Bind a fresh engine to ``scene``, draw and apply one episode, render the main camera."""
    engine = RandomizationEngine(config)
    engine.ensure_bound(scene)
    params = engine.sample_episode(np.random.default_rng(seed))
    engine.apply(scene, params)
    return params, render(scene)


def render(scene: Scene) -> Frame:
    return scene.cameras["main"].render(scene.light)


def constant(value: float | list[float], op: str = "set") -> dict[str, Any]:
    return {"type": "constant", "value": value, "op": op}


def changed_pixels(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.any(a != b, axis=-1)


# -- camera ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "terms",
    [
        {"eye": constant([0.05, -0.03, 0.04], "add")},
        {"aim": constant([0.06, -0.04], "add")},
        {"roll": constant(0.1, "add")},
        {"fov": constant(1.15, "scale")},
        {"principal_point": constant([4.0, -3.0], "add")},
    ],
    ids=lambda terms: next(iter(terms)),
)
def test_each_camera_term_changes_the_image(world, terms):
    scene = world.scene()
    nominal = render(scene)
    params, moved = run_episode({"camera": terms}, scene)
    assert params["camera"].keys() == terms.keys()
    assert changed_pixels(nominal.rgb, moved.rgb).mean() > 0.02
    assert not np.array_equal(nominal.body, moved.body)


def test_principal_point_shifts_the_image_by_that_many_pixels(world):
    scene = world.scene(width=96, height=72)
    ball = world.bodies["ball"]
    before = mask_centroid(render(scene).body == ball)
    _, shifted = run_episode({"camera": {"principal_point": constant([5.0, -4.0], "add")}}, scene)
    after = mask_centroid(shifted.body == ball)
    np.testing.assert_allclose(after - before, [5.0, -4.0], atol=0.6)


def test_wider_field_of_view_makes_objects_smaller(world):
    scene = world.scene(width=96, height=72)
    cube = world.bodies["cube"]
    area = (render(scene).body == cube).sum()
    _, wide = run_episode({"camera": {"fov": constant(1.3, "scale")}}, scene)
    assert 0 < (wide.body == cube).sum() < 0.8 * area


def mask_centroid(mask: np.ndarray) -> np.ndarray:
    """(u, v) of a mask's centre in continuous pixel coordinates (pixel i spans [i, i + 1))."""
    rows, cols = np.nonzero(mask)
    assert rows.size > 0, "the object is not in view"
    return np.array([cols.mean() + 0.5, rows.mean() + 0.5])


def project(camera: Camera, point: np.ndarray) -> tuple[np.ndarray, float]:
    """Pixel (u, v) and camera-frame depth of a world point, from K and pose() only."""
    in_camera = np.linalg.inv(camera.pose()) @ np.append(point, 1.0)
    uvw = camera.intrinsics() @ in_camera[:3]
    return uvw[:2] / uvw[2], float(in_camera[2])


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_intrinsics_and_pose_project_the_ball_onto_its_mask(world, seed):
    scene = world.scene(width=160, height=120)
    config = {
        "camera": {
            "eye": {"type": "uniform", "low": [-0.1, -0.1, -0.1], "high": [0.1, 0.1, 0.1], "op": "add"},
            "aim": {"type": "uniform", "low": [-0.08, -0.08], "high": [0.08, 0.08], "op": "add"},
            "roll": {"type": "uniform", "low": -0.3, "high": 0.3, "op": "add"},
            "fov": {"type": "uniform", "low": 0.85, "high": 1.15, "op": "scale"},
            "principal_point": {"type": "uniform", "low": [-8.0, -8.0], "high": [8.0, 8.0], "op": "add"},
        }
    }
    _, frame = run_episode(config, scene, seed)
    camera = scene.cameras["main"]
    pixel, depth = project(camera, BALL_POSITION)
    mask = frame.body == world.bodies["ball"]
    assert mask.sum() >= 20
    assert np.linalg.norm(mask_centroid(mask) - pixel) < 0.25  # a sphere's mask centroid is its centre's image
    # The pixel nearest the projected centre sees the ball's front surface: its depth is the
    # centre's camera-frame depth minus about one radius.
    u, v = (int(c) for c in pixel)
    assert frame.depth[v, u] == pytest.approx(depth - BALL_RADIUS, abs=0.006)


def test_depth_is_the_metric_distance_to_the_table(world):
    scene = world.scene(camera=TOP_DOWN, width=48, height=48)
    frame = render(scene)
    table = frame.body == world.bodies["table"]
    assert table.sum() > 100
    # Straight down from 1 m: every table pixel lies 1 m along the optical axis.
    np.testing.assert_allclose(frame.depth[table], 1.0 - TABLE_TOP, atol=2e-3)
    # Raising the camera by 25 cm adds 25 cm to every table pixel.
    _, raised = run_episode({"camera": {"eye": constant([0.0, 0.0, 0.25], "add")}}, scene)
    still_table = table & (raised.body == world.bodies["table"])
    np.testing.assert_allclose(raised.depth[still_table], 1.25 - TABLE_TOP, atol=2e-3)


def test_camera_randomization_never_compounds(world):
    scene = world.scene()
    config = {"camera": {"eye": constant([0.05, 0.0, 0.0], "add"), "fov": constant(1.1, "scale")}}
    _, first = run_episode(config, scene)
    engine = RandomizationEngine(config)
    engine.ensure_bound(scene)
    for seed in range(3):
        engine.apply(scene, engine.sample_episode(np.random.default_rng(seed)))
    assert np.array_equal(render(scene).rgb, first.rgb)


# -- lighting -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "terms",
    [
        {"direction": constant([-0.8, 0.3, 0.4])},
        {"color": constant([1.0, 0.4, 0.2])},
        {"ambient": constant(0.2)},
    ],
    ids=lambda terms: next(iter(terms)),
)
def test_each_lighting_term_changes_the_pixels(world, terms):
    scene = world.scene()
    nominal = render(scene)
    params, lit = run_episode({"lighting": terms}, scene)
    assert params["lighting"].keys() == terms.keys()
    assert changed_pixels(nominal.rgb, lit.rgb).mean() > 0.2
    assert np.array_equal(nominal.body, lit.body)  # light changes no geometry


def test_light_color_tints_the_image(world):
    scene = world.scene()
    _, red = run_episode({"lighting": {"color": constant([1.0, 0.3, 0.3]), "ambient": constant(0.3)}}, scene)
    table = red.body == world.bodies["table"]
    mean = red.rgb[table].astype(float).mean(axis=0)
    assert mean[0] > 1.5 * mean[1]
    assert mean[0] > 1.5 * mean[2]


def test_light_intensity_scales_the_lights_own_contribution(world):
    """``intensity`` scales diffuse and specular: the table brightens with it, at 0 only the ambient light
    is left (the same pixels as diffuse and specular 0), and the geometry is untouched."""
    scene = world.scene()
    light = {"ambient": constant(0.2), "diffuse": constant(0.6), "specular": constant(0.1)}
    brightness = {}
    for intensity in (0.0, 0.5, 1.0, 1.5):
        params, frame = run_episode({"lighting": {**light, "intensity": constant(intensity)}}, scene)
        assert params["lighting"]["intensity"] == {"light": intensity}
        table = frame.body == world.bodies["table"]
        brightness[intensity] = frame.rgb[table].astype(float).mean()
        if intensity == 0.0:
            dark = frame
    assert brightness[0.0] < brightness[0.5] < brightness[1.0] < brightness[1.5]
    unlit = {"ambient": constant(0.2), "diffuse": constant(0.0), "specular": constant(0.0)}
    _, ambient_only = run_episode({"lighting": unlit}, scene)
    assert np.array_equal(dark.rgb, ambient_only.rgb)


def test_light_elevation_and_azimuth_render_as_the_same_direction(world):
    """Elevation 30 deg and azimuth 120 deg light the scene exactly as the unit vector they name; one
    angle alone keeps the other at the nominal direction's, which renders as the nominal light."""
    scene = world.scene()
    up, around = np.radians(30.0), np.radians(120.0)
    vector = [np.cos(up) * np.cos(around), np.cos(up) * np.sin(around), np.sin(up)]
    _, angled = run_episode({"lighting": {"elevation": constant(30.0), "azimuth": constant(120.0)}}, scene)
    _, direct = run_episode({"lighting": {"direction": constant(vector)}}, scene)
    np.testing.assert_array_equal(angled.rgb, direct.rgb)
    _, nominal = run_episode({"lighting": {"direction": constant([0.5, 0.5, 1.0])}}, scene)
    nominal_elevation = float(np.degrees(np.arcsin(1 / np.sqrt(1.5))))  # of (0.5, 0.5, 1)
    _, default_azimuth = run_episode({"lighting": {"elevation": constant(nominal_elevation)}}, scene)
    assert np.abs(nominal.rgb.astype(int) - default_azimuth.rgb.astype(int)).max() <= 1  # float round-off at most
    with pytest.raises(ConfigError, match=r"either as 'direction'.*or as 'elevation'/'azimuth'"):
        RandomizationEngine({"lighting": {"direction": constant([0, 0, 1]), "azimuth": constant(10.0)}})
    with pytest.raises(ConfigError, match=r"lighting\.elevation.*\[0, 90\] deg"):
        RandomizationEngine({"lighting": {"elevation": {"type": "uniform", "low": 40.0, "high": 120.0}}})
    with pytest.raises(ConfigError, match=r"lighting\.intensity.*>= 0"):
        RandomizationEngine({"lighting": {"intensity": {"type": "normal", "mean": 1.0, "std": 0.5}}})


def test_shadow_probability_toggles_shadows_on_the_table(world):
    scene = world.scene(width=96, height=72)
    light = {"direction": constant([0.3, 0.6, 1.0]), "ambient": constant(0.3), "diffuse": constant(0.7)}
    on_params, on = run_episode({"lighting": {**light, "shadow_probability": 1.0}}, scene)
    off_params, off = run_episode({"lighting": {**light, "shadow_probability": 0.0}}, scene)
    assert on_params["lighting"]["shadow"] == {"light": True}
    assert "shadow" not in off_params["lighting"]
    scene.light["shadow"] = 0  # the light persists in the scene; an explicit "no shadow" for the reference
    off = render(scene)
    table = (on.body == world.bodies["table"]) & (off.body == world.bodies["table"])
    darker = table & np.all(on.rgb.astype(int) < off.rgb.astype(int) - 10, axis=-1)
    assert darker.sum() > 20  # the objects cast shadows onto the table
    assert np.array_equal(on.body, off.body)


# -- appearance -----------------------------------------------------------------------------------
def _frames_differ_only_on(before: Frame, after: Frame, body: int, link: int) -> tuple[int, int]:
    """(changed pixels on the link, changed pixels elsewhere); the masks must agree."""
    assert np.array_equal(before.body, after.body)
    assert np.array_equal(before.link, after.link)
    selected = (before.body == body) & (before.link == link)
    changed = changed_pixels(before.rgb, after.rgb)
    return int((changed & selected).sum()), int((changed & ~selected).sum())


def _tower_top(world: World) -> tuple[int, int]:
    return world.bodies["tower"], 0  # link index 0 is the top box; the base is -1


def test_color_changes_the_selected_link_and_only_that_link(world):
    scene = world.scene(width=96, height=72)
    nominal = render(scene)
    params, colored = run_episode(
        {"appearance": [{"select": "tower/link1", "color": constant([0.1, 0.9, 0.9, 1.0])}]}, scene
    )
    assert list(params["appearance.0"]["color"]) == ["tower/link1"]
    on_link, elsewhere = _frames_differ_only_on(nominal, colored, *_tower_top(world))
    assert on_link > 30
    assert elsewhere == 0


def _texture_config(select: str, **textures: Any) -> dict[str, Any]:
    pool = {"families": ["checker"], "pool_size": 3, "resolution": 16, "probability": 1.0, **textures}
    return {"appearance": [{"select": select, "textures": pool}]}


def test_pool_texture_changes_the_selected_link_and_only_that_link(world):
    scene = world.scene(width=96, height=72)
    nominal = render(scene)
    params, textured = run_episode(_texture_config("tower/link1"), scene)
    assert params["appearance.0"]["texture"]["tower/link1"] >= 0
    on_link, elsewhere = _frames_differ_only_on(nominal, textured, *_tower_top(world))
    assert on_link > 30
    assert elsewhere == 0


def test_tint_changes_the_selected_link_and_only_that_link(world):
    scene = world.scene(width=96, height=72)
    config = _texture_config("tower/link1")
    config["appearance"][0]["tint"] = constant([1.0, 1.0, 1.0])
    params, white = run_episode(config, scene)
    config["appearance"][0]["tint"] = constant([0.9, 0.3, 0.3])
    tinted_params, tinted = run_episode(config, scene)
    # Same seed, constant tint: the same pool texture, only its tint differs.
    assert tinted_params["appearance.0"]["texture"] == params["appearance.0"]["texture"]
    on_link, elsewhere = _frames_differ_only_on(white, tinted, *_tower_top(world))
    assert on_link > 30
    assert elsewhere == 0
    selected = (white.body == world.bodies["tower"]) & (white.link == 0)
    assert tinted.rgb[selected][:, 1].mean() < 0.6 * white.rgb[selected][:, 1].mean()


def test_texture_with_probability_one_patterns_a_flat_face(world):
    # Straight down onto the table top: one flat, evenly lit face.
    scene = world.scene(camera=TOP_DOWN, width=64, height=64)
    table = world.bodies["table"]
    plain = render(scene)
    face = (plain.body == table) & (plain.link == -1)
    assert face.sum() > 500
    assert plain.rgb[face].astype(float).std(axis=0).max() < 2.0
    # PyBullet maps each face of a box to a quarter-by-quarter cell of the texture, so a family
    # with fine detail everywhere is used: every pool texture must show on the face.
    config = _texture_config("table/*", families=["noise"], pool_size=3, resolution=64)
    drawn = set()
    for seed in range(8):
        params, textured = run_episode(config, scene, seed)
        drawn.add(params["appearance.0"]["texture"]["table/link0"])
        face = (textured.body == table) & (textured.link == -1)
        assert textured.rgb[face].astype(float).std(axis=0).max() > 8.0, f"seed {seed}: a flat face"
    assert drawn == {1, 2, 3}  # the three procedural textures, never the plain white one


def test_texture_probability_zero_keeps_the_nominal_look(world):
    scene = world.scene()
    nominal = render(scene)
    config = _texture_config("*", probability=0.0)
    for seed in range(3):
        params, frame = run_episode(config, scene, seed)
        assert set(params["appearance.0"]["texture"].values()) == {-1}
        assert np.array_equal(frame.rgb, nominal.rgb)


def test_untextured_episode_restores_the_nominal_look(world):
    scene = world.scene()
    nominal = render(scene)
    engine = RandomizationEngine(_texture_config("*", probability=0.5))
    engine.ensure_bound(scene)
    params = engine.sample_episode(np.random.default_rng(0))
    engine.apply(scene, params)
    assert not np.array_equal(render(scene).rgb, nominal.rgb)
    untextured = {name: -1 for name in params["appearance.0"]["texture"]}
    engine.apply(scene, {"appearance.0": {"texture": untextured}})
    assert np.array_equal(render(scene).rgb, nominal.rgb)


def test_texture_pool_is_loaded_once(world, monkeypatch):
    calls = []
    load = p.loadTexture

    def counting_load(*args: Any, **kwargs: Any) -> int:
        calls.append(args)
        return load(*args, **kwargs)

    monkeypatch.setattr(p, "loadTexture", counting_load)
    scene = world.scene()
    config = _texture_config("*", families=["checker", "noise"], pool_size=6)
    engine = RandomizationEngine(config)
    engine.ensure_bound(scene)
    pool = engine.randomizers["appearance.0"].pool
    assert pool is not None
    assert len(calls) == len(pool) == 7  # six textures and the plain white one
    ids = list(pool.ids)
    images = set()
    for seed in range(5):
        engine.ensure_bound(scene)
        params = engine.sample_episode(np.random.default_rng(seed))
        engine.apply(scene, params)
        images.add(render(scene).rgb.tobytes())
    assert len(calls) == 7  # no episode loaded a texture
    assert engine.randomizers["appearance.0"].pool is pool
    assert pool.ids == ids
    assert len(images) > 1
    # A second engine with the same texture config on the same client shares the pool.
    other = RandomizationEngine(config)
    other.ensure_bound(scene)
    assert other.randomizers["appearance.0"].pool is pool
    assert len(calls) == 7


_MEASURE_POOL = """
import pybullet as p
from dr_sim.config.schema import TextureConfig
from dr_sim.randomizers.textures import TexturePool
client = p.connect(p.DIRECT)
pool = TexturePool(client, TextureConfig(families=["noise"], pool_size={count}, resolution={resolution}))
print(pool.memory_bytes)
"""


def test_texture_pool_reports_the_memory_of_its_pixels():
    # In a fresh process, so that memory freed by earlier tests cannot hide the pool's growth.
    resolution, count = 512, 8
    script = _MEASURE_POOL.format(count=count, resolution=resolution)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60)
    memory = int(result.stdout.strip().splitlines()[-1])
    # PyBullet keeps at least the RGB pixels of every texture in the process.
    assert memory >= count * resolution * resolution * 3


def test_photo_folders_are_read_with_their_subfolders_and_without_hidden_files(tmp_path: Path) -> None:
    import cv2

    from dr_sim.config.schema import TextureConfig

    photos = tmp_path / "photos"
    for relative, bgr in (("wood/oak.png", (0, 0, 255)), ("stone/grey/slate.jpg", (255, 0, 0))):
        (photos / relative).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(photos / relative), np.full((16, 16, 3), bgr, np.uint8))
    (photos / "._oak.png").write_bytes(b"a macOS resource fork, not an image")
    (photos / ".cache").mkdir()
    cv2.imwrite(str(photos / ".cache" / "thumb.png"), np.zeros((4, 4, 3), np.uint8))
    client = p.connect(p.DIRECT)
    try:
        pool = TexturePool(client, TextureConfig(folders=[str(photos)], pool_size=0, resolution=8))
        assert pool.sources == ["white", str(photos / "stone/grey/slate.jpg"), str(photos / "wood/oak.png")]
    finally:
        TexturePool.forget(client)
        p.disconnect(client)


# -- distractors ----------------------------------------------------------------------------------
def _distractor_config(count: float | dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "distractors": {
            "max_count": 6,
            "count": count if isinstance(count, dict) else constant(count),
            "kinds": ["primitive"],
            "size": {"type": "uniform", "low": 0.04, "high": 0.06},
            "region_low": [-0.25, -0.25],
            "region_high": [0.25, 0.25],
            "color": constant([0.9, 0.1, 0.9, 1.0]),
            **extra,
        }
    }


def _visible(frame: Frame, bodies: list[int]) -> set[int]:
    return set(np.unique(frame.body).tolist()) & set(bodies)


def test_distractor_count_shows_in_the_segmentation(world):
    scene = world.scene(camera=TOP_DOWN, width=96, height=96)
    engine = RandomizationEngine(_distractor_config({"type": "uniform", "low": 0.0, "high": 6.0}))
    engine.ensure_bound(scene)
    bank = engine.distractors.bodies
    assert len(bank) == 12
    assert not set(bank) & set(scene.bodies.values())  # hidden from names and selectors
    visible_counts = set()
    for seed in range(6):
        params = engine.sample_episode(np.random.default_rng(seed))
        engine.apply(scene, params)
        count = round(params["distractors"]["count"]["distractors"])
        shown = {bank[item["bank"]] for item in params["distractors"]["items"]}
        assert len(shown) == count
        visible = _visible(render(scene), bank)
        assert visible == shown
        visible_counts.add(len(visible))
        for body in set(bank) - shown:  # parked far below the scene
            assert p.getBasePositionAndOrientation(body, physicsClientId=world.client)[0][2] < -10
        engine.ensure_bound(scene)
        assert engine.distractors.bodies == bank  # built once, never reloaded
    assert len(visible_counts) >= 3
    engine.apply(scene, {"distractors": {"items": []}})
    assert _visible(render(scene), bank) == set()


def test_distractors_include_meshes_and_rest_on_the_surface(world):
    scene = world.scene(camera=TOP_DOWN, width=96, height=96)
    config = _distractor_config(6, kinds=["mesh"], height=TABLE_TOP)
    engine = RandomizationEngine(config)
    engine.ensure_bound(scene)
    params = engine.sample_episode(np.random.default_rng(3))
    engine.apply(scene, params)
    frame = render(scene)
    shown = [engine.distractors.bank[item["bank"]] for item in params["distractors"]["items"]]
    assert all(item.kind.startswith("mesh") for item in shown)
    assert len(_visible(frame, [item.body for item in shown])) >= 4
    for item in shown:
        bottom = p.getAABB(item.body, -1, physicsClientId=world.client)[0][2]
        assert bottom == pytest.approx(TABLE_TOP, abs=0.01)


def _drop_cube_on_distractor(world: World, colliding: float) -> tuple[bool, float]:
    """Show one distractor at the table centre and drop a small dynamic cube onto it."""
    scene = world.scene()
    config = _distractor_config(1, region_low=[0.0, 0.0], region_high=[0.0, 0.0], colliding_probability=colliding)
    config["distractors"]["size"] = constant(0.08)
    engine = RandomizationEngine(config)
    engine.ensure_bound(scene)
    params = engine.sample_episode(np.random.default_rng(0))
    engine.apply(scene, params)
    (item,) = params["distractors"]["items"]
    assert item["colliding"] is bool(colliding)
    distractor = engine.distractors.bank[item["bank"]].body
    cube = _box(world.client, [0.01, 0.01, 0.01], [0.0, 0.0, 0.2], [1, 1, 1, 1], mass=0.05)
    touched = False
    for _ in range(120):
        p.stepSimulation(physicsClientId=world.client)
        touched |= bool(p.getContactPoints(cube, distractor, physicsClientId=world.client))
    height = p.getBasePositionAndOrientation(cube, physicsClientId=world.client)[0][2]
    return touched, height


def test_colliding_distractors_stop_a_falling_cube(world):
    touched, height = _drop_cube_on_distractor(world, colliding=1.0)
    assert touched
    assert height > TABLE_TOP + 0.02  # it came to rest on (or against) the distractor


def test_visual_only_distractors_let_a_falling_cube_through(world):
    touched, height = _drop_cube_on_distractor(world, colliding=0.0)
    assert not touched
    assert height == pytest.approx(TABLE_TOP + 0.01, abs=0.003)  # on the table, inside the distractor


# -- image corruption -----------------------------------------------------------------------------
class TableEnv(gym.Env[np.ndarray, np.ndarray]):
    """A minimal PyBullet env: the world above on its own DIRECT client, found as ``client_id``."""

    def __init__(self) -> None:
        self.client_id = p.connect(p.DIRECT)
        self.sim_bodies = build_world(self.client_id)
        self.observation_space = spaces.Box(-10.0, 10.0, (3,), np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, (3,), np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        return np.zeros(3, np.float32), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        p.stepSimulation(physicsClientId=self.client_id)
        return np.zeros(3, np.float32), 0.0, False, False, {}

    def close(self) -> None:
        if p.isConnected(self.client_id):
            p.disconnect(self.client_id)


@pytest.fixture
def table_env():
    env = TableEnv()
    yield env
    env.close()


IMAGE_TERMS = [
    {"noise_std": constant(0.05)},
    {"blur_sigma": constant(1.5)},
    {"brightness": constant(0.15)},
    {"contrast": constant(0.6)},
    {"saturation": constant(0.3)},
    {"hue": constant(40.0)},
    {"gamma": constant(1.6)},
    {"jpeg_quality": constant(10.0), "jpeg_probability": 1.0},
]


@pytest.mark.parametrize("terms", IMAGE_TERMS, ids=lambda terms: next(iter(terms)))
def test_each_image_term_changes_rgb_but_not_depth_or_segmentation(table_env, terms):
    wrapper = DomainRandomization(table_env, {"image": terms}, obs_type="rgb", image_size=48, camera=OBLIQUE)
    observation, info = wrapper.reset(seed=0)
    exact = wrapper.camera.render(wrapper.scene.light)  # the same frame, uncorrupted
    frame = wrapper.render_frame()
    assert observation.shape == exact.rgb.shape
    assert observation.dtype == np.uint8
    assert changed_pixels(exact.rgb, observation).mean() > 0.1
    assert changed_pixels(exact.rgb, frame.rgb).mean() > 0.1
    assert np.array_equal(frame.depth, exact.depth)
    assert np.array_equal(frame.body, exact.body)
    assert np.array_equal(frame.link, exact.link)
    assert set(info["randomization"]["image"]) >= set(terms) - {"jpeg_probability"}


def test_image_terms_act_in_their_documented_direction(table_env):
    wrapper = DomainRandomization(table_env, "none", obs_type="rgb", image_size=48, camera=OBLIQUE)
    wrapper.reset(seed=0)
    exact = wrapper.camera.render(wrapper.scene.light).rgb.astype(float)

    def corrupt(**levels: float) -> np.ndarray:
        params = {name: {"image": value} for name, value in levels.items()}
        engine = RandomizationEngine({"image": {name: constant(1.0) for name in levels}})  # levels come from params
        return engine.image.corrupt(exact.astype(np.uint8), params, np.random.default_rng(0)).astype(float)

    dim = exact.max(axis=-1) < 180  # pixels that a brighter image cannot saturate
    assert dim.sum() > 50
    assert corrupt(brightness=0.2)[dim].mean() > exact[dim].mean() + 40
    assert corrupt(contrast=0.5).std() < 0.7 * exact.std()
    gray = corrupt(saturation=0.0)
    assert np.abs(gray - gray.mean(axis=-1, keepdims=True)).max() <= 1.0
    assert corrupt(gamma=2.0).mean() < exact.mean() - 20
    blurred = corrupt(blur_sigma=2.0)
    assert np.abs(np.diff(blurred, axis=1)).mean() < 0.8 * np.abs(np.diff(exact, axis=1)).mean()


def test_image_noise_is_fresh_each_frame_and_reproducible_per_episode(table_env):
    wrapper = DomainRandomization(
        table_env, {"image": {"noise_std": constant(0.05)}}, obs_type="rgb", image_size=32, camera=OBLIQUE
    )
    first, _ = wrapper.reset(seed=4)
    second, *_ = wrapper.step(np.zeros(3, np.float32))
    assert not np.array_equal(first, second)  # the scene is static: only the noise differs
    again, _ = wrapper.reset(seed=4)
    assert np.array_equal(first, again)
