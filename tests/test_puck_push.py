"""PuckPush: the pusher follows its action inside the workspace, pushes the puck, feels randomized
gains and masses; the success flag and rewards follow the puck, the goal and the push point."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import dr_sim  # noqa: F401  (registers the tasks)
from dr_sim.envs.puck_push import CONTACT_DISTANCE, MAX_STEP, SHAPING, WORKSPACE, PuckPushEnv
from dr_sim.errors import ConfigError

ID = "dr_sim/PuckPush-v0"


@pytest.fixture
def env() -> Any:
    env = gym.make(ID)
    yield env
    env.close()


def place(env: gym.Env[Any, Any], tip: tuple[float, float], puck: tuple[float, float]) -> None:
    """Put the tip and the puck (m, table plane) at rest after a reset."""
    task: PuckPushEnv = env.unwrapped
    client = task.physics_client
    for joint, position in enumerate(tip):
        client.resetJointState(task.sim_bodies["pusher"], joint, position, 0.0)
    client.resetBasePositionAndOrientation(task.sim_bodies["object"], [*puck, task.goal[2]], [0, 0, 0, 1])


def tip_path(randomization: Any, steps: int = 8) -> np.ndarray:
    """Tip positions (m) under a fixed action sequence from one seeded reset."""
    env = gym.make(ID, randomization=randomization)
    try:
        env.reset(seed=3)
        place(env, (-0.2, 0.2), (0.1, -0.15))
        return np.array([env.step(np.array([1.0, -0.5], np.float32))[0]["observation"][:2] for _ in range(steps)])
    finally:
        env.close()


def test_the_tip_follows_the_action_and_stays_in_the_workspace(env: gym.Env[Any, Any]) -> None:
    env.reset(seed=0)
    place(env, (-0.2, 0.2), (0.0, -0.15))
    xs, ys = [], []
    for _ in range(25):
        observation, *_ = env.step(np.array([1.0, 0.0], np.float32))
        xs.append(observation["observation"][0])
        ys.append(observation["observation"][1])
    assert 0.5 * MAX_STEP < xs[1] - xs[0] <= 1.1 * MAX_STEP  # up to MAX_STEP per step
    assert WORKSPACE - 0.005 < xs[-1] <= WORKSPACE + 0.005  # the target is clamped to the workspace
    assert np.allclose(ys, 0.2, atol=1e-3)


def test_pushing_moves_the_puck_toward_where_the_tip_goes(env: gym.Env[Any, Any]) -> None:
    env.reset(seed=0)
    place(env, (-0.1, 0.0), (0.0, 0.0))
    for _ in range(10):
        observation, _, _, _, info = env.step(np.array([1.0, 0.0], np.float32))
    puck = observation["achieved_goal"]
    assert puck[0] > 0.1
    assert abs(puck[1]) < 0.02
    assert np.linalg.norm(puck[:2] - info["pusher_position"]) < CONTACT_DISTANCE + 0.01  # still touching


def test_randomized_gains_forces_and_masses_change_the_trajectory() -> None:
    nominal = tip_path(None)
    variants = {
        "low gains": {"actuation": {"gain_scale": {"type": "constant", "value": 0.5}}},
        "high gains": {"actuation": {"gain_scale": {"type": "constant", "value": 2.0}}},
        "weak motors": {"actuation": {"force_scale": {"type": "constant", "value": 0.3}}},
        "heavy pusher": {
            "physics": {"links": [{"select": "pusher/*", "mass": {"type": "constant", "value": 4.0, "op": "scale"}}]}
        },
    }
    for name, config in variants.items():
        gap = np.abs(tip_path(config) - nominal).max()
        assert gap > 0.005, f"{name} leaves the trajectory unchanged ({gap:.4f} m)"


def test_success_and_rewards_follow_the_puck_and_the_push_point() -> None:
    dense, sparse = gym.make(ID), gym.make(ID, reward_type="sparse")
    try:
        for env in (dense, sparse):
            env.reset(seed=1)
        task: PuckPushEnv = dense.unwrapped
        goal = task.goal[:2]
        away = -goal / np.linalg.norm(goal)  # from the goal toward the centre: the tip stays in the workspace
        for env in (dense, sparse):  # the tip 0.05 m behind the push point, the puck 0.1 m from the goal
            place(env, tuple(goal + 0.2 * away), tuple(goal + 0.1 * away))
        _, reward, terminated, _, info = dense.step(np.zeros(2, np.float32))
        assert not terminated
        assert not info["is_success"]
        assert reward == pytest.approx(-0.1 - SHAPING * (0.1 - CONTACT_DISTANCE), abs=2e-3)
        assert sparse.step(np.zeros(2, np.float32))[1] == -1.0

        place(sparse, tuple(goal + 0.1 * away), tuple(goal + 0.02 * away))
        _, reward, terminated, _, info = sparse.step(np.zeros(2, np.float32))
        assert info["is_success"]
        assert terminated
        assert reward == 0.0
    finally:
        dense.close()
        sparse.close()


def test_compute_reward_relabels_with_the_step_info(env: gym.Env[Any, Any]) -> None:
    env.reset(seed=2)
    task: PuckPushEnv = env.unwrapped
    observations, rewards, infos = [], [], []
    for _ in range(5):
        observation, reward, _, _, info = env.step(env.action_space.sample())
        observations.append(observation)
        rewards.append(reward)
        infos.append(info)
    achieved = np.array([o["achieved_goal"] for o in observations])
    desired = np.array([o["desired_goal"] for o in observations])
    np.testing.assert_array_equal(task.compute_reward(achieved, desired, np.array(infos)), rewards)
    # A relabelled goal moves the push point: the shaping follows the new goal.
    relabelled = achieved + np.array([0.1, 0.0, 0.0], np.float32)  # goals 0.1 m along +x of the puck
    push_points = achieved[:, :2] - np.array([CONTACT_DISTANCE, 0.0])
    tips = np.array([info["pusher_position"] for info in infos])
    expected = -0.1 - SHAPING * np.linalg.norm(tips - push_points, axis=-1)
    np.testing.assert_allclose(task.compute_reward(achieved, relabelled, np.array(infos)), expected, atol=1e-5)


def test_a_bad_reward_type_is_one_config_error() -> None:
    with pytest.raises(ConfigError, match="reward_type must be one of"):
        gym.make(ID, reward_type="shaped")
