"""The ``dr-sim`` command line, run as a subprocess (as a user would)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import cv2
import gymnasium as gym
import numpy as np

from dr_sim.file_io import make_contact_sheet
from dr_sim.param_records import flatten_params
from dr_sim.registration import ENV_IDS

SUBCOMMANDS = ("preview", "generate", "train", "evaluate", "record", "calibrate", "gap", "adapt", "bench")


def _command() -> list[str]:
    """The installed ``dr-sim`` script beside this interpreter, else its entry point run by it."""
    script = Path(sys.executable).with_name("dr-sim")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from dr_sim.cli import main; sys.exit(main())"]


def dr_sim(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run ``dr-sim ARGS`` in a subprocess, as a user would."""
    return subprocess.run(
        [*_command(), *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        check=False,
    )


def error_lines(stderr: str) -> list[str]:
    """stderr without PyBullet's build-time banner (printed by the native module on import)."""
    return [line for line in stderr.splitlines() if line.strip() and not line.startswith("pybullet build time")]


def assert_one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = error_lines(result.stderr)
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("dr-sim: error: ")
    for needle in needles:
        assert needle in lines[0]


def test_help_lists_every_subcommand() -> None:
    result = dr_sim("--help")
    assert result.returncode == 0, result.stderr
    for command in SUBCOMMANDS:
        assert command in result.stdout


def test_adapt_without_an_action_or_with_a_missing_run_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    cv2.imwrite(str(tmp_path / "images" / "a.png"), np.zeros((8, 8, 3), np.uint8))
    result = dr_sim("adapt", "apply", str(tmp_path / "no_run"), str(tmp_path / "images"), str(tmp_path / "out"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = error_lines(result.stderr)
    assert len(lines) == 1, result.stderr
    assert "no_run" in lines[0]
    assert not (tmp_path / "out").exists()  # nothing half-written


def test_preview_of_a_dr_sim_task_shows_its_own_camera(tmp_path: Path) -> None:
    """A dr_sim task previews through its own session and camera: the one tile is the image its reset
    observes under the same randomization and seed, pixel for pixel."""
    result = dr_sim(
        "preview",
        "visual",
        "-n",
        "1",
        "--out",
        "sheet.png",
        "--image-size",
        "48",
        "--env",
        "dr_sim/Detect-v0",
        "--seed",
        "3",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    sheet = cv2.cvtColor(cv2.imread(str(tmp_path / "sheet.png"), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    env = gym.make("dr_sim/Detect-v0", randomization="visual", obs_type="rgb", image_size=48)
    try:
        observation, _ = env.reset(seed=3)
    finally:
        env.close()
    gap = 2
    np.testing.assert_array_equal(sheet[gap : gap + 48, gap : gap + 48], observation)


def test_preview_writes_sheet_and_histograms(tmp_path: Path) -> None:
    result = dr_sim("preview", "visual", "-n", "4", "--out", "tmp/sheet.png", "--image-size", "48", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    sheet = cv2.imread(str(tmp_path / "tmp" / "sheet.png"), cv2.IMREAD_COLOR)
    histograms = cv2.imread(str(tmp_path / "tmp" / "sheet_params.png"), cv2.IMREAD_COLOR)
    assert sheet is not None
    assert histograms is not None
    gap = 2  # 4 images of 48 px in a 2 x 2 grid with 2 px gaps
    assert sheet.shape == (2 * 48 + 3 * gap, 2 * 48 + 3 * gap, 3)
    assert sheet.std() > 0  # something was rendered
    assert histograms.ndim == 3
    assert histograms.shape[0] > 100
    assert histograms.shape[1] > 100
    assert "4 images" in result.stdout
    assert "texture pool memory" in result.stdout
    assert not list((tmp_path / "tmp").glob("*.tmp"))  # atomic writes left no temporary file


def test_bad_preset_names_it_and_the_presets() -> None:
    result = dr_sim("preview", "visul", "-n", "1", "--out", "never.png")
    assert_one_line_error(result, "'visul'", "none", "physics", "visual", "full")


def test_out_must_be_png(tmp_path: Path) -> None:
    result = dr_sim("preview", "visual", "-n", "1", "--out", "x.jpg", cwd=tmp_path)
    assert_one_line_error(result, "x.jpg", ".png")
    assert not (tmp_path / "x.jpg").exists()


def test_bad_argument_is_one_line() -> None:
    assert_one_line_error(dr_sim("preview", "visual", "-n", "zero"), "-n")
    assert_one_line_error(dr_sim("frobnicate"), "frobnicate")
    assert_one_line_error(dr_sim("calibrate", "physics", "runs/none", "--min-width", "2"), "--min-width", "0 to 1")


def test_unknown_env_is_one_line(tmp_path: Path) -> None:
    result = dr_sim("preview", "none", "-n", "1", "--out", "a.png", "--env", "NoSuchEnv-v0", cwd=tmp_path)
    assert_one_line_error(result, "NoSuchEnv-v0")


def test_bench_json_small_budget() -> None:
    result = dr_sim(
        "bench", "--only", "engine", "tasks", "--resets", "300", "--steps", "400", "--task-steps", "50", "--json"
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)  # stdout is exactly one JSON object
    figures = report["figures"]
    assert len(figures) >= 4  # a-d first, then the rows that read them against stricter goals
    for figure in figures:
        assert isinstance(figure["value"], float)
        assert isinstance(figure["goal"], float)
        assert isinstance(figure["passed"], bool)
        assert isinstance(figure["name"], str)
    memory = figures[0]
    assert memory["unit"] == "MB"
    assert math.isfinite(memory["value"])
    literal, same_dynamics = figures[2:4]
    assert literal["name"] == "physics steps/s / unwrapped"
    assert same_dynamics["name"] == "physics steps/s / unwrapped at the same dynamics"
    for figure in (literal, same_dynamics):
        assert figure["unit"] == "x"
        assert figure["higher"] is True
        assert math.isfinite(figure["value"])
        assert figure["value"] > 0
        assert figure["details"]["baseline_steps_per_s"] > 0
    assert [task["env"] for task in report["tasks"]] == list(ENV_IDS)
    for task in report["tasks"]:
        assert task["nominal_ms"] > 0
        assert task["full_ms"] > 0
    assert isinstance(report["passed"], bool)


def test_make_contact_sheet_grid() -> None:
    images = [np.full((5, 7, 3), i * 40, np.uint8) for i in range(5)]
    sheet = make_contact_sheet(images, 3, gap=1)
    assert sheet.shape == (2 * 6 + 1, 3 * 8 + 1, 3)
    assert (sheet[1:6, 1:8] == 0).all()
    assert (sheet[7:12, 1 + 8 : 8 + 8] == 160).all()  # fifth image: row 1, column 1
    assert (sheet[7:12, 1 + 16 : 8 + 16] == 0).all()  # empty cell


def test_flatten_params_keys() -> None:
    params = {
        "physics": {"mass": {"panda/link1": 1.5}, "inertia": {"panda/link1": [0.1, 0.2, 0.3]}},
        "appearance.0": {"texture": {"table/link0": 3}},
        "distractors": {"items": [{"xy": [0.1, 0.2], "colliding": False}]},
        "step_seed": 12345,
    }
    flat = flatten_params(params)
    assert flat == {
        "physics.mass.panda/link1": 1.5,
        "physics.inertia.panda/link1.0": 0.1,
        "physics.inertia.panda/link1.1": 0.2,
        "physics.inertia.panda/link1.2": 0.3,
        "appearance.0.texture.table/link0": 3.0,
        "distractors.items.0.xy.0": 0.1,
        "distractors.items.0.xy.1": 0.2,
    }
    assert "appearance.0.texture.table/link0" not in flatten_params(params, indices=False)


def test_train_and_evaluate_name_what_is_wrong(tmp_path: Path) -> None:
    config = tmp_path / "experiment.yaml"
    config.write_text("kind: dance\n")
    lines = error_lines(dr_sim("train", str(config)).stderr)
    kinds = "one of pose, belief, rl, detect"
    assert lines == [f"dr-sim: error: training config {str(config)!r} needs 'kind', {kinds}; got 'dance'"]
    lines = error_lines(dr_sim("evaluate", str(tmp_path), "--domains", "nominal").stderr)
    assert len(lines) == 1
    assert "is not a run of 'dr-sim train'" in lines[0]
