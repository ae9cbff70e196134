"""Preview a randomization: a contact sheet of randomized renders and histograms of the sampled values.

``dr-sim preview PRESET|CONFIG -n 16 --out sheet.png`` wraps an env in ``DomainRandomization``, resets
it ``n`` times (``reset(seed=seed + i)``), renders each episode's randomized camera, and writes

- ``--out``: a contact sheet, a grid of the ``n`` images (PNG);
- ``<out stem>_params.png``: histograms of the scalar sampled parameters with the most variance.

Both files are written atomically (a temporary file in the same folder, then ``os.replace``).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import io
import math
import os
import tempfile
import time
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dr_sim.errors import DrSimError, did_you_mean
from dr_sim.native_output import quiet_native_stdout

#: Default env: panda-gym's push task when panda-gym is installed, else dr_sim's own reach task.
PANDA_GYM_ENV = "PandaPush-v3"
FALLBACK_ENV = "dr_sim/PandaReach-v0"
#: Histograms drawn at most; the remaining parameters are summarised in the printed text.
MAX_HISTOGRAMS = 24


# -- shared helpers (also used by the benchmark) ---------------------------------------------------
def default_env_id() -> str:
    """``PandaPush-v3`` when panda-gym is importable, else ``dr_sim/PandaReach-v0``."""
    return PANDA_GYM_ENV if importlib.util.find_spec("panda_gym") is not None else FALLBACK_ENV


def make_env(env_id: str | None = None) -> Any:
    """``gymnasium.make`` an env by id; ``module:id`` imports ``module`` first (which registers it).

    panda-gym ids (``Panda...-v3``) import ``panda_gym`` and dr_sim ids import ``dr_sim`` on their
    own. Every failure is a ``DrSimError`` with one line of explanation.
    """
    import gymnasium as gym

    import dr_sim  # noqa: F401  (registers dr_sim/... ids)

    env_id = env_id or default_env_id()
    module_name, _, name = env_id.rpartition(":")
    if module_name:
        try:
            with quiet_native_stdout():
                importlib.import_module(module_name)
        except ImportError as error:
            raise DrSimError(f"--env {env_id!r}: cannot import module {module_name!r} ({error})") from None
    elif name.startswith("Panda") and name.endswith("-v3") and name not in gym.registry:
        with contextlib.suppress(ImportError), quiet_native_stdout():
            importlib.import_module("panda_gym")
    if name not in gym.registry:
        known = sorted(gym.registry)
        raise DrSimError(
            f"unknown env id {name!r}.{did_you_mean(name, known)} Use a registered Gymnasium id or "
            f"'module:id' to import the module that registers it"
        )
    try:
        with quiet_native_stdout():
            return gym.make(name)
    except gym.error.Error as error:
        raise DrSimError(f"cannot make env {name!r}: {error}") from None


def flatten_params(params: Mapping[str, Any], prefix: str = "", *, indices: bool = True) -> dict[str, float]:
    """Flatten ``info['randomization']`` into ``{'section.name.target[.index]': value}``.

    Only numbers are kept (booleans, strings and ``step_seed`` are not sampled parameters); vectors
    and lists are flattened by index, so ``physics.inertia.panda/link1.0`` is an x component. With
    ``indices=False`` integers (categorical picks such as texture pool or distractor bank indices) are
    left out too.
    """
    flat: dict[str, float] = {}

    def visit(value: Any, key: str) -> None:
        if isinstance(value, Mapping):
            for name, item in value.items():
                visit(item, f"{key}.{name}" if key else str(name))
        elif isinstance(value, list | tuple):
            for index, item in enumerate(value):
                visit(item, f"{key}.{index}")
        elif isinstance(value, bool | np.bool_):
            return
        elif isinstance(value, float | np.floating) or (indices and isinstance(value, int | np.integer)):
            flat[key] = float(value)

    for section, value in params.items():
        if not prefix and section == "step_seed":
            continue
        visit(value, f"{prefix}.{section}" if prefix else str(section))
    return flat


def make_contact_sheet(images: Sequence[np.ndarray], columns: int | None = None, *, gap: int = 2) -> np.ndarray:
    """Tile equally sized RGB uint8 images (H, W, 3) into one grid image, row by row.

    Args:
        images: at least one image; all of the same shape.
        columns: tiles per row; default ``ceil(sqrt(len(images)))``.
        gap: pixels of black between tiles and around the grid.

    Returns:
        uint8 (rows * (H + gap) + gap, columns * (W + gap) + gap, 3); empty cells are black.
    """
    if not images:
        raise ValueError("make_contact_sheet needs at least one image")
    shape = images[0].shape
    if any(image.shape != shape for image in images):
        raise ValueError("make_contact_sheet needs images of one shape")
    tiles = [image if image.ndim == 3 else image[..., None].repeat(3, axis=2) for image in images]
    height, width = shape[:2]
    columns = columns or math.ceil(math.sqrt(len(tiles)))
    if columns <= 0:
        raise ValueError(f"columns must be positive, got {columns}")
    rows = math.ceil(len(tiles) / columns)
    sheet = np.zeros((rows * (height + gap) + gap, columns * (width + gap) + gap, 3), np.uint8)
    for i, tile in enumerate(tiles):
        top = gap + (i // columns) * (height + gap)
        left = gap + (i % columns) * (width + gap)
        sheet[top : top + height, left : left + width] = tile[..., :3]
    return sheet


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp creates 0600; give the usual permissions
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def encode_png(rgb: np.ndarray) -> bytes:
    """PNG bytes of an RGB uint8 image."""
    import cv2

    ok, buffer = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise DrSimError("could not encode the contact sheet as PNG")
    return buffer.tobytes()


def histogram_png(
    samples: Mapping[str, Sequence[float]], limit: int = MAX_HISTOGRAMS, *, last: Collection[str] = ()
) -> tuple[bytes, list[str]]:
    """PNG bytes of histograms of the ``limit`` parameters with the most variance, and their keys.

    Variance is in each parameter's own unit (kg, metres, ...), as sampled. Keys in ``last`` (for
    example categorical indices) rank after all others.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    ranked = sorted(samples, key=lambda key: (key in last, -float(np.var(samples[key])), key))
    shown = ranked[:limit]
    columns = min(max(len(shown), 1), 6)
    rows = max(math.ceil(len(shown) / columns), 1)
    figure = Figure(figsize=(3.0 * columns, 2.2 * rows), dpi=80, layout="constrained")
    FigureCanvasAgg(figure)
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
    from dr_sim.randomizers.textures import TexturePool

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
    out: str | Path = "sheet.png",
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
        env_id: a Gymnasium id or ``module:id``; default ``default_env_id()``.
        image_size: width and height of each image, pixels.
        seed: episode ``i`` is ``reset(seed=seed + i)``.
        columns: tiles per row of the sheet; default ``ceil(sqrt(n))``.

    Returns:
        a summary: paths, image count, parameter counts, texture-pool memory (bytes), seconds.
    """
    start = time.perf_counter()
    out = Path(out)
    if out.suffix.lower() != ".png":
        raise DrSimError(f"--out must be a .png file, got {str(out)!r}")
    if n <= 0:
        raise DrSimError(f"-n must be a positive number of images, got {n}")
    if image_size <= 0:
        raise DrSimError(f"--image-size must be a positive number of pixels, got {image_size}")
    with quiet_native_stdout():
        from dr_sim.config import load_config
        from dr_sim.wrapper import DomainRandomization

    config = load_config(randomization)  # fails fast, before any env is built
    env = make_env(env_id)
    try:
        wrapped = DomainRandomization(env, config, obs_type=None, image_size=image_size)
        images: list[np.ndarray] = []
        samples: dict[str, list[float]] = {}
        index_keys: set[str] = set()
        for i in range(n):
            _, info = wrapped.reset(seed=seed + i)
            images.append(wrapped.render_frame(depth=False, segmentation=False).rgb)
            params = info.get("randomization", {})
            flat = flatten_params(params)
            index_keys.update(flat.keys() - flatten_params(params, indices=False).keys())
            for key, value in flat.items():
                samples.setdefault(key, []).append(value)
        pool_bytes = texture_pool_bytes(wrapped.client_id)
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
        "seconds": time.perf_counter() - start,
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``preview`` subcommand's arguments."""
    from dr_sim.arguments import positive_int

    parser.add_argument("randomization", metavar="PRESET|CONFIG", help="preset (none, physics, visual, full) or YAML")
    parser.add_argument("-n", type=positive_int, default=16, help="number of randomized episodes (default 16)")
    parser.add_argument("--out", default="sheet.png", help="contact sheet path, .png (default sheet.png)")
    parser.add_argument(
        "--env", default=None, help=f"Gymnasium id or module:id (default {PANDA_GYM_ENV} or {FALLBACK_ENV})"
    )
    parser.add_argument(
        "--image-size", type=positive_int, default=96, help="image width and height, pixels (default 96)"
    )
    parser.add_argument("--seed", type=int, default=0, help="episode i is reset with seed + i (default 0)")
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
    print(f"took {summary['seconds']:.1f} s")
    return 0
