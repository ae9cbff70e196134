"""Image tasks in process-parallel vector envs: Gymnasium's ``AsyncVectorEnv(shared_memory=True)`` and
stable-baselines3's ``SubprocVecEnv`` with 2 workers give, bit for bit, the observations, rewards and
randomization of single envs reset with the same seeds and stepped with the same actions."""

from __future__ import annotations

import functools
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env import SubprocVecEnv

from dr_sim.native_output import quiet_native_stdout

ENV_ID = "dr_sim:dr_sim/PuckPush-v0"  # module:id, so that a fresh worker process registers dr_sim's tasks
KWARGS = {"randomization": "full", "obs_type": "rgb", "image_size": 32}
WORKERS, STEPS, SEED = 2, 6, 123


def make() -> gym.Env[Any, Any]:
    with quiet_native_stdout():
        return gym.make(ENV_ID, **KWARGS)


def actions(space: gym.spaces.Box) -> np.ndarray:
    """Seeded actions: (STEPS, WORKERS, action dims)."""
    rng = np.random.default_rng(SEED)
    return rng.uniform(space.low, space.high, size=(STEPS, WORKERS, *space.shape)).astype(np.float32)


def single_rollouts(planned: np.ndarray) -> list[dict[str, Any]]:
    """Env ``i`` alone, reset with ``SEED + i`` and stepped with column ``i`` of ``planned``."""
    rollouts = []
    for i in range(WORKERS):
        env = make()
        try:
            observation, _ = env.reset(seed=SEED + i)
            rollout: dict[str, Any] = {"observations": [observation], "rewards": []}
            for action in planned[:, i]:
                observation, reward, terminated, truncated, _ = env.step(action)
                assert not terminated
                assert not truncated
                rollout["observations"].append(observation)
                rollout["rewards"].append(reward)
        finally:
            env.close()
        rollouts.append(rollout)
    return rollouts


def assert_same(vector: dict[str, list[Any]], single: list[dict[str, Any]]) -> None:
    """Every observation entry (images included) and reward of worker ``i`` equals env ``i``'s, bit for bit."""
    for i, rollout in enumerate(single):
        assert len(vector["observations"]) == len(rollout["observations"])
        for batched, alone in zip(vector["observations"], rollout["observations"], strict=True):
            assert set(batched) == set(alone)
            for key, value in alone.items():
                assert batched[key][i].dtype == value.dtype
                np.testing.assert_array_equal(batched[key][i], value, err_msg=f"worker {i}, {key}")
        np.testing.assert_array_equal(np.asarray(vector["rewards"])[:, i], np.asarray(rollout["rewards"]))


def test_async_vector_env_with_shared_memory_matches_single_envs() -> None:
    vec = gym.vector.AsyncVectorEnv([make] * WORKERS, shared_memory=True)
    try:
        planned = actions(vec.single_action_space)
        observation, info = vec.reset(seed=SEED)  # env i: SEED + i
        recorded: dict[str, list[Any]] = {"observations": [observation], "rewards": []}
        for action in planned:
            observation, reward, terminated, truncated, _ = vec.step(action)
            assert not (terminated.any())
            assert not (truncated.any())
            recorded["observations"].append(observation)
            recorded["rewards"].append(reward)
        assert observation["rgb"].shape == (WORKERS, 32, 32, 3)
        assert observation["rgb"].dtype == np.uint8
    finally:
        vec.close()
    assert_same(recorded, single_rollouts(planned))
    assert "randomization" in info
    assert not np.array_equal(recorded["observations"][0]["rgb"][0], recorded["observations"][0]["rgb"][1])


def test_subproc_vec_env_matches_single_envs() -> None:
    vec = SubprocVecEnv([functools.partial(make)] * WORKERS)
    try:
        planned = actions(vec.action_space)
        vec.seed(SEED)  # env i: SEED + i at the next reset
        recorded: dict[str, list[Any]] = {"observations": [vec.reset()], "rewards": []}
        for action in planned:
            observation, reward, done, _ = vec.step(action)
            assert not done.any()
            recorded["observations"].append(observation)
            recorded["rewards"].append(reward)
    finally:
        vec.close()
    assert_same(recorded, single_rollouts(planned))
