"""``dr-sim calibrate`` recovers dynamics parameters from trajectories recorded in simulation with known
values (PuckPush: pusher link masses, joint damping, motor gains, latency), reports a parameter the data
cannot see (the friction of the floor under the table, which nothing touches) as not identifiable, gives
bit-identical outputs for a seed, and writes a config that loads and that ``dr-sim train`` starts on."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from dr_sim.calibration.calibrate import CONFIG_FILE, JSON_FILE, REPORT_FILE, calibrate, replay_problem
from dr_sim.calibration.discrepancy import compared_columns, discrepancy, log_likelihood
from dr_sim.calibration.parameters import find_parameters
from dr_sim.calibration.simulator import replay
from dr_sim.config import load_config
from dr_sim.config.loader import shift_path
from dr_sim.errors import ConfigError
from dr_sim.trajectories.format import read_trajectories
from dr_sim.trajectories.record import record

ENV_ID = "dr_sim/PuckPush-v0"
TRUE = {  # key of the calibration config -> the target system's value (draw units)
    "physics.links[0].mass": 2.0,  # x nominal, both pusher links
    "physics.joints[0].damping": 2.0,  # N m s/rad (N s/m: prismatic joints)
    "actuation.gain_scale": 0.6,
    "actuation.latency_steps": 1.0,  # control steps
}
UNSEEN = "physics.links[1].lateral_friction"  # the floor's, under the table
TARGET = {
    "physics": {
        "links": [
            {"select": "pusher/*", "mass": {"type": "constant", "value": 2.0, "op": "scale"}},
            {"select": "plane/*", "lateral_friction": {"type": "constant", "value": 0.9}},
        ],
        "joints": [{"select": "pusher/*", "damping": {"type": "constant", "value": 2.0}}],
    },
    "actuation": {"gain_scale": {"type": "constant", "value": 0.6}, "latency_steps": {"type": "constant", "value": 1}},
    "sensing": {"noise_std": {"type": "constant", "value": 0.002}},  # the recordings are noisy
}
PRIOR = {
    "physics": {
        "links": [
            {"select": "pusher/*", "mass": {"type": "uniform", "low": 0.5, "high": 4.0, "op": "scale"}},
            {"select": "plane/*", "lateral_friction": {"type": "uniform", "low": 0.2, "high": 2.0}},
        ],
        "joints": [{"select": "pusher/*", "damping": {"type": "uniform", "low": 0.0, "high": 5.0}}],
    },
    "actuation": {
        "gain_scale": {"type": "uniform", "low": 0.3, "high": 2.0},
        "latency_steps": {"type": "uniform", "low": 0, "high": 3},
        "action_noise_std": {"type": "constant", "value": 0.01},  # noise: kept in the output, not inferred
    },
}
PUSHER_STATE = ["observation[0:4]"]  # the tip's position and velocity: what the pusher's parameters move smoothly
SMALL = {"budget": 300, "posterior_budget": 8, "samples": 4, "compare": PUSHER_STATE}  # ~350 replays (25 s)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("target") / "trajectories"
    record(ENV_ID, "scripted", TARGET, 3, out, seed=0, max_steps=30)
    return out


@pytest.fixture(scope="module")
def calibrated(recorded: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return calibrate(PRIOR, recorded, tmp_path_factory.mktemp("calibration") / "out", seed=0, **SMALL)


def test_known_parameters_are_recovered_within_ten_percent(calibrated: dict[str, Any]) -> None:
    """Compared on the pusher's own state: the puck it strikes moves chaotically in the pusher's parameters
    over a whole episode (over eight search seeds, comparing every dimension missed a parameter by more
    than 10 % in each; the pusher's state, in one)."""
    rows = {row["key"]: row for row in calibrated["parameters"]}
    for key, true in TRUE.items():
        row = rows[key]
        assert row["identified"], key
        assert row["point"] == pytest.approx(true, rel=0.1), key
        assert row["posterior"]["mean"] == pytest.approx(true, rel=0.1) or key == "actuation.latency_steps", key
    assert round(rows["actuation.latency_steps"]["posterior"]["mean"]) == 1  # the whole steps that act
    assert not rows[UNSEEN]["identified"]
    assert rows[UNSEEN]["width_ratio"] > 0.5
    discrepancy = calibrated["discrepancy"]
    assert discrepancy["point_estimate"] < 0.1 * discrepancy["prior_mean"]


def test_the_outputs_load_and_report(calibrated: dict[str, Any]) -> None:
    root = Path(calibrated["written"]["config"]).parent
    config = load_config(root / CONFIG_FILE)  # the loader validates every range against its domain
    assert config.actuation is not None
    assert config.actuation.gain_scale is not None
    assert config.actuation.gain_scale.type == "truncated_normal"
    assert config.actuation.action_noise_std is not None  # noise kept as it was
    assert config.physics is not None
    assert config.physics.links[0].mass is not None
    assert config.physics.links[0].mass.op == "scale"
    report = (root / REPORT_FILE).read_text()
    assert "no: stays wide" in report
    assert "lateral_friction of plane/*" in report
    assert (root / JSON_FILE).is_file()
    assert all((root / plot).is_file() for plot in calibrated["written"]["plots"])


def test_the_same_seed_gives_bit_identical_outputs(recorded: Path, tmp_path: Path) -> None:
    tiny = {"budget": 6, "posterior_budget": 4, "samples": 2, "seed": 5}
    first = calibrate(PRIOR, recorded, tmp_path / "a", **tiny)
    second = calibrate(PRIOR, recorded, tmp_path / "b", **tiny, workers=2)  # any number of workers
    assert first["parameters"] == second["parameters"]
    assert first["discrepancy"] == second["discrepancy"]
    assert (tmp_path / "a" / CONFIG_FILE).read_text().split("\n", 2)[2] == (
        tmp_path / "b" / CONFIG_FILE
    ).read_text().split("\n", 2)[2]
    with pytest.raises(ConfigError, match="holds something else"):
        calibrate(PRIOR, recorded, tmp_path / "a", **{**tiny, "seed": 6})


def test_train_starts_on_the_calibrated_config(calibrated: dict[str, Any], tiny_rl: Any, tmp_path: Path) -> None:
    from dr_sim.policies.rl_training import train

    config = Path(calibrated["written"]["config"])
    run = train(tiny_rl(tmp_path / "run", randomization=str(config), total_timesteps=120))
    assert (run / "checkpoints").is_dir()


@pytest.mark.parametrize(
    ("parts", "columns"),
    [
        (None, list(range(16))),
        (["observation"], list(range(6, 16))),
        (["observation[0:4]", "achieved_goal[-1]"], [6, 7, 8, 9, 2]),
        (["desired_goal[:2]", "observation[9]"], [3, 4, 15]),
    ],
)
def test_compare_names_parts_of_the_observation(parts: list[str] | None, columns: list[int]) -> None:
    keys, widths = ["achieved_goal", "desired_goal", "observation"], [3, 3, 10]
    assert compared_columns(parts, keys, widths).tolist() == columns
    assert compared_columns(["[1:3]"], [""], [5]).tolist() == [1, 2]


@pytest.mark.parametrize(
    ("parts", "match"),
    [
        (["velocity"], "names no part of the recorded observation; give KEY, KEY[i] or KEY[a:b] with KEY one of"),
        (["observation[12]"], "index 12 is outside observation's 10 dimensions"),
        (["observation[4:4]"], "selects no dimension"),
        (["observation[0:2", "x"], "names no part"),
        (["observation", "observation[0]"], "names a dimension twice"),
    ],
)
def test_a_bad_compare_is_one_clear_error(parts: list[str], match: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(match)) as error:
        compared_columns(parts, ["achieved_goal", "desired_goal", "observation"], [3, 3, 10])
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda c: c["actuation"].update(gain_scale={"type": "choice", "values": [0.5, 1.0]}), "a choice is discrete"),
        (
            lambda c: c["actuation"].update(gain_scale={"type": "uniform", "low": 0.5, "high": 2, "scope": "step"}),
            "scope 'step'",
        ),
        (lambda c: c.update(physics={"links": []}, actuation={}), "infers nothing"),
    ],
)
def test_a_config_that_cannot_be_calibrated_is_one_clear_error(
    recorded: Path, tmp_path: Path, change: Any, match: str
) -> None:
    config = yaml.safe_load(yaml.safe_dump(PRIOR))
    change(config)
    with pytest.raises(ConfigError, match=re.escape(match)) as error:
        calibrate(config, recorded, tmp_path / "out", **SMALL)
    assert "\n" not in str(error.value)


