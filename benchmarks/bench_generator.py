"""Benchmark ``dr-sim generate``: ``python benchmarks/bench_generator.py [--images N] [--json]``.

Two figures, each measured side by side:

a) per worker: generator images/s as a ratio to the bare render floor, for each ``visibility``
   (``none``, ``target``). One process, one env per setting; image by image, the generator's work
   (``ImageSource.render``: reset with the episode's randomization, randomized render with depth and
   segmentation, labels, visibility) is timed, then one bare ``getCameraImage`` of the very scene it
   rendered (same size, renderer, light and segmentation flags, matrices computed outside the clock);
   packing and writing the shards (``write_shard`` into a temporary folder) is timed per shard and
   added to the generator's side. Ratio = floor seconds / generator seconds (goal >= 0.85). A
   breakdown (ms per image) times the reset and the randomized render alone on the same env.
b) 2 workers vs 1: images/s of the whole command (``generate`` into a temporary folder, process start
   and env construction included) with ``--workers 2`` over ``--workers 1``; at most the number of
   free cores.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pybullet as p

from dr_sim.datasets.config import GeneratorConfig, load_generator_config, resolved_dict
from dr_sim.datasets.generate import generate
from dr_sim.datasets.shards import Shard, write_shard
from dr_sim.datasets.source import ImageSource
from dr_sim.preview import quiet_native_stdout

GOAL = 0.85
WARMUP = 10


def _floor_render(source: ImageSource) -> float:
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


def bench_per_worker(base: dict[str, Any], visibility: str, images: int, shard_size: int) -> dict[str, Any]:
    """Figure a for one visibility setting."""
    config = GeneratorConfig.model_validate(resolved_dict(load_generator_config({**base, "visibility": visibility})))
    source = ImageSource(config)
    generator = floor = write = 0.0
    reset_s, frame_s = [], []
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
                if len(rendered) == shard_size or index == WARMUP + images - 1:
                    start = time.perf_counter()
                    stacked = {key: np.stack([a[key] for a, _ in rendered]) for key in rendered[0][0]}
                    shard = Shard(index=np.arange(len(rendered)), **stacked, labels=[lab for _, lab in rendered])
                    write_shard(Path(folder) / f"shard-{index}.npz", shard, compress=config.compress)
                    write += time.perf_counter() - start
                    rendered = []
        for index in range(images // 4):  # the parts, on the same env
            start = time.perf_counter()
            source._reset(index)
            middle = time.perf_counter()
            source.session.render_frame(depth=True, segmentation=True)
            reset_s.append(middle - start)
            frame_s.append(time.perf_counter() - middle)
    finally:
        source.close()
    total = generator + write
    ms = 1e3 / images
    return {
        "visibility": visibility,
        "images": images,
        "generator_images_per_s": images / total,
        "floor_images_per_s": images / floor,
        "ratio": floor / total,
        "goal": GOAL,
        "ms_per_image": {
            "generator": total * ms,
            "floor_render": floor * ms,
            "reset": statistics.mean(reset_s) * 1e3,
            "randomized_render": statistics.mean(frame_s) * 1e3,
            "labels_and_visibility": generator * ms - (statistics.mean(reset_s) + statistics.mean(frame_s)) * 1e3,
            "shard_write": write * ms,
        },
    }


def bench_workers(base: dict[str, Any], images: int, shard_size: int) -> dict[str, Any]:
    """Figure b: whole-command images/s with 2 workers over 1."""
    rates = {}
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as folder:
            config = {**base, "shard_size": shard_size}
            start = time.perf_counter()
            generate(config, Path(folder) / "set", images, workers=workers, progress=False)
            rates[workers] = images / (time.perf_counter() - start)
    return {
        "images": images,
        "images_per_s_1": rates[1],
        "images_per_s_2": rates[2],
        "ratio": rates[2] / rates[1],
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--images", type=int, default=300, help="images per per-worker measurement (default 300)")
    parser.add_argument("--pool-images", type=int, default=512, help="images per workers run (default 512)")
    parser.add_argument("--image-size", type=int, default=64, help="pixels (default 64)")
    parser.add_argument("--randomization", default="visual", help="preset or YAML (default visual)")
    parser.add_argument("--visibility", nargs="+", default=["none", "target"], help="settings for figure a")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    base = {"image_size": args.image_size, "randomization": args.randomization, "seed": 0}
    with quiet_native_stdout():
        per_worker = [bench_per_worker(base, v, args.images, 64) for v in args.visibility]
        workers = bench_workers(base, args.pool_images, 32)
    if args.json:
        print(json.dumps({"per_worker": per_worker, "workers": workers}, indent=1))
        return 0
    print(f"generator, {args.image_size}x{args.image_size}, randomization {args.randomization!r}")
    print("a) per worker, images/s over the bare render floor (getCameraImage, segmentation on), same scenes:")
    for row in per_worker:
        parts = ", ".join(f"{key} {value:.2f}" for key, value in row["ms_per_image"].items())
        verdict = "ok" if row["ratio"] >= GOAL else "below goal"
        print(
            f"   visibility {row['visibility']:<6} {row['ratio']:.3f} (goal >= {GOAL}, {verdict}): "
            f"{row['generator_images_per_s']:.0f} vs {row['floor_images_per_s']:.0f} images/s"
        )
        print(f"      ms/image: {parts}")
    print(
        f"b) 2 workers / 1: {workers['ratio']:.2f} ({workers['images_per_s_2']:.0f} vs "
        f"{workers['images_per_s_1']:.0f} images/s over {workers['images']} images, {workers['cores']} cores)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
