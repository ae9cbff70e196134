"""dr_sim's registered tasks: registration, the Gymnasium contract and the randomization kwarg path."""

from __future__ import annotations

import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import dr_sim
from dr_sim.errors import ConfigError


@pytest.mark.parametrize("env_id", dr_sim.ENV_IDS)
def test_registered_task_passes_gymnasium_checker(env_id: str) -> None:
    env = gym.make(env_id)
    check_env(env.unwrapped, skip_render_check=True)
    env.close()


def test_task_is_made_from_a_fresh_interpreter() -> None:
    code = (
        'import gymnasium as g; e = g.make("dr_sim:dr_sim/PandaReach-v0"); '
        'print(e.reset(seed=0)[0]["observation"].shape)'
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert "(6,)" in result.stdout


@pytest.mark.parametrize("control", ["ee", "joints"])
def test_seeded_rollouts_of_a_wrapped_task_are_equal(control: str) -> None:
    def rollout() -> list[np.ndarray]:
        env = dr_sim.DomainRandomization(gym.make("dr_sim/PandaReach-v0", control=control), "physics")
        obs, _ = env.reset(seed=7)
        actions = np.random.default_rng(0).uniform(-1, 1, (10, *env.action_space.shape))
        trace = [obs["observation"]]
        for action in actions:
            obs, reward, *_ = env.step(action)
            assert isinstance(reward, float)
            trace.append(obs["observation"])
        env.close()
        return trace

    first, second = rollout(), rollout()
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    assert not np.array_equal(first[0], first[-1]), "the arm should move under random actions"


def test_invalid_task_options_end_in_one_clear_error() -> None:
    with pytest.raises(ConfigError, match="reward_type must be 'dense' or 'sparse'"):
        gym.make("dr_sim/PandaReach-v0", reward_type="shaped")
    with pytest.raises(ConfigError, match="control must be 'ee' or 'joints'"):
        gym.make("dr_sim/PandaReach-v0", control="torque")