def test_an_episode_without_a_start_state_is_refused(recorded: Path, tmp_path: Path) -> None:
    import numpy as np

    copy = tmp_path / "copy"
    shutil.copytree(recorded, copy)
    path = copy / "episode_000001.npz"
    with np.load(path, allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files if key not in ("start_env_seed", "start_randomization")}
    np.savez(path, **arrays)
    with pytest.raises(ConfigError, match="episode 1 has no start state"):
        calibrate(PRIOR, copy, tmp_path / "out", **SMALL)


PUCK_FRICTION = 2.0  # the target's puck friction (PyBullet's coefficient; the table's is 1)
PUCK_TARGET = {
    "physics": {"links": [{"select": "object/*", "lateral_friction": {"type": "constant", "value": PUCK_FRICTION}}]},
    "sensing": {"noise_std": {"type": "constant", "value": 0.002}},
}
UNIFORM_MASS = {"type": "uniform", "low": 0.1, "high": 0.5}  # kg
PUCK_PRIOR = {
    "physics": {"links": [{"select": "object/*", "lateral_friction": {"type": "log_uniform", "low": 0.2, "high": 8.0}}]}
}


def test_short_horizon_replays_recover_the_pucks_friction(tmp_path: Path) -> None:
    """Whole-episode replays of PuckPush are chaotic in the puck's parameters; short ones from each recorded
    observation (DROPO's way) pin its friction down."""
    out = tmp_path / "puck"
    record(ENV_ID, "scripted", PUCK_TARGET, 4, out, seed=0, max_steps=40)
    result = calibrate(PUCK_PRIOR, out, tmp_path / "calibration", method="cma", horizon=2, budget=30, seed=0)
    row = result["parameters"][0]
    assert row["point"] == pytest.approx(PUCK_FRICTION, rel=0.1)
    assert result["replay"].endswith("segments of 2 steps every 1")


