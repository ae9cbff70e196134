"""The wrapper on an env written the old way: it calls the ``pybullet`` module itself (no BulletClient)
and rebuilds its world with ``resetSimulation`` on every reset, as many PyBullet envs do."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gymnasium as gym
import numpy as np
import pybullet as p
import pybullet_data
import pytest
from gymnasium import spaces

from dr_sim import DomainRandomization
from dr_sim.errors import ConfigError
from dr_sim.scene.motors import MotorHook

ORIGINAL_ONE, ORIGINAL_ARRAY = p.setJointMotorControl2, p.setJointMotorControlArray
JOINTS = 7
SUBSTEPS = 12  # physics steps of 1/240 s per control step


class ModuleKukaEnv(gym.Env[np.ndarray, np.ndarray]):
    """A KUKA iiwa (bent at the shoulder and elbow) on a plane beside a cube; actions are joint-angle
    offsets (rad) held by position motors at up to 100 N m; the observation is the joint angles (rad).
    Talks to ``pybullet`` directly."""

    def __init__(self) -> None:
        self.client = p.connect(p.DIRECT)
        self.dt = SUBSTEPS / 240.0
        self.observation_space = spaces.Box(-np.pi, np.pi, (JOINTS,), np.float32)
        self.action_space = spaces.Box(-0.5, 0.5, (JOINTS,), np.float32)
        self.build()

    def build(self) -> None:
        cid = self.client
        p.resetSimulation(physicsClientId=cid)
        p.setAdditionalSearchPath(pybullet_data.getDataPath(), physicsClientId=cid)
        p.setGravity(0.0, 0.0, -9.81, physicsClientId=cid)
        p.loadURDF("plane.urdf", physicsClientId=cid)
        self.robot = p.loadURDF("kuka_iiwa/model.urdf", useFixedBase=True, physicsClientId=cid)
        for joint, angle in ((1, 0.8), (3, -1.2)):  # bent: gravity pulls on the shoulder
            p.resetJointState(self.robot, joint, angle, physicsClientId=cid)
        self.cube = p.loadURDF("cube_small.urdf", [0.6, 0.0, 0.03], physicsClientId=cid)

    def angles(self) -> np.ndarray:
        states = p.getJointStates(self.robot, list(range(JOINTS)), physicsClientId=self.client)
        return np.array([s[0] for s in states], dtype=np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.build()
        return self.angles(), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        targets = (self.angles() + np.asarray(action, dtype=np.float64)).tolist()
        p.setJointMotorControlArray(
            self.robot,
            list(range(JOINTS)),
            p.POSITION_CONTROL,
            targetPositions=targets,
            forces=[100.0] * JOINTS,
            physicsClientId=self.client,
        )
        for _ in range(SUBSTEPS):
            p.stepSimulation(physicsClientId=self.client)
        return self.angles(), 0.0, False, False, {}

    def close(self) -> None:
        if p.isConnected(self.client):
            p.disconnect(self.client)


@pytest.fixture
def make() -> Iterator[Any]:
    """``make(randomization, **kwargs)``: a wrapped ``ModuleKukaEnv``, closed after the test."""
    made: list[DomainRandomization] = []

    def factory(randomization: Any, **kwargs: Any) -> DomainRandomization:
        wrapper = DomainRandomization(ModuleKukaEnv(), randomization, **kwargs)
        made.append(wrapper)
        return wrapper

    yield factory
    for env in made:
        env.close()
    assert p.setJointMotorControl2 is ORIGINAL_ONE  # every hook gone: PyBullet's own functions are back
    assert p.setJointMotorControlArray is ORIGINAL_ARRAY


def sag(env: DomainRandomization, seed: int, steps: int = 10) -> float:
    """How far (rad) the bent arm's joints drift in ``steps`` control steps of holding still."""
    start, _ = env.reset(seed=seed)
    for _ in range(steps):
        obs, *_ = env.step(np.zeros(JOINTS, dtype=np.float32))
    return float(np.abs(obs - start).max())


def kuka_masses() -> dict[int, float]:
    """Link index -> mass (kg) of the KUKA iiwa as its URDF gives them."""
    cid = p.connect(p.DIRECT)
    try:
        p.setAdditionalSearchPath(pybullet_data.getDataPath(), physicsClientId=cid)
        robot = p.loadURDF("kuka_iiwa/model.urdf", useFixedBase=True, physicsClientId=cid)
        return {i: p.getDynamicsInfo(robot, i, physicsClientId=cid)[0] for i in range(-1, JOINTS)}
    finally:
        p.disconnect(cid)


