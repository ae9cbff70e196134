"""Physics randomization read back from a real PyBullet engine (DIRECT mode, no mocks).

Every test builds a small scene on its own client, randomizes it through ``RandomizationEngine``
and checks what PyBullet reports (``getDynamicsInfo``, ``getPhysicsEngineParameters``) or, for
quantities PyBullet does not report (joint damping and friction, linear and angular damping), what a
user would see in simulation.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pybullet as p
import pybullet_data
import pytest

from dr_sim.engine import RandomizationEngine
from dr_sim.errors import ConfigError
from dr_sim.scene import Scene

# Index of each quantity in the tuple ``getDynamicsInfo`` returns.
DYNAMICS_INDEX = {
    "mass": 0,
    "lateral_friction": 1,
    "inertia": 2,
    "restitution": 5,
    "rolling_friction": 6,
    "spinning_friction": 7,
    "contact_damping": 8,
    "contact_stiffness": 9,
}
FINGERS = ("panda/panda_leftfinger", "panda/panda_rightfinger")


@pytest.fixture
def client() -> Iterator[int]:
    cid = p.connect(p.DIRECT)
    p.setAdditionalSearchPath(pybullet_data.getDataPath(), physicsClientId=cid)
    p.setGravity(0.0, 0.0, -9.81, physicsClientId=cid)
    yield cid
    p.disconnect(cid)


def load_panda(cid: int) -> int:
    return p.loadURDF("franka_panda/panda.urdf", useFixedBase=True, physicsClientId=cid)


def load_cube(cid: int, position: tuple[float, float, float] = (0.5, 0.0, 0.5)) -> int:
    return p.loadURDF("cube_small.urdf", list(position), physicsClientId=cid)


def randomized(cid: int, config: dict[str, Any], seed: int = 0) -> tuple[RandomizationEngine, Scene, dict[str, Any]]:
    """Bind an engine to the client's scene, draw one episode and apply it."""
    engine = RandomizationEngine(config)
    scene = Scene(cid)
    engine.bind(scene)
    params = engine.sample_episode(np.random.default_rng(seed))
    engine.apply(scene, params)
    return engine, scene, params


def dynamics(cid: int, body: int, link: int, field: str) -> Any:
    value = p.getDynamicsInfo(body, link, physicsClientId=cid)[DYNAMICS_INDEX[field]]
    return np.asarray(value, dtype=np.float64)


def gravity(cid: int) -> np.ndarray:
    params = p.getPhysicsEngineParameters(physicsClientId=cid)
    return np.array([params[f"gravityAcceleration{axis}"] for axis in "XYZ"])


def free_joints(cid: int, body: int) -> None:
    """Switch off PyBullet's default velocity motors so that joints move freely."""
    for j in range(p.getNumJoints(body, physicsClientId=cid)):
        p.setJointMotorControl2(body, j, p.VELOCITY_CONTROL, force=0.0, physicsClientId=cid)


def simulate(cid: int, steps: int = 240) -> None:
    for _ in range(steps):
        p.stepSimulation(physicsClientId=cid)


# -- link dynamics ---------------------------------------------------------------------------------
LINK_SPECS = {
    "mass": {"type": "uniform", "low": 0.5, "high": 0.9},
    "lateral_friction": {"type": "uniform", "low": 0.2, "high": 0.6},
    "inertia": {"type": "uniform", "low": [1e-3, 2e-3, 3e-3], "high": [1.5e-3, 2.5e-3, 3.5e-3]},
    "restitution": {"type": "uniform", "low": 0.3, "high": 0.9},
    "rolling_friction": {"type": "uniform", "low": 0.01, "high": 0.05},
    "spinning_friction": {"type": "uniform", "low": 0.01, "high": 0.05},
}


@pytest.mark.parametrize("field", list(LINK_SPECS))
def test_link_dynamics_read_back_equal_sampled_params(client: int, field: str) -> None:
    cube = load_cube(client)
    nominal = dynamics(client, cube, -1, field)
    _, _, params = randomized(client, {"physics": {"links": [{"select": "cube/*", field: LINK_SPECS[field]}]}})

    sampled = np.asarray(params["physics"][field]["cube/baseLink"])
    read_back = dynamics(client, cube, -1, field)
    np.testing.assert_allclose(read_back, sampled, rtol=1e-9, atol=1e-12)
    assert not np.allclose(read_back, nominal)
    low, high = LINK_SPECS[field]["low"], LINK_SPECS[field]["high"]
    assert np.all(sampled >= np.asarray(low))
    assert np.all(sampled <= np.asarray(high))