def test_a_log_uniform_prior_is_searched_in_its_logarithm() -> None:
    """A parameter that spans decades (a log-uniform prior) gets search coordinates in its logarithm: the
    search starts at the geometric centre, a factor of 2 is the same step at either end, and a Gaussian
    in those coordinates is written as a truncated log-normal."""
    import numpy as np

    (friction,) = find_parameters(load_config(PUCK_PRIOR))  # log-uniform on [0.2, 8]
    assert friction.log
    assert friction.to_value(0.0) == pytest.approx(np.sqrt(0.2 * 8.0))
    assert friction.to_z(0.4) - friction.to_z(0.2) == pytest.approx(friction.to_z(8.0) - friction.to_z(4.0))
    assert friction.to_value(friction.to_z(2.0)) == pytest.approx(2.0)
    assert friction.z_mean == pytest.approx(0.0, abs=0.05)  # uniform on [-1, 1]
    assert friction.z_std == pytest.approx(1 / np.sqrt(3), rel=0.05)
    entry = friction.training_range(0.0, 0.1)  # a z std of 0.1: a log-normal in the parameter's units
    assert entry == {
        "type": "truncated_log_normal",
        "median": pytest.approx(np.sqrt(1.6)),
        "log_std": pytest.approx(0.1 * np.log(8.0 / 0.2) / 2),  # natural-log units
        "low": 0.2,
        "high": 8.0,
    }
    (mass,) = find_parameters(load_config({"physics": {"links": [{"select": "object/*", "mass": UNIFORM_MASS}]}}))
    assert not mass.log
    assert mass.to_value(0.0) == pytest.approx(0.3)
    assert mass.training_range(0.0, 0.1) == {
        "type": "truncated_normal",
        "mean": pytest.approx(0.3),
        "std": pytest.approx(0.02),  # kg: 0.1 of the half width
        "low": 0.1,
        "high": 0.5,
    }


