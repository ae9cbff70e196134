"""PandaPush: placement, observation layout, pushing, the success flag and its reward, and the scripted pusher."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import dr_sim  # noqa: F401  (registers the tasks)
from dr_sim.envs.objects import OBJECTS
from dr_sim.envs.push import MIN_GOAL_DISTANCE, OBJECT_HIGH, OBJECT_LOW, PandaPushEnv
from dr_sim.errors import ConfigError
from dr_sim.policies.controllers.push import PushController

ENV_ID = "dr_sim/PandaPush-v0"


def run(env: PandaPushEnv, seed: int, steps: int) -> tuple[dict[str, np.ndarray], float, bool, dict]:
    """Up to ``steps`` steps of the scripted pusher from ``reset(seed=seed)``."""
    controller = PushController(env)
    observation, info = env.reset(seed=seed)
    reward, terminated = 0.0, False
    for _ in range(steps):
        observation, reward, terminated, _, info = env.step(controller.act(observation))
        if terminated:
            break
    return observation, reward, terminated, info


def test_bad_options_end_in_one_clear_error() -> None:
    with pytest.raises(ConfigError, match=r"object_shape must be one of \('cube', 'puck'\), got 'ball'"):
        gym.make(ENV_ID, object_shape="ball")
    with pytest.raises(ConfigError, match="control must be one of"):
        gym.make(ENV_ID, control="torque")


@pytest.mark.parametrize("shape", sorted(OBJECTS))
def test_object_rests_in_the_workspace_and_the_goal_lies_on_the_table_away_from_it(shape: str) -> None:
    env = gym.make(ENV_ID, object_shape=shape).unwrapped
    rest = OBJECTS[shape].height / 2
    for seed in range(20):
        observation, info = env.reset(seed=seed)
        start, goal = observation["achieved_goal"], observation["desired_goal"]
        assert np.all(start[:2] >= OBJECT_LOW)
        assert np.all(start[:2] <= OBJECT_HIGH)
        assert np.all(goal[:2] >= OBJECT_LOW)
        assert np.all(goal[:2] <= OBJECT_HIGH)
        assert start[2] == pytest.approx(rest, abs=1e-4)
        assert goal[2] == pytest.approx(rest)
        assert np.linalg.norm(goal[:2] - start[:2]) >= MIN_GOAL_DISTANCE
        marker = env.physics_client.getBasePositionAndOrientation(env.sim_bodies["goal"])[0]
        np.testing.assert_allclose(marker, goal, atol=1e-6)
        assert not info["is_success"]
    env.close()


def test_observation_layout_and_closed_fingers(env: PandaPushEnv) -> None:
    observation, _ = env.reset(seed=3)
    for _ in range(5):
        observation, *_ = env.step(env.action_space.sample())
    state = observation["observation"]
    assert env.action_space.shape == (3,)
    assert state.shape == (18,)
    np.testing.assert_allclose(state[:3], env.arm.ee_pose()[0], atol=1e-6)
    np.testing.assert_allclose(state[6:9], observation["achieved_goal"], atol=1e-6)
    assert state[9] ** 2 + state[10] ** 2 == pytest.approx(1.0, abs=1e-5)  # sine and cosine of the yaw
    np.testing.assert_allclose(state[15:18], state[6:9] - state[:3], atol=1e-6)
    assert env.arm.gripper_width() < 1e-3


def test_object_stays_put_unless_pushed_and_moves_toward_the_goal_when_pushed(env: PandaPushEnv) -> None:
    observation, _ = env.reset(seed=5)
    start = observation["achieved_goal"].copy()
    for _ in range(10):
        observation, *_ = env.step(np.zeros(3))
    np.testing.assert_allclose(observation["achieved_goal"], start, atol=1e-3)
    observation, reward, terminated, info = run(env, seed=5, steps=100)
    assert terminated
    assert info["is_success"]
    distance = np.linalg.norm(observation["achieved_goal"] - observation["desired_goal"])
    assert distance < env.success_distance
    assert reward == pytest.approx(-distance, abs=1e-6)
    assert np.linalg.norm(observation["achieved_goal"] - start) > 0.05


@pytest.mark.parametrize("shape", sorted(OBJECTS))
def test_scripted_pusher_succeeds_with_either_object(shape: str) -> None:
    env = gym.make(ENV_ID, object_shape=shape).unwrapped
    assert all(run(env, seed, steps=100)[3]["is_success"] for seed in range(5))
    env.close()


def test_scripted_pusher_refuses_joint_control() -> None:
    env = gym.make(ENV_ID, control="joint_velocity")
    assert env.action_space.shape == (7,)
    with pytest.raises(ConfigError, match="ee control only"):
        PushController(env)
    env.close()
