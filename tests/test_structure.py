"""Structured domain randomization (the ``structure`` section) on the real Localize scene in PyBullet.

Every rule is checked on the simulation itself, after the reset that placed, settled and rendered the
scene: contact queries for overlaps and support, the rendered segmentation for visibility, the camera's
own pose for the mount limits.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pybullet as p
import pytest

import dr_sim  # noqa: F401  (registers the tasks)
from dr_sim.config import load_config
from dr_sim.envs.localize import LocalizeEnv
from dr_sim.errors import ConfigError
from dr_sim.scene.labels import project_points, unoccluded_pixels

TOLERANCE = 0.0025  # m: contact queries and resting heights (PyBullet's collision margins are ~1 mm)
VISIBILITY_SLACK = 0.06  # rendered share may fall short of the estimate by pixel rounding at 96 px
SEEDS = range(12)
MIN_FRACTION = 0.4
CAP = {
    "center": [-0.1, 0.0, 0.0],
    "aim_jitter": [0.08, 0.08, 0.0],
    "distance": [0.9, 1.2],
    "elevation": [40.0, 62.0],
    "azimuth": [-20.0, 20.0],
    "height": [0.6, 1.0],
    "tilt": [38.0, 65.0],
    "roll": [-3.0, 3.0],
    "fov": [0.95, 1.05],
}


def structured(**changes: Any) -> dict[str, Any]:
    """A crowded structured Localize config: ten distractors (primitives and meshes), on the table, the
    floor and stacked, near or in front of the target; ``changes`` replace keys of ``structure``."""
    config: dict[str, Any] = {
        "camera": {"nominal": {"eye": [0.55, 0.0, 0.8], "target": [-0.1, 0.0, 0.0], "fov": 50.0}},
        "distractors": {
            "max_count": 10,
            "count": {"type": "constant", "value": 10},
            "kinds": ["primitive", "mesh"],
            "size": {"type": "uniform", "low": 0.03, "high": 0.1},
        },
        "structure": {
            "surfaces": {
                "table": {"body": "table"},
                "workspace": {"body": "table", "region_low": [-0.2, -0.2], "region_high": [0.2, 0.2]},
                "floor": {"height": -0.625, "region_low": [-1.3, -0.9], "region_high": [-0.7, 0.9]},
            },
            "target": {"body": "object", "stands_on": ["workspace"]},
            "distractors": {
                "stands_on": {"table": 4, "floor": 1, "stacked": 2},
                "near_probability": 0.3,
                "occlude_probability": 0.3,
            },
            "visibility": {"min_fraction": MIN_FRACTION},
            "camera": CAP,
            "lights": {"elevation": [20.0, 80.0]},
            "settle": {"steps": 60, "drop": 0.002},
        },
    }
    config["structure"].update(changes)
    return config


@pytest.fixture(scope="module")
def env() -> Iterator[LocalizeEnv]:
    env = LocalizeEnv(randomization=structured(), image_size=96)
    yield env
    env.close()


def placed_bodies(env: LocalizeEnv, params: dict[str, Any]) -> dict[str, int]:
    """Placement key -> body id of an episode's placements."""
    structure = env.session.engine.structure
    assert structure is not None
    return {entry["object"]: structure.bodies[entry["object"]] for entry in params["structure"]["placements"]}


def gap(env: LocalizeEnv, a: int, b: int) -> float:
    """The signed distance (m) between two bodies' collision shapes (negative: they interpenetrate)."""
    points = p.getClosestPoints(a, b, 0.05, physicsClientId=env.session.client_id)
    return min((point[8] for point in points), default=math.inf)