def friction_prior_z_std() -> float:
    (friction,) = find_parameters(load_config(PUCK_PRIOR))
    return friction.z_std


def test_a_calibrated_log_range_is_a_log_normal_no_narrower_than_the_floor(tmp_path: Path) -> None:
    """The puck's friction (a log-uniform prior) comes back as a truncated log-normal around the estimate,
    at least ``min_width`` of the prior's spread wide; an env on the calibrated config draws it, as PyBullet
    reads back, and calibrating that config again searches the friction in its logarithm."""
    import gymnasium as gym
    import numpy as np

    out = tmp_path / "puck"
    record(ENV_ID, "scripted", PUCK_TARGET, 2, out, seed=0, max_steps=30)
    result = calibrate(PUCK_PRIOR, out, tmp_path / "calibration", method="cma", horizon=2, budget=12, min_width=0.2)
    written = yaml.safe_load(Path(result["written"]["config"]).read_text())
    entry = written["physics"]["links"][0]["lateral_friction"]
    assert entry["type"] == "truncated_log_normal"
    assert (entry["low"], entry["high"]) == (0.2, 8.0)
    assert entry["median"] == pytest.approx(result["parameters"][0]["point"])
    prior_log_std = np.log(8.0 / 0.2) / np.sqrt(12)  # a log-uniform's, in natural-log units
    assert entry["log_std"] >= 0.2 * prior_log_std * (1 - 1e-3)
    env = gym.make(ENV_ID, randomization=result["written"]["config"])
    try:
        drawn = []
        for seed in range(12):
            env.reset(seed=seed)
            scene = env.unwrapped.session.engine.scene
            drawn.append(scene.dynamics(scene.links["object/link0"])["lateral_friction"])
    finally:
        env.close()
    logs = np.log(drawn) - np.log(entry["median"])
    assert np.all((np.array(drawn) >= 0.2) & (np.array(drawn) <= 8.0))
    assert 0.3 * entry["log_std"] < np.std(logs) < 3 * entry["log_std"]  # drawn as written, not fixed
    (again,) = find_parameters(load_config(result["written"]["config"]))
    assert again.log
    assert again.z_std < 0.99 * friction_prior_z_std()  # narrower than the log-uniform prior it came from
    assert np.sign(again.z_mean) == np.sign(again.to_z(entry["median"]))  # and moved toward the estimate


def test_min_width_zero_writes_the_posterior_as_it_is_and_out_of_range_is_refused(
    recorded: Path, tmp_path: Path
) -> None:
    tiny = {"budget": 6, "posterior_budget": 4, "samples": 2, "seed": 5}
    wide = calibrate(PRIOR, recorded, tmp_path / "wide", **tiny, min_width=1.0)
    exact = calibrate(PRIOR, recorded, tmp_path / "exact", **tiny, min_width=0.0)
    for floor, raw in zip(wide["parameters"], exact["parameters"], strict=True):
        assert floor["posterior"]["std"] >= raw["posterior"]["std"] * (1 - 1e-6), floor["key"]
        assert floor["width_ratio"] == raw["width_ratio"]  # the report keeps the posterior's own width
    assert any(
        f["posterior"]["std"] > 1.5 * r["posterior"]["std"]
        for f, r in zip(wide["parameters"], exact["parameters"], strict=True)
    )
    with pytest.raises(ConfigError, match=r"--min-width must be a number from 0 to 1.*got 1\.5") as error:
        calibrate(PRIOR, recorded, tmp_path / "bad", **tiny, min_width=1.5)
    assert "\n" not in str(error.value)
    assert not (tmp_path / "bad").exists()


