"""The contract every registered task keeps: the Gymnasium and SB3 checkers, seeding, pickling, vector envs."""

from __future__ import annotations

import gc
import json
import pickle
import subprocess
import sys
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import SubprocVecEnv

import dr_sim
from dr_sim.errors import ConfigError

IMAGE_SIZE = 32


def make(env_id: str, **kwargs: Any) -> gym.Env[Any, Any]:
    kwargs.setdefault("image_size", IMAGE_SIZE)
    return gym.make(env_id, **kwargs)


def rollout(env: gym.Env[Any, Any], seed: int, steps: int = 6) -> list[Any]:
    """Observations, rewards and flags of a seeded rollout with seeded random actions."""
    observation, info = env.reset(seed=seed)
    env.action_space.seed(seed)
    trace: list[Any] = [observation, info.get("randomization")]
    for _ in range(steps):
        observation, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        assert type(reward) is float
        assert type(terminated) is bool
        assert type(truncated) is bool
        trace += [observation, reward, terminated, truncated]
        if terminated or truncated:
            observation, _ = env.reset()
            trace.append(observation)
    return trace


def assert_same(a: Any, b: Any) -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            assert_same(a[key], b[key])
    elif isinstance(a, list | tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_same(x, y)
    elif isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b)
    else:
        assert a == b


@pytest.mark.parametrize("env_id", dr_sim.ENV_IDS)
@pytest.mark.parametrize(("obs_type", "randomization"), [("state", None), ("state+rgb", "full"), ("rgbd", "physics")])
def test_task_passes_gymnasium_and_sb3_checkers(env_id: str, obs_type: str, randomization: str | None) -> None:
    env = make(env_id, obs_type=obs_type, randomization=randomization)
    try:
        check_env(env.unwrapped, skip_render_check=True)
        sb3_check_env(env.unwrapped, warn=False)  # SB3 calls compute_reward on the env it gets
    finally:
        env.close()


@pytest.mark.parametrize("env_id", dr_sim.ENV_IDS)
def test_seeded_rollouts_are_equal_and_seeds_differ(env_id: str) -> None:
    env = make(env_id, obs_type="state+rgb", randomization="full")
    other = make(env_id, obs_type="state+rgb", randomization="full")
    try:
        first, second = rollout(env, seed=3), rollout(other, seed=3)
        assert len(first) == len(second)
        for a, b in zip(first, second, strict=True):
            assert_same(a, b)
        third = rollout(env, seed=4)
        assert first[1] != third[1], "another seed should draw other randomization parameters"
        assert not np.array_equal(first[0]["rgb"], third[0]["rgb"]), "another seed should look different"
    finally:
        env.close()
        other.close()


@pytest.mark.parametrize("env_id", dr_sim.ENV_IDS)
def test_pickle_round_trip_rebuilds_an_equal_env(env_id: str) -> None:
    env = make(env_id, obs_type="state+rgb", randomization="full")
    try:
        env.reset(seed=0)
        clone = pickle.loads(pickle.dumps(env))
        try:
            assert clone.unwrapped.physics_client._client != env.unwrapped.physics_client._client
            assert_same(rollout(env, seed=5), rollout(clone, seed=5))
        finally:
            clone.close()
    finally:
        env.close()


@pytest.mark.parametrize("env_id", dr_sim.ENV_IDS)
def test_replay_from_info_renders_the_same_image(env_id: str) -> None:
    env = make(env_id, obs_type="rgb", randomization="full")
    try:
        image, info = env.reset(seed=11)
        env.reset(seed=12)
        params = json.loads(json.dumps(info["randomization"]))  # what a user would store
        replayed, replay_info = env.reset(seed=11, options={"randomization": params})
        assert_same(image, replayed)
        assert replay_info["randomization"] == info["randomization"]
    finally:
        env.close()


@pytest.mark.parametrize("env_id", dr_sim.ENV_IDS)
def test_subprocess_vector_env_steps_with_distinct_randomization(env_id: str) -> None:
    vec = make_vec_env(
        f"dr_sim:{env_id}",  # spawned workers import dr_sim to find the id
        n_envs=2,
        seed=0,
        vec_env_cls=SubprocVecEnv,
        vec_env_kwargs={"start_method": "spawn"},
        env_kwargs={"randomization": "physics"},
    )
    try:
        vec.reset()
        first, second = (info["randomization"]["physics"] for info in vec.reset_infos)
        assert first != second, "workers seeded 0 and 1 should draw different physics"
        actions = np.stack([vec.action_space.sample() for _ in range(2)])
        _, rewards, _, _ = vec.step(actions)
        assert rewards.shape == (2,)
    finally:
        vec.close()


@pytest.mark.parametrize("env_id", dr_sim.ENV_IDS)
def test_gymnasium_async_vector_env_resets_and_steps(env_id: str) -> None:
    vec = gym.make_vec(f"dr_sim:{env_id}", num_envs=2, vectorization_mode="async", randomization="full")
    try:
        observations, infos = vec.reset(seed=0)
        vec.step(vec.action_space.sample())
        leaves = observations.values() if isinstance(observations, dict) else [observations]
        assert all(len(leaf) == 2 for leaf in leaves)
        assert "randomization" in infos
    finally:
        vec.close()