def test_placement_rules_hold_on_many_seeds(env: LocalizeEnv) -> None:
    client = env.session.client_id
    table, plane = env.sim_bodies["table"], env.sim_bodies["plane"]
    surfaces_seen: set[str] = set()
    for seed in SEEDS:
        observation, info = env.reset(seed=seed)
        params = info["randomization"]
        bodies = placed_bodies(env, params)
        assert len(bodies) == 11  # the target and the ten distractors, all placed
        keys = list(bodies)
        for i, a in enumerate(keys):  # no interpenetration
            for b in keys[i + 1 :]:
                assert gap(env, bodies[a], bodies[b]) > -TOLERANCE, (seed, a, b)
        for entry in params["structure"]["placements"]:  # each rests on its surface
            surfaces_seen.add(entry["surface"])
            support = {"floor": plane, "table": table, "workspace": table}.get(entry["surface"])
            if entry["surface"] == "stacked":
                support = bodies[entry["support"]]
            assert abs(gap(env, bodies[entry["object"]], support)) < TOLERANCE, (seed, entry)
        target = env.sim_bodies["object"]
        position, orientation = p.getBasePositionAndOrientation(target, physicsClientId=client)
        roll, pitch, _ = p.getEulerFromQuaternion(orientation)
        assert abs(roll) < 0.01  # upright after settling
        assert abs(pitch) < 0.01
        assert position[2] == pytest.approx(env.target_spec.height / 2, abs=TOLERANCE)
        # in view: every corner of the cube projects inside the image
        half = env.target_spec.size / 2
        corners = np.array([[x, y, z] for x in (-half, half) for y in (-half, half) for z in (-half, half)])
        rotation = np.asarray(p.getMatrixFromQuaternion(orientation)).reshape(3, 3)
        pixels, depth = project_points(env.session.camera, corners @ rotation.T + position)
        assert np.all(depth > 0), seed
        assert np.all((pixels >= 0) & (pixels <= 96)), seed
        # visible share: the rendered pixels against the cube's whole silhouette with the distractors away
        occluders = [body for key, body in bodies.items() if key != "target"]
        whole = unoccluded_pixels(env.session.camera, target, occluders)
        assert whole > 0
        assert info["target_pixels"] / whole >= MIN_FRACTION - VISIBILITY_SLACK, seed
        assert observation.shape == (96, 96, 3)
    assert surfaces_seen == {"workspace", "table", "floor", "stacked"}


def test_occluders_hide_part_of_the_target_but_never_more_than_the_rule_allows() -> None:
    """Every distractor is drawn in front of the target: large boxes hide part of it in most scenes, and
    never so much that less than ``min_fraction`` of it shows (boxes this size would, unchecked)."""
    config = structured(
        distractors={"stands_on": {"table": 1}, "occlude_probability": 1.0}, visibility={"min_fraction": 0.85}
    )
    config["distractors"].update(
        count={"type": "constant", "value": 3}, kinds=["primitive"], size={"type": "constant", "value": 0.1}
    )
    env = LocalizeEnv(randomization=config, image_size=96)
    try:
        shares = []
        for seed in range(12):
            _, info = env.reset(seed=seed)
            bodies = placed_bodies(env, info["randomization"])
            occluders = [body for key, body in bodies.items() if key != "target"]
            shares.append(info["target_pixels"] / unoccluded_pixels(env.session.camera, bodies["target"], occluders))
        assert min(shares) >= 0.85 - VISIBILITY_SLACK
        assert np.mean(np.array(shares) < 0.97) >= 0.5  # hidden in part, as the rule asks
    finally:
        env.close()


def test_near_distractors_stand_beside_the_target() -> None:
    config = structured(distractors={"stands_on": {"table": 1}, "near_probability": 1.0, "near_gap": [0.0, 0.03]})
    config["distractors"]["count"] = {"type": "constant", "value": 4}
    env = LocalizeEnv(randomization=config, obs_type="state")
    try:
        near = []
        for seed in range(6):
            _, info = env.reset(seed=seed)
            target = np.array(info["target_position"][:2])
            for entry in info["randomization"]["structure"]["placements"][1:]:
                near.append(float(np.linalg.norm(np.array(entry["position"][:2]) - target)))
        # A near distractor stands as close as the boxes allow plus its gap: its base lies within the two
        # bounding circles (the cube's reach is 2.8 cm, a distractor's at most 7.5 cm) plus the gap and the
        # spacing (<= 3.5 cm), unless the room beside the cube was taken; free ones spread over the table.
        assert np.mean(np.array(near) < 0.028 + 0.075 + 0.035) >= 0.8
    finally:
        env.close()