def test_a_short_horizon_replay_does_not_depend_on_the_replays_before_it(tmp_path: Path) -> None:
    """A worker runs many candidates one after another; each gives the same bits as on a fresh worker
    (the engine's contact caches are dropped between replays), so results do not depend on which worker
    ran what before."""
    import numpy as np

    out = tmp_path / "puck"
    record(ENV_ID, "scripted", PUCK_TARGET, 2, out, seed=0, max_steps=30)
    config = load_config(PUCK_PRIOR)
    problem = replay_problem(config, find_parameters(config), read_trajectories(out), horizon=2)
    seeds = (0, 0)
    after_another = replay(problem.setup, [((0.5,), seeds), ((PUCK_FRICTION,), seeds)])[1]
    alone = replay(problem.setup, [((PUCK_FRICTION,), seeds)])[0]
    assert all(np.array_equal(a, b) for a, b in zip(after_another, alone, strict=True))


def test_the_state_setter_puts_the_env_where_it_was_observed(tmp_path: Path) -> None:
    import gymnasium as gym
    import numpy as np

    from dr_sim.calibration.states import state_setter

    env = gym.make(ENV_ID)
    try:
        observation, _ = env.reset(seed=3)
        for _ in range(5):
            observation, *_ = env.step(np.array([0.5, -0.3], dtype=np.float32))
        env.reset(seed=4)  # somewhere else
        state_setter(ENV_ID)(env.unwrapped, observation)
        now = env.unwrapped.state()
        for key in observation:
            np.testing.assert_allclose(now[key], observation[key], atol=1e-6)
    finally:
        env.close()
    with pytest.raises(ConfigError, match="no state setter"):
        state_setter("dr_sim/Reach-v0")


STICKY_PRIOR = {  # the calibration study's priors (studies/calibration/priors.yaml), noise left out
    "physics": {
        "links": [
            {"select": "pusher/*", "mass": {"type": "log_uniform", "low": 0.1, "high": 10.0, "op": "scale"}},
            {
                "select": "object/*",
                "mass": {"type": "log_uniform", "low": 0.03, "high": 1.2},
                "lateral_friction": {"type": "log_uniform", "low": 0.1, "high": 12.0},
                "linear_damping": {"type": "uniform", "low": 0.0, "high": 0.8},
            },
        ],
        "joints": [{"select": "pusher/*", "damping": {"type": "log_uniform", "low": 0.01, "high": 20.0}}],
    },
    "actuation": {
        "latency_steps": {"type": "uniform", "low": 0.0, "high": 4.0},
        "latency_rate": {"type": "log_uniform", "low": 20.0, "high": 1000.0},
        "gain_scale": {"type": "log_uniform", "low": 0.1, "high": 5.0},
        "force_scale": {"type": "log_uniform", "low": 0.3, "high": 3.0},
    },
}
#: sticky + laggy's values: pusher x1, a 0.2 kg puck with friction 8 and damping 0.4 N s/m, no joint damping
#: (the prior's least), gains x1, a latency drawn every step at rate 40 1/s
STICKY_TRUTH = {
    "physics.links[0].mass": 1.0,
    "physics.links[1].mass": 0.2,
    "physics.links[1].lateral_friction": 8.0,
    "physics.links[1].linear_damping": 0.4,
    "physics.joints[0].damping": 0.01,
    "actuation.gain_scale": 1.0,
    "actuation.force_scale": 1.0,
    "actuation.latency_steps": 0.0,
    "actuation.latency_rate": 40.0,
}
#: what one replay per candidate found for it: a heavy, strongly driven, weakly limited pusher that lags
#: on average (the calibration study's first point estimate, rounded)
STICKY_IMPOSTOR = {
    "physics.links[0].mass": 4.52,
    "physics.links[1].mass": 0.579,
    "physics.links[1].lateral_friction": 10.6,
    "physics.links[1].linear_damping": 0.506,
    "physics.joints[0].damping": 18.6,
    "actuation.gain_scale": 3.70,
    "actuation.force_scale": 0.312,
    "actuation.latency_steps": 0.0,
    "actuation.latency_rate": 245.0,
}


