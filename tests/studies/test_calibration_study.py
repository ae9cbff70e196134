"""The calibration study: its baselines share the Peng study's trained policies, and a tiny run (one target,
one recorded episode, a few replays, a few hundred SAC steps) goes end to end from its one command."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest
import yaml

from dr_sim.config.loader import read_source, validated
from studies.calibration.study import CalibrationStudy, true_values
from studies.harness import study_main
from studies.peng.study import PengStudy


def test_the_baselines_are_the_peng_studys_policies(studies_root: Path, tmp_path: Path) -> None:
    studies = {}
    for study, name in ((PengStudy, "peng"), (CalibrationStudy, "calibration")):
        data, origin, folder = read_source(studies_root / name / "config.yaml")
        studies[name] = study(validated(study.config_model, data, origin), folder, tmp_path / name)
    for policy in ("a_nominal", "b_dynamics"):  # the same settings: the same folder in the Peng study's runs
        assert studies["calibration"].suite.settings(policy) == studies["peng"].suite.settings(policy)
    shared = (studies_root.parent / "runs" / "peng" / "policies").resolve()
    assert studies["calibration"].suite.cache.root.resolve() == shared


def test_a_tiny_calibration_study_runs_end_to_end(
    studies_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(studies_root.parent)  # studies run from the checkout's root
    out = tmp_path / "calibration"
    tiny = [
        "--set", "domains=[sticky_laggy]", "--set", "shifts=[sticky_laggy]", "--set", "episodes=2",
        "--set", "curve=null", "--set", f"policy_runs={tmp_path / 'baselines'}", "--set", "history=2",
        "--set", "recording.episodes=1", "--set", "recording.max_steps=12",
        "--set", "calibration={method: both, horizon: 2, stride: 4, budget: 4, posterior_budget: 4, samples: 2, "
        "workers: 1}",
        "--set", "base.total_timesteps=150", "--set", "base.n_envs=1", "--set", "base.max_episode_steps=30",
        "--set", "base.hyperparams={learning_starts: 50, batch_size: 16, buffer_size: 500, "
        "policy_kwargs: {net_arch: [16]}}",
        "--set", "policies.d_adr.adr.buffer_size=2", "--set", "oracle=[sticky_laggy]",
        "--out", str(out),
    ]  # fmt: skip
    assert study_main(CalibrationStudy, None, tiny) == 0
    results = json.loads((out / "results.json").read_text())
    points = {"a_nominal", "b_dynamics", "e_dynamics_history", "d_adr", "reference", "calibrated_sticky_laggy"}
    assert points <= set(results["points"])
    calibrated = results["points"]["calibrated_history_sticky_laggy"]
    assert calibrated["domains"]["sticky_laggy"]["episodes"] == 2
    assert Path(calibrated["calibration"]["written"]["config"]).is_file()
    markdown = (out / "results.md").read_text()
    oracle = results["points"]["oracle_sticky_laggy"]
    assert oracle["domains"]["sticky_laggy"]["episodes"] == 2
    trained_on = yaml.safe_load((Path(oracle["run"]) / "config.yaml").read_text())["randomization"]
    assert trained_on["physics"]["links"][0]["lateral_friction"]["value"] == 8.0  # the target itself
    ceiling = "trained on the target itself (ceiling)"
    rows = ("no randomization", "hand-set (physics)", "hand-set + history", "ADR", "calibrated", "calibrated + history")
    for row in (*rows, ceiling):
        assert f"| {row} |" in markdown
    assert "calibrated_sticky_laggy success >= 0.85" in markdown
    assert "calibration from 1 episodes within 10 min" in markdown
    figure = cv2.imread(str(out / "calibrations.png"))  # one target (a row) by nine parameters (columns)
    assert figure is not None
    assert figure.shape[1] > 4 * figure.shape[0]


def test_the_plots_mark_the_values_a_target_sets(studies_root: Path, tmp_path: Path) -> None:
    data, origin, folder = read_source(studies_root / "calibration" / "config.yaml")
    study = CalibrationStudy(validated(CalibrationStudy.config_model, data, origin), folder, tmp_path)
    assert true_values(study.target("sticky_laggy") or {}) == {
        "lateral_friction of object/*": ("set", 8.0),
        "linear_damping of object/*": ("set", 0.4),
        "latency_rate": ("set", 40.0),
        "gain_scale": ("set", 1.0),  # what the target leaves alone: the neutral actuation
        "force_scale": ("set", 1.0),
        "latency_steps": ("set", 0.0),
    }
    harsh = true_values(study.target("harsh_heavy_weak.yaml") or {})
    assert harsh["mass of pusher/*"] == ("scale", 8.0)
    assert harsh["latency_steps"] == ("set", 1.0)
