"""Image figures: each image task's step against PyBullet's floor, EGL against TinyRenderer, and
panda-gym's own ``render()`` against dr_sim's camera observation.

- ``--only render``: for every dr_sim task built with ``full`` randomization and ``obs_type="rgb"``,
  one control step (action, ``substeps`` physics steps, randomized render with image corruption)
  against the raw floor on the same client: ``stepSimulation`` ``substeps`` times plus one
  ``getCameraImage`` of the same size, matrices, light and flags (matrices computed outside the clock).
  Ratio = floor seconds / task seconds (goal >= 0.95); the row shows the worst task, ``details`` all.
  ``Localize-v0`` is left out: its step scores an estimate and renders nothing (its image comes with
  the reset).
- ``--only egl``: one render of the same ``PandaPush-v0`` scene (``physics`` randomization, which EGL
  renders correctly) with EGL over TinyRenderer, at each size (reported: > 1 is EGL faster).
- ``--only panda``: panda-gym ``PandaPush-v3`` wrapped with ``full`` and ``obs_type="rgb"``, one step,
  against the bare env's step plus its own ``render()`` at the same size (goal: faster, ratio > 1).
  Both sides reset when an episode ends (every 50 steps), inside their clocks.
"""

from __future__ import annotations

import importlib.util
import itertools
from collections.abc import Callable, Iterator
from typing import Any

import gymnasium as gym
import numpy as np
import pybullet as p

from dr_sim.bench.figures import Figure, SideBySide, ratio_figure, side_by_side
from dr_sim.env_ids import make_env
from dr_sim.native_output import quiet_native_stdout
from dr_sim.registration import ENV_IDS, register_envs
from dr_sim.scene import egl
from dr_sim.wrapper import DomainRandomization

FLOOR_GOAL = 0.95
NO_STEP_RENDER = ("dr_sim/Localize-v0", "dr_sim/Detect-v0")  # tasks whose step renders no image
PANDA_GOAL = 1.0
PANDA_SIZE = 84


def seeded_actions(space: gym.spaces.Box, seed: int) -> Iterator[np.ndarray]:
    """Seeded uniform actions, 64 of them repeated."""
    rng = np.random.default_rng(seed)
    return itertools.cycle(list(rng.uniform(space.low, space.high, size=(64, *space.shape)).astype(np.float32)))


def task_render(task: Any, size: int) -> Callable[[], None]:
    """One ``getCameraImage`` of an image task's observation camera as its step draws it: ``size`` px,
    the same matrices (computed here, outside any clock), light and flags, on the task's client."""
    camera, light, client = task.session.camera, task.session.scene.light, task.physics_client._client
    view, projection = camera.view_matrix(), camera.projection_matrix()
    segment = p.ER_SEGMENTATION_MASK_OBJECT_AND_LINKINDEX if task.segment_observations else 0
    flags = segment or p.ER_NO_SEGMENTATION_MASK

    def render() -> None:
        p.getCameraImage(
            size,
            size,
            viewMatrix=view,
            projectionMatrix=projection,
            renderer=p.ER_TINY_RENDERER,
            flags=flags,
            physicsClientId=client,
            **light,
        )

    return render


def task_floor(task: Any, size: int) -> Callable[[], None]:
    """PyBullet's floor of one control step of an image task: ``stepSimulation`` ``substeps`` times and
    one render of its camera (``task_render``)."""
    render, client = task_render(task, size), task.physics_client._client

    def floor() -> None:
        for _ in range(task.substeps):
            p.stepSimulation(physicsClientId=client)
        render()

    return floor


def _task_vs_floor(env_id: str, size: int, blocks: int, calls: int, seed: int) -> dict[str, float]:
    """One task's step against the floor at ``size`` px: ratio and ms per step of each side."""
    with quiet_native_stdout():
        env = gym.make(env_id, randomization="full", obs_type="rgb", image_size=size, disable_env_checker=True)
    task = env.unwrapped
    try:
        task.reset(seed=seed)
        actions = seeded_actions(task.action_space, seed)
        timing = side_by_side(lambda: task.step(next(actions)), task_floor(task, size), blocks, calls)
    finally:
        env.close()
    return {"ratio": timing.ratio, "task_ms": timing.subject_s * 1e3, "floor_ms": timing.baseline_s * 1e3}


