"""Reinforcement learning: the ``kind: rl`` config, training run folders, the history wrapper, evaluation,
the sensitivity audit and the Peng study's report logic."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
import yaml

from dr_sim.errors import ConfigError
from dr_sim.native_output import quiet_native_stdout
from dr_sim.policies.history import History
from dr_sim.policies.rl_config import load_rl_config
from dr_sim.policies.rl_evaluation import (
    AUDIT,
    DomainResult,
    add_evaluate_arguments,
    audit,
    audit_values,
    evaluate,
    format_table,
    plot_success,
    resolve_domain,
    run_evaluate,
    success_cell,
    write_evaluation,
)
from dr_sim.policies.rl_training import (
    CHECKPOINTS,
    FINAL_MODEL,
    TRAINING_FILE,
    is_rl_run,
    load_run_config,
    run_train,
    train,
)

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "launch" / "configs" / "puckpush_sac.yaml"
PUCK = "dr_sim/PuckPush-v0"


@pytest.fixture(scope="module")
def tiny_run(tiny_rl: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train(tiny_rl(tmp_path_factory.mktemp("rl") / "run", history=2, her=True))


# -- config -------------------------------------------------------------------------------------------
def test_example_config_resolves() -> None:
    config = load_rl_config(EXAMPLE)
    assert config.algo == "sac"
    assert isinstance(config.randomization, dict)  # the preset, expanded
    assert {"physics", "actuation", "sensing"} <= set(config.randomization)
    assert config.checkpoint_every == config.total_timesteps // 4


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"totl_timesteps": 10}, "Did you mean 'total_timesteps'"),
        ({"algo": "sax"}, "Allowed: 'ppo', 'sac', 'td3' or 'recurrent_ppo'"),
        ({"randomization": "missing/ranges.yaml"}, "does not exist"),
        ({"randomization": "phisics"}, "Did you mean 'physics'"),
        ({"randomization": {"physics": {"linkz": []}}}, "unknown key 'linkz'"),
        ({"hyperparams": {"lerning_rate": 0.1}}, "Did you mean 'learning_rate'"),
        ({"hyperparams": {"seed": 3}}, "set by the training itself"),
        ({"hyperparams": {"policy_kwargs": {"activation": "sigmoid"}}}, "activation 'sigmoid' is not allowed"),
        ({"algo": "ppo", "her": True}, "off-policy"),
        ({"kind": "pose"}, "kind must be 'rl'"),
    ],
)
def test_bad_config_is_one_clear_error(tiny_rl: Any, tmp_path: Path, change: dict[str, Any], message: str) -> None:
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump({**tiny_rl(tmp_path / "out"), **change}))
    with pytest.raises(ConfigError, match=re.escape(message)) as error:
        load_rl_config(path)
    assert "\n" not in str(error.value)


def test_randomization_path_is_relative_to_the_yaml(tiny_rl: Any, tmp_path: Path) -> None:
    (tmp_path / "shifts").mkdir()
    (tmp_path / "shifts" / "heavy.yaml").write_text(
        "physics:\n  links:\n    - {select: 'object/*', mass: {type: constant, value: 1.0}}\n"
    )
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(tiny_rl(tmp_path / "out", randomization="shifts/heavy.yaml")))
    assert load_rl_config(path).randomization == {
        "physics": {"links": [{"select": "object/*", "mass": {"type": "constant", "value": 1.0}}]}
    }


def test_number_strings_and_activation_are_mapped(tiny_rl: Any) -> None:
    from dr_sim.policies.rl_config import algo_kwargs

    config = load_rl_config(
        tiny_rl("x", hyperparams={"learning_rate": "3e-4", "policy_kwargs": {"net_arch": [8], "activation": "tanh"}})
    )
    kwargs = algo_kwargs(config, 2)
    assert kwargs["learning_rate"] == pytest.approx(3e-4)
    assert kwargs["policy_kwargs"]["activation_fn"] is torch.nn.Tanh


# -- training -----------------------------------------------------------------------------------------
def test_run_folder_holds_config_git_command_checkpoints_and_logs(tiny_run: Path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    config = yaml.safe_load((tiny_run / "config.yaml").read_text())
    assert config["kind"] == "rl"
    assert config["history"] == 2
    assert config["her"] is True
    assert config["randomization"]["actuation"]["gain_scale"]["type"] == "log_uniform"  # expanded
    assert load_run_config(tiny_run).total_timesteps == 300
    assert is_rl_run(tiny_run)
    assert not is_rl_run(tiny_run / "tb")
    git = (tiny_run / "git.txt").read_text().split()
    assert git == ["unknown"] or (len(git[0]) == 40 and git[1] in ("clean", "dirty"))
    assert (tiny_run / "command.txt").read_text().strip()
    assert (tiny_run / CHECKPOINTS / FINAL_MODEL).is_file()
    assert len(list((tiny_run / CHECKPOINTS).glob("model_*_steps.zip"))) >= 3
    summary = json.loads((tiny_run / TRAINING_FILE).read_text())
    assert summary["timesteps"] >= 300
    assert summary["wall_seconds"] > 0
    events = list((tiny_run / "tb").rglob("events.out.tfevents.*"))
    assert events
    accumulator = EventAccumulator(str(events[0].parent))
    accumulator.Reload()
    tags = accumulator.Tags()["scalars"]
    assert "episode/success" in tags
    assert "randomization/actuation.gain_scale.action" in tags
    gains = [event.value for event in accumulator.Scalars("randomization/actuation.gain_scale.action")]
    assert all(0.5 <= gain <= 2.0 for gain in gains)


def test_subproc_ppo_with_normalization_trains(tiny_rl: Any, tmp_path: Path) -> None:
    run = train(
        tiny_rl(
            tmp_path / "ppo",
            algo="ppo",
            vec_env="subproc",
            normalize=True,
            total_timesteps=128,
            checkpoint_freq=0,
            hyperparams={"n_steps": 64, "batch_size": 64, "n_epochs": 1},
        )
    )
    assert (run / CHECKPOINTS / "model_vecnormalize_final.pkl").is_file()
    assert not list((run / CHECKPOINTS).glob("model_*_steps.zip"))


def test_bad_env_kwargs_fail_before_training(tiny_rl: Any, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown option 'reward_typ'"):
        train(tiny_rl(tmp_path / "bad", env_kwargs={"reward_typ": "dense"}))
    with pytest.raises(ConfigError, match="unknown id"):
        train(tiny_rl(tmp_path / "bad", env="dr_sim/PuckPusher-v0"))


# -- the history wrapper ------------------------------------------------------------------------------
def test_history_stacks_observations_and_actions_newest_first() -> None:
    with quiet_native_stdout():
        env = History(gym.make(PUCK), 3)
    try:
        assert env.observation_space["observation"].shape == (3 * 10 + 3 * 2,)
        observation, _ = env.reset(seed=0)
        stacked = observation["observation"]
        assert env.observation_space.contains(observation)
        first = stacked[:10]
        np.testing.assert_array_equal(stacked[10:20], first)
        np.testing.assert_array_equal(stacked[20:30], first)
        np.testing.assert_array_equal(stacked[30:], 0.0)
        actions = [np.array([0.5, -0.25], np.float32), np.array([-1.0, 1.0], np.float32)]
        for action in actions:
            previous = stacked[:10].copy()
            observation, *_ = env.step(action)
            stacked = observation["observation"]
            np.testing.assert_array_equal(stacked[10:20], previous)
        np.testing.assert_allclose(stacked[30:32], actions[1])
        np.testing.assert_allclose(stacked[32:34], actions[0])
        np.testing.assert_array_equal(stacked[34:36], 0.0)
        assert set(observation) == {"observation", "achieved_goal", "desired_goal"}
        observation, _ = env.reset(seed=1)
        np.testing.assert_array_equal(observation["observation"][30:], 0.0)  # a new episode forgets
    finally:
        env.close()


def test_history_of_a_box_observation() -> None:
    env = History(gym.make("Pendulum-v1"), 2)
    observation, _ = env.reset(seed=0)
    assert observation.shape == (2 * 3 + 2 * 1,) == env.observation_space.shape
    observation, *_ = env.step(np.array([1.5], np.float32))
    assert observation[6] == pytest.approx(1.5)
    assert observation[7] == 0.0
    with pytest.raises(ConfigError, match="positive"):
        History(gym.make("Pendulum-v1"), 0)


# -- evaluation ---------------------------------------------------------------------------------------
def test_evaluate_gives_a_table_with_intervals(tiny_run: Path) -> None:
    results = evaluate(tiny_run, ["nominal", "train", "heavy"], n=3)
    assert list(results["domains"]) == ["nominal", "train", "heavy"]
    for row in results["domains"].values():
        assert row["episodes"] == 3
        assert 0.0 <= row["ci_low"] <= row["success_rate"] <= row["ci_high"] <= 1.0
        assert row["ci_high"] > 0.0  # 3 episodes never give a tight interval
        assert row["mean_return"] < 0  # the dense reward is a negative distance
    table = format_table(results)
    assert table.startswith("| domain | success [95% CI]")
    assert table.count("\n") == 5
    assert "| heavy | " in table
    write_evaluation(results, tiny_run)
    assert (tiny_run / "evaluation.png").stat().st_size > 1000
    again = evaluate(tiny_run, ["nominal"], n=3)
    assert again["domains"]["nominal"] == results["domains"]["nominal"]  # seeded and deterministic


def test_evaluate_cli_prints_json(tiny_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    add_evaluate_arguments(parser)
    assert run_evaluate(parser.parse_args([str(tiny_run), "--domains", "nominal", "-n", "2", "--json"])) == 0
    printed = capsys.readouterr()
    assert json.loads(printed.out)["domains"]["nominal"]["episodes"] == 2  # stdout: the JSON object alone
    assert "evaluate: 100%" in printed.err  # the progress bar, on stderr
    assert "2/2" in printed.err


def test_unknown_domain_and_run_are_clear_errors(tiny_run: Path, tmp_path: Path) -> None:
    config = load_run_config(tiny_run)
    with pytest.raises(ConfigError, match="Did you mean 'heavy'"):
        resolve_domain("heavvy", config)
    with pytest.raises(ConfigError, match="does not exist"):
        evaluate(tmp_path / "nothing", ["nominal"], 1)
    assert resolve_domain("nominal", config) == ("nominal", None)
    assert resolve_domain("train", config)[1] == config.randomization


def test_shifts_lie_outside_the_physics_ranges() -> None:
    from dr_sim.config import preset_dict

    reference = preset_dict("physics")
    config = load_rl_config(EXAMPLE)
    outside = 0
    for name in ("heavy", "light", "low_gains", "high_gains", "sticky_laggy"):
        _, shift = resolve_domain(name, config)
        for parameter in AUDIT:
            pinned = parameter.training_range(shift)
            if pinned is None:
                continue
            low, high = parameter.training_range(reference)
            assert not low <= pinned[0] <= high, f"{name}: {parameter.name} {pinned} inside {low}-{high}"
            outside += 1
    assert outside >= 8


def test_audit_sweeps_each_parameter_beyond_its_range(tiny_run: Path) -> None:
    assert audit_values(0.1, 0.4, 7) == pytest.approx(np.geomspace(0.05, 0.8, 7).tolist())
    result = audit(tiny_run, n=1, points=2)
    parameters = result["parameters"]
    assert set(parameters) == {parameter.name for parameter in AUDIT}
    assert parameters["puck_mass"]["range"] == [0.1, 0.4]
    assert parameters["pusher_mass"]["range"] == [0.25, 4.0]
    assert [point["value"] for point in parameters["gain_scale"]["points"]] == pytest.approx([0.25, 4.0])
    assert parameters["latency_rate"]["range_source"] == "training"


def _row(successes: int, episodes: int = 10) -> dict[str, Any]:
    returns = tuple([-1.0] * episodes)
    return DomainResult(successes, returns).as_dict()


def test_success_plot_takes_perfect_rates(tmp_path: Path) -> None:
    perfect = [_row(n, n) for n in (10, 100, 700)]  # a rate of 1 may sit a rounding error above its interval
    path = plot_success(
        {"p": {f"d{i}": row for i, row in enumerate(perfect)}, "q": {"d0": _row(0)}}, tmp_path / "s.png"
    )
    assert path.stat().st_size > 1000


# -- a real training run --------------------------------------------------------------------------------
# Uniformly random actions on nominal PuckPush succeed in 2 of 200 episodes (seeds 10000 + i), 0 of the first 50.
RANDOM_SUCCESS = 0.01


@pytest.mark.slow
def test_sac_learns_puckpush_through_the_cli(tmp_path: Path) -> None:
    config = yaml.safe_load(EXAMPLE.read_text())
    # Nominal SAC with these settings: 6% evaluated success after 15k steps, 32% after 30k (2.5 min on 2 cores),
    # about 90% by 40k and 100% by 50k. Random actions: 1%.
    config.update(randomization=None, total_timesteps=30_000)
    path = tmp_path / "sac.yaml"
    path.write_text(yaml.safe_dump(config))
    run = tmp_path / "run"
    assert run_train(argparse.Namespace(config=str(path), out=str(run), quiet=True)) == 0
    success = evaluate(run, ["nominal"], n=50)["domains"]["nominal"]
    print(f"SAC on PuckPush after 30k steps, nominal success: {success_cell(success)}")
    assert success["ci_low"] > 10 * RANDOM_SUCCESS, success