def test_camera_pose_lies_inside_the_cap_limits(env: LocalizeEnv) -> None:
    for seed in range(30):
        _, info = env.reset(seed=seed)
        camera = env.session.camera
        pose = camera.pose()
        eye, axis = pose[:3, 3], pose[:3, 2]  # OpenCV frame: z is the optical axis
        offset = eye - np.array(CAP["center"])
        assert CAP["distance"][0] - 1e-9 <= np.linalg.norm(offset) <= CAP["distance"][1] + 1e-9
        elevation = math.degrees(math.asin(offset[2] / np.linalg.norm(offset)))
        assert CAP["elevation"][0] - 1e-6 <= elevation <= CAP["elevation"][1] + 1e-6
        assert CAP["azimuth"][0] - 1e-6 <= math.degrees(math.atan2(offset[1], offset[0])) <= CAP["azimuth"][1] + 1e-6
        assert CAP["height"][0] <= eye[2] <= CAP["height"][1]
        tilt = math.degrees(math.asin(-axis[2]))
        assert CAP["tilt"][0] - 1e-6 <= tilt <= CAP["tilt"][1] + 1e-6
        fov = camera.state.fov / 50.0
        assert CAP["fov"][0] - 1e-9 <= fov <= CAP["fov"][1] + 1e-9
        direction = np.asarray(env.session.scene.light["lightDirection"])
        assert direction[2] >= math.sin(math.radians(20.0)) - 1e-9  # the light comes from above
        assert info["randomization"]["structure"]["camera"]["eye"] == pytest.approx(eye.tolist())


def test_replay_renders_the_same_image_and_seeds_repeat(env: LocalizeEnv) -> None:
    first, info = env.reset(seed=5)
    params = info["randomization"]
    assert "settled" in params["structure"]  # the settled state is recorded
    env.reset(seed=6)
    replayed, replay_info = env.reset(options={"randomization": copy.deepcopy(params)})
    assert np.array_equal(first, replayed)
    assert replay_info["target_position"] == info["target_position"]
    again, again_info = env.reset(seed=5)
    assert again_info["randomization"] == params
    assert np.array_equal(first, again)


def test_settling_moves_the_dropped_target_to_rest(env: LocalizeEnv) -> None:
    _, info = env.reset(seed=3)
    structure = info["randomization"]["structure"]
    start = next(entry for entry in structure["placements"] if entry["object"] == "target")["position"]
    settled = structure["settled"]["target"]
    assert start[2] - settled["position"][2] == pytest.approx(0.002, abs=5e-4)  # it fell its 2 mm drop
    assert np.linalg.norm(settled["linear"]) < 0.02
    z = p.getBasePositionAndOrientation(env.sim_bodies["object"], physicsClientId=env.session.client_id)[0][2]
    assert z == settled["position"][2]


def test_too_many_large_objects_fail_fast_naming_the_rule() -> None:
    config = structured(distractors={"stands_on": {"table": 1}}, visibility=None)
    config["distractors"] = {
        "max_count": 50,
        "count": {"type": "constant", "value": 50},
        "kinds": ["primitive"],
        "size": {"type": "constant", "value": 0.3},
    }
    env = LocalizeEnv(randomization=config, obs_type="state")
    try:
        with pytest.raises(ConfigError, match="'no overlap' cannot hold: the footprints of the 50 distractors"):
            env.reset(seed=0)
    finally:
        env.close()