def floor_figures(sizes: list[int], blocks: int, calls: int, seed: int) -> list[Figure]:
    """Per size: the worst image task's step / the raw floor."""
    register_envs()
    figures = []
    for size in sizes:
        tasks = {
            env_id: _task_vs_floor(env_id, size, blocks, calls, seed)
            for env_id in ENV_IDS
            if env_id not in NO_STEP_RENDER
        }
        worst = min(tasks, key=lambda env_id: tasks[env_id]["ratio"])
        figures.append(
            Figure(
                name=f"image task step / raw floor, {size} px",
                value=tasks[worst]["ratio"],
                unit="x",
                goal=FLOOR_GOAL,
                higher=True,
                baseline=f"worst {worst.removeprefix('dr_sim/')}: floor {tasks[worst]['floor_ms']:.2f} ms",
                details={"size": size, "blocks": blocks, "calls": calls, "tasks": tasks},
                family="render",
            )
        )
    return figures


def egl_figures(sizes: list[int], blocks: int, calls: int, seed: int) -> list[Figure]:
    """Per size: TinyRenderer seconds / EGL seconds for one render of the same scene (empty without EGL)."""
    with quiet_native_stdout():  # the plugin prints on load, on render and on close
        return _egl_figures(sizes, blocks, calls, seed)


def _egl_figures(sizes: list[int], blocks: int, calls: int, seed: int) -> list[Figure]:
    register_envs()
    driver = egl.probe_driver()
    if driver is None:
        return []
    figures = []
    for size in sizes:
        envs = [
            gym.make("dr_sim/PandaPush-v0", randomization="physics", image_size=size, renderer=renderer).unwrapped
            for renderer in ("tiny", "egl")
        ]
        try:
            for env in envs:
                env.reset(seed=seed)
            renders: list[Callable[[], Any]] = [
                lambda env=env: env.session.render_frame(depth=False, segmentation=False) for env in envs
            ]
            timing = side_by_side(renders[1], renders[0], blocks, calls)
        finally:
            for env in envs:
                env.close()
        figures.append(
            _ratio_figure(
                f"EGL render speed / TinyRenderer, {size} px",
                timing,
                ("tiny", "egl"),
                None,
                {"size": size, "driver": driver, "egl_ms": timing.subject_s * 1e3},
                "egl",
            )
        )
    return figures


def stepper(env: Any, seed: int, render: bool) -> Callable[[], None]:
    """One step of ``env`` on seeded actions (then ``render()`` if asked), resetting when an episode ends."""
    actions = seeded_actions(env.action_space, seed)
    env.reset(seed=seed)

    def step() -> None:
        _, _, terminated, truncated, _ = env.step(next(actions))
        if render:
            env.render()
        if terminated or truncated:
            env.reset()

    return step


def panda_figure(blocks: int, calls: int, seed: int) -> Figure | None:
    """dr_sim's ``full`` camera observation of ``PandaPush-v3`` against panda-gym's ``render()``."""
    if importlib.util.find_spec("panda_gym") is None:
        return None
    with quiet_native_stdout():
        ours = DomainRandomization(make_env("PandaPush-v3"), "full", obs_type="rgb", image_size=PANDA_SIZE)
        theirs = gym.make("PandaPush-v3", render_mode="rgb_array", render_width=PANDA_SIZE, render_height=PANDA_SIZE)
    try:
        timing = side_by_side(stepper(ours, seed, False), stepper(theirs, seed, True), blocks, calls)
    finally:
        ours.close()
        theirs.close()
    return _ratio_figure(
        f"PandaPush-v3 full + camera obs / panda-gym render(), {PANDA_SIZE} px",
        timing,
        ("panda-gym", "ours"),
        PANDA_GOAL,
        {"size": PANDA_SIZE, "blocks": blocks, "calls": calls},
        "panda",
    )


def _ratio_figure(
    name: str,
    timing: SideBySide,
    sides: tuple[str, str],
    goal: float | None,
    details: dict[str, Any],
    family: str,
) -> Figure:
    """``ratio_figure`` whose baseline column names both sides (``sides``: baseline, subject) with their ms
    per call."""
    baseline, subject = sides
    text = f"{baseline} {timing.baseline_s * 1e3:.2f} ms, {subject} {timing.subject_s * 1e3:.2f} ms"
    return ratio_figure(name, timing, goal, text, details, family)
