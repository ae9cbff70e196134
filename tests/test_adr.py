"""Automatic domain randomization: Algorithm 1 on synthetic performance, boundary sampling, entropy, state
round trips, the ``adr:`` config, session reconfiguration, and a real 2-worker SubprocVecEnv run."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pybullet as p
import pytest
import torch
import yaml

from dr_sim.adr import AdrConfig, AdrController, AutomaticRandomization, Boundary, Ranges
from dr_sim.adr.ranges import ENTROPY_FLOOR
from dr_sim.errors import ConfigError
from dr_sim.native_output import quiet_native_stdout
from dr_sim.policies.rl_config import load_rl_config
from dr_sim.policies.rl_training import CHECKPOINTS, EPISODE_PARAMS, TRAINING_FILE, train

torch.set_num_threads(1)
PUCK = "dr_sim/PuckPush-v0"
PUCK_MASS = "physics.mass.object/link0"  # flattened name in info["episode_randomization"]
DIMENSIONS = {
    "puck_mass": {"path": "physics.links[object/*].mass", "nominal": 0.2, "limits": [0.04, 1.0], "step": 0.1},
    "gain_scale": {"path": "actuation.gain_scale", "nominal": 1.0, "limits": [0.2, 5.0], "step": 0.5},
    "latency_rate": {"path": "actuation.latency_rate", "nominal": 1000.0, "limits": [25.0, 1000.0], "step": 125.0},
}


def _config(**overrides: Any) -> AdrConfig:
    settings = {"buffer_size": 4, "low_threshold": 0.3, "high_threshold": 0.7, "dimensions": DIMENSIONS}
    return AdrConfig.model_validate({**settings, **overrides})


def _feed(controller: AdrController, dimension: str, bound: str, performance: float, episodes: int) -> None:
    """``episodes`` pinned results at the bound's current value."""
    for _ in range(episodes):
        controller.record(dimension, bound, controller.ranges.value(dimension, bound), performance)


# -- Algorithm 1 on a synthetic signal ------------------------------------------------------------
def test_bounds_widen_above_high_threshold_and_shrink_below_low() -> None:
    controller = AdrController(_config())
    _feed(controller, "puck_mass", "high", 0.9, 3)
    assert controller.ranges.bounds["puck_mass"] == [0.2, 0.2]  # the buffer is not full yet
    _feed(controller, "puck_mass", "high", 0.9, 1)
    assert controller.ranges.bounds["puck_mass"] == pytest.approx([0.2, 0.3])
    _feed(controller, "puck_mass", "high", 0.9, 8)
    _feed(controller, "puck_mass", "low", 1.0, 4)
    assert controller.ranges.bounds["puck_mass"] == pytest.approx([0.1, 0.5])
    _feed(controller, "puck_mass", "high", 0.1, 4)  # below t_L: shrink towards nominal
    assert controller.ranges.bounds["puck_mass"] == pytest.approx([0.1, 0.4])
    _feed(controller, "puck_mass", "high", 0.5, 4)  # between the thresholds: keep
    assert controller.ranges.bounds["puck_mass"] == pytest.approx([0.1, 0.4])
    assert controller.ranges.bounds["gain_scale"] == [1.0, 1.0]  # other dimensions never moved


def test_mean_of_the_buffer_decides_and_the_buffer_clears() -> None:
    controller = AdrController(_config())
    for performance in (1.0, 1.0, 1.0, 0.0):  # mean 0.75 >= t_H
        decision = controller.record("gain_scale", "high", 1.0, performance)
    assert decision is not None
    assert decision.change == "widen"
    assert decision.performance == 0.75
    assert controller.buffers["gain_scale"]["high"] == []
    assert controller.ranges.bounds["gain_scale"] == [1.0, 1.5]


def test_hard_limits_and_nominal_hold() -> None:
    controller = AdrController(_config())
    _feed(controller, "puck_mass", "low", 1.0, 4 * 10)  # 10 widenings of 0.1 from 0.2
    _feed(controller, "puck_mass", "high", 1.0, 4 * 20)
    assert controller.ranges.bounds["puck_mass"] == [0.04, 1.0]
    _feed(controller, "puck_mass", "low", 0.0, 4 * 10)
    _feed(controller, "puck_mass", "high", 0.0, 4 * 20)
    assert controller.ranges.bounds["puck_mass"] == [0.2, 0.2]  # shrinking stops at nominal
    _feed(controller, "latency_rate", "high", 1.0, 4 * 3)  # its hard limit is the nominal value
    assert controller.ranges.bounds["latency_rate"] == [1000.0, 1000.0]


