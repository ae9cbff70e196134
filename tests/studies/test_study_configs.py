"""Every study's own config validates and lays out its points without computing any, from any folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dr_sim.config import load_config
from dr_sim.config.loader import read_source, validated
from studies.adaptation.study import AdaptationStudy
from studies.adr.study import AdrStudy
from studies.calibration.study import CalibrationStudy
from studies.detection.study import DetectionStudy
from studies.harness import Study
from studies.heldout.textures import write_textures
from studies.modular.study import ModularStudy
from studies.peng.study import PengStudy
from studies.perception.study import PerceptionStudy
from studies.pixel_policy.study import PixelPolicyStudy
from studies.pose6d.study import Pose6dStudy
from studies.sdr.study import SdrStudy
from studies.unpaired.study import UnpairedStudy

STUDIES: dict[str, type[Study]] = {
    "perception": PerceptionStudy,
    "peng": PengStudy,
    "modular": ModularStudy,
    "sdr": SdrStudy,
    "adr": AdrStudy,
    "adaptation": AdaptationStudy,
    "pose6d": Pose6dStudy,
    "unpaired": UnpairedStudy,
    "calibration": CalibrationStudy,
    "pixel_policy": PixelPolicyStudy,
    "detection": DetectionStudy,
}
POINTS = {
    "detection": {"randomized", "realistic", "structured", "finetune_100", "scratch_100"},
    "perception": {
        "full",
        "no_camera",
        "no_distractors",
        "no_noise",
        "no_textures",
        "canonical",
        "textures_10_tint",
        "textures_10_notint",
    },
    "peng": {"a_nominal", "b_dynamics", "c_history", "d_recurrent", "reference"},
    "modular": {"true state / nominal", "modular (pose network) / held-out look + sticky_laggy"},
    "sdr": {"uniform_1000", "structured_8000", "structured_8000_seed2"},
    "adr": {"a_none", "b_handset", "c_large", "d_adr", "reference"},
    "adaptation": {"adaptation"},
    "pose6d": {
        "localize_belief",
        "localize_regression",
        "pose_duck",
        "pose_ball",
        "fewshot_finetune_10",
        "fewshot_scratch_200",
    },
    "unpaired": {
        "randomization",
        "canonical_translated",
        "randomized_translated",
        "randomized_translated_100",
        "randomized_translated_500",
    },
    "calibration": {
        "a_nominal",
        "b_dynamics",
        "d_adr",
        "reference",
        "calibrated_sticky_laggy",
        "calibrated_history_harsh_heavy_weak",
        "calibrated_n30_sticky_laggy",
    },
    "pixel_policy": {"a_visual_physics", "b_physics_only"},
}


def load(study: type[Study], path: Path, out: Path) -> Study:
    data, origin, folder = read_source(path, "study config")
    return study(validated(study.config_model, data, origin), folder, out)


@pytest.mark.parametrize("name", list(STUDIES))
def test_each_study_has_its_folder_readme_and_config(
    name: str, studies_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = studies_root / name
    assert STUDIES[name].name == name
    assert STUDIES[name].default_config() == folder / "config.yaml"
    assert (folder / "README.md").is_file()
    assert (folder / "__main__.py").is_file()
    monkeypatch.chdir(tmp_path)  # relative paths in the config start from its own folder
    # the held-out look names its photographs' folder from the repository root, where studies run
    write_textures(tmp_path / "runs" / "heldout_textures", size=16)
    study = load(STUDIES[name], folder / "config.yaml", tmp_path / "out")
    points = study.points()
    assert POINTS[name] <= set(points)
    for point in points.values():
        assert point.settings  # what the cache keys on


def test_perception_points_are_valid_randomizations(studies_root: Path, tmp_path: Path) -> None:
    study = load(PerceptionStudy, studies_root / "perception" / "config.yaml", tmp_path)
    points = study.points()
    for point in points.values():
        load_config(point.extra["trained"]["generator"]["randomization"])  # a valid DRConfig
    canonical = load_config(points["canonical"].extra["trained"]["generator"]["randomization"])
    assert canonical.camera is not None
    assert canonical.camera.aim is None
    assert canonical.distractors is None
    assert canonical.appearance == []
    full: dict[str, Any] = points["full"].extra["trained"]["generator"]["randomization"]
    assert full["distractors"]["mesh_ids"] == [0, 899]
    sweep = points["textures_10_notint"].extra["trained"]["generator"]["randomization"]["appearance"][0]
    assert sweep["textures"]["pool_size"] == 10
    assert "tint" not in sweep
    assert points["full"].settings != points["no_noise"].settings


def test_the_modular_study_shares_the_peng_studys_trained_policy(studies_root: Path, tmp_path: Path) -> None:
    peng = load(PengStudy, studies_root / "peng" / "config.yaml", tmp_path / "peng")
    modular = load(ModularStudy, studies_root / "modular" / "config.yaml", tmp_path / "modular")
    assert modular.suite.settings("b_dynamics") == peng.suite.settings("b_dynamics")  # so the same cache folder


def test_sdr_replicates_rerun_the_largest_size_with_other_seeds(studies_root: Path, tmp_path: Path) -> None:
    data, origin, folder = read_source(studies_root / "sdr" / "config.yaml")
    data.update(sizes=[100, 200], replicates=3)
    study = SdrStudy(validated(SdrStudy.config_model, data, origin), folder, tmp_path)
    points = study.points()
    assert list(points) == [
        "uniform_100",
        "structured_100",
        "uniform_200",
        "structured_200",
        "uniform_200_seed1",
        "structured_200_seed1",
        "uniform_200_seed2",
        "structured_200_seed2",
    ]
    main, replicate = points["structured_200"].extra["trained"], points["structured_200_seed2"].extra["trained"]
    assert replicate["generator"]["seed"] == main["generator"]["seed"] + 2  # other images
    assert replicate["training"]["seed"] == main["training"]["seed"] + 2  # other initial weights
    assert replicate["generator"]["randomization"] == main["generator"]["randomization"]
    assert {**replicate["training"], "seed": 0} == {**main["training"], "seed": 0}
