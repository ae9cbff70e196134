"""dr_sim/Localize: one-step estimation of the target's position, exact image labels, distractors kept clear."""

from __future__ import annotations

import json
from collections.abc import Iterator

import gymnasium as gym
import numpy as np
import pytest

import dr_sim  # noqa: F401  (registers the tasks)
from dr_sim.envs.localize import LocalizeEnv
from dr_sim.errors import ConfigError
from dr_sim.policies.controllers.localize import LocalizeController, pixel_to_plane

ID = "dr_sim/Localize-v0"
CROWDED = {  # ten distractors every episode, up to 10 cm across
    "distractors": {
        "max_count": 10,
        "count": {"type": "constant", "value": 10},
        "size": {"type": "uniform", "low": 0.03, "high": 0.1},
        "kinds": ["primitive", "mesh"],
    }
}


@pytest.fixture(scope="module")
def env() -> Iterator[LocalizeEnv]:
    env = LocalizeEnv()
    yield env
    env.close()


def test_default_observation_is_the_camera_image(env: LocalizeEnv) -> None:
    observation, _ = env.reset(seed=0)
    assert observation.shape == (84, 84, 3)
    assert observation.dtype == np.uint8


def test_reward_and_success_follow_the_error_and_the_episode_ends(env: LocalizeEnv) -> None:
    _, info = env.reset(seed=1)
    assert not info["is_success"]
    target = np.array(info["target_position"][:2])
    _, reward, terminated, truncated, info = env.step(target.astype(np.float32))
    assert terminated
    assert not truncated
    assert info["is_success"]
    assert reward == pytest.approx(0.0, abs=1e-6)
    offset = np.array([0.0, 0.05])
    env.reset(seed=1)
    _, reward, terminated, _, info = env.step((target + offset).astype(np.float32))
    assert terminated
    assert not info["is_success"]
    assert reward == pytest.approx(-0.05, abs=1e-6)
    assert info["error"] == pytest.approx(0.05, abs=1e-6)


def test_sparse_reward_is_zero_on_success_else_minus_one() -> None:
    env = LocalizeEnv(reward_type="sparse", obs_type="state")
    _, info = env.reset(seed=2)
    target = np.array(info["target_position"][:2], dtype=np.float32)
    assert env.step(target)[1] == 0.0
    env.reset(seed=2)
    assert env.step(target + np.float32(0.1))[1] == -1.0
    env.close()


def test_labels_are_json_friendly_and_agree_with_the_camera(env: LocalizeEnv) -> None:
    _, info = env.reset(seed=3)
    json.dumps(info)
    k, pose = np.array(info["camera_intrinsics"]), np.array(info["camera_pose"])
    camera = np.linalg.inv(pose) @ np.array([*info["target_position"], 1.0])
    u, v = (k @ camera[:3])[:2] / camera[2]
    x_min, y_min, x_max, y_max = info["target_box"]
    assert x_min <= u <= x_max
    assert y_min <= v <= y_max
    assert 0 < info["target_pixels"] <= (x_max - x_min) * (y_max - y_min)
    assert info["mask_ids"] == {"target": env.sim_bodies["object"], "distractors": []}


def test_the_step_carries_the_labels_of_the_observed_image(env: LocalizeEnv) -> None:
    _, reset_info = env.reset(seed=4)
    *_, step_info = env.step(np.zeros(2, dtype=np.float32))
    labels = set(reset_info) - {"is_success", "randomization"}
    assert {k: step_info[k] for k in labels} == {k: reset_info[k] for k in labels}


def test_state_is_the_camera_calibration_not_the_answer() -> None:
    env = LocalizeEnv(obs_type="state")
    state, info = env.reset(seed=5)
    k, pose = np.array(info["camera_intrinsics"]), np.array(info["camera_pose"])
    expected = [k[0, 0] / 84, k[1, 1] / 84, k[0, 2] / 84, k[1, 2] / 84, *pose[:3].reshape(-1)]
    np.testing.assert_allclose(state, expected, atol=1e-6)
    assert env.reset(seed=6)[0] == pytest.approx(state)  # the same whatever the target's position
    env.close()


def test_distractors_never_overlap_the_target() -> None:
    env = LocalizeEnv(randomization=CROWDED, obs_type="state")
    client, target = env.physics_client, env.sim_bodies["object"]
    for seed in range(15):
        _, info = env.reset(seed=seed)
        low, high = (np.array(corner[:2]) for corner in client.getAABB(target))
        for body in env.distractor_bodies:
            other_low, other_high = (np.array(corner[:2]) for corner in client.getAABB(body))
            assert not (np.all(low < other_high) and np.all(other_low < high)), f"seed {seed}: body {body}"
        assert set(info["mask_ids"]["distractors"]) <= set(env.distractor_bodies)
        assert info["mask_ids"]["distractors"], "ten distractors, none visible"
    env.close()


def test_the_estimate_bypasses_action_noise() -> None:
    env = LocalizeEnv(randomization={"actuation": {"action_noise_std": {"type": "constant", "value": 0.5}}})
    _, info = env.reset(seed=7)
    _, reward, *_ = env.step(np.array(info["target_position"][:2], dtype=np.float32))
    assert reward == pytest.approx(0.0, abs=1e-6)
    env.close()


def test_pixel_to_plane_inverts_the_projection(env: LocalizeEnv) -> None:
    env.reset(seed=8)
    k, pose = env.session.camera.intrinsics(), env.session.camera.pose()
    point = np.array([0.1, -0.07, 0.02])
    camera = np.linalg.inv(pose) @ np.append(point, 1.0)
    pixel = (k @ camera[:3])[:2] / camera[2]
    np.testing.assert_allclose(pixel_to_plane(pixel, k, pose, 0.02), point, atol=1e-9)


@pytest.mark.parametrize("obs_type", ["rgb", "state+rgb"])
def test_controller_localizes_the_nominal_target(obs_type: str) -> None:
    env = gym.make(ID, obs_type=obs_type)
    controller = LocalizeController(env)
    for seed in range(5):
        observation, _ = env.reset(seed=seed)
        controller.reset()
        *_, info = env.step(controller.act(observation))
        assert info["error"] < LocalizeEnv.success_distance, f"seed {seed}"
    env.close()


def test_bad_options_end_in_one_clear_error() -> None:
    with pytest.raises(ConfigError, match="target_shape must be one of"):
        LocalizeEnv(target_shape="sphere")
    with pytest.raises(ConfigError, match="clearance must be"):
        LocalizeEnv(clearance=-0.01)
    env = LocalizeEnv(obs_type="state")
    with pytest.raises(ConfigError, match="needs an image observation"):
        LocalizeController(env)
    env.close()