def test_contact_stiffness_and_damping_read_back(client: int) -> None:
    panda = load_panda(client)
    # The panda's fingers carry a nominal contact stiffness (30000 N/m) and damping (1000 N s/m).
    nominal_k = float(dynamics(client, panda, 9, "contact_stiffness"))
    nominal_d = float(dynamics(client, panda, 9, "contact_damping"))
    config = {
        "physics": {
            "links": [
                {
                    "select": "panda/*finger*",
                    "contact_stiffness": {"type": "uniform", "low": 0.1, "high": 0.5, "op": "scale"},
                    "contact_damping": {"type": "uniform", "low": 10.0, "high": 20.0, "op": "add"},
                }
            ]
        }
    }
    _, scene, params = randomized(client, config)
    physics = params["physics"]
    for name in FINGERS:
        link = scene.links[name]
        k = float(dynamics(client, panda, link.index, "contact_stiffness"))
        d = float(dynamics(client, panda, link.index, "contact_damping"))
        assert k == pytest.approx(physics["contact_stiffness"][name])
        assert d == pytest.approx(physics["contact_damping"][name])
        assert 0.1 * nominal_k <= k <= 0.5 * nominal_k
        assert nominal_d + 10.0 <= d <= nominal_d + 20.0


def test_contact_stiffness_alone_on_a_link_without_nominal_pair_is_rejected(client: int) -> None:
    load_cube(client)  # its nominal contact stiffness and damping are unset (-1)
    config = {"physics": {"links": [{"select": "cube/*", "contact_stiffness": {"type": "constant", "value": 1e4}}]}}
    with pytest.raises(ConfigError, match="contact_damping"):
        randomized(client, config)


@pytest.mark.parametrize(
    ("op", "expected"),
    [("set", lambda nominal: 2.0), ("scale", lambda nominal: 2.0 * nominal), ("add", lambda nominal: nominal + 2.0)],
)
def test_ops_combine_the_draw_with_the_nominal_value(client: int, op: str, expected: Any) -> None:
    panda = load_panda(client)
    links = range(7)  # panda_link1 .. panda_link7: masses 2.74 .. 0.59 kg in the URDF
    nominal = {j: float(dynamics(client, panda, j, "mass")) for j in links}
    config = {
        "physics": {
            "links": [{"select": "panda/panda_link[1-7]", "mass": {"type": "constant", "value": 2.0, "op": op}}]
        }
    }
    engine, scene, params = randomized(client, config)
    for _ in range(3):  # applying again must not combine with the already randomized value
        engine.apply(scene, engine.sample_episode(np.random.default_rng(1)))
    for j in links:
        assert float(dynamics(client, panda, j, "mass")) == pytest.approx(expected(nominal[j]))
    assert len(params["physics"]["mass"]) == 7


def test_scaling_over_many_episodes_never_compounds(client: int) -> None:
    panda = load_panda(client)
    arm = range(7)
    nominal_mass = {j: float(dynamics(client, panda, j, "mass")) for j in arm}
    nominal_inertia = {j: dynamics(client, panda, j, "inertia") for j in arm}
    mass_spec = {"type": "log_uniform", "low": 0.5, "high": 2.0, "op": "scale", "shared": True}
    config = {"physics": {"links": [{"select": "panda/panda_link[1-7]", "mass": mass_spec}]}}
    engine = RandomizationEngine(config)
    scene = Scene(client)
    draw_spec = engine.config.physics.links[0].mass  # the same distribution, drawn independently below
    for episode in range(20):
        engine.ensure_bound(scene)
        params = engine.sample_episode(np.random.default_rng(episode))
        engine.apply(scene, params)
        draw = float(draw_spec.distribution.sample_array(np.random.default_rng(episode)))
        for j in arm:
            mass = float(dynamics(client, panda, j, "mass"))
            assert mass == pytest.approx(nominal_mass[j] * draw, rel=1e-9)
            # terms not configured stay at their nominal value
            np.testing.assert_allclose(dynamics(client, panda, j, "inertia"), nominal_inertia[j])