def test_a_result_for_a_bound_that_has_moved_is_dropped() -> None:
    controller = AdrController(_config(buffer_size=1))
    assert controller.record("gain_scale", "high", 1.0, 1.0) is not None  # 1.0 -> 1.5
    assert controller.record("gain_scale", "high", 1.0, 0.0) is None  # an episode pinned at the old 1.0
    assert controller.ranges.bounds["gain_scale"] == [1.0, 1.5]
    with pytest.raises(ConfigError, match="unknown bound 'gain'"):
        controller.record("gain", "high", 1.0, 1.0)


# -- sampling and entropy -------------------------------------------------------------------------
def test_boundary_sampling_pins_with_probability_pb() -> None:
    ranges = Ranges(
        _config(boundary_probability=0.3),
        {"puck_mass": [0.1, 0.5], "gain_scale": [0.5, 2.0], "latency_rate": [500.0, 1000.0]},
    )
    rng = np.random.default_rng(7)
    draws = [ranges.draw_boundary(rng) for _ in range(4000)]
    pinned = [draw for draw in draws if draw is not None]
    # Binomial(4000, 0.3): standard deviation 29; 5 of them is a false alarm once in 2 million runs.
    assert abs(len(pinned) - 1200) < 5 * math.sqrt(4000 * 0.3 * 0.7)
    counts: dict[tuple[str, str], int] = {}
    for draw in pinned:
        assert draw.value == ranges.value(draw.dimension, draw.bound)
        counts[(draw.dimension, draw.bound)] = counts.get((draw.dimension, draw.bound), 0) + 1
    # Five movable bounds (latency's high limit is its nominal value), each about a fifth of the pins.
    assert set(counts) == set(ranges.movable())
    assert len(counts) == 5
    assert all(abs(count - len(pinned) / 5) < 5 * math.sqrt(len(pinned) * 0.2 * 0.8) for count in counts.values())
    assert all(
        draw is None for draw in (Ranges(_config(boundary_probability=0.0)).draw_boundary(rng) for _ in range(50))
    )


def test_entropy_in_nats_per_dimension() -> None:
    ranges = Ranges(_config(), {"puck_mass": [0.1, 0.6], "gain_scale": [0.5, 2.5], "latency_rate": [200.0, 1000.0]})
    assert ranges.entropy() == pytest.approx((math.log(0.5) + math.log(2.0) + math.log(800.0)) / 3)
    nominal = Ranges(_config())  # zero widths count as ENTROPY_FLOOR of the hard-limit span
    spans = [0.96, 4.8, 975.0]
    assert nominal.entropy() == pytest.approx(np.mean([math.log(ENTROPY_FLOOR * span) for span in spans]))


def test_episode_config_lays_ranges_over_the_base() -> None:
    base = {
        "physics": {"links": [{"select": "object/*", "mass": {"type": "constant", "value": 0.3}}]},
        "sensing": {"noise_std": {"type": "constant", "value": 0.001}},
    }
    ranges = Ranges(_config(), {"puck_mass": [0.1, 0.6], "gain_scale": [0.5, 2.5], "latency_rate": [200.0, 1000.0]})
    pinned = Boundary("puck_mass", "low", 0.1)
    config = ranges.episode_randomization(base, pinned)
    assert config["sensing"] == base["sensing"]
    assert config["physics"]["links"] == [
        {"select": "object/*", "mass": {"type": "constant", "value": pinned.value, "op": "set"}}
    ]
    assert config["actuation"]["gain_scale"] == {"type": "uniform", "low": 0.5, "high": 2.5, "op": "set"}
    assert base["physics"]["links"][0]["mass"]["value"] == 0.3  # the base is left as it was


# -- state ----------------------------------------------------------------------------------------
def test_state_survives_a_json_round_trip_and_makes_the_same_decisions(tmp_path: Path) -> None:
    config = _config(buffer_size=5)
    rng = np.random.default_rng(3)
    first = AdrController(config)

    def feed(controller: AdrController, signal: np.random.Generator, n: int) -> list[Any]:
        decisions = []
        for _ in range(n):
            dimension, bound = controller.ranges.movable()[int(signal.integers(5))]
            value = controller.ranges.value(dimension, bound)
            decisions.append(controller.record(dimension, bound, value, float(signal.random() < 0.8)))
        return decisions

    feed(first, rng, 57)  # partly filled buffers
    path = first.save(tmp_path / "adr.json")
    second = AdrController(config)
    second.load(path)
    assert second.state_dict() == first.state_dict()
    assert json.loads(path.read_text()) == first.state_dict()
    signal = rng.bit_generator.state
    ahead = feed(first, rng, 60)
    rng.bit_generator.state = signal
    assert feed(second, rng, 60) == ahead
    assert any(decision is not None and decision.change == "widen" for decision in ahead)
    assert second.state_dict() == first.state_dict()


