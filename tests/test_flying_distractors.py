"""Flying distractors (``distractors.flying``, Tremblay et al. 2018): a shown distractor floats in front of
the camera at the drawn depth, inside the view, at a random orientation, and shows in the image; the
placement is in the episode's record and replays bit for bit; a bad section is one ``ConfigError``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from dr_sim.config import load_config
from dr_sim.errors import ConfigError
from dr_sim.scene.camera import Camera

SIZE = 64  # px
DEPTH = [0.25, 0.45]  # m along the camera's axis: the table lies about 0.86 m away


def flying(probability: float, count: float = 3.0) -> dict[str, Any]:
    return {
        "distractors": {
            "max_count": 3,
            "count": {"type": "constant", "value": count},
            "size": {"type": "uniform", "low": 0.03, "high": 0.06},
            "flying": {"probability": probability, "depth": DEPTH},
        }
    }


def bank_body(env: Any, item: dict[str, Any]) -> int:
    return int(env.unwrapped.session.engine.distractors.bank[item["bank"]].body)


def test_flying_distractors_float_at_the_drawn_depth_in_view_and_show_in_the_image(
    closing: Callable[[Any], Any],
) -> None:
    env = closing(gym.make("dr_sim/Localize-v0", randomization=flying(1.0), image_size=SIZE))
    session = env.unwrapped.session
    client = env.unwrapped.physics_client
    orientations = []
    for seed in range(4):
        _, info = env.reset(seed=seed)
        items = info["randomization"]["distractors"]["items"]
        assert len(items) == 3
        assert all("flying" in item and "xy" not in item for item in items)
        camera = session.camera
        world_to_camera = np.linalg.inv(camera.pose())
        seen = session.last_frame.body
        for item in items:
            body = bank_body(env, item)
            position, orientation = client.getBasePositionAndOrientation(body)
            in_camera = world_to_camera[:3, :3] @ position + world_to_camera[:3, 3]
            assert DEPTH[0] <= in_camera[2] <= DEPTH[1]
            assert in_camera[2] == pytest.approx(item["flying"]["depth"], abs=1e-6)
            pixel = (camera.intrinsics() @ (in_camera / in_camera[2]))[:2]
            assert pixel == pytest.approx(np.asarray(item["flying"]["image"]) * SIZE, abs=1e-4)
            assert np.all((pixel >= 0) & (pixel <= SIZE))  # inside the view frustum
            assert abs(np.dot(orientation, item["flying"]["orientation"])) == pytest.approx(1.0, abs=1e-6)
            assert np.any(seen == body), f"seed {seed}: flying distractor {body} is not in the image"
            orientations.append(orientation)
    tilts = [abs(np.asarray(client.getMatrixFromQuaternion(q)).reshape(3, 3)[2, 2]) for q in orientations]
    assert min(tilts) < 0.9, "orientations are random in 3-D, not only yaws"


def test_some_fly_and_the_others_rest_with_probability_in_between(closing: Callable[[Any], Any]) -> None:
    env = closing(gym.make("dr_sim/Localize-v0", randomization=flying(0.5), image_size=SIZE))
    kinds = set()
    for seed in range(6):
        _, info = env.reset(seed=seed)
        for item in info["randomization"]["distractors"]["items"]:
            position = env.unwrapped.physics_client.getBasePositionAndOrientation(bank_body(env, item))[0]
            if "flying" in item:
                assert position[2] > 0.2
                assert item["colliding"] is False
            else:
                assert position[:2] == pytest.approx(item["xy"])
                assert position[2] < 0.1
            kinds.add("flying" in item)
    assert kinds == {True, False}


def test_the_flying_placement_replays_bit_for_bit_from_the_record(closing: Callable[[Any], Any]) -> None:
    look = {**flying(0.7), "camera": {"eye": {"type": "uniform", "low": [-0.05] * 3, "high": [0.05] * 3, "op": "add"}}}
    env = closing(gym.make("dr_sim/Localize-v0", randomization=look, image_size=SIZE))
    image, info = env.reset(seed=11)
    record = info["randomization"]
    positions = [
        env.unwrapped.physics_client.getBasePositionAndOrientation(bank_body(env, i))
        for i in record["distractors"]["items"]
    ]
    fresh = closing(gym.make("dr_sim/Localize-v0", randomization=look, image_size=SIZE))
    replayed, again = fresh.reset(options={"randomization": record})
    assert again["randomization"] == record
    assert np.array_equal(image, replayed)
    assert positions == [
        fresh.unwrapped.physics_client.getBasePositionAndOrientation(bank_body(fresh, i))
        for i in record["distractors"]["items"]
    ]


def test_the_placement_is_in_front_of_the_nominal_camera_whatever_the_jitter(closing: Callable[[Any], Any]) -> None:
    look = {**flying(1.0), "camera": {"eye": {"type": "uniform", "low": [-0.1] * 3, "high": [0.1] * 3, "op": "add"}}}
    env = closing(gym.make("dr_sim/Localize-v0", randomization=look, image_size=SIZE))
    _, info = env.reset(seed=5)
    camera = env.unwrapped.session.camera
    nominal = Camera(camera.client_id, camera.width, camera.height, camera.nominal)
    world_to_nominal = np.linalg.inv(nominal.pose())
    for item in info["randomization"]["distractors"]["items"]:
        position = env.unwrapped.physics_client.getBasePositionAndOrientation(bank_body(env, item))[0]
        depth = (world_to_nominal[:3, :3] @ position + world_to_nominal[:3, 3])[2]
        assert depth == pytest.approx(item["flying"]["depth"], abs=1e-6)


@pytest.mark.parametrize(
    ("section", "fragments"),
    [
        ({"probability": 1.5, "depth": DEPTH}, ("distractors.flying.probability", "1.5", "less than or equal to 1")),
        (
            {"probability": -0.1, "depth": DEPTH},
            ("distractors.flying.probability", "-0.1", "greater than or equal to 0"),
        ),
        ({"probability": 0.5, "depth": [0.6, 0.2]}, ("distractors.flying", "0 < near <= far", "[0.6, 0.2]")),
        ({"probability": 0.5, "depth": [0.0, 0.2]}, ("distractors.flying", "0 < near <= far", "[0.0, 0.2]")),
        ({"probability": 0.5, "depth": [-1.0, 0.2]}, ("distractors.flying", "0 < near <= far", "[-1.0, 0.2]")),
        ({"probability": 0.5, "depth": [0.2]}, ("distractors.flying.depth", "at least 2")),
        ({"probability": 0.5, "depht": DEPTH}, ("distractors.flying", "'depht'", "depth")),
    ],
)
def test_a_bad_flying_section_is_one_config_error(section: dict[str, Any], fragments: tuple[str, ...]) -> None:
    with pytest.raises(ConfigError) as error:
        load_config({"distractors": {"flying": section}})
    message = str(error.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message
