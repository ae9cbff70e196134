"""PandaPickAndPlace: placement, observation layout, the gripper in every control mode, grasping, and the
scripted pick and place."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import dr_sim  # noqa: F401  (registers the tasks)
from dr_sim.envs.objects import CUBE
from dr_sim.envs.pick_and_place import GOAL_LIFT, WORKSPACE, PandaPickAndPlaceEnv
from dr_sim.errors import ConfigError
from dr_sim.policies.controllers.pick_and_place import PickAndPlaceController

ENV_ID = "dr_sim/PandaPickAndPlace-v0"
REST = CUBE.height / 2  # m, the cube's centre height on the table
ON_TABLE, IN_THE_AIR = (REST - 1e-6, REST + 1e-6), (REST + 0.1, REST + GOAL_LIFT)  # m, ranges of goal heights
LOWEST_PRESET_FINGER_FRICTION = 0.5  # the physics preset draws every link's lateral friction in [0.5, 1.25]


def seed_with_goal_between(env: PandaPickAndPlaceEnv, low: float, high: float) -> int:
    """The first seed whose goal height lies in [``low``, ``high``] (m)."""
    return next(s for s in range(100) if low <= env.reset(seed=s)[0]["desired_goal"][2] <= high)


def pick_and_place(env: PandaPickAndPlaceEnv, seed: int) -> tuple[dict[str, np.ndarray], dict, float]:
    """One episode of the scripted controller; the last observation and info, and the cube's highest point (m)."""
    controller = PickAndPlaceController(env)
    observation, info = env.reset(seed=seed)
    highest = 0.0
    for _ in range(100):
        observation, _, terminated, _, info = env.step(controller.act(observation))
        highest = max(highest, float(observation["achieved_goal"][2]))
        if terminated:
            break
    return observation, info, highest


def test_bad_options_end_in_one_clear_error() -> None:
    with pytest.raises(ConfigError, match="control must be one of"):
        gym.make(ENV_ID, control="torque")
    env = gym.make(ENV_ID, control="joint_velocity")
    with pytest.raises(ConfigError, match="ee control only"):
        PickAndPlaceController(env)
    env.close()


@pytest.mark.parametrize(("control", "size"), [("ee", 4), ("joint_velocity", 8), ("joint_torque", 8)])
def test_the_last_action_dimension_drives_the_gripper_in_every_control_mode(control: str, size: int) -> None:
    env = gym.make(ENV_ID, control=control).unwrapped
    assert env.action_space.shape == (size,)
    observation, _ = env.reset(seed=0)
    assert observation["observation"][6] == pytest.approx(0.08, abs=1e-3)  # open at the start
    start = env.arm.ee_pose()[0]
    close = np.zeros(size, dtype=np.float32)
    close[-1] = -1.0
    for _ in range(10):
        observation, *_ = env.step(close)
    assert observation["observation"][6] < 1e-3
    np.testing.assert_allclose(env.arm.ee_pose()[0], start, atol=0.01)  # the arm holds still meanwhile
    env.close()


def test_cube_rests_in_the_workspace_and_goals_lie_on_the_table_or_above_it(env: PandaPickAndPlaceEnv) -> None:
    heights = []
    for seed in range(40):
        observation, info = env.reset(seed=seed)
        cube, goal = observation["achieved_goal"], observation["desired_goal"]
        assert np.all(np.abs(cube[:2]) <= WORKSPACE)
        assert np.all(np.abs(goal[:2]) <= WORKSPACE)
        assert cube[2] == pytest.approx(REST, abs=1e-4)
        assert REST - 1e-6 <= goal[2] <= REST + GOAL_LIFT
        assert not info["is_success"]
        marker = env.physics_client.getBasePositionAndOrientation(env.sim_bodies["goal"])[0]
        np.testing.assert_allclose(marker, goal, atol=1e-6)
        heights.append(goal[2])
    on_table = np.isclose(heights, REST, atol=1e-6)
    assert 0.25 < on_table.mean() < 0.75
    assert max(heights) > REST + GOAL_LIFT / 2