def test_the_shipped_presets_run_and_each_reset_randomizes_the_rebuilt_world(make: Any) -> None:
    nominal = kuka_masses()
    for preset in ("physics", "full"):
        env = make(preset, obs_type="state+rgb", image_size=32)
        for seed in range(3):
            obs, info = env.reset(seed=seed)
            assert obs["rgb"].shape == (32, 32, 3)
            env.step(np.zeros(JOINTS, dtype=np.float32))
            base = env.unwrapped
            masses = info["randomization"]["physics"]["mass"]
            drawn = [(name, value) for name, value in masses.items() if name.startswith("lbr_iiwa")]
            assert drawn, sorted(masses)
            for name, value in drawn:  # read back from the bodies this reset's resetSimulation made
                link = env.scene.links[name]
                assert link.body == base.robot
                mass = p.getDynamicsInfo(link.body, link.index, physicsClientId=base.client)[0]
                assert mass == pytest.approx(value, rel=1e-6)
                if nominal[link.index] > 0:  # the preset's x[0.25, 4] of the URDF's mass: no drift over resets
                    assert 0.25 <= mass / nominal[link.index] <= 4.0


def test_gain_scale_reaches_motors_commanded_through_the_module(make: Any) -> None:
    config = {"actuation": {"gain_scale": {"type": "constant", "value": 0.02}}}
    soft, nominal = make(config), make("none")
    assert soft.motors is not None
    assert soft.motors.bullet_client is None  # the module hook, not a client's
    assert nominal.motors is None
    assert sag(nominal, 0) < 1e-3  # the nominal position loop holds the arm
    assert sag(soft, 0) > 0.01  # a 50x softer one lets gravity pull it down


def test_the_same_seed_renders_the_same_image_after_every_rebuild(make: Any) -> None:
    env = make("full", obs_type="rgb", image_size=32)
    first, info = env.reset(seed=11)
    env.reset(seed=12)
    again, _ = env.reset(seed=11)
    replayed, _ = env.reset(options={"randomization": info["randomization"]})
    np.testing.assert_array_equal(again, first)
    np.testing.assert_array_equal(replayed, first)


def test_other_clients_commands_pass_through_and_the_newest_hook_of_a_client_wins() -> None:
    hooked, other = p.connect(p.DIRECT), p.connect(p.DIRECT)
    hook = MotorHook(hooked)
    try:
        hook.force_scale = 0.1
        torques = {}
        for cid in (hooked, other):
            p.setAdditionalSearchPath(pybullet_data.getDataPath(), physicsClientId=cid)
            robot = p.loadURDF("kuka_iiwa/model.urdf", useFixedBase=True, physicsClientId=cid)
            p.setJointMotorControl2(robot, 1, p.POSITION_CONTROL, 1.5, 0.0, 50.0, physicsClientId=cid)
            for _ in range(5):  # far from the target: the motor pushes at its limit
                p.stepSimulation(physicsClientId=cid)
            torques[cid] = abs(p.getJointState(robot, 1, physicsClientId=cid)[3])
        assert torques[hooked] == pytest.approx(5.0, rel=1e-6)
        assert torques[other] == pytest.approx(50.0, rel=1e-6)
        newer = MotorHook(hooked)  # the env wrapped again: the newest hook wins, the older one's removal spares it
        hook.remove()
        assert p.setJointMotorControl2 is not ORIGINAL_ONE
        newer.remove()
    finally:
        hook.remove()
        p.disconnect(hooked)
        p.disconnect(other)
    assert p.setJointMotorControl2 is ORIGINAL_ONE


def test_textures_come_back_after_a_rebuild_that_reuses_every_id_and_name(make: Any) -> None:
    """resetSimulation frees the textures; the env then loads the same bodies under the same ids and
    names, so only the mark that dr_sim leaves on each body tells that the world is new."""
    textured = {
        "camera": {"nominal": {"eye": [1.6, 0.0, 1.2], "target": [0.0, 0.0, 0.5], "fov": 60.0}},
        "appearance": [
            {
                "select": "lbr_iiwa/*",
                "textures": {"families": ["checker"], "pool_size": 4, "probability": 1.0},
            }
        ],
    }
    env = make(textured, obs_type="rgb", image_size=48)
    first, _ = env.reset(seed=5)
    plain = make({"camera": textured["camera"]}, obs_type="rgb", image_size=48).reset(seed=5)[0]
    assert np.abs(first.astype(int) - plain.astype(int)).max() > 50  # the checkers show
    for seed in range(3):
        env.reset(seed=seed)
    again, _ = env.reset(seed=5)
    np.testing.assert_array_equal(again, first)


class StoredClientEnv(gym.Env[np.ndarray, np.ndarray]):
    """A cube on a plane; the env keeps its PyBullet connection under the attribute ``attribute``: a
    ``BulletClient`` (``bullet=True``) or the client id."""

    def __init__(self, attribute: str, bullet: bool) -> None:
        from pybullet_utils.bullet_client import BulletClient

        connection = BulletClient(connection_mode=p.DIRECT) if bullet else p.connect(p.DIRECT)
        setattr(self, attribute, connection)
        self.id = connection._client if bullet else connection
        p.setAdditionalSearchPath(pybullet_data.getDataPath(), physicsClientId=self.id)
        p.loadURDF("plane.urdf", physicsClientId=self.id)
        p.loadURDF("cube_small.urdf", [0.0, 0.0, 0.05], physicsClientId=self.id)
        self.observation_space = spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, (1,), np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        return np.zeros(1, np.float32), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        p.stepSimulation(physicsClientId=self.id)
        return np.zeros(1, np.float32), 0.0, False, False, {}

    def close(self) -> None:
        p.disconnect(self.id)


