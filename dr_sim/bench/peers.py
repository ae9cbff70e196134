"""Peer robotics suites side by side with dr_sim's ``PandaPickAndPlace-v0`` (``full``, 84 px RGB).

- ``--only peers``: each peer only where it is installed (a missing one is skipped with one line in the
  table's notes; dr_sim depends on neither):

  - panda-gym ``PandaPickAndPlace-v3``: one step plus its own ``render()`` at 84 x 84 px, as absolute
    steps/s beside dr_sim's step (reported: panda-gym has no randomization);
  - robosuite ``Lift`` (Panda) wrapped in robosuite's ``DomainRandomizationWrapper`` with an 84 x 84 px
    ``agentview`` camera observation. robosuite 1.5 needs ``mujoco<3.4``, and its ``TextureModder`` only
    works with mujoco 3.1.1, so the wrapper runs with ``randomize_color=False`` (camera, lighting and
    dynamics randomization stay on). Two rows: dr_sim's steps/s over robosuite's (goal >= 15x), and
    dr_sim's ``full`` resets/s over robosuite's DR resets/s (a reset of the wrapped env, which
    re-samples every randomization; goal >= 100x).

  Both sides are stepped on seeded uniform actions in interleaved blocks (``side_by_side``), each
  resetting when its episode ends inside its clock. robosuite renders offscreen through MuJoCo's
  OpenGL backend (``MUJOCO_GL``; set to ``egl`` when unset).

The absolute figures depend on the machine and its load; the ratios, measured side by side in one
process, are what the goals judge.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

from dr_sim.bench.figures import Figure, SideBySide, ratio_figure, side_by_side
from dr_sim.bench.render import stepper
from dr_sim.native_output import quiet_native_stdout
from dr_sim.registration import register_envs

SIZE = 84  # px
OURS = "dr_sim/PandaPickAndPlace-v0"
PANDA_GYM = "PandaPickAndPlace-v3"
STEP_GOAL = 15.0  # dr_sim steps/s over robosuite's (DR + camera)
RESET_GOAL = 100.0  # dr_sim `full` resets/s over robosuite's DR resets/s
ROBOSUITE_NOTE = "randomize_color=False (robosuite 1.5's TextureModder needs mujoco 3.1.1)"


def _ours() -> Any:
    register_envs()
    with quiet_native_stdout():
        return gym.make(OURS, randomization="full", obs_type="rgb", image_size=SIZE)


def _resetter(env: Any, seed: int) -> Callable[[], None]:
    env.reset(seed=seed)
    return lambda: env.reset()


def panda_gym_figure(blocks: int, calls: int, seed: int) -> Figure | None:
    """dr_sim's step against panda-gym's step plus its own ``render()``, absolute steps/s of both."""
    if importlib.util.find_spec("panda_gym") is None:
        return None
    import panda_gym  # noqa: F401  (registers its envs)

    ours = _ours()
    with quiet_native_stdout():
        theirs = gym.make(PANDA_GYM, render_mode="rgb_array", render_width=SIZE, render_height=SIZE)
    try:
        timing = side_by_side(stepper(ours, seed, False), stepper(theirs, seed, True), blocks, calls)
    finally:
        ours.close()
        theirs.close()
    return _figure(f"{OURS} full / panda-gym {PANDA_GYM} render(), {SIZE} px steps/s", timing, None, "panda-gym")


class _Robosuite:
    """robosuite's ``Lift`` in its ``DomainRandomizationWrapper`` with an 84 px camera, as step/reset calls."""

    def __init__(self, seed: int) -> None:
        os.environ.setdefault("MUJOCO_GL", "egl")
        import robosuite
        from robosuite.wrappers import DomainRandomizationWrapper

        env = robosuite.make(
            "Lift",
            robots="Panda",
            has_renderer=False,
            has_offscreen_renderer=True,
            use_camera_obs=True,
            camera_names="agentview",
            camera_heights=SIZE,
            camera_widths=SIZE,
        )
        self.env = DomainRandomizationWrapper(env, seed=seed, randomize_color=False)
        low, high = self.env.action_spec
        rng = np.random.default_rng(seed)
        self.actions = rng.uniform(low, high, size=(64, len(low)))
        self.calls = 0
        self.env.reset()

    def step(self) -> None:
        _, _, done, _ = self.env.step(self.actions[self.calls % len(self.actions)])
        self.calls += 1
        if done:
            self.env.reset()

    def reset(self) -> None:
        self.env.reset()

    def close(self) -> None:
        self.env.close()


def robosuite_figures(blocks: int, calls: int, seed: int) -> list[Figure]:
    """dr_sim's steps/s and resets/s over robosuite's with DR and an 84 px camera (empty without robosuite)."""
    if importlib.util.find_spec("robosuite") is None:
        return []
    with quiet_native_stdout():
        theirs = _Robosuite(seed)
    ours = _ours()
    try:
        steps = side_by_side(stepper(ours, seed, False), theirs.step, blocks, calls)
        resets = side_by_side(_resetter(ours, seed), theirs.reset, blocks, max(calls // 4, 1))
    finally:
        ours.close()
        theirs.close()
    name = f"{OURS} full / robosuite Lift DR + {SIZE} px camera"
    return [
        _figure(f"{name}, steps/s", steps, STEP_GOAL, "robosuite"),
        _figure(f"{name}, resets/s", resets, RESET_GOAL, "robosuite"),
    ]


def _figure(name: str, timing: SideBySide, goal: float | None, peer: str) -> Figure:
    unit = "resets" if "resets" in name else "steps"
    details: dict[str, Any] = {
        "peer": peer,
        f"ours_{unit}_per_s": 1 / timing.subject_s,
        f"peer_{unit}_per_s": 1 / timing.baseline_s,
        "size": SIZE,
    }
    if peer == "robosuite":
        details["note"] = ROBOSUITE_NOTE
    text = f"{peer} {1 / timing.baseline_s:.1f} {unit}/s, ours {1 / timing.subject_s:.1f}"
    return ratio_figure(name, timing, goal, text, details, "peers")


def peer_figures(blocks: int, calls: int, seed: int) -> tuple[list[Figure], list[str]]:
    """The peers' rows, and one line per peer that is not installed."""
    figures, skipped = [], []
    panda = panda_gym_figure(blocks, calls, seed)
    if panda is None:
        skipped.append("peers: panda-gym is not installed; its row is skipped")
    else:
        figures.append(panda)
    rows = robosuite_figures(blocks, calls, seed)
    if not rows:
        skipped.append("peers: robosuite is not installed (pip install 'mujoco<3.4' robosuite); its rows are skipped")
    figures += rows
    return figures, skipped


def peer_lines(figures: list[dict[str, Any]], skipped: list[str]) -> list[str]:
    """Notes under the table: the robosuite setting, and the peers that were skipped."""
    lines = []
    if any(figure["details"].get("peer") == "robosuite" for figure in figures if figure["family"] == "peers"):
        lines.append(f"robosuite rows: {ROBOSUITE_NOTE}")
    lines += skipped
    return ["", *lines] if lines else []