def test_state_that_does_not_fit_is_one_clear_error(tmp_path: Path) -> None:
    state = AdrController(_config()).state_dict()
    state["bounds"]["puck_mass"] = [0.3, 0.5]  # does not hold the nominal 0.2
    with pytest.raises(ConfigError, match=re.escape("must hold the nominal 0.2")):
        AdrController(_config()).load_state_dict(state)
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(ConfigError, match="cannot read the ADR state"):
        AdrController(_config()).load(tmp_path / "broken.json")


# -- the adr: section -----------------------------------------------------------------------------
def _rl(out: Path, **overrides: Any) -> dict[str, Any]:
    config = {
        "kind": "rl",
        "env": PUCK,
        "algo": "sac",
        "n_envs": 2,
        "max_episode_steps": 20,
        "total_timesteps": 300,
        "hyperparams": {
            "learning_starts": 50,
            "batch_size": 32,
            "buffer_size": 1000,
            "policy_kwargs": {"net_arch": [16]},
        },
        "adr": {
            "buffer_size": 1,
            "boundary_probability": 1.0,
            "low_threshold": 0.0,
            "high_threshold": 0.0,
            "dimensions": DIMENSIONS,
        },
        "out": str(out),
    }
    return {**config, **overrides}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"buffer_sise": 3}, "Did you mean 'buffer_size'"),
        ({"low_threshold": 0.8, "high_threshold": 0.5}, "must not exceed high_threshold"),
        ({"boundary_probability": 1.5}, "adr.boundary_probability"),
        ({"dimensions": {"m": {**DIMENSIONS["puck_mass"], "limits": [0.3, 1.0]}}}, "must hold the nominal value"),
        ({"dimensions": {"m": {**DIMENSIONS["puck_mass"], "path": "physics.links[object/*]"}}}, "ending in a key"),
        ({"dimensions": {"m": {**DIMENSIONS["puck_mass"], "path": "physics.linkz[object/*].mass"}}}, "'linkz'"),
        ({"dimensions": {"m": {**DIMENSIONS["puck_mass"], "step": 0}}}, "adr.dimensions.m.step"),
        ({"dimensions": {"m": {**DIMENSIONS["puck_mass"], "op": "times"}}}, "Allowed: 'set', 'scale' or 'add'"),
        ({"dimensions": {}}, "adr.dimensions"),
    ],
)
def test_bad_adr_section_is_one_clear_error(tmp_path: Path, change: dict[str, Any], message: str) -> None:
    data = _rl(tmp_path / "out")
    data["adr"] = {**data["adr"], **change}
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=re.escape(message)) as error:
        load_rl_config(path)
    assert "\n" not in str(error.value)


# -- delivering ranges to an env ------------------------------------------------------------------
def test_wrapper_episodes_follow_the_ranges_seeded_and_replayable() -> None:
    config = _config(boundary_probability=0.5)
    initial = Ranges(config).episode_randomization(None)
    with quiet_native_stdout():
        env = AutomaticRandomization(gym.make(PUCK, randomization=initial), config)
    try:
        bounds = {"puck_mass": [0.1, 0.6], "gain_scale": [0.5, 2.5], "latency_rate": [200.0, 1000.0]}
        env.set_adr_ranges(bounds)
        task = env.unwrapped
        body = task.sim_bodies["object"]
        masses, pinned = [], 0
        for episode in range(40):
            _, info = env.reset(seed=100 + episode)
            mass = p.getDynamicsInfo(body, -1, physicsClientId=task.session.client_id)[0]  # read back from PyBullet
            assert mass == pytest.approx(info["randomization"]["physics"]["mass"]["object/link0"])
            assert 0.1 <= mass <= 0.6
            masses.append(mass)
            if info["adr"] is not None:
                pinned += 1
                actuation = info["randomization"]["actuation"]
                drawn = {
                    "puck_mass": mass,
                    "gain_scale": actuation["gain_scale"]["action"],
                    "latency_rate": actuation["latency_rate"]["action"],
                }
                assert drawn[info["adr"]["dimension"]] == pytest.approx(info["adr"]["value"])
        assert np.ptp(masses) > 0.2
        assert 5 <= pinned <= 35
        first = env.reset(seed=5)[1]
        assert env.reset(seed=5)[1]["randomization"] == first["randomization"]  # seeded
        assert env.reset(seed=5)[1]["adr"] == first["adr"]
        env.reset(seed=6)
        replayed = env.reset(options={"randomization": first["randomization"]})[1]
        assert replayed["randomization"] == first["randomization"]
        assert replayed["adr"] is None
        mass = p.getDynamicsInfo(body, -1, physicsClientId=task.session.client_id)[0]
        assert mass == pytest.approx(first["randomization"]["physics"]["mass"]["object/link0"])
        with pytest.raises(ConfigError, match="stay within the hard limits"):
            env.set_adr_ranges({**bounds, "puck_mass": [0.01, 0.6]})
    finally:
        env.close()


