"""The held-out look: textures cut from real photographs that no training config ever uses.

``python -m studies.heldout.textures [FOLDER]`` (default ``runs/heldout_textures`` in the checkout)
writes PNG textures cut from the photographs bundled with scikit-image (``pip install scikit-image``):
each photograph whole and its four quadrants, resized to ``size`` x ``size`` px. The held-out
randomization (``studies/heldout/randomization.yaml``) names that folder in ``textures.folders`` (a
path relative to the working folder: studies run from the repository root); training configs draw
procedural textures only. Writing is idempotent: files that exist are kept.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path

import cv2
import numpy as np

from dr_sim.errors import ConfigError
from dr_sim.extras import require

DEFAULT_FOLDER = Path(__file__).resolve().parents[2] / "runs" / "heldout_textures"
#: Real photographs bundled with scikit-image (no download): a person, food, animals, materials,
#: objects, astronomy and microscopy.
PHOTOS = (
    "astronaut",
    "brick",
    "camera",
    "cell",
    "chelsea",
    "clock",
    "coffee",
    "coins",
    "grass",
    "gravel",
    "hubble_deep_field",
    "immunohistochemistry",
    "moon",
    "page",
    "retina",
    "rocket",
    "text",
)


def _photo(name: str) -> np.ndarray:
    """A bundled photograph as (H, W, 3) uint8 RGB."""
    data = require("skimage.data", "the held-out textures")
    loader: Callable[[], np.ndarray] = getattr(data, name)
    image = np.asarray(loader())
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    return np.ascontiguousarray(image[..., :3].astype(np.uint8))


def crops(image: np.ndarray) -> list[np.ndarray]:
    """The whole image (its central square) and its four quadrants (central squares)."""
    h, w = image.shape[:2]
    parts = [image] + [image[r : r + h // 2, c : c + w // 2] for r in (0, h // 2) for c in (0, w // 2)]
    return [_square(part) for part in parts]


def _square(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    return image[top : top + side, left : left + side]


def write_photo_textures(
    photos: Mapping[str, Callable[[], np.ndarray]], folder: str | Path, size: int = 128
) -> list[Path]:
    """Write textures cut (``crops``) from each photograph (name -> loader of (H, W, 3) uint8 RGB) as
    ``size`` px PNG squares ``<name>_<k>.png`` into ``folder``; textures already there are kept (a
    photograph is loaded only when one of its textures is missing). Returns their paths."""
    if not 4 <= size <= 1024:
        raise ConfigError(f"texture size must be 4..1024 px, got {size}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, load in photos.items():
        names = [folder / f"{name}_{k}.png" for k in range(5)]
        if not all(path.is_file() for path in names):
            for path, crop in zip(names, crops(load()), strict=True):
                resized = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)
                cv2.imwrite(str(path), cv2.cvtColor(resized, cv2.COLOR_RGB2BGR))
        paths += names
    return paths


def write_textures(folder: str | Path = DEFAULT_FOLDER, size: int = 128) -> list[Path]:
    """Write the held-out textures (``size`` px squares, PNG) into ``folder``; returns their paths."""
    return write_photo_textures({name: partial(_photo, name) for name in PHOTOS}, folder, size)


def texture_command(
    argv: list[str] | None, module: str, writer: Callable[[Path, int], list[Path]], default: Path, what: str
) -> int:
    """``python -m MODULE [FOLDER] [--size PX]``: ``writer(folder, size)``, then how many ``what`` it wrote."""
    parser = argparse.ArgumentParser(prog=f"python -m {module}", description=f"write the {what}")
    parser.add_argument("folder", nargs="?", default=default, help=f"output folder (default {default})")
    parser.add_argument("--size", type=int, default=128, help="texture side in px (default 128)")
    args = parser.parse_args(argv)
    try:
        paths = writer(Path(args.folder), args.size)
    except ConfigError as error:
        print(f"dr-sim: error: {error}", file=sys.stderr)
        return 2
    print(f"{len(paths)} {what} in {args.folder}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m studies.heldout.textures [FOLDER] [--size PX]``: write the textures, print how many."""
    return texture_command(argv, "studies.heldout.textures", write_textures, DEFAULT_FOLDER, "held-out textures")


if __name__ == "__main__":
    sys.exit(main())