#: what the discrepancy's search found next: a light, weakly driven pusher with almost no latency (the
#: calibration study's point estimate before the search ran on the synthetic likelihood alone, rounded)
STICKY_WEAK_IMPOSTOR = {
    "physics.links[0].mass": 0.187,
    "physics.links[1].mass": 0.64,
    "physics.links[1].lateral_friction": 11.6,
    "physics.links[1].linear_damping": 0.465,
    "physics.joints[0].damping": 4.97,
    "actuation.gain_scale": 0.101,
    "actuation.force_scale": 0.716,
    "actuation.latency_steps": 0.0,
    "actuation.latency_rate": 492.0,
}


@pytest.fixture(scope="module")
def sticky_problem(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, list[Any]]:
    """4 scripted episodes of sticky + laggy, replayed in 2-step segments, and the study's parameters."""
    out = tmp_path_factory.mktemp("sticky") / "trajectories"
    record(ENV_ID, "scripted", shift_path("sticky_laggy"), 4, out, seed=0)
    loaded = load_config(STICKY_PRIOR)
    parameters = find_parameters(loaded)
    return replay_problem(loaded, parameters, read_trajectories(out), horizon=2, stride=4), parameters


def test_with_a_latency_drawn_every_step_the_likelihood_of_replays_prefers_the_truth(
    sticky_problem: tuple[Any, list[Any]],
) -> None:
    """Why the point estimate scores stochastic replays by a synthetic likelihood: one replay of the true
    parameters draws other latencies than the recording did and fits it worse than a deterministic
    impostor, while the likelihood of several replays, which counts their scatter, prefers the truth."""
    problem, parameters = sticky_problem
    truth_values = tuple(STICKY_TRUTH[p.key] for p in parameters)
    impostor_values = tuple(STICKY_IMPOSTOR[p.key] for p in parameters)
    seeds = [(101 + k, 202 + k, 303 + k, 404 + k) for k in range(4)]
    truth = replay(problem.setup, [(truth_values, s) for s in seeds])
    impostor = replay(problem.setup, [(impostor_values, s) for s in seeds])
    assert discrepancy(impostor[0], problem.real, problem.scales) < discrepancy(truth[0], problem.real, problem.scales)
    assert log_likelihood(truth, problem.real, problem.scales) > log_likelihood(impostor, problem.real, problem.scales)


@pytest.mark.parametrize("impostor", [STICKY_IMPOSTOR, STICKY_WEAK_IMPOSTOR], ids=["heavy", "weak"])
def test_the_likelihood_of_two_replays_prefers_the_truth_whatever_the_step_seeds(
    sticky_problem: tuple[Any, list[Any]], impostor: dict[str, float]
) -> None:
    """The point search scores each candidate by 2 replays. With their per-step variance shrunk towards
    the pooled one, the truth's worst likelihood over 4 sets of step seeds beats the impostor's best. Left
    unshrunk, the variance of 2 replays is near 0 wherever they happen to agree, and the truth's
    likelihood swings from about -34,000 to -883,000 with the seeds, below the weak impostor's best."""
    problem, parameters = sticky_problem
    scores = {}
    for name, values in (("truth", STICKY_TRUTH), ("impostor", impostor)):
        candidate = tuple(values[p.key] for p in parameters)
        replays = replay(problem.setup, [(candidate, (11 + k, 22 + k, 33 + k, 44 + k)) for k in range(8)])
        scores[name] = [log_likelihood(replays[k : k + 2], problem.real, problem.scales) for k in range(0, 8, 2)]
    assert min(scores["truth"]) > max(scores["impostor"]), scores


def test_stochastic_replays_are_found_and_scored_by_the_synthetic_likelihood(recorded: Path, tmp_path: Path) -> None:
    prior = {**PRIOR, "actuation": {**PRIOR["actuation"], "latency_rate": {"type": "constant", "value": 40.0}}}
    result = calibrate(prior, recorded, tmp_path / "out", method="cma", horizon=2, budget=16, point_samples=2)
    assert result["point_objective"] == "the synthetic likelihood"
    # the prior mean under two sets of step seeds; the budget of 16 replays as 8 candidates of 2 replays
    # each; and the point estimate once more for its discrepancy
    assert result["replays"] == 2 + 8 * 2 + 1