def test_reconfigure_refuses_a_config_that_randomizes_other_parameters() -> None:
    with quiet_native_stdout():
        env = gym.make(PUCK, randomization={"actuation": {"gain_scale": {"type": "uniform", "low": 1.0, "high": 1.0}}})
    try:
        env.reset(seed=0)
        session = env.unwrapped.session
        session.reconfigure({"actuation": {"gain_scale": {"type": "constant", "value": 2.0}}})
        assert env.reset(seed=0)[1]["randomization"]["actuation"]["gain_scale"]["action"] == 2.0
        with pytest.raises(ConfigError, match="randomizes other parameters"):
            session.reconfigure({"actuation": {"force_scale": {"type": "constant", "value": 2.0}}})
    finally:
        env.close()


def test_reconfigure_keeps_one_distractor_bank() -> None:
    distractors = {"max_count": 3, "count": {"type": "constant", "value": 2.0}}
    base = {"distractors": distractors, "actuation": {"gain_scale": {"type": "uniform", "low": 1.0, "high": 1.0}}}
    with quiet_native_stdout():
        env = gym.make(PUCK, randomization=base)
    try:
        env.reset(seed=0)
        client = env.unwrapped.physics_client._client
        bodies = p.getNumBodies(physicsClientId=client)
        session = env.unwrapped.session
        for scale in (1.5, 2.0, 2.5):
            session.reconfigure({**base, "actuation": {"gain_scale": {"type": "constant", "value": scale}}})
            info = env.reset(seed=1)[1]
            assert info["randomization"]["actuation"]["gain_scale"]["action"] == scale
            assert p.getNumBodies(physicsClientId=client) == bodies  # no second bank of distractors
        with pytest.raises(ConfigError, match="changes the distractors section"):
            session.reconfigure({**base, "distractors": {**distractors, "max_count": 4}})
    finally:
        env.close()


# -- a real run across SubprocVecEnv workers ------------------------------------------------------
def test_subproc_run_moves_ranges_that_the_workers_follow_and_resumes(tmp_path: Path) -> None:
    """2 spawned workers, 300 steps: with t_H = 0 every pinned episode widens its bound, the workers' episodes
    draw from the moved ranges, checkpoints hold the ADR state and a resumed run starts from it."""
    from stable_baselines3.common.callbacks import BaseCallback

    seen: list[dict[str, Any]] = []

    class Episodes(BaseCallback):
        def _on_step(self) -> bool:
            seen.extend(info for done, info in zip(self.locals["dones"], self.locals["infos"], strict=True) if done)
            return True

    run = train(_rl(tmp_path / "run", vec_env="subproc", checkpoint_freq=150), callbacks=[Episodes()])
    summary = json.loads((run / TRAINING_FILE).read_text())
    final = summary["adr_bounds"]
    assert final["puck_mass"] != [0.2, 0.2]
    assert final["gain_scale"] != [1.0, 1.0]
    assert final["latency_rate"][1] == 1000.0
    assert final["latency_rate"][0] < 1000.0
    masses = [info[EPISODE_PARAMS][PUCK_MASS] for info in seen]
    assert all(final["puck_mass"][0] <= mass <= final["puck_mass"][1] for mass in masses)
    assert any(mass != pytest.approx(0.2) for mass in masses)  # the workers drew from widened ranges
    results = [info["adr"] for info in seen if info.get("adr")]
    assert results
    assert all("success" in result for result in results)
    history = json.loads((run / "adr_history.json").read_text())
    assert history[0]["bounds"]["puck_mass"] == [0.2, 0.2]
    assert history[-1]["bounds"] == final
    assert [entry["entropy"] for entry in history] == sorted(entry["entropy"] for entry in history)
    saved = json.loads((run / CHECKPOINTS / "adr_150_steps.json").read_text())
    assert saved["bounds"] != final  # the state at 150 steps, before the later widenings
    assert (run / CHECKPOINTS / "adr_final.json").is_file()

    (run / CHECKPOINTS / "model_300_steps.zip").unlink()
    (run / CHECKPOINTS / "adr_300_steps.json").unlink()
    resumed = train(_rl(tmp_path / "run", vec_env="subproc", checkpoint_freq=150, total_timesteps=400, resume=True))
    again = json.loads((resumed / TRAINING_FILE).read_text())
    assert again["resumed_from"] == 150
    assert again["timesteps"] == 400
    history = json.loads((resumed / "adr_history.json").read_text())
    steps = [entry["steps"] for entry in history]
    assert steps == sorted(steps)
    assert steps[-1] <= 400
    restart = [entry for entry in history if entry["steps"] == 150][-1]
    assert restart["bounds"] == saved["bounds"]  # it went on from the checkpoint's state
    with pytest.raises(ConfigError, match="other settings"):
        train(_rl(tmp_path / "run", vec_env="subproc", checkpoint_freq=150, total_timesteps=500, resume=True, seed=3))