def test_crowded_stacking_fails_after_bounded_draws_naming_the_rule() -> None:
    """Stacking defeats the area check; the bounded draws then end in one error that names the rule."""
    config = structured(
        distractors={"stands_on": {"workspace": 1, "stacked": 1}}, visibility=None, attempts=5, scene_attempts=2
    )
    config["distractors"].update(count={"type": "constant", "value": 10}, size={"type": "constant", "value": 0.2})
    env = LocalizeEnv(randomization=config, obs_type="state")
    try:
        with pytest.raises(ConfigError, match=r"cannot place distractor\d+ in 2 scenes of 5 draws each: the rule"):
            env.reset(seed=0)
    finally:
        env.close()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"distractors": {"stands_on": {"table": 1}, "occlude_probability": 0.5}, "visibility": {"min_fraction": 1}},
            "can never hold with occluding distractors",
        ),
        ({"target": {"body": "object", "stands_on": ["tabel"]}}, "unknown surface 'tabel'. Did you mean 'table'?"),
        ({"target": {"body": "object", "stands_on": ["stacked"]}}, "the target stands on a named surface"),
        ({"camera": {**CAP, "height": [2.0, 3.0]}}, "no pose of the cap meets height"),
        ({"camera": {**CAP, "distance": [1.2, 0.9]}}, "distance must be [low, high]"),
        ({"lights": {"elevation": [-10.0, 80.0]}}, "upper hemisphere"),
        ({"surfaces": {"floor": {"height": -0.6}}}, "needs region_low and region_high"),
    ],
)
def test_bad_structure_configs_fail_on_loading(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(structured(**changes))


def test_structure_conflicting_with_other_sections_fails_on_loading() -> None:
    config = structured()
    config["camera"]["eye"] = {"type": "uniform", "low": [-0.05] * 3, "high": [0.05] * 3, "op": "add"}
    with pytest.raises(ConfigError, match=re.escape("structure.camera draws the camera pose, but camera.eye also")):
        load_config(config)
    config = structured()
    config["lighting"] = {"direction": {"type": "uniform", "low": [-1, -1, 0.3], "high": [1, 1, 1]}}
    with pytest.raises(ConfigError, match=re.escape("remove lighting.direction")):
        load_config(config)
    config = structured()
    del config["distractors"]
    with pytest.raises(ConfigError, match=re.escape("add a distractors section")):
        load_config(config)


def test_unknown_body_and_unreachable_cap_fail_with_the_rule_named() -> None:
    env = LocalizeEnv(randomization=structured(target={"body": "cube", "stands_on": ["workspace"]}), obs_type="state")
    try:
        with pytest.raises(ConfigError, match=re.escape("structure.target.body: no body named 'cube'")):
            env.reset(seed=0)
    finally:
        env.close()
    config = structured(camera={**CAP, "tilt": [80.0, 89.0]})
    env = LocalizeEnv(randomization=config, obs_type="state")
    try:
        with pytest.raises(ConfigError, match=re.escape("structure.camera: no pose of the cap met its tilt limits")):
            env.reset(seed=0)
    finally:
        env.close()


def test_shipped_example_config_builds_structured_scenes(example_configs: Path) -> None:
    env = LocalizeEnv(randomization=str(example_configs / "sdr_localize.yaml"), image_size=64)
    try:
        observation, info = env.reset(seed=0)
        assert observation.shape == (64, 64, 3)
        assert info["target_pixels"] > 0
        assert {"camera", "light", "placements", "settled"} <= set(info["randomization"]["structure"])
    finally:
        env.close()


def test_image_spread_is_the_pixel_scatter_of_world_points() -> None:
    from dr_sim.camera_spread import grid_points, image_spread

    k = np.array([[50.0, 0.0, 32.0], [0.0, 50.0, 32.0], [0.0, 0.0, 1.0]])
    point = np.array([[0.0, 0.0, 2.0]])  # 2 m straight ahead of a camera at the origin looking along +z
    poses = []
    for offset in (-0.1, 0.1):  # the camera slides 10 cm left and right: the point moves 50 * 0.1 / 2 px
        pose = np.eye(4)
        pose[0, 3] = offset
        poses.append(pose)
    u, v = image_spread([(k, pose) for pose in poses], point)
    assert u == pytest.approx(2.5)
    assert v == pytest.approx(0.0)
    assert image_spread([(k, poses[0])] * 3, grid_points([-0.1, -0.1, 2.0], [0.1, 0.1, 2.0], 3)) == pytest.approx(0)
    with pytest.raises(ValueError, match="at least two cameras"):
        image_spread([(k, poses[0])], point)
    with pytest.raises(ValueError, match="got 0"):
        image_spread([], point)
