"""A tiny pose6d study runs end to end from its one command and writes every table of its report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studies.harness import study_main
from studies.pose6d.study import Pose6dStudy

TINY_MODEL = "{stem: [4, 8], context: 1, max_dilation: 2}"


def test_a_tiny_pose6d_study_runs_end_to_end(
    studies_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(studies_root.parent)  # studies run from the checkout's root
    out = tmp_path / "pose6d"
    tiny = [
        "--set", "localize.images=8", "--set", "localize.training.epochs=1", "--set", "localize.heldout.n=6",
        "--set", f"localize.training.model={TINY_MODEL}",
        "--set", "regression.images=8", "--set", "regression.training.epochs=1",
        "--set", "pose.images=8", "--set", "pose.training.epochs=1", "--set", "pose.heldout.n=6",
        "--set", "pose.generator.image_size=64", "--set", f"pose.training.model={TINY_MODEL}",
        "--set", "few_shot.sizes=[0,4]", "--set", "few_shot.steps=2",
        "--out", str(out),
    ]  # fmt: skip
    assert study_main(Pose6dStudy, None, tiny) == 0
    results = json.loads((out / "results.json").read_text())
    assert set(results["points"]) == {
        "localize_belief",
        "localize_regression",
        "pose_duck",
        "pose_ball",
        "fewshot_finetune_4",
        "fewshot_scratch_4",
    }
    ball = results["points"]["pose_ball"]["scores"]["calibrated_camera"]
    assert ball["score"] == "add_s"  # the symmetric object is scored with ADD-S
    assert results["points"]["pose_duck"]["scores"]["calibrated_camera"]["score"] == "add"
    markdown = (out / "results.md").read_text()
    for caption in ("**Localize**", "**6-DoF pose**", "**Few-shot**", "Training of each point's network"):
        assert caption in markdown
    assert "| direct regression (kind: pose) |" in markdown
    assert "| ball | ADD-S | calibrated |" in markdown
    assert "Localize through the calibrated path" in markdown
    assert (out / "fewshot.png").stat().st_size > 1000
    # The fine-tuned network started from the duck's randomized network, which was trained once.
    assert len(list((out / "points").glob("train-duck-*"))) == 1
    tuned = next((out / "points").glob("train-fewshot_finetune_4-*"))
    metrics = json.loads((tuned / "run" / "metrics.json").read_text())
    assert metrics["init_from"] == str(next((out / "points").glob("train-duck-*")) / "run")
    scratch = next((out / "points").glob("train-fewshot_scratch_4-*"))
    assert json.loads((scratch / "run" / "metrics.json").read_text())["init_from"] is None
    capsys.readouterr()
