"""Every task's scripted controller solves it in the nominal scene: the task is solvable and its success
signal is right. (Success under ``physics`` is reported by ``python -m dr_sim.policies.controllers.evaluate``.)"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import dr_sim
from dr_sim.errors import ConfigError
from dr_sim.policies.controllers import CONTROLLERS, make_controller
from dr_sim.policies.controllers.evaluate import main, success_rate
from dr_sim.statistics import Success

EPISODES = 100
GOAL = 0.9
#: Scenes made for perception data, whose one step only scores a guess: Detect's is a count per class,
#: which no controller reading its observation (an image and the camera's calibration) could script.
DATA_SCENES = {"dr_sim/Detect-v0"}
CONTROLLED = [env_id for env_id in dr_sim.ENV_IDS if env_id not in DATA_SCENES]
GOAL_TASKS = [env_id for env_id in CONTROLLED if env_id != "dr_sim/Localize-v0"]


def test_every_registered_task_but_the_data_scenes_has_a_controller() -> None:
    assert set(CONTROLLERS) == set(CONTROLLED)


@pytest.mark.parametrize("env_id", CONTROLLED)
def test_scripted_controller_succeeds_in_the_nominal_scene(env_id: str) -> None:
    result = success_rate(env_id, EPISODES, seed=1000)
    assert result.rate >= GOAL, f"{env_id}: {result}"


@pytest.mark.parametrize("env_id", GOAL_TASKS)
@pytest.mark.parametrize("reward_type", ["dense", "sparse"])
def test_controller_rollout_rewards_agree_with_her_and_success_with_the_distance(env_id: str, reward_type: str) -> None:
    env = gym.make(env_id, reward_type=reward_type)
    task = env.unwrapped
    controller = make_controller(env_id, env)
    observation, _ = env.reset(seed=1)
    controller.reset()
    done = False
    while not done:
        observation, reward, terminated, truncated, info = env.step(controller.act(observation))
        achieved, desired = observation["achieved_goal"], observation["desired_goal"]
        assert reward == pytest.approx(float(task.compute_reward(achieved, desired, info)), abs=1e-6)
        assert info["is_success"] == (np.linalg.norm(achieved - desired) < task.success_distance)
        if reward_type == "sparse":
            assert reward == (0.0 if info["is_success"] else -1.0)
        done = terminated or truncated
    assert info["is_success"], "seed 1 is solved by the scripted controller"
    env.close()


@pytest.mark.parametrize("control", ["joint_velocity", "joint_torque"])
def test_reach_controller_succeeds_in_the_joint_modes(control: str) -> None:
    result = success_rate("dr_sim/PandaReach-v0", 30, seed=2000, control=control)
    assert result.rate >= GOAL, f"{control}: {result}"


def test_success_interval_brackets_the_rate() -> None:
    low, high = Success(45, 50).interval
    assert low < 0.9 < high
    assert Success(50, 50).interval[1] == 1.0
    assert str(Success(9, 10)).startswith("90% [")


def test_unknown_task_and_bad_arguments_end_in_one_clear_message(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ConfigError, match=r"no scripted controller for 'dr_sim/PandaRech-v0'\. Did you mean"):
        make_controller("dr_sim/PandaRech-v0", None)
    with pytest.raises(SystemExit):
        main(["-n", "0"])
    assert "--episodes must be a positive number" in capsys.readouterr().err
