"""Image steps at each render detail: every image task's absolute steps/s at 84 px, nominal and ``full``,
drawn from low-poly geometry (``render_detail="low"``) and from the full visual meshes, side by side.

- ``--only detail``: for every dr_sim task whose step renders (``obs_type="rgb"``, 84 px), and for each
  randomization (none, ``full``), one control step with ``render_detail="low"`` against the same task
  with ``"full"``, in interleaved blocks (``dr_sim.bench.figures.side_by_side``): the row's value is
  full-detail seconds / low-detail seconds (> 1: low is faster), its baseline column both sides' ms per
  step, and ``details`` both sides' steps/s. The Panda tasks under ``full`` carry the speed issue's goal
  (at least 5x); the rest are reported.
- The render alone: one ``getCameraImage`` of each Panda task's camera (same size, matrices and light
  as its observation) at low against full detail (goal: at least 7x).

The absolute figures depend on the machine and its load; the ratios, measured side by side in one
process, are what the goals judge.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import gymnasium as gym

from dr_sim.bench.figures import Figure, SideBySide, ratio_figure, side_by_side
from dr_sim.bench.render import NO_STEP_RENDER, stepper, task_render
from dr_sim.native_output import quiet_native_stdout
from dr_sim.registration import ENV_IDS, register_envs

SIZE = 84  # px, the image observation of the speed issue
STEP_GOAL = 5.0  # low / full detail steps/s, Panda tasks under `full`
RENDER_GOAL = 7.0  # low / full detail, the render alone
GOAL_TASKS = ("dr_sim/PandaReach-v0", "dr_sim/PandaPickAndPlace-v0")
RANDOMIZATIONS = {"nominal": None, "full": "full"}
STEP = functools.partial(stepper, render=False)  # one control step on seeded actions, reset at an episode's end


def _make(env_id: str, randomization: str | None, detail: str) -> Any:
    with quiet_native_stdout():
        env = gym.make(
            env_id,
            randomization=randomization,
            obs_type="rgb",
            image_size=SIZE,
            render_detail=detail,
            disable_env_checker=True,
        )
    return env.unwrapped


def _renderer(task: Any, seed: int) -> Callable[[], None]:
    """One render of ``task``'s observation camera after a seeded reset."""
    task.reset(seed=seed)
    return task_render(task, SIZE)


def _low_against_full(
    env_id: str, randomization: str | None, blocks: int, calls: int, seed: int, part: Callable[[Any, int], Any]
) -> SideBySide:
    """``part`` (a step or a render) of ``env_id`` at low detail against full detail, side by side."""
    low, full = (_make(env_id, randomization, detail) for detail in ("low", "full"))
    try:
        return side_by_side(part(low, seed), part(full, seed), blocks, calls)
    finally:
        low.close()
        full.close()


def _figure(name: str, timing: SideBySide, goal: float | None, unit: str, details: dict[str, Any]) -> Figure:
    rates = {f"low_{unit}_per_s": 1.0 / timing.subject_s, f"full_{unit}_per_s": 1.0 / timing.baseline_s}
    text = f"full {timing.baseline_s * 1e3:.1f} ms, low {timing.subject_s * 1e3:.1f} ms"
    return ratio_figure(name, timing, goal, text, {**details, **rates}, "detail")


def detail_figures(blocks: int, calls: int, seed: int) -> list[Figure]:
    """Every image task's step at low against full detail (nominal and ``full``), then the Panda tasks'
    render alone."""
    register_envs()
    figures = []
    tasks = [env_id for env_id in ENV_IDS if env_id not in NO_STEP_RENDER]
    for env_id in tasks:
        for label, randomization in RANDOMIZATIONS.items():
            timing = _low_against_full(env_id, randomization, blocks, calls, seed, STEP)
            goal = STEP_GOAL if env_id in GOAL_TASKS and randomization == "full" else None
            name = f"{env_id.removeprefix('dr_sim/')} {label}, {SIZE} px step: low / full detail"
            figures.append(_figure(name, timing, goal, "steps", {"env": env_id, "randomization": label}))
    for env_id in GOAL_TASKS:
        timing = _low_against_full(env_id, "full", blocks, calls * 4, seed, _renderer)
        name = f"{env_id.removeprefix('dr_sim/')} full, {SIZE} px render alone: low / full detail"
        figures.append(_figure(name, timing, RENDER_GOAL, "renders", {"env": env_id, "randomization": "full"}))
    return figures


def detail_lines(figures: list[dict[str, Any]]) -> list[str]:
    """The absolute steps/s of the ``detail`` rows as text lines."""
    rows = [figure for figure in figures if figure["family"] == "detail" and "low_steps_per_s" in figure["details"]]
    if not rows:
        return []
    return ["", f"image steps/s at {SIZE} px (this machine, side by side):"] + [
        f"  {row['details']['env']:<30} {row['details']['randomization']:<8} "
        f"low {row['details']['low_steps_per_s']:7.1f}  full {row['details']['full_steps_per_s']:7.1f}"
        for row in rows
    ]