def test_randomizing_mass_alone_keeps_the_inertia(client: int) -> None:
    # PyBullet recomputes a base's inertia from its collision shape, and rescales a link's, when
    # only the mass changes: an unconfigured inertia must stay what it was.
    cube, panda = load_cube(client), load_panda(client)
    targets = [(cube, -1), (panda, 3)]
    before = {target: dynamics(client, *target, "inertia") for target in targets}
    spec = {"type": "constant", "value": 3.0, "op": "scale"}
    randomized(client, {"physics": {"links": [{"select": ["cube/*", "panda/panda_link4"], "mass": spec}]}})
    for target in targets:
        np.testing.assert_allclose(dynamics(client, *target, "inertia"), before[target])


# -- joints and damping: not reported by PyBullet, so measured by their effect ---------------------
def spin_joint1(cid: int, config: dict[str, Any] | None) -> float:
    """Joint 1 of a panda in zero gravity, started at 3 rad/s: its speed after one second."""
    p.setGravity(0.0, 0.0, 0.0, physicsClientId=cid)
    panda = load_panda(cid)
    free_joints(cid, panda)
    if config is not None:
        randomized(cid, config)
    p.resetJointState(panda, 0, 0.0, targetVelocity=3.0, physicsClientId=cid)
    simulate(cid)
    return abs(p.getJointState(panda, 0, physicsClientId=cid)[1])


def test_joint_damping_slows_a_spinning_joint(client: int) -> None:
    nominal_speed = spin_joint1(client, None)
    p.resetSimulation(physicsClientId=client)
    damped = {
        "physics": {
            "joints": [{"select": "panda/panda_joint1", "damping": {"type": "uniform", "low": 1.0, "high": 2.0}}]
        }
    }
    damped_speed = spin_joint1(client, damped)
    assert nominal_speed > 0.5
    assert damped_speed < 0.5 * nominal_speed


def test_joint_friction_stops_a_spinning_joint(client: int) -> None:
    nominal_speed = spin_joint1(client, None)
    p.resetSimulation(physicsClientId=client)
    config = {
        "physics": {
            "joints": [{"select": "panda/panda_joint1", "friction": {"type": "uniform", "low": 2.0, "high": 3.0}}]
        }
    }
    rubbing_speed = spin_joint1(client, config)
    assert nominal_speed > 0.5
    assert rubbing_speed < 0.01


@pytest.mark.parametrize(("field", "velocity"), [("linear_damping", 0), ("angular_damping", 1)])
def test_body_damping_slows_a_moving_body(client: int, field: str, velocity: int) -> None:
    p.setGravity(0.0, 0.0, 0.0, physicsClientId=client)
    shape = p.createCollisionShape(p.GEOM_BOX, halfExtents=[0.1] * 3, physicsClientId=client)
    still = p.createMultiBody(1.0, shape, basePosition=[0, 0, 0], physicsClientId=client)
    damped = p.createMultiBody(1.0, shape, basePosition=[5, 0, 0], physicsClientId=client)
    names = {"nominal": still, "damped": damped}
    engine = RandomizationEngine(
        {"physics": {"links": [{"select": "damped/*", field: {"type": "uniform", "low": 0.8, "high": 0.9}}]}}
    )
    scene = Scene(client, names)
    engine.bind(scene)
    params = engine.sample_episode(np.random.default_rng(3))
    engine.apply(scene, params)
    assert list(params["physics"][field]) == ["damped/link0"]
    for body in names.values():
        p.resetBaseVelocity(body, [1.0, 0.0, 0.0], [0.0, 0.0, 2.0], physicsClientId=client)
    simulate(client)
    speed = {
        name: np.linalg.norm(p.getBaseVelocity(body, physicsClientId=client)[velocity]) for name, body in names.items()
    }
    assert speed["nominal"] > 0.5 * [1.0, 2.0][velocity]
    assert speed["damped"] < 0.5 * speed["nominal"]