@pytest.mark.parametrize(
    ("attribute", "bullet"),
    [("_pybullet_client", True), ("pb", True), ("CLIENT", False), ("_physics_client_id", False), ("cid", False)],
)
def test_the_client_is_found_under_the_names_envs_give_it(attribute: str, bullet: bool) -> None:
    env = StoredClientEnv(attribute, bullet)
    wrapper = DomainRandomization(
        env, {"physics": {"links": [{"select": "*", "mass": {"type": "constant", "value": 2.0}}]}}
    )
    try:
        assert wrapper.client_id == env.id
        wrapper.reset(seed=0)
        cube = wrapper.scene.body("cube")  # named from its URDF, the physics applied on the env's own client
        assert p.getDynamicsInfo(cube, -1, physicsClientId=env.id)[0] == pytest.approx(2.0)
    finally:
        wrapper.close()


def test_presets_leave_out_with_a_warning_what_cannot_act_on_an_env() -> None:
    """The shipped presets say ``required: false``: on an env with discrete actions and no control period
    the action noise and latency are left out, one warning says why, and the rest is randomized."""
    env = StoredClientEnv("client", bullet=False)  # no 'dt' attribute
    env.action_space = spaces.Discrete(3)
    with pytest.warns(
        RuntimeWarning, match=r"^actuation\.action_noise_std, .*: left out, action noise and latency need a Box action"
    ) as caught:
        wrapper = DomainRandomization(env, "physics")
    assert caught[0].filename == __file__  # filed at the line that wrapped the env, not inside dr_sim
    try:
        _, info = wrapper.reset(seed=0)
        wrapper.step(2)
        drawn = set(info["randomization"].get("actuation", {}))
        assert not drawn & {"action_noise_std", "latency_steps", "latency_rate"}
        cube = wrapper.scene.body("cube")
        mass = p.getDynamicsInfo(cube, -1, physicsClientId=env.id)[0]
        assert mass == pytest.approx(info["randomization"]["physics"]["mass"]["cube/baseLink"])
    finally:
        wrapper.close()
    timed = StoredClientEnv("client", bullet=False)  # Box actions, still no control period
    with pytest.warns(RuntimeWarning, match="latency_rate needs the control period"):
        wrapper = DomainRandomization(timed, "physics")
    try:
        _, info = wrapper.reset(seed=0)
        drawn = set(info["randomization"]["actuation"])
        assert "action_noise_std" in drawn  # the noise still acts
        assert "latency_rate" not in drawn
    finally:
        wrapper.close()


def test_a_config_that_requires_its_actuation_says_what_cannot_act_and_the_way_out() -> None:
    env = StoredClientEnv("client", bullet=False)
    env.action_space = spaces.Discrete(3)
    noisy = {"actuation": {"action_noise_std": {"type": "constant", "value": 0.1}}}
    try:
        with pytest.raises(ConfigError, match=r"need a Box action space, got Discrete\(3\).*required: false"):
            DomainRandomization(env, noisy)
    finally:
        env.close()


def test_sensing_noise_leaves_an_observation_without_float_entries_alone_in_presets_only() -> None:
    image = np.arange(48, dtype=np.uint8).reshape(4, 4, 3)
    env = StoredClientEnv("client", bullet=False)
    env.observation_space = spaces.Box(0, 255, image.shape, np.uint8)  # a camera image of its own
    env.dt = 0.05  # type: ignore[attr-defined]  # a known control period: sensing is all that is left out
    env.reset = lambda *, seed=None, options=None: (image, {})  # type: ignore[method-assign]
    env.step = lambda action: (image, 0.0, False, False, {})  # type: ignore[method-assign]
    noisy = {"sensing": {"noise_std": {"type": "constant", "value": 0.1}}}
    with pytest.raises(ConfigError, match=r"no float Box entry to corrupt \(or set sensing.required: false"):
        DomainRandomization(env, noisy)
    with pytest.warns(RuntimeWarning, match="sensing: left out, the observation space Box"):
        wrapper = DomainRandomization(env, "physics")
    try:
        obs, info = wrapper.reset(seed=0)
        np.testing.assert_array_equal(obs, image)  # untouched, not noise turned into uint8 garbage
        np.testing.assert_array_equal(wrapper.step(np.zeros(1, np.float32))[0], image)
        assert "sensing" not in info["randomization"] or not info["randomization"]["sensing"]
    finally:
        wrapper.close()
