"""Render detail, side by side in one process: ``python profiling/render_detail.py [--blocks B] [--calls C]``.

For ``dr_sim/PandaReach-v0`` and ``dr_sim/PandaPickAndPlace-v0`` with the ``full`` preset:

- steps/s with 84 px RGB observations at ``render_detail="low"`` and ``"full"`` (two envs stepped in
  interleaved blocks on seeded random actions, resetting when an episode ends, medians of the blocks);
- the render alone (the observation camera, light as drawn, no segmentation) in ms per frame, low and full;
- the image step against its floor at 64, 84 and 128 px (default detail): one control step against
  ``substeps`` ``stepSimulation`` calls plus one ``getCameraImage`` of the same size, matrices, light and
  flags on the same client (``dr-sim bench --only render`` measures the same ratio; goal >= 0.95);
- the Panda's segmentation IoU between the two details at 84 px over random poses around home (the
  threshold the tests assert is ``dr_sim.scene.detail.MIN_ROBOT_IOU``).

A measurement, not a test: the figures depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

import dr_sim  # noqa: F401 (registers the tasks)
from dr_sim.bench.figures import side_by_side
from dr_sim.bench.render import stepper, task_floor
from dr_sim.native_output import quiet_native_stdout
from dr_sim.scene.detail import RENDER_DETAILS, visual_triangles

TASKS = ("dr_sim/PandaReach-v0", "dr_sim/PandaPickAndPlace-v0")
SIZES = (64, 84, 128)
SEED = 0


def _make(env_id: str, detail: str, size: int) -> Any:
    with quiet_native_stdout():
        return gym.make(
            env_id,
            randomization="full",
            obs_type="rgb",
            image_size=size,
            render_detail=detail,
            disable_env_checker=True,
        ).unwrapped


def _render(env: Any) -> Callable[[], None]:
    camera, light = env.session.camera, env.session.scene.light
    return lambda: camera.render(light, depth=False, segmentation=False)


def detail_rows(env_id: str, blocks: int, calls: int) -> None:
    """Steps/s and render ms at low and full detail, 84 px."""
    low, full = _make(env_id, "low", 84), _make(env_id, "full", 84)
    try:
        triangles = [visual_triangles(env.physics_client._client, env.arm.body) for env in (low, full)]
        steps = side_by_side(stepper(low, SEED, render=False), stepper(full, SEED, render=False), blocks, calls)
        renders = side_by_side(_render(low), _render(full), blocks, calls)
    finally:
        low.close()
        full.close()
    name = env_id.removeprefix("dr_sim/")
    print(
        f"{name:<22} steps/s low {1 / steps.subject_s:7.1f}  full {1 / steps.baseline_s:7.1f}  ({steps.ratio:.2f}x)   "
        f"render ms low {renders.subject_s * 1e3:6.2f}  full {renders.baseline_s * 1e3:6.2f}  ({renders.ratio:.2f}x)   "
        f"arm triangles low {triangles[0]}  full {triangles[1]}"
    )


def floor_rows(env_id: str, blocks: int, calls: int) -> None:
    """Image step / floor at each size (default detail)."""
    cells = []
    for size in SIZES:
        env = _make(env_id, "low", size)
        try:
            timing = side_by_side(stepper(env, SEED, render=False), task_floor(env, size), blocks, calls)
        finally:
            env.close()
        step_ms, floor_ms = timing.subject_s * 1e3, timing.baseline_s * 1e3
        cells.append(f"{size} px {timing.ratio:.3f} (step {step_ms:.2f} ms, floor {floor_ms:.2f} ms)")
    print(f"{env_id.removeprefix('dr_sim/'):<22} image step / floor: " + ";  ".join(cells))


def robot_iou(poses: int, size: int = 84) -> list[float]:
    """The Panda's mask IoU between low and full detail over ``poses`` random poses around home."""
    envs = []
    with quiet_native_stdout():
        for detail in RENDER_DETAILS:
            envs.append(gym.make("dr_sim/PandaReach-v0", image_size=size, render_detail=detail).unwrapped)
    rng = np.random.default_rng(SEED)
    ious = []
    try:
        for env in envs:
            env.reset(seed=SEED)
        for _ in range(poses):
            angles = np.array(envs[0].arm.spec.home) + rng.uniform(-0.5, 0.5, 7)
            masks = []
            for env in envs:
                for joint, angle in zip(env.arm.spec.joints, angles, strict=True):
                    env.physics_client.resetJointState(env.arm.body, joint, angle)
                frame = env.session.camera.render(env.session.scene.light, depth=False)
                masks.append(frame.body == env.arm.body)
            ious.append(float(np.count_nonzero(masks[0] & masks[1]) / np.count_nonzero(masks[0] | masks[1])))
    finally:
        for env in envs:
            env.close()
    return ious


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=6, help="interleaved blocks per pair (default 6)")
    parser.add_argument("--calls", type=int, default=40, help="calls per block and side (default 40)")
    parser.add_argument("--poses", type=int, default=20, help="random poses for the IoU (default 20)")
    args = parser.parse_args()
    print("full preset, 84 px RGB observations, low against full render detail")
    for env_id in TASKS:
        detail_rows(env_id, args.blocks, args.calls)
    print("image step against its floor (physics + render alone), default detail (low)")
    for env_id in TASKS:
        floor_rows(env_id, args.blocks, args.calls)
    ious = robot_iou(args.poses)
    print(
        f"Panda mask IoU low vs full, 84 px, {len(ious)} poses: min {min(ious):.3f}  "
        f"median {statistics.median(ious):.3f}  max {max(ious):.3f}"
    )


if __name__ == "__main__":
    main()
