"""The trajectory format round-trips, ``record`` writes it from a real env (and resumes, never overwrites
another recording), and a malformed or mismatched file ends in one ``ConfigError`` line naming the file."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from dr_sim.errors import ConfigError
from dr_sim.trajectories import Trajectory, read_trajectories, write_episode, write_index
from dr_sim.trajectories.format import INDEX, episode_name
from dr_sim.trajectories.record import record

ENV_ID = "dr_sim/PuckPush-v0"
STEPS = 8


def box_set(folder: Path, steps: int = 5) -> Trajectory:
    """A two-episode set of a Box observation space, written by hand (as a robot logger would)."""
    observation_space = gym.spaces.Box(-np.inf, np.inf, (4,), np.float64)
    action_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    rng = np.random.default_rng(0)
    episode = Trajectory(
        observations=rng.normal(size=(steps + 1, 4)),
        actions=rng.uniform(-1, 1, (steps, 2)).astype(np.float32),
        control_dt=0.05,
        timestamps=np.arange(steps + 1) * 0.05,
        env_seed=7,
        metadata={"robot": "bench", "operator": "a"},
    )
    for i in range(2):
        write_episode(folder, i, episode)
    write_index(
        folder,
        env="my_robot:Arm-v0",
        env_kwargs={"speed": 2},
        control_dt=0.05,
        observation_space=observation_space,
        action_space=action_space,
        steps=[steps, steps],
        metadata={"site": "lab"},
    )
    return episode


def one_line_error(folder: Path, match: str) -> str:
    with pytest.raises(ConfigError, match=re.escape(match)) as error:
        read_trajectories(folder)
    assert "\n" not in str(error.value)
    return str(error.value)


def test_the_format_round_trips(tmp_path: Path) -> None:
    written = box_set(tmp_path)
    read = read_trajectories(tmp_path)
    assert read.env == "my_robot:Arm-v0"
    assert read.env_kwargs == {"speed": 2}
    assert read.metadata == {"site": "lab"}
    assert len(read.episodes) == 2
    episode = read.episodes[1]
    assert np.array_equal(episode.observations, written.observations)
    assert np.array_equal(episode.actions, written.actions)
    assert episode.actions.dtype == np.float32
    assert np.array_equal(episode.timestamps, written.timestamps)
    assert episode.control_dt == 0.05
    assert episode.start_seed == 7
    assert episode.metadata == written.metadata


def test_record_writes_a_set_that_replays_and_resumes(tmp_path: Path) -> None:
    out = tmp_path / "rec"
    summary = record(ENV_ID, "scripted", "physics", 2, out, seed=3, max_steps=STEPS)
    assert summary["recorded"] == 2
    recorded = read_trajectories(out)
    episode = recorded.episodes[0]
    assert set(episode.observations) == {"observation", "achieved_goal", "desired_goal"}
    assert episode.observations["observation"].shape == (episode.steps + 1, 10)
    assert episode.start_seed == 3
    assert episode.randomization is not None
    # the start state replays from the record: the same first observation (sensing noise included)
    env = gym.make(ENV_ID, randomization="physics")
    try:
        recorded.check_env(env)
        first, _ = env.reset(options={"randomization": episode.randomization})
        assert np.array_equal(first["observation"].astype(np.float32), episode.observations["observation"][0])
    finally:
        env.close()
    before = (out / episode_name(0)).read_bytes()
    again = record(ENV_ID, "scripted", "physics", 2, out, seed=3, max_steps=STEPS)
    assert again["kept"] == 2
    assert (out / episode_name(0)).read_bytes() == before
    with pytest.raises(ConfigError, match="holds another recording"):
        record(ENV_ID, "scripted", "none", 2, out, seed=3, max_steps=STEPS)
    assert (out / episode_name(0)).read_bytes() == before  # never touched


def test_another_envs_trajectories_are_refused(tmp_path: Path) -> None:
    record(ENV_ID, "scripted", "none", 1, tmp_path, max_steps=3)
    recorded = read_trajectories(tmp_path)
    env = gym.make("dr_sim/PandaReach-v0")
    try:
        with pytest.raises(ConfigError, match="another env's trajectories") as error:
            recorded.check_env(env)
        assert "\n" not in str(error.value)
        assert str(tmp_path / INDEX) in str(error.value)
    finally:
        env.close()


def rewrite(path: Path, change: Any) -> None:
    with np.load(path, allow_pickle=False) as data:
        arrays = {key: data[key] for key in data.files}
    change(arrays)
    np.savez(path, **arrays)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda a: a.update(actions=a["actions"][:, :1]), "actions has shape (5, 1), expected (5, 2)"),
        (lambda a: a.update(observations=a["observations"][:-1]), "observations has shape (5, 4), expected (6, 4)"),
        (lambda a: a.pop("actions"), "missing array 'actions'"),
        (lambda a: a.update(observations=np.full((6, 4), np.nan)), "NaN or infinite"),
        (lambda a: a.update(actions=a["actions"].astype(np.int64)), "actions has dtype int64, expected float32"),
        (lambda a: a.update(timestamps=a["timestamps"][::-1].copy()), "timestamps must not decrease"),
        (lambda a: a.update(extra=np.zeros(3)), "unknown array 'extra'"),
        (lambda a: a.update(metadata=np.str_("{not json")), "metadata is not valid JSON"),
    ],
)
def test_a_malformed_episode_is_one_clear_error(tmp_path: Path, change: Any, match: str) -> None:
    box_set(tmp_path)
    rewrite(tmp_path / episode_name(1), change)
    assert str(tmp_path / episode_name(1)) in one_line_error(tmp_path, match)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda index: index.pop("action_space"), "missing key 'action_space'"),
        (lambda index: index.update(control_dt=-1), "control_dt must be a positive number of seconds"),
        (
            lambda index: index["episodes"].append({"file": "episode_000009.npz", "steps": 5}),
            "listed in index.json but missing",
        ),
        (lambda index: index["episodes"][0].update(steps=4), "but index.json lists 4 steps"),
        (lambda index: index.update(format="other"), "expected 'dr_sim.trajectories'"),
    ],
)
def test_a_malformed_index_is_one_clear_error(tmp_path: Path, change: Any, match: str) -> None:
    box_set(tmp_path)
    index = json.loads((tmp_path / INDEX).read_text())
    change(index)
    (tmp_path / INDEX).write_text(json.dumps(index))
    one_line_error(tmp_path, match)


def test_a_folder_without_an_index_is_one_clear_error(tmp_path: Path) -> None:
    one_line_error(tmp_path, "no index.json")


def test_record_takes_a_shipped_shift_by_name(tmp_path: Path) -> None:
    """``--randomization sticky_laggy`` records under the shipped shift (its constants in the index)."""
    from dr_sim.cli import main
    from dr_sim.config import load_config, shift_path

    out = tmp_path / "target"
    args = ["record", "dr_sim/PuckPush-v0", "--policy", "scripted", "--randomization", "sticky_laggy"]
    assert main([*args, "-n", "1", "--max-steps", "5", "--out", str(out), "--quiet"]) == 0
    recorded = json.loads((out / "index.json").read_text())
    expected = load_config(shift_path("sticky_laggy")).model_dump(mode="json", exclude_none=True)
    assert json.dumps(expected, sort_keys=True) in json.dumps(recorded, sort_keys=True)
