"""Preview a randomization: a contact sheet of randomized renders and histograms of the sampled values.

``dr-sim preview PRESET|CONFIG -n 16 --out runs/preview.png [--env ID]`` makes a dr_sim task with the
randomization (its own camera) or wraps any other env in ``DomainRandomization``, resets it ``n`` times
(episode ``i`` with seed ``seed + i``), renders each episode's randomized camera, and writes

- ``--out``: a contact sheet, a grid of the ``n`` images (PNG);
- ``<out stem>_params.png``: histograms of the scalar sampled parameters with the most variance.

Both files are written atomically (a temporary file in the same folder, then ``os.replace``). Before the
env is built, the memory the config implies (texture pools, distractor bank, render buffers and the
images kept for the sheet) is estimated, printed, and refused above the limit of ``dr_sim.memory``
(``DR_SIM_MEMORY_LIMIT_MB``). Images are at most ``MAX_IMAGE_SIZE`` (4096) px a side.
"""

from __future__ import annotations

import argparse
import io
import math
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from dr_sim.arguments import MAX_IMAGE_SIZE, image_size, non_negative_int, positive_int
from dr_sim.config import load_config
from dr_sim.env_ids import FALLBACK_ENV, PANDA_GYM_ENV, make_env
from dr_sim.envs.base import TabletopEnv
from dr_sim.errors import DrSimError
from dr_sim.extras import require
from dr_sim.file_io import encode_png, make_contact_sheet, write_atomically
from dr_sim.memory import Estimate, check_memory, randomization_estimate, render_estimate
from dr_sim.param_records import flatten_params
from dr_sim.randomizers.textures import TexturePool
from dr_sim.session import RandomizationSession
from dr_sim.wrapper import DomainRandomization

#: Histograms drawn at most; the remaining parameters are summarised in the printed text.
MAX_HISTOGRAMS = 24
PURPOSE = "dr-sim preview"


