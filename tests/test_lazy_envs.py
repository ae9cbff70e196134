"""Envs shaped like the PyBullet envs RL users run: a client made in the first ``reset()``, a world saved
once and restored on every reset, the client behind compatibility layers, motors driven to a start pose
in the env's own reset, and dynamics the env randomizes itself. Built here from pybullet_data, so that
the behaviour is tested without the third-party packages (tests/test_third_party_envs.py has those)."""

from __future__ import annotations

import warnings
from typing import Any

import gymnasium as gym
import numpy as np
import pybullet as p
import pybullet_data
import pytest
from gymnasium import spaces
from pybullet_utils import bullet_client

from dr_sim import DomainRandomization
from dr_sim.errors import SceneError
from dr_sim.scene.discovery import control_period, find_pybullet
from dr_sim.scene.motors import MotorHook

JOINTS = 7


class SavedWorldEnv(gym.Env[np.ndarray, np.ndarray]):
    """Like the locomotion envs: makes its ``BulletClient`` in its first reset, loads its world once,
    ``saveState()``s it and ``restoreState()``s it on every later reset; drives the arm to a start pose
    with position motors in its reset. ``randomize``: redraws the arm's link masses on every reset from
    its own generator, as an env with its own randomizer does."""

    def __init__(self, randomize: bool = False) -> None:
        self._p: Any = None
        self.physicsClientId = -1
        self.state_id = -1
        self.randomize = randomize
        self.time_step, self.frame_skip = 1 / 240, 8
        self.observation_space = spaces.Box(-np.pi, np.pi, (JOINTS,), np.float32)
        self.action_space = spaces.Box(-0.5, 0.5, (JOINTS,), np.float32)
        self.own = np.random.default_rng(7)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        if self._p is None:
            self._p = bullet_client.BulletClient(p.DIRECT)
            self.physicsClientId = self._p._client
            self._p.setAdditionalSearchPath(pybullet_data.getDataPath())
            self._p.setGravity(0, 0, -9.81)
            self._p.loadURDF("plane.urdf")
            self.robot = self._p.loadURDF("kuka_iiwa/model.urdf", useFixedBase=True)
        if self.state_id >= 0:
            self._p.restoreState(self.state_id)
        else:
            self.state_id = self._p.saveState()
        if self.randomize:
            for link in range(JOINTS):
                self._p.changeDynamics(self.robot, link, mass=float(self.own.uniform(1.0, 4.0)))
        self.drive([0.0, 0.6, 0.0, -1.0, 0.0, 0.5, 0.0], steps=60)  # to the start pose, through the motors
        return self.angles(), {}

    def drive(self, targets: list[float], steps: int) -> None:
        self._p.setJointMotorControlArray(
            self.robot, list(range(JOINTS)), p.POSITION_CONTROL, targetPositions=targets, forces=[200.0] * JOINTS
        )
        for _ in range(steps):
            self._p.stepSimulation()

    def angles(self) -> np.ndarray:
        return np.array([s[0] for s in self._p.getJointStates(self.robot, list(range(JOINTS)))], dtype=np.float32)

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        self.drive((self.angles() + np.asarray(action)).tolist(), self.frame_skip)
        return self.angles(), 0.0, False, False, {}

    def close(self) -> None:
        if self._p is not None:
            self._p.disconnect()
            self._p = None


class OldStyleEnv:
    """An old Gym env (no Gymnasium base class) holding its client under a name of its own."""

    def __init__(self) -> None:
        self._pybullet_client = bullet_client.BulletClient(p.DIRECT)
        self._pybullet_client.setAdditionalSearchPath(pybullet_data.getDataPath())
        self._pybullet_client.loadURDF("plane.urdf")
        self._time_step, self._action_repeat = 0.002, 5


class CompatibilityLayer(gym.Env[np.ndarray, np.ndarray]):
    """A compatibility wrapper in shimmy's shape: the old env sits under ``gym_env``."""

    observation_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
    action_space = spaces.Box(-1.0, 1.0, (2,), np.float32)

    def __init__(self) -> None:
        self.gym_env = OldStyleEnv()

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        return np.zeros(2, np.float32), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        return np.zeros(2, np.float32), 0.0, False, False, {}

    def close(self) -> None:
        self.gym_env._pybullet_client.disconnect()


def masses(wrapper: DomainRandomization) -> dict[str, float]:
    """The arm's link masses as PyBullet holds them (kg), by link name."""
    scene = wrapper.scene
    return {
        name: p.getDynamicsInfo(link.body, link.index, physicsClientId=scene.client_id)[0]
        for name, link in scene.links.items()
        if name.startswith("lbr_iiwa")
    }


def test_an_env_that_makes_its_client_in_reset_is_bound_then() -> None:
    env = SavedWorldEnv()
    wrapper = DomainRandomization(env, "physics")  # no client yet: nothing to find
    try:
        with pytest.raises(SceneError, match="call reset"):
            _ = wrapper.scene
        _, info = wrapper.reset(seed=0)
        assert wrapper.client_id == env.physicsClientId
        drawn = info["randomization"]["physics"]["mass"]
        held = masses(wrapper)
        assert drawn
        assert all(held[name] == pytest.approx(value) for name, value in drawn.items() if name in held)
        assert wrapper.session.motors is not None
        assert wrapper.session.motors.bullet_client is env._p  # the hook sits on the env's own BulletClient
        assert control_period(env) == pytest.approx(8 / 240)  # time step x frame skip
    finally:
        wrapper.close()


