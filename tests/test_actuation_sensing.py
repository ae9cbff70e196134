"""Actuation and sensing randomization, and the physics preset, on real panda-gym envs.

``DomainRandomization`` wraps ``PandaReach-v3``/``PandaPush-v3`` (PyBullet in DIRECT mode). A
recording wrapper between the two shows the action the env really receives; the robot's joints,
PyBullet's applied motor torques and ``getDynamicsInfo`` show what reached the simulation.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import panda_gym  # noqa: F401  (registers the Panda envs)
import pybullet as p
import pytest
from pybullet_utils import bullet_client

from dr_sim import ConfigError, DomainRandomization
from dr_sim.scene.motors import MotorHook

ARM = range(7)  # the panda's seven arm joints (indices 0-6)
ARM_FORCE = 87.0  # panda-gym's force limit of joints 1-4 (N m)
SHOULDER = 1  # panda_joint2: holds the arm up against gravity


class Recorder(gym.Wrapper[Any, Any, Any, Any]):
    """Records every action the inner env receives."""

    def __init__(self, env: gym.Env[Any, Any]) -> None:
        super().__init__(env)
        self.actions: list[np.ndarray] = []

    def step(self, action: Any) -> Any:
        self.actions.append(np.array(action, dtype=np.float64))
        return self.env.step(action)


@pytest.fixture
def make(wrap: Any) -> Any:
    """Build wrapped panda-gym envs (joint control), closed after the test."""

    def build(config: Any, env_id: str = "PandaReach-v3", seed: int = 0) -> DomainRandomization:
        wrapper = wrap(Recorder(gym.make(env_id, control_type="joints")), config)
        wrapper.reset(seed=seed)
        return wrapper

    return build


def recorder(wrapper: DomainRandomization) -> Recorder:
    env = wrapper.env
    assert isinstance(env, Recorder)
    return env


def panda(wrapper: DomainRandomization) -> int:
    return wrapper.unwrapped.sim._bodies_idx["panda"]


def joint_angles(wrapper: DomainRandomization) -> np.ndarray:
    return np.array([p.getJointState(panda(wrapper), j, physicsClientId=wrapper.client_id)[0] for j in ARM])


def motor_torques(wrapper: DomainRandomization) -> np.ndarray:
    return np.array([p.getJointState(panda(wrapper), j, physicsClientId=wrapper.client_id)[3] for j in ARM])


def run(wrapper: DomainRandomization, actions: np.ndarray) -> np.ndarray:
    """Step through ``actions``; the arm's joint angles after each step."""
    angles = []
    for action in actions:
        wrapper.step(action.astype(np.float32))
        angles.append(joint_angles(wrapper))
    return np.array(angles)


def true_observation(wrapper: DomainRandomization) -> dict[str, np.ndarray]:
    return wrapper.unwrapped._get_obs()


# -- action noise and latency ----------------------------------------------------------------------
def test_action_noise_changes_the_action_the_env_receives_and_the_motion(make: Any) -> None:
    actions = np.tile(np.linspace(-0.3, 0.3, 7), (30, 1))
    clean = make("none")
    noisy = make({"actuation": {"action_noise_std": {"type": "constant", "value": 0.1}}})
    clean_angles, noisy_angles = run(clean, actions), run(noisy, actions)

    np.testing.assert_allclose(np.array(recorder(clean).actions), actions, atol=1e-7)
    noise = np.array(recorder(noisy).actions) - actions
    assert 0.07 < noise.std() < 0.13
    assert abs(noise.mean()) < 0.03
    assert np.abs(noisy_angles[-1] - clean_angles[-1]).max() > 1e-3


