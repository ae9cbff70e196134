"""A policy suite trains each named policy once per settings, evaluates it over domains and resumes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dr_sim.errors import ConfigError
from dr_sim.policies.policy_suite import PolicySuite, pooled

BASE: dict[str, Any] = {
    "kind": "rl",
    "env": "dr_sim/PuckPush-v0",
    "algo": "sac",
    "hyperparams": {"learning_starts": 50, "batch_size": 32, "buffer_size": 1000, "policy_kwargs": {"net_arch": [16]}},
    "n_envs": 1,
    "vec_env": "dummy",
    "total_timesteps": 120,
    "seed": 0,
    "threads": 1,
}


def test_a_policy_trains_once_per_settings_and_is_evaluated_over_domains(tmp_path: Path) -> None:
    lines: list[str] = []
    suite = PolicySuite(BASE, {"plain": None, "shaken": {"randomization": "physics"}}, tmp_path, log=lines.append)
    run = suite.train("plain")
    assert (run / "checkpoints" / "model_final.zip").is_file()
    assert suite.training("plain")["timesteps"] == 120
    assert suite.train("plain") == run  # finished: not trained again
    assert sum(line.startswith("training sac on") for line in lines) == 1
    assert any("trained already" in line for line in lines)
    assert suite.settings("shaken") != suite.settings("plain")
    results = suite.evaluate("plain", ["nominal", "heavy"], episodes=2)
    assert list(results["domains"]) == ["nominal", "heavy"]
    assert all(row["episodes"] == 2 for row in results["domains"].values())
    both = pooled(results["domains"], ["nominal", "heavy"])
    assert both is not None
    assert both["episodes"] == 4
    reference = suite.scripted_reference(["nominal"], episodes=2)
    assert reference["nominal"]["episodes"] == 2
    longer = PolicySuite({**BASE, "total_timesteps": 150}, {"plain": None}, tmp_path, log=lines.append)
    assert longer.train("plain") != run  # a changed setting trains beside the first run, which is kept
    assert (run / "checkpoints" / "model_final.zip").is_file()


def test_a_bad_policy_is_named(tmp_path: Path) -> None:
    suite = PolicySuite(BASE, {"typo": {"algo": "sacc"}}, tmp_path)
    with pytest.raises(ConfigError, match=r"policies\.typo"):
        suite.settings("typo")
    with pytest.raises(ConfigError, match="unknown policy 'nope'; the suite has typo"):
        suite.config("nope")
    with pytest.raises(ConfigError, match="at least one policy"):
        PolicySuite(BASE, {}, tmp_path)
