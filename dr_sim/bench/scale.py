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
- ``--only vecenv``: a) steps/s of ``SubprocVecEnv`` over ``dr_sim/PandaReach-v0`` with ``full`` and 84 px
  ``rgb`` observations, 1 worker and 2 workers side by side (alternating blocks; reported). b) the
  marginal throughput of Gymnasium's ``AsyncVectorEnv(shared_memory=True)`` over the same env (``full``,
  84 px ``rgb``, the default render detail) with N workers against 1 worker, for N = 2 .. ``--workers``
  (default: the cores this process may use): both vector envs are built, reset and warmed up outside
  the clock, then stepped in interleaved blocks (``side_by_side``); the row's value is (N-worker
  steps/s) / (1-worker steps/s), all workers together, against the goal 0.9 N. A line then says what
  the best measured per-worker rate gives on 16 cores if it held (16 x per-worker steps/s: an
  extrapolation, not a measurement). N above the free cores measures the machine's load, not dr_sim.
"""

from __future__ import annotations

import functools
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
VEC_SIZE = 84  # px
SCALING_GOAL = 0.9  # N workers reach at least 0.9 N times one worker's steps/s
EXTRAPOLATED_CORES = 16


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


def available_cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def make_image_env(env_id: str = VEC_ENV, size: int = VEC_SIZE, randomization: str = "full") -> gym.Env[Any, Any]:
    """One image env of the vector-env figures (``rgb`` observations of ``size`` px); registers dr_sim's
    tasks first, so that it also builds in a fresh worker process."""
    register_envs()
    with quiet_native_stdout():
        return gym.make(env_id, randomization=randomization, obs_type="rgb", image_size=size)


def _async_vector_env(workers: int) -> gym.vector.AsyncVectorEnv:
    with quiet_native_stdout():
        return gym.vector.AsyncVectorEnv([functools.partial(make_image_env)] * workers, shared_memory=True)


def scaling_figures(max_workers: int, blocks: int, calls: int, seed: int) -> list[Figure]:
    """Figure b: ``AsyncVectorEnv(shared_memory=True)`` steps/s with N workers over 1 worker, N = 2 ..
    ``max_workers`` (see the module docstring); one row per N."""
    one = _async_vector_env(1)
    figures = []
    try:
        one_step = _vector_stepper(one, seed)
        for workers in range(2, max_workers + 1):
            many = _async_vector_env(workers)
            try:
                timing = side_by_side(_vector_stepper(many, seed), one_step, blocks, calls)
            finally:
                many.close()
            rate_1, rate_n = 1 / timing.baseline_s, workers / timing.subject_s
            figures.append(
                Figure(
                    name=f"AsyncVectorEnv shared memory, {workers} workers / 1, {VEC_SIZE} px full",
                    value=rate_n / rate_1,
                    unit="x",
                    goal=SCALING_GOAL * workers,
                    higher=True,
                    baseline=f"1 worker {rate_1:.0f} steps/s, {workers} workers {rate_n:.0f}",
                    details={
                        "env": VEC_ENV,
                        "workers": workers,
                        "steps_per_s_1": rate_1,
                        "steps_per_s_n": rate_n,
                        "per_worker_steps_per_s": rate_n / workers,
                        "cores": available_cores(),
                        "load": os.getloadavg()[0],
                        "blocks": blocks,
                        "calls": calls,
                    },
                    family="vecenv",
                )
            )
    finally:
        one.close()
    if figures:
        rates = [figure.details["steps_per_s_1"] for figure in figures]
        figures.insert(
            0,
            Figure(
                name=f"AsyncVectorEnv shared memory, 1 worker, {VEC_SIZE} px full",
                value=statistics.median(rates),
                unit=" steps/s",
                goal=None,
                higher=True,
                baseline=VEC_ENV,
                details={"env": VEC_ENV, "workers": 1, "measured_against": [f.details["workers"] for f in figures]},
                family="vecenv",
            ),
        )
    return figures


def _vector_stepper(vec: gym.vector.VectorEnv, seed: int, warmup: int = 3) -> Any:
    """One step of all of ``vec``'s envs on seeded actions, after a seeded reset and ``warmup`` steps."""
    rng = np.random.default_rng(seed)
    actions = rng.uniform(-1, 1, size=(16, *vec.action_space.shape)).astype(np.float32)
    vec.reset(seed=seed)
    calls = iter(range(10**12))

    def step() -> None:
        vec.step(actions[next(calls) % len(actions)])

    for _ in range(warmup):
        step()
    return step


def scaling_lines(figures: list[dict[str, Any]]) -> list[str]:
    """What the measured per-worker rate of the AsyncVectorEnv rows gives on 16 cores, marked extrapolated."""
    rows = [figure for figure in figures if "per_worker_steps_per_s" in figure.get("details", {})]
    if not rows:
        return []
    best = max(rows, key=lambda row: row["details"]["per_worker_steps_per_s"])
    per_worker, cores = best["details"]["per_worker_steps_per_s"], best["details"]["cores"]
    return [
        "",
        f"AsyncVectorEnv, {VEC_SIZE} px full: {per_worker:.0f} steps/s per worker measured with "
        f"{best['details']['workers']} workers on {cores} cores (load {best['details']['load']:.1f}); "
        f"{EXTRAPOLATED_CORES} cores at that rate: {EXTRAPOLATED_CORES * per_worker:.0f} steps/s (extrapolated, "
        f"not measured)",
    ]