# -- gravity ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("op", ["set", "add"])
def test_gravity_reads_back_from_the_engine_parameters(client: int, op: str) -> None:
    load_cube(client)
    spec = {"type": "uniform", "low": [-0.5, -0.5, -0.5], "high": [0.5, 0.5, 0.5], "op": op}
    if op == "set":
        spec.update(low=[-1.0, -1.0, -11.0], high=[1.0, 1.0, -9.0])
    _, _, params = randomized(client, {"physics": {"gravity": spec}}, seed=5)
    sampled = np.asarray(params["physics"]["gravity"]["world"])
    np.testing.assert_allclose(gravity(client), sampled)
    assert not np.allclose(sampled, [0.0, 0.0, -9.81])
    assert np.all(np.abs(sampled - [0.0, 0.0, -9.81]) <= [1.0, 1.0, 1.21])


# -- selectors -------------------------------------------------------------------------------------
def test_glob_selectors_pick_only_the_matching_links_and_joints(client: int) -> None:
    panda = load_panda(client)
    load_cube(client)
    nominal = {j: float(dynamics(client, panda, j, "lateral_friction")) for j in range(-1, 12)}
    config = {
        "physics": {
            "links": [{"select": "panda/*finger*", "lateral_friction": {"type": "uniform", "low": 2.0, "high": 3.0}}],
            "joints": [{"select": "panda/*finger*", "damping": {"type": "uniform", "low": 1.0, "high": 2.0}}],
        }
    }
    _, scene, params = randomized(client, config)
    assert set(params["physics"]["lateral_friction"]) == set(FINGERS)
    assert set(params["physics"]["damping"]) == {"panda/panda_finger_joint1", "panda/panda_finger_joint2"}
    fingers = {scene.links[name].index for name in FINGERS}
    for j, value in nominal.items():
        read_back = float(dynamics(client, panda, j, "lateral_friction"))
        if j in fingers:
            assert 2.0 <= read_back <= 3.0
        else:
            assert read_back == value
    cube = scene.bodies["cube"]
    assert float(dynamics(client, cube, -1, "lateral_friction")) == pytest.approx(1.0)


@pytest.mark.parametrize("section", ["links", "joints"])
def test_a_selector_that_matches_nothing_names_it_and_lists_the_names(client: int, section: str) -> None:
    load_panda(client)
    term = (
        {"mass": {"type": "constant", "value": 1.0}}
        if section == "links"
        else {"damping": {"type": "constant", "value": 1.0}}
    )
    config = {"physics": {section: [{"select": "gripper/*finger*", **term}]}}
    with pytest.raises(ConfigError) as error:
        randomized(client, config)
    message = str(error.value)
    assert f"physics.{section}[0]" in message
    assert "gripper/*finger*" in message
    assert ("panda/panda_leftfinger" if section == "links" else "panda/panda_finger_joint1") in message


def test_an_optional_selector_that_matches_nothing_is_skipped(client: int) -> None:
    panda = load_panda(client)
    nominal = float(dynamics(client, panda, 0, "mass"))
    config = {
        "physics": {
            "links": [
                {"select": "object/*", "required": False, "mass": {"type": "constant", "value": 9.0}},
                {"select": "panda/panda_link1", "mass": {"type": "constant", "value": 2.0, "op": "scale"}},
            ],
            "joints": [{"select": "object/*", "required": False, "damping": {"type": "constant", "value": 1.0}}],
        }
    }
    _, _, params = randomized(client, config)
    assert params["physics"] == {"mass": {"panda/panda_link1": pytest.approx(2.0 * nominal)}}
    assert float(dynamics(client, panda, 0, "mass")) == pytest.approx(2.0 * nominal)


