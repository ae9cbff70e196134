"""dr_sim/Detect-v0: several objects of several classes per image, as a detector's training data needs.

Read back from PyBullet and the rendered segmentation: each reset shows between ``min_objects`` and
``max_objects`` objects resting on the table (the others parked below ``PARK_HEIGHT``), objects hide one
another in some images but never stand inside one another, a seed gives the same image bit for bit, and
a generated data set boxes exactly the objects shown. Bad options end in one ``ConfigError``.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pybullet as p
import pytest
import yaml

from dr_sim.config import load_config
from dr_sim.datasets.config import load_generator_config
from dr_sim.datasets.generate import generate
from dr_sim.datasets.shards import read_shard, shard_path
from dr_sim.envs.detect import DEFAULT_CLASSES, OBJECT_HIGH, OBJECT_LOW, DetectEnv
from dr_sim.errors import ConfigError
from dr_sim.scene.labels import PARK_HEIGHT, unoccluded_pixels

SIZE = 64  # px
SEEDS = range(8)
NAMES = [f"{label}_{k}" for label in DEFAULT_CLASSES for k in range(2)]
LOOK = {  # textures, colours and flying distractors: what a generator config randomizes
    "appearance": [{"select": "*", "color": {"type": "uniform", "low": [0, 0, 0, 1], "high": [1, 1, 1, 1]}}],
    "distractors": {
        "max_count": 4,
        "count": {"type": "uniform", "low": 0.0, "high": 4.0},
        "flying": {"probability": 0.5, "depth": [0.2, 0.5]},
    },
}


@pytest.fixture(scope="module")
def nominal() -> Iterator[DetectEnv]:
    """Detect in the nominal scene: nothing but the objects can hide an object."""
    env = DetectEnv(image_size=SIZE)
    yield env
    env.close()


def shown_bodies(env: DetectEnv) -> dict[str, int]:
    """The object bodies above the parking height, read back from PyBullet."""
    client = env.physics_client
    bodies = {instance.name: env.sim_bodies[instance.name] for instance in env.instances}
    return {
        name: body
        for name, body in bodies.items()
        if client.getBasePositionAndOrientation(body)[0][2] > PARK_HEIGHT / 2
    }


def test_each_reset_shows_between_min_and_max_objects_on_the_table_and_in_the_image(nominal: DetectEnv) -> None:
    counts, labels = set(), set()
    for seed in SEEDS:
        _, info = nominal.reset(seed=seed)
        shown = shown_bodies(nominal)
        assert nominal.min_objects <= len(shown) <= nominal.max_objects
        assert {entry["name"] for entry in info["objects"]} == set(shown)
        seen = nominal.session.last_frame.body  # the observed image's segmentation
        for instance in nominal.instances:
            body = nominal.sim_bodies[instance.name]
            position = np.asarray(nominal.physics_client.getBasePositionAndOrientation(body)[0])
            if instance.name in shown:
                assert position[2] == pytest.approx(instance.mesh.height / 2)  # resting on the table top
                assert np.all(position[:2] >= OBJECT_LOW)
                assert np.all(position[:2] <= OBJECT_HIGH)
                assert np.any(seen == body), f"seed {seed}: {instance.name} is shown but not in the image"
            else:
                assert position[2] == PARK_HEIGHT
                assert not np.any(seen == body)
        counts.add(len(shown))
        labels |= {name.rsplit("_", 1)[0] for name in shown}
        assert info["counts"] == {label: sum(n.rsplit("_", 1)[0] == label for n in shown) for label in DEFAULT_CLASSES}
    assert len(counts) >= 3, f"the number of objects varies: {counts}"
    assert labels == set(DEFAULT_CLASSES)


def test_objects_hide_one_another_in_some_seeds_but_never_interpenetrate(nominal: DetectEnv) -> None:
    hidden = []
    for seed in SEEDS:
        nominal.reset(seed=seed)
        shown = list(shown_bodies(nominal).values())
        seen = nominal.session.last_frame.body
        for body in shown:
            others = [other for other in shown if other != body]
            for other in others:  # collision boxes (the meshes' own boxes) neither touch nor overlap
                assert not nominal.physics_client.getClosestPoints(body, other, 0.0)
            whole = unoccluded_pixels(nominal.session.camera, body, others)
            visible = int(np.count_nonzero(seen == body))
            assert visible <= whole
            if visible < whole:
                hidden.append((seed, body, visible, whole))
    assert len({seed for seed, *_ in hidden}) >= 2, "objects hide one another in several images"


def test_a_seed_gives_the_same_image_bit_for_bit(closing: Callable[[Any], Any]) -> None:
    env = closing(gym.make("dr_sim/Detect-v0", randomization=LOOK, image_size=SIZE))
    first, info = env.reset(seed=3)
    env.reset(seed=4)
    again, info_again = env.reset(seed=3)
    assert np.array_equal(first, again)
    assert info == info_again
    fresh = closing(gym.make("dr_sim/Detect-v0", randomization=LOOK, image_size=SIZE))
    replayed, _ = fresh.reset(options={"randomization": info["randomization"]})
    assert np.array_equal(first, replayed)


def test_the_one_step_scores_the_counts_and_state_observations_render_nothing(closing: Callable[[Any], Any]) -> None:
    env = closing(gym.make("dr_sim/Detect-v0", obs_type="state", reward_type="sparse", image_size=SIZE))
    task = env.unwrapped
    observation, info = env.reset(seed=1)
    assert observation.shape == (16,)
    assert task.session.last_frame is None
    assert all("box" not in entry for entry in info["objects"])
    counts = np.array(list(info["counts"].values()), dtype=np.float32)
    _, reward, terminated, _, info = env.step(2 * counts / task.max_objects - 1)
    assert (reward, terminated, info["is_success"]) == (0.0, True, True)
    assert info["count_error"] == pytest.approx(0.0, abs=1e-5)
    env.reset(seed=1)
    _, reward, *_ = env.step(np.full(len(counts), -1.0, dtype=np.float32))  # "none of any class"
    assert reward == -1.0


def test_a_generated_data_set_boxes_only_the_objects_shown(tmp_path: Path, example_configs: Path) -> None:
    shipped = yaml.safe_load((example_configs / "detect_generator.yaml").read_text())
    assert shipped["objects"] == NAMES
    config = {**shipped, "randomization": LOOK, "image_size": 48, "shard_size": 3, "compress": False}
    generate(config, tmp_path, 3, export=["coco"], progress=False)
    labels = read_shard(shard_path(tmp_path, 0)).labels
    boxed = set()
    for image in labels:
        objects = {entry["name"]: entry for entry in image["objects"] if entry["category"] == 1}
        assert list(objects) == NAMES
        for entry in objects.values():
            parked = entry["position"][2] < PARK_HEIGHT / 2
            assert (entry["box"] is None) == (parked or entry["pixels"] == 0)
            if entry["box"] is not None:
                boxed.add((image["index"], entry["name"]))
    coco = json.loads((tmp_path / "coco" / "annotations.json").read_text())
    annotated = {(a["image_id"], a["name"]) for a in coco["annotations"] if a["category_id"] == 1}
    assert annotated == boxed
    assert boxed


def test_the_shipped_generator_config_loads(example_configs: Path) -> None:
    config = load_generator_config(example_configs / "detect_generator.yaml")
    assert config.env == "dr_sim/Detect-v0"
    assert config.image_size == 128
    assert Path(str(config.randomization)).name == "detect_randomization.yaml"  # resolved beside the config
    look = load_config(config.randomization)
    assert look.distractors is not None
    assert look.distractors.flying is not None
    assert look.distractors.flying.probability > 0


def test_pickling_rebuilds_the_same_detect() -> None:
    env = DetectEnv(image_size=SIZE, classes={"duck": DEFAULT_CLASSES["duck"]}, max_objects=2, backdrop=False)
    try:
        copy = pickle.loads(pickle.dumps(env))
        try:
            assert list(copy.classes) == ["duck"]
            assert copy.max_objects == 2
            assert "backdrop" not in copy.sim_bodies
            first, _ = env.reset(seed=2)
            again, _ = copy.reset(seed=2)
            assert np.array_equal(first, again)
        finally:
            copy.close()
    finally:
        env.close()


def test_the_backdrop_is_a_body_that_texture_randomization_selects_by_name(closing: Callable[[Any], Any]) -> None:
    look = {"appearance": [{"select": "backdrop/*", "color": {"type": "constant", "value": [0.0, 0.0, 1.0, 1.0]}}]}
    env = closing(gym.make("dr_sim/Detect-v0", randomization=look, image_size=SIZE)).unwrapped
    image, _ = env.reset(seed=0)
    board = env.session.last_frame.body == env.sim_bodies["backdrop"]
    assert board[0].all(), "the board fills the top row of the image"
    assert np.all(image[board][:, 2] > image[board][:, 0])  # painted blue
    assert p.getNumJoints(env.sim_bodies["backdrop"], physicsClientId=env.physics_client._client) == 0


@pytest.mark.parametrize(
    ("options", "fragments"),
    [
        ({"classes": {"duck": "no_such_mesh.urdf"}}, ("classes.duck", "no_such_mesh.urdf", "does not exist")),
        ({"classes": {"duck": {"path": "duck_vhacd.urdf", "scael": 2}}}, ("classes.duck", "'scael'", "scale")),
        ({"classes": {"a/b": "duck_vhacd.urdf"}}, ("'a/b'", "letter")),
        ({"min_objects": 4, "max_objects": 2}, ("min_objects <= max_objects", "4 and 2")),
        ({"max_objects": 9}, ("max_objects", "<= 8")),
        ({"overlap_probability": 1.5}, ("overlap_probability", "[0, 1]", "1.5")),
        ({"target_mesh": "duck_vhacd.urdf"}, ("'target_mesh'", "classes")),
    ],
)
def test_bad_options_are_one_config_error(options: dict[str, Any], fragments: tuple[str, ...]) -> None:
    with pytest.raises(ConfigError) as error:
        DetectEnv(image_size=SIZE, **options)
    message = str(error.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message