def test_latency_steps_delays_an_action_by_exactly_n_steps(make: Any) -> None:
    actions = np.zeros((6, 7))
    actions[0, 0] = 1.0  # one push of joint 1, then hold still
    prompt = make("none")
    late = make({"actuation": {"latency_steps": {"type": "constant", "value": 2}}})
    start = joint_angles(late)
    prompt_moved = np.abs(run(prompt, actions)[:, 0] - start[0])
    late_moved = np.abs(run(late, actions)[:, 0] - start[0])

    received = np.array(recorder(late).actions)
    np.testing.assert_allclose(received[:2], 0.0)  # neutral actions fill the delay
    np.testing.assert_allclose(received[2:], actions[:-2], atol=1e-7)
    assert prompt_moved[0] > 2e-3
    assert np.all(late_moved[:2] < 5e-4)  # the push has not arrived yet
    assert late_moved[2] > 2e-3
    assert late_moved[2] == pytest.approx(prompt_moved[0], rel=0.1)


def test_latency_rate_blends_the_previous_and_the_new_action(make: Any) -> None:
    rate, steps = 50.0, 200  # 1/s; panda-gym's control period is 0.04 s
    policy = np.where(np.arange(steps)[:, None] % 2 == 0, 0.5, -0.5) * np.ones((steps, 7))
    wrapper = make({"actuation": {"latency_rate": {"type": "constant", "value": rate}}})
    for action in policy:
        wrapper.step(action.astype(np.float32))
    received = np.array(recorder(wrapper).actions)
    previous = np.vstack([np.zeros((1, 7)), received[:-1]])

    # received = f * previous + (1 - f) * new, with the same late fraction f for every component
    late = (received - policy) / (previous - policy)
    np.testing.assert_allclose(late, late[:, :1] * np.ones((1, 7)), atol=1e-5)
    late = late[:, 0]
    assert np.all((late >= -1e-6) & (late <= 1 + 1e-6))
    assert np.mean((late > 0.01) & (late < 0.99)) > 0.5  # mostly true blends, neither action alone
    # the fraction is min(Exp(rate) / dt, 1): its mean is (1 - exp(-rate dt)) / (rate dt)
    dt = wrapper.unwrapped.sim.dt
    expected = (1.0 - np.exp(-rate * dt)) / (rate * dt)
    assert np.mean(late) == pytest.approx(expected, abs=0.08)


# -- gain and force scales through the motor hook --------------------------------------------------
def test_force_scale_limits_the_motor_torques_pybullet_applies(make: Any) -> None:
    hold = np.zeros((10, 7))
    strong = make({"actuation": {"force_scale": {"type": "constant", "value": 1.0}}})
    weak = make({"actuation": {"force_scale": {"type": "constant", "value": 0.05}}})
    strong_angles, weak_angles = run(strong, hold), run(weak, hold)

    assert np.abs(motor_torques(strong)[:4]).max() > 10.0
    assert np.all(np.abs(motor_torques(weak)[:4]) <= 0.05 * ARM_FORCE + 1e-6)
    start = joint_angles(make("none"))
    assert abs(strong_angles[-1, SHOULDER] - start[SHOULDER]) < 1e-3
    assert abs(weak_angles[-1, SHOULDER] - start[SHOULDER]) > 0.1  # too weak to hold the arm up


def test_gain_scale_weakens_position_control(make: Any) -> None:
    hold = np.zeros((10, 7))
    nominal = make({"actuation": {"gain_scale": {"type": "constant", "value": 1.0}}})
    soft = make({"actuation": {"gain_scale": {"type": "constant", "value": 0.1}}})
    start = joint_angles(nominal)
    drift = {name: np.abs(run(w, hold)[-1] - start).max() for name, w in (("nominal", nominal), ("soft", soft))}
    assert drift["nominal"] < 1e-3
    assert drift["soft"] > 0.01


