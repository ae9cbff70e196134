"""A small perception study runs end to end from its one command, writes its report and resumes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studies.harness import study_main
from studies.perception.study import PerceptionStudy


def test_a_tiny_perception_study_runs_end_to_end_and_resumes(
    studies_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(studies_root.parent)  # studies run from the checkout's root
    out = tmp_path / "perception"
    tiny = [
        "--set", "images=48", "--set", "training.epochs=1", "--set", "texture_sweep=null",
        "--set", "heldout.n=24", "--set", "heldout.variants.camera_in_range.n=16",
        "--out", str(out), "--only", "full", "canonical",
    ]  # fmt: skip
    assert study_main(PerceptionStudy, None, tiny) == 0
    results = json.loads((out / "results.json").read_text())
    assert set(results["points"]) == {"full", "canonical"}
    assert results["points"]["full"]["variants"]["camera_in_range"]["images"] == 16
    assert results["shape"]["camera_in_range"]["canonical / full (all)"] is not None
    markdown = (out / "results.md").read_text()
    assert "| full |" in markdown
    assert "full randomization, held-out mean error <= 1.5 cm" in markdown
    assert (out / "results.png").stat().st_size > 1000
    trained = sorted(path.name for path in (out / "points").glob("train-*"))
    assert len(trained) == 2
    assert study_main(PerceptionStudy, None, tiny) == 0  # resumes: nothing is trained again
    assert sorted(path.name for path in (out / "points").glob("train-*")) == trained
    again = json.loads((out / "results.json").read_text())
    assert again["points"]["full"]["heldout"] == results["points"]["full"]["heldout"]
    assert "held-out" in capsys.readouterr().out