# -- rebinding after a reset -----------------------------------------------------------------------
def test_ensure_bound_rebinds_after_the_simulation_is_rebuilt(client: int) -> None:
    cube = load_cube(client)
    config = {
        "physics": {
            "links": [{"select": "cube/*", "mass": {"type": "uniform", "low": 2.0, "high": 3.0, "op": "scale"}}]
        }
    }
    engine = RandomizationEngine(config)
    scene = Scene(client)
    engine.ensure_bound(scene)
    first = engine.sample_episode(np.random.default_rng(0))
    engine.apply(scene, first)
    assert float(dynamics(client, cube, -1, "mass")) == pytest.approx(first["physics"]["mass"]["cube/baseLink"])

    p.resetSimulation(physicsClientId=client)
    load_panda(client)  # takes the cube's old id
    new_cube = load_cube(client)
    assert new_cube != cube
    p.changeDynamics(new_cube, -1, mass=1.0, physicsClientId=client)  # a new nominal mass
    engine.ensure_bound(scene)
    assert scene.bodies["cube"] == new_cube
    params = engine.sample_episode(np.random.default_rng(1))
    engine.apply(scene, params)
    scale = params["physics"]["mass"]["cube/baseLink"]  # nominal 1.0 kg: the value is the scale
    assert 2.0 <= scale <= 3.0
    assert float(dynamics(client, new_cube, -1, "mass")) == pytest.approx(scale)
    assert float(dynamics(client, scene.bodies["panda"], -1, "mass")) == 0.0  # the old id is left alone


# -- per-step scopes -------------------------------------------------------------------------------
def test_step_scope_changes_the_value_at_every_step(client: int) -> None:
    cube = load_cube(client)
    config = {
        "physics": {
            "links": [
                {
                    "select": "cube/*",
                    "lateral_friction": {"type": "uniform", "low": 0.2, "high": 2.0, "scope": "step"},
                    "mass": {"type": "uniform", "low": 0.5, "high": 1.0},
                }
            ]
        }
    }
    engine, scene, params = randomized(client, config)
    mass = float(dynamics(client, cube, -1, "mass"))
    assert engine.has_step_terms
    rng = np.random.default_rng(7)
    seen = [float(dynamics(client, cube, -1, "lateral_friction"))]
    for step in range(1, 7):
        drawn = engine.sample_step(rng, step)
        assert set(drawn["physics"]) == {"lateral_friction"}  # the episode-scope mass is not re-drawn
        engine.apply(scene, drawn)
        seen.append(float(dynamics(client, cube, -1, "lateral_friction")))
        assert seen[-1] == pytest.approx(drawn["physics"]["lateral_friction"]["cube/baseLink"])
    assert len(set(seen)) == len(seen)
    assert float(dynamics(client, cube, -1, "mass")) == mass == params["physics"]["mass"]["cube/baseLink"]


def test_every_n_scope_changes_the_value_only_on_multiples_of_n(client: int) -> None:
    cube = load_cube(client)
    spec = {"type": "uniform", "low": 0.2, "high": 2.0, "scope": "every_n", "every": 3}
    engine, scene, _ = randomized(client, {"physics": {"links": [{"select": "cube/*", "lateral_friction": spec}]}})
    rng = np.random.default_rng(7)
    previous = float(dynamics(client, cube, -1, "lateral_friction"))
    changed = []
    for step in range(1, 10):
        drawn = engine.sample_step(rng, step)
        engine.apply(scene, drawn)
        current = float(dynamics(client, cube, -1, "lateral_friction"))
        if current != previous:
            changed.append(step)
        assert bool(drawn) == (step % 3 == 0)
        previous = current
    assert changed == [3, 6, 9]


def test_the_neutral_scene_restores_links_that_two_entries_randomize() -> None:
    """The ``physics`` preset sets mass and friction of every link (``*``) and again of the object
    (``object/*``): before the env's next reset every link is back at its nominal dynamics, the arm's
    links included, read back from PyBullet."""
    import gymnasium as gym

    import dr_sim  # noqa: F401 (registers the tasks)

    nominal_env = gym.make("dr_sim/PandaPush-v0").unwrapped
    env = gym.make("dr_sim/PandaPush-v0", randomization="physics").unwrapped
    try:
        nominal_env.reset(seed=0)
        env.reset(seed=0)
        engine = env.session.engine
        links = engine.scene.links
        fields = ("mass", "lateral_friction")
        drawn = {name: {f: engine.scene.dynamics(link)[f] for f in fields} for name, link in links.items()}
        engine.neutral()
        reference = nominal_env.session.scene
        changed = 0
        for name, link in links.items():
            expected = reference.dynamics(reference.links[name])
            now = engine.scene.dynamics(link)
            for field in fields:
                assert now[field] == pytest.approx(expected[field]), (name, field)
                changed += drawn[name][field] != pytest.approx(expected[field])
        assert changed > len(links)  # the episode had moved most of them
    finally:
        env.close()
        nominal_env.close()