def histogram_png(
    samples: Mapping[str, Sequence[float]], limit: int = MAX_HISTOGRAMS, *, last: Collection[str] = ()
) -> tuple[bytes, list[str]]:
    """PNG bytes of histograms of the ``limit`` parameters with the most variance, and their keys.

    Variance is in each parameter's own unit (kg, metres, ...), as sampled. Keys in ``last`` (for
    example categorical indices) rank after all others.
    """
    canvas = require("matplotlib.backends.backend_agg", PURPOSE).FigureCanvasAgg
    figure_class = require("matplotlib.figure", PURPOSE).Figure
    ranked = sorted(samples, key=lambda key: (key in last, -float(np.var(samples[key])), key))
    shown = ranked[:limit]
    columns = min(max(len(shown), 1), 6)
    rows = max(math.ceil(len(shown) / columns), 1)
    figure = figure_class(figsize=(3.0 * columns, 2.2 * rows), dpi=80, layout="constrained")
    canvas(figure)
    if not shown:
        axis = figure.add_subplot(1, 1, 1)
        axis.text(0.5, 0.5, "no randomized parameters", ha="center", va="center")
        axis.set_axis_off()
    for i, key in enumerate(shown):
        axis = figure.add_subplot(rows, columns, i + 1)
        values = np.asarray(samples[key], dtype=float)
        axis.hist(values, bins=min(20, max(len(values) // 2, 5)), color="tab:blue")
        title = key if len(key) <= 40 else "..." + key[-37:]
        axis.set_title(title, fontsize=7)
        axis.tick_params(labelsize=6)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue(), shown


def texture_pool_bytes(client_id: int) -> int:
    """Resident memory (bytes) the texture pools loaded on ``client_id`` added."""
    return sum(pool.memory_bytes for (client, _), pool in TexturePool._shared.items() if client == client_id)


def _summarise_rest(keys: Sequence[str]) -> str:
    """``physics.mass: 17, appearance.0.color: 68, ...``: counts of unplotted parameters by section.name."""
    counts: dict[str, int] = {}
    for key in keys:
        parts = key.split(".")
        group = ".".join(parts[:3] if len(parts) > 2 and parts[1].isdigit() else parts[:2])
        counts[group] = counts.get(group, 0) + 1
    return ", ".join(f"{group}: {count}" for group, count in sorted(counts.items()))


# -- the command ----------------------------------------------------------------------------------
def preview(
    randomization: str,
    *,
    n: int = 16,
    out: str | Path = "runs/preview.png",
    env_id: str | None = None,
    image_size: int = 96,
    seed: int = 0,
    columns: int | None = None,
) -> dict[str, Any]:
    """Render ``n`` randomized episodes into a contact sheet and parameter histograms.

    Args:
        randomization: a preset name or a YAML config path.
        n: number of episodes (images).
        out: the contact sheet path (``.png``); histograms go to ``<stem>_params.png`` beside it.
        env_id: a Gymnasium id or ``module:id``; default ``dr_sim.env_ids.default_env_id()``.
        image_size: width and height of each image, pixels.
        seed: episode ``i`` is ``reset(seed=seed + i)``.
        columns: tiles per row of the sheet; default ``ceil(sqrt(n))``.

    Returns:
        a summary: paths, image count, parameter counts, texture-pool memory (bytes), the memory estimate
        (``memory``: bytes, ``memory_described``: text), seconds.
    """
    start = time.perf_counter()
    out = Path(out)
    if out.suffix.lower() != ".png":
        raise DrSimError(f"--out must be a .png file, got {str(out)!r}")
    if n <= 0:
        raise DrSimError(f"-n must be a positive number of images, got {n}")
    if not 0 < image_size <= MAX_IMAGE_SIZE:
        raise DrSimError(f"--image-size must be 1 to {MAX_IMAGE_SIZE} pixels, got {image_size}")
    if seed < 0:
        raise DrSimError(f"--seed must be a non-negative integer, got {seed}")
    require("matplotlib", PURPOSE)  # the histograms need it: fail before rendering, not after
    config = load_config(randomization)  # fails fast, before any env is built
    memory = check_memory(estimate_memory(config, n, image_size), "preview")
    env, session, reset = _randomized(env_id, config, image_size)
    try:
        images: list[np.ndarray] = []
        samples: dict[str, list[float]] = {}
        index_keys: set[str] = set()
        for i in range(n):
            params = reset(seed + i)
            images.append(session.render_frame(depth=False, segmentation=False).rgb)
            flat = flatten_params(params)
            index_keys.update(flat.keys() - flatten_params(params, indices=False).keys())
            for key, value in flat.items():
                samples.setdefault(key, []).append(value)
        pool_bytes = texture_pool_bytes(session.client_id)
    finally:
        env.close()
    sheet = make_contact_sheet(images, columns)
    histograms, shown = histogram_png(samples, last=index_keys)
    params_path = out.with_name(f"{out.stem}_params.png")
    write_atomically(out, encode_png(sheet))
    write_atomically(params_path, histograms)
    rest = [key for key in samples if key not in set(shown)]
    return {
        "sheet": str(out),
        "params": str(params_path),
        "images": n,
        "parameters": len(samples),
        "plotted": shown,
        "rest": rest,
        "texture_pool_bytes": pool_bytes,
        "memory": memory.total,
        "memory_described": memory.describe(),
        "seconds": time.perf_counter() - start,
    }


def _randomized(
    env_id: str | None, config: Any, image_size: int
) -> tuple[Any, RandomizationSession, Callable[[int], dict[str, Any]]]:
    """(env, its session, reset(seed) -> the episode's randomization parameters) for ``env_id`` under
    ``config``. A dr_sim task randomizes through its own session and renders its own camera (Detect's and
    Localize's closer views, say); any other env is wrapped in ``DomainRandomization``."""
    env = make_env(env_id)
    if isinstance(env.unwrapped, TabletopEnv):
        spec_id = env.spec.id
        env.close()
        env = gym.make(spec_id, randomization=config, obs_type="state", image_size=image_size, disable_env_checker=True)
        task = env.unwrapped
        return env, task.session, lambda seed: task.reset_scene(seed)
    try:
        wrapped = DomainRandomization(env, config, obs_type=None, image_size=image_size)
    except BaseException:
        env.close()
        raise
    return env, wrapped.session, lambda seed: wrapped.reset(seed=seed)[1].get("randomization", {})


def estimate_memory(config: Any, n: int, image_size: int) -> Estimate:
    """What ``preview`` allocates: the env's randomization (texture pools, distractor bank), the render
    buffers, the ``n`` images kept and the contact sheet with its PNG."""
    images = n * image_size * image_size * 3
    return (
        randomization_estimate(config)
        + render_estimate(image_size)
        + Estimate(((f"{n} images and their contact sheet", 3 * images),))
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``preview`` subcommand's arguments."""
    parser.add_argument("randomization", metavar="PRESET|CONFIG", help="preset (none, physics, visual, full) or YAML")
    parser.add_argument("-n", type=positive_int, default=16, help="number of randomized episodes (default 16)")
    parser.add_argument("--out", default="runs/preview.png", help="contact sheet path, .png (default runs/preview.png)")
    parser.add_argument(
        "--env", default=None, help=f"Gymnasium id or module:id (default {PANDA_GYM_ENV} or {FALLBACK_ENV})"
    )
    parser.add_argument(
        "--image-size",
        type=image_size,
        default=96,
        help=f"image width and height, pixels, at most {MAX_IMAGE_SIZE} (default 96)",
    )
    parser.add_argument("--seed", type=non_negative_int, default=0, help="episode i is reset with seed + i (default 0)")
    parser.add_argument("--columns", type=positive_int, default=None, help="tiles per row (default: square grid)")


def run(args: argparse.Namespace) -> int:
    """Run ``dr-sim preview`` and print its summary."""
    summary = preview(
        args.randomization,
        n=args.n,
        out=args.out,
        env_id=args.env,
        image_size=args.image_size,
        seed=args.seed,
        columns=args.columns,
    )
    print(f"wrote {summary['images']} images to {summary['sheet']}")
    print(
        f"wrote histograms of {len(summary['plotted'])} of {summary['parameters']} sampled parameters "
        f"to {summary['params']}"
    )
    if summary["rest"]:
        print(
            f"not plotted ({len(summary['rest'])}: less variance, or categorical indices): "
            f"{_summarise_rest(summary['rest'])}"
        )
    print(f"texture pool memory: {summary['texture_pool_bytes'] / 2**20:.1f} MiB")
    print(f"estimated memory: {summary['memory_described']}")
    print(f"took {summary['seconds']:.1f} s")
    return 0
