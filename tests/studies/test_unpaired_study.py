"""A tiny unpaired-adaptation study runs end to end from its one command and writes its report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studies.harness import study_main
from studies.unpaired.study import UnpairedStudy


def test_a_tiny_unpaired_study_runs_end_to_end(
    studies_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(studies_root.parent)  # studies run from the checkout's root
    out = tmp_path / "unpaired"
    tiny = [
        "--set", f"perception_runs={tmp_path / 'perception'}", "--set", "adaptation=null",
        "--set", "images=32", "--set", "training.epochs=1", "--set", "heldout_n=16",
        "--set", "target.images=48", "--set", "target.sizes=[40]", "--set", "target.holdout=0.5",
        "--set", "sim_images=40", "--set", "translator.epochs=1", "--set", "translator.val_fraction=0.5",
        "--set", "translator.model.generator.width=4", "--set", "translator.model.generator.blocks=1",
        "--set", "translator.model.discriminator=[8,16]", "--set", "translator.model.segmenter=[8,16]",
        "--set", "translator.segmenter.epochs=1", "--set", "translator.gap.n=20", "--set", "translator.gap.epochs=1",
        "--out", str(out), "--only", "randomization", "randomized_translated_40",
    ]  # fmt: skip
    assert study_main(UnpairedStudy, None, tiny) == 0
    results = json.loads((out / "results.json").read_text())
    assert set(results["results"]) == {"randomization", "randomized_translated_40"}
    translated = results["results"]["randomized_translated_40"]
    assert translated["cyclegan"]["gap"]["images_per_side"] == 20
    assert translated["scores"]["heldout"]["subsets"]["all"]["mean_cm"] > 0
    markdown = (out / "results.md").read_text()
    assert "randomization only" in markdown
    assert "randomized translated 40" in markdown
    assert len(list((out / "target").rglob("*.png"))) >= 48
