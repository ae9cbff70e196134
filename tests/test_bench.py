"""``dr-sim bench``: the speed table's rows come out as one JSON object, measured on real PyBullet."""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys

import pytest

from dr_sim.bench.render import NO_STEP_RENDER
from dr_sim.registration import ENV_IDS


def bench(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", "import sys; from dr_sim.cli import main; sys.exit(main())", "bench", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)


def test_image_rows_in_one_json_object() -> None:
    result = bench("--only", "render", "panda", "--sizes", "32", "48", "--blocks", "2", "--calls", "1", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)  # stdout is exactly one JSON object, no native prints
    figures = {figure["name"]: figure for figure in report["figures"]}
    for size in (32, 48):
        row = figures[f"image task step / raw floor, {size} px"]
        assert row["family"] == "render"
        assert (row["goal"], row["higher"]) == (0.95, True)
        assert set(row["details"]["tasks"]) == set(ENV_IDS) - set(NO_STEP_RENDER)  # every task that renders a step
        ratios = [task["ratio"] for task in row["details"]["tasks"].values()]
        assert row["value"] == min(ratios)  # the row is the worst task
        for task in row["details"]["tasks"].values():
            assert 0 < task["ratio"] < 10
            assert task["floor_ms"] > 0
            assert task["task_ms"] > 0
    panda = figures["PandaPush-v3 full + camera obs / panda-gym render(), 84 px"]
    assert math.isfinite(panda["value"])
    assert panda["value"] > 0
    assert isinstance(panda["passed"], bool)
    assert report["tasks"] == []  # families not asked for are not run


def test_reported_rows_have_no_verdict() -> None:
    result = bench("--only", "egl", "--sizes", "32", "--blocks", "2", "--calls", "1", "--json")
    assert result.returncode == 0, result.stderr
    for figure in json.loads(result.stdout)["figures"]:
        assert figure["goal"] is None
        assert figure["passed"] is None
        assert figure["value"] > 0


def test_vecenv_rows_give_n_workers_against_one_with_the_goal_and_the_extrapolation() -> None:
    """``--only vecenv``: SubprocVecEnv's reported rows, then AsyncVectorEnv (shared memory) with 2 workers
    against 1 judged against 0.9 N, and a text line that extrapolates the per-worker rate to 16 cores."""
    result = bench("--only", "vecenv", "--workers", "2", "--blocks", "2", "--calls", "1", "--json", "--quiet")
    assert result.returncode == 0, result.stderr[-2000:]
    vec = [figure for figure in json.loads(result.stdout)["figures"] if figure["family"] == "vecenv"]
    assert [figure["name"] for figure in vec] == [
        "SubprocVecEnv steps/s, 1 worker",
        "SubprocVecEnv steps/s, 2 workers",
        "AsyncVectorEnv shared memory, 1 worker, 84 px full",
        "AsyncVectorEnv shared memory, 2 workers / 1, 84 px full",
    ]
    assert all(figure["goal"] is None and figure["value"] > 0 for figure in vec[:3])
    scaling = vec[3]
    assert (scaling["goal"], scaling["higher"]) == (1.8, True)
    assert isinstance(scaling["passed"], bool)
    details = scaling["details"]
    assert scaling["value"] == pytest.approx(details["steps_per_s_n"] / details["steps_per_s_1"])
    assert details["per_worker_steps_per_s"] == pytest.approx(details["steps_per_s_n"] / 2)
    table = bench("--only", "vecenv", "--workers", "2", "--blocks", "1", "--calls", "1", "--quiet")
    assert "16 cores at that rate" in table.stdout
    assert "(extrapolated, not measured)" in table.stdout


def test_peers_are_skipped_with_one_line_each_where_missing() -> None:
    """``--only peers``: panda-gym's row beside dr_sim's absolute steps/s; robosuite (not a dependency, and
    missing in CI) is skipped with one line, and its rows are absent."""
    result = bench("--only", "peers", "--blocks", "1", "--calls", "1", "--json", "--quiet")
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    rows = {figure["details"]["peer"]: figure for figure in report["figures"] if figure["family"] == "peers"}
    if importlib.util.find_spec("robosuite") is None:
        assert "robosuite" not in rows
        assert [line for line in report["skipped"] if "robosuite" in line] == [
            "peers: robosuite is not installed (pip install 'mujoco<3.4' robosuite); its rows are skipped"
        ]
    if importlib.util.find_spec("panda_gym") is not None:
        panda = rows["panda-gym"]
        assert panda["goal"] is None
        assert panda["details"]["ours_steps_per_s"] > 0
        assert panda["details"]["peer_steps_per_s"] > 0
    table = bench("--only", "peers", "--blocks", "1", "--calls", "1", "--quiet")
    assert table.returncode == 0
    assert "Traceback" not in table.stderr
    if importlib.util.find_spec("robosuite") is None:
        assert table.stdout.count("robosuite is not installed") == 1


def test_unknown_family_is_one_line() -> None:
    result = bench("--only", "gpu")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("dr-sim: error: ")]
    assert len(lines) == 1, result.stderr
    assert "gpu" in lines[0]
    assert "engine" in lines[0]  # names the families that exist


def test_detail_rows_give_every_image_task_steps_per_second_at_both_details() -> None:
    """``--only detail``: a row per image task and randomization (low against full detail, measured side by
    side) with the absolute steps/s of both, and the Panda tasks' render alone, judged against its goal."""
    result = bench("--only", "detail", "--blocks", "1", "--calls", "1", "--json", "--quiet")
    assert result.returncode == 0, result.stderr[-2000:]
    figures = json.loads(result.stdout)["figures"]
    steps = [figure for figure in figures if "low_steps_per_s" in figure["details"]]
    tasks = {env_id for env_id in ENV_IDS if env_id not in NO_STEP_RENDER}
    assert {(f["details"]["env"], f["details"]["randomization"]) for f in steps} == {
        (env_id, randomization) for env_id in tasks for randomization in ("nominal", "full")
    }
    for figure in steps:
        low, full = figure["details"]["low_steps_per_s"], figure["details"]["full_steps_per_s"]
        assert low > 0
        assert full > 0
        assert figure["value"] == pytest.approx(low / full, rel=1e-6)  # one block: the ratio of the two rates
    renders = [figure for figure in figures if "low_renders_per_s" in figure["details"]]
    assert [figure["details"]["env"] for figure in renders] == ["dr_sim/PandaReach-v0", "dr_sim/PandaPickAndPlace-v0"]
    assert all(figure["goal"] == 7.0 for figure in renders)