def test_motor_hook_passes_scaled_forces_and_gains_to_pybullet(make: Any, monkeypatch: Any) -> None:
    calls: list[dict[str, Any]] = []
    original = p.setJointMotorControlArray

    def spy(*args: Any, **kwargs: Any) -> None:
        calls.append(kwargs)
        original(*args, **kwargs)

    config = {
        "actuation": {
            "select": "panda/panda_joint[1-4]",
            "force_scale": {"type": "constant", "value": 0.5},
            "gain_scale": {"type": "constant", "value": 2.0},
        }
    }
    wrapper = make(config)
    monkeypatch.setattr(p, "setJointMotorControlArray", spy)
    wrapper.step(np.zeros(7, dtype=np.float32))
    (call,) = calls
    # panda-gym commands the arm (87, 87, 87, 87, 12, 120, 120 N m) and both fingers (170 N) at once:
    # only the four selected joints scale
    np.testing.assert_allclose(call["forces"], [43.5] * 4 + [12.0, 120.0, 120.0, 170.0, 170.0])
    np.testing.assert_allclose(call["positionGains"], [0.2] * 4 + [0.1] * 5)


def test_motor_hook_remove_restores_the_client(make: Any) -> None:
    hold = np.zeros((10, 7))
    baseline = run(make("none"), hold)
    weak = make({"actuation": {"force_scale": {"type": "constant", "value": 0.05}}})
    client = weak.unwrapped.sim.physics_client
    assert "setJointMotorControlArray" in vars(client)
    assert weak.motors is not None
    weak.motors.remove()
    assert "setJointMotorControlArray" not in vars(client)
    assert "setJointMotorControl2" not in vars(client)
    np.testing.assert_allclose(run(weak, hold), baseline, atol=1e-9)  # full force again
    assert np.abs(motor_torques(weak)[:4]).max() > 10.0


def test_motor_hook_understands_positional_and_aliased_commands() -> None:
    client = bullet_client.BulletClient(connection_mode=p.DIRECT)
    try:
        import pybullet_data

        client.setAdditionalSearchPath(pybullet_data.getDataPath())
        robot = client.loadURDF("franka_panda/panda.urdf", useFixedBase=True)
        hook = MotorHook(client._client, client)
        hook.force_scale = 0.1
        client.setJointMotorControl2(robot, 1, p.POSITION_CONTROL, 1.5, 0.0, 50.0)
        client.setJointMotorControlArray(robot, [3], p.POSITION_CONTROL, [-2.5], [0.0], [50.0])
        client.setJointMotorControl2(
            bodyIndex=robot, jointIndex=5, controlMode=p.POSITION_CONTROL, targetPosition=2.0, force=50.0
        )
        for _ in range(5):  # still far from the targets: every motor pushes at its limit
            client.stepSimulation()
        for joint in (1, 3, 5):
            assert abs(client.getJointState(robot, joint)[3]) == pytest.approx(5.0, rel=1e-6)
        hook.remove()
    finally:
        client.disconnect()


# -- sensing ---------------------------------------------------------------------------------------
def test_sensing_bias_shifts_observations_by_the_sampled_bias(make: Any) -> None:
    wrapper = make({"sensing": {"bias": {"type": "uniform", "low": -0.1, "high": 0.1}}}, env_id="PandaPush-v3")
    obs, info = wrapper.reset(seed=3)
    bias = info["randomization"]["sensing"]["bias"]
    assert set(bias) == {"observation"}  # the goals are left alone by default (HER relabels from them)
    for _ in range(4):  # the same bias all episode long
        truth = true_observation(wrapper)
        shift = obs["observation"].astype(np.float64) - truth["observation"]
        np.testing.assert_allclose(shift, bias["observation"], atol=1e-6)
        assert np.all(np.abs(shift) > 1e-4)
        for key in ("achieved_goal", "desired_goal"):
            np.testing.assert_array_equal(obs[key], truth[key])
        obs = wrapper.step(np.zeros(7, dtype=np.float32))[0]


