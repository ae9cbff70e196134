"""``dr-sim train CONFIG --set KEY=VALUE`` (dotted overrides, recorded in the run) and ``dr-sim evaluate --help``."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dr_sim.cli import main


def test_overrides_train_and_are_recorded(
    example_configs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    tiny = ["--set", "total_timesteps=200", "--set", "seed=3", "--set", "n_envs=1", "--set", "vec_env=dummy",
            "--set", "hyperparams.learning_starts=50", "--set", "hyperparams.batch_size=32"]  # fmt: skip
    assert main(["train", str(example_configs / "puckpush_sac.yaml"), *tiny, "--out", str(run), "--quiet"]) == 0
    recorded = yaml.safe_load((run / "config.yaml").read_text())
    assert recorded["total_timesteps"] == 200
    assert recorded["seed"] == 3
    assert recorded["hyperparams"]["learning_starts"] == 50
    capsys.readouterr()
    assert main(["train", str(example_configs / "puckpush_sac.yaml"), "--set", "total_timestep=5", "--quiet"]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1
    assert "unknown key 'total_timestep'" in error
    assert "total_timesteps" in error  # the suggestion


def test_evaluate_help_lists_the_options_of_every_kind(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["evaluate", "--help"])
    assert done.value.code == 0
    shown = capsys.readouterr().out
    assert "Options of a 'rl' run:" in shown
    assert "--domains DOMAIN" in shown
    assert "--audit" in shown
    assert "Options of a 'pose' run:" in shown
    assert "--data [NAME=]DIR" in shown
    assert "see above" not in shown
