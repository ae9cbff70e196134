"""What the studies conclude from results: pooled shifts, goals, the paired interval, merged looks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dr_sim.config.loader import read_source, validated
from dr_sim.errors import ConfigError
from dr_sim.statistics import Success
from studies.harness.policies import POOLED
from studies.modular.study import exact_camera, merged
from studies.peng.study import PengStudy
from studies.sdr.study import SdrStudy


def _row(successes: int, episodes: int = 10) -> dict[str, Any]:
    return {**Success(successes, episodes).as_dict(), "mean_return": -1.0}


def test_the_peng_study_pools_shifts_and_checks_goals(studies_root: Path, tmp_path: Path) -> None:
    data, origin, folder = read_source(studies_root / "peng" / "config.yaml")
    study = PengStudy(validated(PengStudy.config_model, data, origin), folder, tmp_path)
    domains = study.config.domains
    rates = {"a_nominal": 3, "b_dynamics": 9, "c_history": 10, "d_recurrent": 8}
    results: dict[str, dict[str, Any]] = {
        name: {
            "training": {"algo": "sac", "timesteps": 100, "wall_seconds": 60.0},
            "domains": {domain: _row(successes) for domain in domains},
        }
        for name, successes in rates.items()
    }
    results["reference"] = {"domains": {domain: _row(5) for domain in domains}}
    report = study.report(results)
    pooled = report.data["policies"]["a_nominal"]["domains"][POOLED]
    assert pooled["episodes"] == 10 * len(study.config.shifts)
    met = {goal.goal.split(")")[0]: goal.met for goal in report.goals if goal.goal.startswith("(")}
    assert met == {"(a": True, "(b": True, "(c": True, "(d": False}
    assert len(report.goals) == 4 + 4  # the letters' goals and one training-time goal per policy
    markdown = report.markdown()
    assert "| d_recurrent | sac | 100 | 1.0 |" in markdown
    assert "| scripted (reference) | - | - | - | 50% [24%, 76%]" in markdown


def test_a_policy_study_config_names_what_is_wrong(studies_root: Path) -> None:
    data, origin, _ = read_source(studies_root / "peng" / "config.yaml")
    with pytest.raises(ConfigError, match="must also be listed in domains"):
        validated(PengStudy.config_model, {**data, "shifts": ["nowhere"]}, origin)
    with pytest.raises(ConfigError, match="unknown key 'episode'"):
        validated(PengStudy.config_model, {**data, "episode": 3}, origin)


def test_the_hard_slice_interval_is_a_paired_bootstrap_of_the_error_ratio(studies_root: Path, tmp_path: Path) -> None:
    data, origin, folder = read_source(studies_root / "sdr" / "config.yaml")
    study = SdrStudy(validated(SdrStudy.config_model, data, origin), folder, tmp_path)
    study.slices = {"heldout": {"hard": np.array([True, True, True, True, False])}}
    uniform = {"scores": {"heldout": {"errors_cm": [2.0, 4.0, 6.0, 8.0, 100.0]}}}
    structured = {"scores": {"heldout": {"errors_cm": [1.0, 2.0, 3.0, 4.0, 0.0]}}}
    low, high = study.hard_interval(uniform, structured)
    assert (low, high) == pytest.approx((2.0, 2.0))  # every resample has the ratio 2: the easy image is left out
    low, high = study.hard_interval(uniform, {"scores": {"heldout": {"errors_cm": [4.0, 2.0, 6.0, 8.0, 0.0]}}})
    assert low < 1.0 < high


def test_a_look_and_a_shift_may_not_set_the_same_section() -> None:
    both = merged({"lighting": {"ambient": 0.5}}, {"physics": {"gravity": None}})
    assert both is not None
    assert set(both) == {"lighting", "physics"}
    with pytest.raises(ConfigError, match=r"both set 'lighting'"):
        merged({"lighting": {}}, {"lighting": {}})


def test_the_exact_camera_diagnostic_keeps_the_look_and_drops_the_camera_offsets() -> None:
    look = {
        "camera": {"nominal": {"eye": [0.5, 0.0, 0.75]}, "aim": {"type": "choice", "values": [[0.03, 0.0]]}},
        "lighting": {"ambient": {"type": "constant", "value": 0.9}},
    }
    assert exact_camera(look) == {"camera": {"nominal": {"eye": [0.5, 0.0, 0.75]}}, "lighting": look["lighting"]}