def test_sensing_noise_is_drawn_again_every_step(make: Any) -> None:
    std = 0.01
    wrapper = make({"sensing": {"noise_std": {"type": "constant", "value": std}}}, env_id="PandaPush-v3")
    residuals, goal_residuals = [], []
    for _ in range(40):
        obs = wrapper.step(np.zeros(7, dtype=np.float32))[0]
        truth = true_observation(wrapper)
        residuals.append(obs["observation"].astype(np.float64) - truth["observation"])
        goal_residuals.append(obs["desired_goal"] - truth["desired_goal"])
    residuals_array = np.array(residuals)
    assert residuals_array.std() == pytest.approx(std, rel=0.15)
    assert abs(residuals_array.mean()) < 0.2 * std
    assert np.abs(np.diff(residuals_array, axis=0)).min() > 0  # fresh noise on every step and entry
    np.testing.assert_array_equal(goal_residuals, 0.0)


def test_sensing_keys_can_include_the_desired_goal(make: Any) -> None:
    config = {"sensing": {"keys": ["desired_goal"], "bias": {"type": "constant", "value": 0.05}}}
    wrapper = make(config)
    obs = wrapper.step(np.zeros(7, dtype=np.float32))[0]
    truth = true_observation(wrapper)
    np.testing.assert_allclose(obs["desired_goal"] - truth["desired_goal"], 0.05, atol=1e-6)
    np.testing.assert_array_equal(obs["observation"], truth["observation"])


def test_sensing_keys_with_an_unknown_key_is_a_config_error() -> None:
    env = gym.make("PandaReach-v3")
    try:
        config = {"sensing": {"keys": ["joint_angles"], "bias": {"type": "constant", "value": 0.1}}}
        with pytest.raises(ConfigError) as error:
            DomainRandomization(env, config)
        message = str(error.value)
        assert "joint_angles" in message
        assert "desired_goal" in message
        assert "observation" in message
    finally:
        env.close()


# -- the physics preset on panda-gym ---------------------------------------------------------------
DYNAMICS_INDEX = {"mass": 0, "lateral_friction": 1, "inertia": 2}


def nominal_dynamics(env_id: str) -> dict[tuple[int, int], tuple[Any, ...]]:
    env = gym.make(env_id, control_type="joints")
    try:
        env.reset(seed=0)
        sim = env.unwrapped.sim
        cid = sim.physics_client._client
        return {
            (body, link): p.getDynamicsInfo(body, link, physicsClientId=cid)
            for body in sim._bodies_idx.values()
            for link in range(-1, p.getNumJoints(body, physicsClientId=cid))
        }
    finally:
        env.close()


@pytest.mark.parametrize("env_id", ["PandaReach-v3", "PandaPush-v3"])
def test_physics_preset_takes_effect_on_panda_gym(make: Any, env_id: str) -> None:
    nominal = nominal_dynamics(env_id)
    wrapper = make("physics", env_id=env_id)
    for episode in range(3):  # several resets: values come from the nominal every time
        _, info = wrapper.reset(seed=episode)
        physics = info["randomization"]["physics"]
        for field, index in DYNAMICS_INDEX.items():
            for name, value in physics[field].items():
                link = wrapper.scene.links[name]
                read_back = p.getDynamicsInfo(link.body, link.index, physicsClientId=wrapper.client_id)[index]
                np.testing.assert_allclose(read_back, value, rtol=1e-9, atol=1e-12, err_msg=f"{field} of {name}")
        panda_masses = [
            (value, nominal[(link.body, link.index)][0])
            for name, value in physics["mass"].items()
            if (link := wrapper.scene.links[name]).body == panda(wrapper)
        ]
        ratios = [value / base for value, base in panda_masses if base > 0]
        assert len(ratios) >= 9
        assert all(0.25 - 1e-9 <= r <= 4.0 + 1e-9 for r in ratios)
        assert len({round(r, 9) for r in ratios}) == len(ratios)  # drawn per link
        has_object = "object" in wrapper.scene.bodies
        assert ("object/link0" in physics["mass"]) == has_object
        if has_object:
            assert 0.1 <= physics["mass"]["object/link0"] <= 0.4
            assert 0.1 <= physics["lateral_friction"]["object/link0"] <= 5.0
            assert list(physics["linear_damping"]) == ["object/link0"]
        else:
            assert "linear_damping" not in physics