def test_observation_layout(env: PandaPickAndPlaceEnv) -> None:
    observation, _ = env.reset(seed=3)
    for _ in range(5):
        observation, *_ = env.step(env.action_space.sample())
    state = observation["observation"]
    client, cube = env.physics_client, env.sim_bodies["object"]
    position, orientation = client.getBasePositionAndOrientation(cube)
    linear, angular = client.getBaseVelocity(cube)
    assert state.shape == (22,)
    np.testing.assert_allclose(state[:3], env.arm.ee_pose()[0], atol=1e-6)
    np.testing.assert_allclose(state[3:6], env.arm.ee_velocity(), atol=1e-5)
    assert state[6] == pytest.approx(env.arm.gripper_width(), abs=1e-6)
    np.testing.assert_allclose(state[7:10], position, atol=1e-6)
    np.testing.assert_allclose(state[10:13], client.getEulerFromQuaternion(orientation), atol=1e-5)
    np.testing.assert_allclose(state[13:19], [*linear, *angular], atol=1e-5)
    np.testing.assert_allclose(state[19:22], state[7:10] - state[:3], atol=1e-6)
    np.testing.assert_allclose(observation["achieved_goal"], state[7:10], atol=1e-6)


def test_a_dropped_cube_lands_on_the_table_where_it_was_let_go(env: PandaPickAndPlaceEnv) -> None:
    env.reset(seed=0)
    env.physics_client.resetBasePositionAndOrientation(env.sim_bodies["object"], [0.1, -0.1, 0.15], [0, 0, 0, 1])
    for _ in range(20):
        observation, *_ = env.step(np.array([0.0, 0.0, 0.0, 1.0], dtype=np.float32))
    np.testing.assert_allclose(observation["achieved_goal"], [0.1, -0.1, REST], atol=2e-3)
    np.testing.assert_allclose(observation["observation"][13:19], 0.0, atol=1e-2)


@pytest.mark.parametrize(("low", "high"), [ON_TABLE, IN_THE_AIR], ids=["table", "air"])
def test_scripted_controller_picks_up_and_places_the_cube(env: PandaPickAndPlaceEnv, low: float, high: float) -> None:
    _, info, highest = pick_and_place(env, seed_with_goal_between(env, low, high))
    assert info["is_success"]
    assert highest > REST + 0.03  # carried, not pushed


def test_fingers_hold_the_cube_at_the_physics_presets_lowest_friction() -> None:
    env = gym.make(ENV_ID).unwrapped
    for finger in env.arm.spec.fingers:
        env.physics_client.changeDynamics(env.arm.body, finger, lateralFriction=LOWEST_PRESET_FINGER_FRICTION)
    observation, info, _ = pick_and_place(env, seed_with_goal_between(env, *IN_THE_AIR))
    assert info["is_success"]
    assert observation["achieved_goal"][2] > REST + 0.05  # held up in the air
    env.close()


def test_joint_velocity_control_can_grasp_and_lift_the_cube() -> None:
    env = gym.make(ENV_ID, control="joint_velocity").unwrapped
    arm = env.arm
    observation, _ = env.reset(seed=3)
    cube = observation["achieved_goal"].astype(np.float64)

    def move(target: np.ndarray, gripper: float, steps: int) -> dict[str, np.ndarray]:
        angles = np.asarray(arm.inverse_kinematics(target))
        for _ in range(steps):
            velocity = np.clip(3.0 * (angles - arm.joint_state()[0]) / np.asarray(arm.spec.max_velocity), -1, 1)
            observation, *_ = env.step(np.append(velocity, gripper).astype(np.float32))
        return observation

    move(cube + np.array([0.0, 0.0, 0.08]), 1.0, 20)
    move(cube, 1.0, 20)
    assert move(cube, -1.0, 10)["observation"][6] == pytest.approx(CUBE.size, abs=0.005)  # closed on the cube
    observation = move(cube + np.array([0.0, 0.0, 0.15]), -1.0, 20)
    assert observation["achieved_goal"][2] > REST + 0.1
    env.close()
