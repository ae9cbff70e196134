"""Throughput figures: the image generator against the render floor, 2 workers against 1, and
stable-baselines3's ``SubprocVecEnv`` with 1 and 2 workers.

- ``--only generator``: a) per worker, ``dr-sim generate``'s images/s as a ratio to the bare render
  floor, for visibility ``none`` and ``target`` (goal >= 0.85). One process and one ``ImageSource`` per
  setting; image by image, the generator's work (``ImageSource.render``: reset with the image's
  randomization, the randomized render with depth and segmentation, labels, visibility) is timed, then
  one bare ``getCameraImage`` of the very scene it rendered (same size, renderer, light and
  segmentation flags; matrices computed outside the clock). Writing the shards (``write_shard`` into a
  temporary folder) is added to the generator's side. The details break one image down (ms).
  b) the whole command's marginal throughput (``generate`` into a temporary folder) with 2 workers over
  1: each worker count renders N and then 3N images, and the rate is 2N images over the difference of
  the two wall times, so that process start and env construction (the same in both runs) drop out;
  alternating rounds, medians (goal >= 1.8; needs 2 free cores).
- ``--only vecenv``: steps/s of ``SubprocVecEnv`` over ``dr_sim/PandaReach-v0`` with ``full`` and 84 px
  ``rgb`` observations, 1 worker and 2 workers side by side (alternating blocks; reported).
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pybullet as p

from dr_sim.bench.figures import Figure, side_by_side
from dr_sim.datasets.config import GeneratorConfig, load_generator_config, resolved_dict
from dr_sim.datasets.generate import generate
from dr_sim.datasets.shards import Shard, write_shard
from dr_sim.datasets.source import ImageSource
from dr_sim.extras import require
from dr_sim.native_output import quiet_native_stdout
from dr_sim.registration import register_envs

GENERATOR_GOAL = 0.85
WORKERS_GOAL = 1.8
WARMUP = 10
SHARD_SIZE = 64
BASE = {"image_size": 64, "randomization": "visual", "seed": 0}
VEC_ENV = "dr_sim/PandaReach-v0"


def _floor_render(source: Any) -> float:
    """Seconds of one bare ``getCameraImage`` of the current scene, as the generator renders it."""
    camera, light = source.session.camera, source.session.scene.light
    view, projection = camera.view_matrix(), camera.projection_matrix()
    start = time.perf_counter()
    p.getCameraImage(
        camera.width,
        camera.height,
        viewMatrix=view,
        projectionMatrix=projection,
        renderer=p.ER_TINY_RENDERER,
        flags=p.ER_SEGMENTATION_MASK_OBJECT_AND_LINKINDEX,
        physicsClientId=camera.client_id,
        **light,
    )
    return time.perf_counter() - start


def _per_worker(visibility: str, images: int) -> dict[str, Any]:
    """Figure a for one visibility setting: generator and floor seconds, and the per-image breakdown."""
    config = GeneratorConfig.model_validate(resolved_dict(load_generator_config({**BASE, "visibility": visibility})))
    source = ImageSource(config)
    generator = floor = write = 0.0
    resets, frames = [], []
    try:
        for index in range(WARMUP):
            source.render(index)
        with tempfile.TemporaryDirectory() as folder:
            rendered: list[tuple[dict[str, np.ndarray], dict[str, Any]]] = []
            for index in range(WARMUP, WARMUP + images):
                start = time.perf_counter()
                rendered.append(source.render(index))
                generator += time.perf_counter() - start
                floor += _floor_render(source)
                if len(rendered) == SHARD_SIZE or index == WARMUP + images - 1:
                    start = time.perf_counter()
                    stacked = {key: np.stack([a[key] for a, _ in rendered]) for key in rendered[0][0]}
                    shard = Shard(index=np.arange(len(rendered)), **stacked, labels=[lab for _, lab in rendered])
                    write_shard(Path(folder) / f"shard-{index}.npz", shard, compress=config.compress)
                    write += time.perf_counter() - start
                    rendered = []
        for index in range(max(images // 4, 1)):  # the parts, on the same env
            start = time.perf_counter()
            source._reset(index)
            middle = time.perf_counter()
            source.session.render_frame(depth=True, segmentation=True)
            resets.append(middle - start)
            frames.append(time.perf_counter() - middle)
    finally:
        source.close()
    total, ms = generator + write, 1e3 / images
    reset_ms, frame_ms = statistics.mean(resets) * 1e3, statistics.mean(frames) * 1e3
    return {
        "ratio": floor / total,
        "images_per_s": images / total,
        "floor_images_per_s": images / floor,
        "ms_per_image": {
            "generator": total * ms,
            "floor_render": floor * ms,
            "reset": reset_ms,
            "randomized_render": frame_ms,
            "labels_and_visibility": generator * ms - reset_ms - frame_ms,
            "shard_write": write * ms,
        },
    }


def generator_figures(images: int, pool_images: int) -> list[Figure]:
    """Figure a for visibility ``none`` and ``target``, and figure b (2 workers / 1)."""
    figures = []
    with quiet_native_stdout():
        for visibility in ("none", "target"):
            row = _per_worker(visibility, images)
            figures.append(
                Figure(
                    name=f"generator images/s per worker / render floor, visibility {visibility}",
                    value=row["ratio"],
                    unit="x",
                    goal=GENERATOR_GOAL,
                    higher=True,
                    baseline=f"floor {row['floor_images_per_s']:.0f} images/s, ours {row['images_per_s']:.0f}",
                    details={"images": images, **BASE, **row},
                    family="generator",
                )
            )
        figures.append(_workers_figure(pool_images))
    return figures


def _workers_figure(images: int, rounds: int = 2) -> Figure:
    """Figure b: marginal images/s of the whole command with 2 workers over 1 (see the module docstring)."""

    def wall(workers: int, count: int) -> float:
        with tempfile.TemporaryDirectory() as folder:
            start = time.perf_counter()
            generate({**BASE, "shard_size": 32}, Path(folder) / "set", count, workers=workers, progress=False)
            return time.perf_counter() - start

    rates: dict[int, list[float]] = {1: [], 2: []}
    for _ in range(rounds):
        for workers in (1, 2):
            short, long = wall(workers, images), wall(workers, 3 * images)
            rates[workers].append(2 * images / max(long - short, 1e-9))
    rate = {workers: statistics.median(values) for workers, values in rates.items()}
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return Figure(
        name="generator, 2 workers / 1",
        value=rate[2] / rate[1],
        unit="x",
        goal=WORKERS_GOAL,
        higher=True,
        baseline=f"1 worker {rate[1]:.0f} images/s, {cores} cores, load {os.getloadavg()[0]:.1f}",
        details={
            "images": [images, 3 * images],
            "rounds": rounds,
            "images_per_s_1": rate[1],
            "images_per_s_2": rate[2],
        },
        family="generator",
    )


def vecenv_figures(blocks: int, calls: int, seed: int) -> list[Figure]:
    """``SubprocVecEnv`` steps/s (all workers together) with 1 and 2 workers, side by side."""
    vec_env = require("stable_baselines3.common.vec_env", "dr-sim bench --only vecenv")

    def make() -> gym.Env[Any, Any]:
        register_envs()  # in the worker
        return gym.make(VEC_ENV, randomization="full", obs_type="rgb", image_size=84)

    with quiet_native_stdout():
        one, two = vec_env.SubprocVecEnv([make]), vec_env.SubprocVecEnv([make, make])
    try:
        rng = np.random.default_rng(seed)
        steppers = []
        for vec in (one, two):
            vec.seed(seed)
            vec.reset()
            actions = rng.uniform(-1, 1, size=(vec.num_envs, *vec.action_space.shape)).astype(np.float32)
            steppers.append(lambda vec=vec, actions=actions: vec.step(actions))
        timing = side_by_side(steppers[1], steppers[0], blocks, calls)
    finally:
        one.close()
        two.close()
    rate_1, rate_2 = 1 / timing.baseline_s, 2 / timing.subject_s
    details = {"env": VEC_ENV, "blocks": blocks, "calls": calls, "scaling": rate_2 / rate_1}
    return [
        Figure("SubprocVecEnv steps/s, 1 worker", rate_1, " steps/s", None, True, VEC_ENV, details, "vecenv"),
        Figure(
            "SubprocVecEnv steps/s, 2 workers",
            rate_2,
            " steps/s",
            None,
            True,
            f"{rate_2 / rate_1:.2f}x of 1 worker",
            details,
            "vecenv",
        ),
    ]