def test_task_is_made_from_a_fresh_interpreter() -> None:
    code = (
        'import gymnasium as g; e = g.make("dr_sim:dr_sim/PandaReach-v0"); '
        'print(e.reset(seed=0)[0]["observation"].shape)'
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "(20,)" in result.stdout


@pytest.mark.parametrize("env_id", dr_sim.ENV_IDS)
def test_invalid_task_options_end_in_one_clear_error(env_id: str) -> None:
    with pytest.raises(ConfigError, match="reward_type must be one of"):
        gym.make(env_id, reward_type="shaped")
    with pytest.raises(ConfigError, match="obs_type must be one of"):
        gym.make(env_id, obs_type="depth")
    with pytest.raises(ConfigError, match="image_size must be a positive"):
        gym.make(env_id, image_size=0)
    with pytest.raises(ConfigError, match="render_mode must be"):
        gym.make(env_id, render_mode="ansi")
    with pytest.raises(ConfigError, match=r"got unknown option 'image_sise'\. Did you mean 'image_size'\?"):
        gym.make(env_id, image_sise=64)


@pytest.mark.parametrize("env_id", dr_sim.ENV_IDS)
def test_rgb_array_render_shows_the_randomized_scene(env_id: str) -> None:
    nominal = make(env_id, render_mode="rgb_array")
    randomized = make(env_id, render_mode="rgb_array", randomization="visual")
    try:
        nominal.reset(seed=0)
        randomized.reset(seed=0)
        plain, varied = nominal.render(), randomized.render()
        assert plain.shape == varied.shape == (IMAGE_SIZE, IMAGE_SIZE, 3)
        assert plain.dtype == np.uint8
        assert np.abs(plain.astype(int) - varied.astype(int)).mean() > 5, "visual randomization should show"
    finally:
        nominal.close()
        randomized.close()


@pytest.mark.parametrize("env_id", ["dr_sim/PandaReach-v0", "dr_sim/KukaReach-v0"])
@pytest.mark.parametrize("control", ["ee", "joint_velocity", "joint_torque"])
def test_reach_control_modes_pass_checker_and_move_the_arm(env_id: str, control: str) -> None:
    env = make(env_id, control=control)
    try:
        check_env(env.unwrapped, skip_render_check=True)
        observation, _ = env.reset(seed=0)
        start = observation["achieved_goal"].copy()
        for _ in range(5):
            observation, *_ = env.step(np.full(env.action_space.shape, 0.5, np.float32))
        assert np.linalg.norm(observation["achieved_goal"] - start) > 0.01
    finally:
        env.close()


def test_reach_rejects_an_unknown_control_mode() -> None:
    with pytest.raises(ConfigError, match=r"control must be one of .*'joint_torque'.*got 'torque'"):
        gym.make("dr_sim/PandaReach-v0", control="torque")


def test_her_reward_matches_the_step_reward() -> None:
    for reward_type in ("dense", "sparse"):
        env = gym.make("dr_sim/KukaReach-v0", reward_type=reward_type)
        observation, _ = env.reset(seed=1)
        observation, reward, *_, info = env.step(env.action_space.sample())
        relabelled = env.unwrapped.compute_reward(observation["achieved_goal"], observation["desired_goal"], info)
        assert reward == pytest.approx(float(relabelled), abs=1e-6)
        env.close()


def test_wrist_camera_follows_the_hand() -> None:
    env = make("dr_sim/PandaReach-v0", camera="wrist", obs_type="state+rgb", image_size=48)
    scene = make("dr_sim/PandaReach-v0", obs_type="state+rgb", image_size=48)
    try:
        first, _ = env.reset(seed=0)
        from_scene, _ = scene.reset(seed=0)
        assert np.abs(first["rgb"].astype(int) - from_scene["rgb"].astype(int)).mean() > 10
        for _ in range(8):
            moved, *_ = env.step(np.array([0.0, 1.0, 0.0], np.float32))
        assert np.abs(first["rgb"].astype(int) - moved["rgb"].astype(int)).mean() > 3, "the view should move"
    finally:
        env.close()
        scene.close()


def test_wrist_camera_needs_an_arm() -> None:
    with pytest.raises(ConfigError, match="camera='wrist' needs a task with an arm"):
        gym.make("dr_sim/Localize-v0", camera="wrist")
    with pytest.raises(ConfigError, match=r"camera must be one of \('scene', 'wrist'\), got 'hand'"):
        gym.make("dr_sim/PandaReach-v0", camera="hand")


def test_an_env_dropped_without_close_leaves_nothing_to_the_next_client() -> None:
    def first_image(randomization: str) -> tuple[np.ndarray, int]:
        env = make("dr_sim/Localize-v0", randomization=randomization)
        image, _ = env.reset(seed=3)
        return image, env.unwrapped.physics_client._client

    reference, client = first_image("full")
    gc.collect()
    first_image("visual")  # dropped without close(): the next client reuses its id
    gc.collect()
    again, same_client = first_image("full")
    assert same_client == client
    np.testing.assert_array_equal(reference, again)
