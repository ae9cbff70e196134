"""The pixel-policy study runs end to end from its one command on a tiny budget and writes its tables."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studies.harness import study_main
from studies.pixel_policy.study import PixelPolicyStudy


def test_a_tiny_pixel_policy_study_trains_both_policies_and_reports_every_domain(
    studies_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(studies_root.parent)  # studies run from the checkout's root (the held-out textures)
    out = tmp_path / "pixel_policy"
    tiny = [
        "--set", "episodes=2", "--set", "domains=[nominal,visual_physics,heldout_look,heavy]",
        "--set", "shifts=[heavy]", "--set", "base.env_kwargs.image_size=40", "--set", "base.n_envs=2",
        "--set", "base.max_episode_steps=8", "--set", "base.total_timesteps=48", "--set", "base.threads=1",
        "--set", "base.hyperparams.learning_starts=24", "--set", "base.hyperparams.batch_size=8",
        "--set", "base.hyperparams.buffer_size=100", "--out", str(out),
    ]  # fmt: skip
    assert study_main(PixelPolicyStudy, None, tiny) == 0
    results = json.loads((out / "results.json").read_text())
    policies = results["policies"]
    assert set(policies) == {"a_visual_physics", "b_physics_only"}
    for policy in policies.values():
        assert set(policy["domains"]) == {"nominal", "visual_physics", "heldout_look", "heavy", "shifted (pooled)"}
        assert policy["domains"]["heldout_look"]["episodes"] == 2
        assert policy["training"]["timesteps"] >= 48
    config = json.loads((out / "results.json").read_text())["config"]
    assert config["base"]["observation_keys"] == ["rgb", "desired_goal"]
    markdown = (out / "results.md").read_text()
    assert "| a_visual_physics | sac |" in markdown
    assert "| b_physics_only | sac |" in markdown
    assert "held-out look success >= 0.8" in markdown
    assert "trains within 60 min" in markdown
    assert (out / "results.png").stat().st_size > 1000