def test_a_saved_world_still_restores_under_every_preset() -> None:
    """The distractor bank must not make the env's saved state unrestorable, and a restore leaves the bank."""
    for preset in ("physics", "visual", "full"):
        wrapper = DomainRandomization(SavedWorldEnv(), preset, obs_type="state+rgb", image_size=24)
        try:
            first, info = wrapper.reset(seed=0)
            for _ in range(3):
                wrapper.step(wrapper.action_space.sample())
            wrapper.reset(seed=1)
            again, replayed = wrapper.reset(seed=0)
            assert replayed["randomization"] == info["randomization"]
            np.testing.assert_array_equal(again["rgb"], first["rgb"])  # same seed, same image, start state too
            np.testing.assert_array_equal(again["state"], first["state"])
        finally:
            wrapper.close()


def test_the_start_state_does_not_depend_on_the_episode_before() -> None:
    """The env drives its motors to the start pose in its own reset: with the last episode's gain scale
    still on, that pose would depend on it."""
    wrapper = DomainRandomization(
        SavedWorldEnv(), {"actuation": {"gain_scale": {"type": "uniform", "low": 0.05, "high": 0.1}}}
    )
    try:
        first, _ = wrapper.reset(seed=3)
        wrapper.reset(seed=4)
        again, _ = wrapper.reset(seed=3)
        np.testing.assert_array_equal(again, first)
    finally:
        wrapper.close()


def test_the_client_is_found_behind_compatibility_layers() -> None:
    inner = CompatibilityLayer()
    stacked = gym.wrappers.RecordEpisodeStatistics(gym.wrappers.TimeLimit(inner, 10))
    found = find_pybullet(stacked)
    assert found is not None
    assert found.bullet is inner.gym_env._pybullet_client
    assert found.client_id == inner.gym_env._pybullet_client._client
    assert control_period(stacked) == pytest.approx(0.01)
    wrapper = DomainRandomization(stacked, "visual", obs_type="rgb", image_size=16)
    try:
        obs, _ = wrapper.reset(seed=0)
        assert obs.shape == (16, 16, 3)
        assert wrapper.client_id == found.client_id
    finally:
        wrapper.close()


def test_envs_made_and_closed_in_turn_and_alive_together() -> None:
    for explicit in (False, True):
        for _ in range(3):  # each closed before the next is made: the next one reuses the client id
            env = SavedWorldEnv()
            env.reset(seed=0)
            wrapper = DomainRandomization(env, "physics", client_id=env.physicsClientId if explicit else None)
            wrapper.reset(seed=0)
            for _ in range(3):
                wrapper.step(wrapper.action_space.sample())
            wrapper.close()
    a, b = DomainRandomization(SavedWorldEnv(), "physics"), DomainRandomization(SavedWorldEnv(), "physics")
    try:
        _, info_a = a.reset(seed=0)
        _, info_b = b.reset(seed=1)
        for _ in range(3):
            a.step(a.action_space.sample())
            b.step(b.action_space.sample())
        assert a.client_id != b.client_id
        for wrapper, info in ((a, info_a), (b, info_b)):
            held = masses(wrapper)
            for name, value in info["randomization"]["physics"]["mass"].items():
                if name in held:
                    assert held[name] == pytest.approx(value)
    finally:
        a.close()
        b.close()
    assert p.setJointMotorControlArray.__name__ == "setJointMotorControlArray"


def test_a_self_randomizing_env_is_named_once() -> None:
    wrapper = DomainRandomization(SavedWorldEnv(randomize=True), "physics")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for seed in range(4):
                wrapper.reset(seed=seed)
        ours = [w for w in caught if "changes dynamics itself" in str(w.message)]
        assert len(ours) == 1
        assert "lbr_iiwa" in str(ours[0].message)
        assert "env_randomizer=None" in str(ours[0].message)
        assert ours[0].filename == __file__  # the warning points at the caller's line
    finally:
        wrapper.close()
    quiet = DomainRandomization(SavedWorldEnv(randomize=False), "physics")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            for seed in range(4):
                quiet.reset(seed=seed)
    finally:
        quiet.close()


def test_a_bullet_client_env_beside_a_module_hooked_env_drives_its_own_client() -> None:
    """A module-level env's hook replaces the pybullet module's motor functions; a BulletClient env in the
    same process must still send its commands to its own client (the stand-in passes for a builtin, so the
    BulletClient adds its client id)."""
    module_client = p.connect(p.DIRECT)
    hook = MotorHook(module_client, None)
    hook.gain_scale = 0.01
    other = bullet_client.BulletClient(p.DIRECT)
    try:
        other.setAdditionalSearchPath(pybullet_data.getDataPath())
        arm = other.loadURDF("kuka_iiwa/model.urdf", useFixedBase=True)
        other.setJointMotorControl2(arm, 1, p.POSITION_CONTROL, targetPosition=0.5, force=500)
        for _ in range(240):
            other.stepSimulation()
        assert other.getJointState(arm, 1)[0] == pytest.approx(0.5, abs=1e-3)  # its own client, unscaled
    finally:
        hook.remove()
        other.disconnect()
        p.disconnect(module_client)
