"""stable-baselines3 callbacks: the training's own are module-level classes, and ``train`` runs a caller's too."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from stable_baselines3.common.callbacks import BaseCallback, CallbackList

from dr_sim.policies import rl_training
from dr_sim.policies.rl_config import load_rl_config
from dr_sim.policies.rl_training import TRAINING_FILE, EpisodeLogger, Progress, run_callbacks, train

STEPS = 256  # env steps of the whole run: 2 envs x 128 vector steps


class Counting(BaseCallback):
    """Counts its calls, keeps the env steps it was called at and the episodes that ended."""

    def __init__(self) -> None:
        super().__init__()
        self.started = self.ended = False
        self.timesteps: list[int] = []
        self.episodes = 0

    def _on_training_start(self) -> None:
        self.started = True

    def _on_step(self) -> bool:
        self.timesteps.append(self.num_timesteps)
        self.episodes += int(sum(self.locals["dones"]))
        return True

    def _on_training_end(self) -> None:
        self.ended = True


def _tiny(out: Path, **overrides: Any) -> dict[str, Any]:
    """PPO on 2 envs of PuckPush with 32-step episodes, one torch thread (a few seconds)."""
    config = {
        "kind": "rl",
        "env": "dr_sim/PuckPush-v0",
        "algo": "ppo",
        "n_envs": 2,
        "max_episode_steps": 32,
        "total_timesteps": STEPS,
        "threads": 1,
        "checkpoint_freq": 0,
        "hyperparams": {"n_steps": 64, "batch_size": 32, "n_epochs": 1, "policy_kwargs": {"net_arch": [8]}},
        "out": str(out),
    }
    return {**config, **overrides}


def test_the_callbacks_are_module_level_sb3_callbacks() -> None:
    for callback in (EpisodeLogger, Progress):
        assert issubclass(callback, BaseCallback)
        assert callback.__module__ == rl_training.__name__
        assert "." not in callback.__qualname__  # defined at the module's top, not inside a function


def test_a_callers_callbacks_run_after_the_runs_own(tmp_path: Path) -> None:
    counting, second = Counting(), Counting()
    run = train(_tiny(tmp_path / "run"), callbacks=[counting, second])
    assert counting.n_calls > 0
    assert counting.started
    assert counting.ended
    assert counting.n_calls == second.n_calls == STEPS // 2  # once per vector step of 2 envs
    assert counting.timesteps == list(range(2, STEPS + 1, 2))
    assert counting.episodes >= STEPS // 32  # an episode ends at its 32-step limit, or sooner on success
    summary = json.loads((run / TRAINING_FILE).read_text())
    assert summary["timesteps"] == STEPS


def test_the_runs_own_callbacks_come_as_a_list(tmp_path: Path) -> None:
    config = load_rl_config(_tiny(tmp_path / "run", eval_freq=0))
    own = run_callbacks(config, tmp_path / "run", progress=True)
    assert [type(callback) for callback in own] == [EpisodeLogger, Progress]
    assert not any(isinstance(callback, CallbackList) for callback in own)
